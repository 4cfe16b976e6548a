"""PyTorch Lightning: NbtrackLogger and autolog against real Lightning on CPU."""

from __future__ import annotations

import pytest

import nbtrack as nt
from integrations._autolog_helpers import history, only_run
from nbtrack.errors import NbtrackWarning

torch = pytest.importorskip("torch", reason="torch is not installed: pip install 'nbtrack[lightning]'")
L = pytest.importorskip("lightning.pytorch", reason="lightning is not installed")


class TinyModule(L.LightningModule):
    def __init__(self, lr: float = 0.05, hidden: int = 4) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(3, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1)
        )
        self.seen: list[tuple[int, float]] = []

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss, on_step=True, on_epoch=False)
        self.seen.append((self.global_step, float(loss.detach())))
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def loader():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 3, generator=g)
    y = x.sum(dim=1, keepdim=True)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8)


def trainer(**kwargs):
    return L.Trainer(
        max_epochs=2, log_every_n_steps=1, enable_progress_bar=False,
        enable_model_summary=False, enable_checkpointing=False, accelerator="cpu",
        devices=1, **kwargs,
    )


def test_logger_logs_hyperparams_and_every_self_log_with_the_global_step(store):
    from nbtrack.integrations.lightning import NbtrackLogger

    L.seed_everything(0)
    module = TinyModule(lr=0.05, hidden=4)
    with nt.start_run() as run:
        trainer(logger=NbtrackLogger()).fit(module, loader())
    got = nt.get_run(run.run_id)
    assert got.params["lr"] == "0.05"
    assert got.params["hidden"] == "4"
    logged = history(run.run_id, "train_loss")
    # Lightning hands the logger the value at global step s after the optimizer step,
    # so step s holds the loss of training step s
    assert [s for s, _ in logged] == [s for s, _ in module.seen]
    assert [v for _, v in logged] == pytest.approx([v for _, v in module.seen], rel=1e-6)


def test_logger_without_a_run_starts_one_and_ends_it(store, tmp_path):
    from nbtrack.integrations.lightning import NbtrackLogger

    L.seed_everything(0)
    t = L.Trainer(
        max_epochs=1, log_every_n_steps=1, enable_progress_bar=False, enable_model_summary=False,
        accelerator="cpu", devices=1, default_root_dir=str(tmp_path),
        logger=NbtrackLogger(run_name="lit", log_checkpoints=True),
    )
    t.fit(TinyModule(), loader())
    run = only_run()
    assert run.name == "lit" and run.status == "FINISHED"
    assert nt.active_run() is None
    assert any(a.startswith("checkpoints/") and a.endswith(".ckpt") for a in nt.list_artifacts(run.run_id))


def test_autolog_adds_the_logger_and_logs_trainer_params_and_the_model(store):
    nt.autolog("lightning")
    L.seed_everything(0)
    module = TinyModule()
    trainer(logger=False).fit(module, loader())
    run = only_run()
    assert run.tags["nbtrack.autolog"] == "lightning"
    assert run.params["max_epochs"] == "2"
    assert run.params["optimizer"] == "SGD"
    assert len(history(run.run_id, "train_loss")) == 8
    assert "model/state_dict.pt" in nt.list_artifacts(run.run_id)


def test_same_weights_with_autolog_on_and_off(store):
    def train():
        L.seed_everything(0)
        m = TinyModule()
        trainer(logger=False).fit(m, loader())
        return [p.detach().clone() for p in m.parameters()]

    off = train()
    nt.autolog("lightning", log_models=False)
    on = train()
    for a, b in zip(off, on, strict=True):
        assert torch.equal(a, b)


@pytest.mark.autolog_failure
def test_a_failing_logger_does_not_fail_training(store, monkeypatch):
    from nbtrack.integrations import lightning as nb_lightning

    monkeypatch.setattr(nb_lightning, "_numbers", lambda m: 1 / 0)
    nt.autolog("lightning", log_models=False)
    L.seed_everything(0)
    module = TinyModule()
    with pytest.warns(NbtrackWarning, match="lightning integration failed"):
        trainer(logger=False).fit(module, loader())
    assert len(module.seen) == 8
    assert only_run().status == "FINISHED"


def test_pytorch_lightning_package_gets_its_own_logger_class(store):
    pl = pytest.importorskip("pytorch_lightning")
    from nbtrack.integrations.lightning import logger_class

    cls = logger_class("pytorch_lightning")
    assert issubclass(cls, pl.loggers.Logger)
    nt.autolog("pytorch_lightning", log_models=False)

    class PLModule(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(3, 1)

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.layer(x), y)
            self.log("loss", loss)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    pl.seed_everything(0)
    pl.Trainer(
        max_epochs=1, log_every_n_steps=1, enable_progress_bar=False, enable_model_summary=False,
        enable_checkpointing=False, logger=False, accelerator="cpu", devices=1,
    ).fit(PLModule(), loader())
    run = only_run()
    assert run.tags["nbtrack.autolog"] == "pytorch_lightning"
    assert len(history(run.run_id, "loss")) == 4


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["ddp", "ddp_spawn"])
def test_a_two_process_job_is_one_run_holding_rank_0_s_values(store, store_path, tmp_path, strategy):
    """Real Lightning DDP on CPU (gloo): rank 1 logs nothing, rank 0's ``self.log`` values
    land in the one run autolog started — also when ``ddp_spawn`` pickles the logger into
    spawned workers (they attach to the parent's run)."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).with_name("_lightning_ddp.py")
    out = tmp_path / "seen"
    env = {**os.environ, "NBTRACK_STORE": str(store_path), "PYTHONWARNINGS": "ignore"}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "SLURM_PROCID", "SLURM_NTASKS"):
        env.pop(name, None)
    proc = subprocess.run(
        [sys.executable, str(script), strategy, str(out)], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=240, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = {r: json.loads(Path(f"{out}.{r}.json").read_text()) for r in (0, 1)}
    assert [(ranks[r]["rank"], ranks[r]["world_size"]) for r in (0, 1)] == [(0, 2), (1, 2)]
    run = only_run()  # two ranks trained: one run, not two
    assert run.status == "FINISHED"
    assert run.tags["nbtrack.autolog"] == "lightning"
    assert run.params["lr"] == "0.05"
    logged = history(run.run_id, "train_loss")
    seen = ranks[0]["seen"]  # 32 rows / batch 8 / 2 ranks = 2 steps on each rank
    assert [s for s, _ in logged] == [s for s, _ in seen] == [0, 1]
    assert [v for _, v in logged] == pytest.approx([v for _, v in seen], rel=1e-6)


@pytest.mark.parametrize("where", ["track-cell", "explicit-run"])
def test_autolog_logs_into_the_user_s_run(store, ip, where):
    nt.autolog("lightning", log_models=False)
    L.seed_everything(0)
    module = TinyModule(lr=0.02)
    if where == "track-cell":
        ip.user_ns.update(module=module, trainer=trainer, loader=loader)
        ip.run_cell("%%track -n cell\ntrainer(logger=False).fit(module, loader())\n").raise_error()
        run = only_run()
        assert run.name == "cell"
    else:
        with nt.start_run(name="mine") as run:
            trainer(logger=False).fit(module, loader())
            assert nt.active_run() is run
        assert only_run().run_id == run.run_id
    got = nt.get_run(run.run_id)
    assert got.status == "FINISHED" and "nbtrack.autolog" not in got.tags
    assert got.params["lr"] == "0.02"
    logged = history(run.run_id, "train_loss")
    assert [s for s, _ in logged] == [s for s, _ in module.seen]
    assert [v for _, v in logged] == pytest.approx([v for _, v in module.seen], rel=1e-6)


@pytest.mark.autolog_failure
def test_pytorch_lightning_failing_logger_does_not_fail_training_nor_change_it(store, monkeypatch):
    pl = pytest.importorskip("pytorch_lightning")
    from nbtrack.integrations import lightning as nb_lightning

    class PLModule(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(3, 1)

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.layer(x), y)
            self.log("loss", loss)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    def train():
        pl.seed_everything(0)
        m = PLModule()
        pl.Trainer(
            max_epochs=1, log_every_n_steps=1, enable_progress_bar=False,
            enable_model_summary=False, enable_checkpointing=False, logger=False,
            accelerator="cpu", devices=1,
        ).fit(m, loader())
        return [p.detach().clone() for p in m.parameters()]

    off = train()
    monkeypatch.setattr(nb_lightning, "_numbers", lambda m: 1 / 0)
    nt.autolog("pytorch_lightning", log_models=False)
    with pytest.warns(NbtrackWarning, match="pytorch_lightning integration failed"):
        on = train()
    for a, b in zip(off, on, strict=True):
        assert torch.equal(a, b)
    assert only_run().status == "FINISHED"
