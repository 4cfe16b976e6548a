"""Hugging Face transformers: NbtrackCallback and autolog with a tiny model built from a
config (nothing is downloaded), trained for a few steps on CPU."""

from __future__ import annotations

import pytest

import nbtrack as nt
from integrations._autolog_helpers import history, only_run
from nbtrack.errors import NbtrackWarning

torch = pytest.importorskip("torch", reason="torch is not installed: pip install torch")
transformers = pytest.importorskip("transformers", reason="transformers is not installed")
pytest.importorskip("accelerate", reason="transformers' Trainer needs accelerate")


class TinyData(torch.utils.data.Dataset):
    def __init__(self) -> None:
        g = torch.Generator().manual_seed(0)
        self.ids = torch.randint(1, 30, (16, 8), generator=g)
        self.labels = (self.ids[:, 0] > 15).long()

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        return {
            "input_ids": self.ids[i],
            "attention_mask": torch.ones(8, dtype=torch.long),
            "labels": self.labels[i],
        }


def make_trainer(tmp_path, callbacks=None, report_to="none"):
    transformers.set_seed(0)
    config = transformers.BertConfig(
        vocab_size=32, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=16, num_labels=2,
    )
    model = transformers.BertForSequenceClassification(config)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"), max_steps=4, logging_steps=1,
        per_device_train_batch_size=4, learning_rate=1e-3, report_to=report_to,
        save_strategy="no", use_cpu=True, disable_tqdm=True, seed=0,
    )
    return transformers.Trainer(
        model=model, args=args, train_dataset=TinyData(), callbacks=callbacks
    )


def reported_losses(trainer) -> list[tuple[int, float]]:
    return [(h["step"], h["loss"]) for h in trainer.state.log_history if "loss" in h]


def test_callback_logs_training_args_model_config_and_every_log(store, tmp_path):
    from nbtrack.integrations.transformers import NbtrackCallback

    with nt.start_run() as run:
        trainer = make_trainer(tmp_path, callbacks=[NbtrackCallback()])
        trainer.train()
    got = nt.get_run(run.run_id)
    assert got.params["learning_rate"] == "0.001"
    assert got.params["max_steps"] == "4"
    assert got.params["model/hidden_size"] == "16"
    logged = history(run.run_id, "loss")
    expected = reported_losses(trainer)
    assert [s for s, _ in logged] == [s for s, _ in expected] == [1, 2, 3, 4]
    assert [v for _, v in logged] == pytest.approx([v for _, v in expected])
    assert "train_runtime" in got.metrics


def test_autolog_starts_a_run_and_same_weights_as_without(store, tmp_path):
    off = make_trainer(tmp_path)
    off.train()
    nt.autolog("transformers")
    on = make_trainer(tmp_path)
    on.train()
    run = only_run()
    assert run.tags["nbtrack.autolog"] == "transformers"
    assert len(history(run.run_id, "loss")) == 4
    for a, b in zip(off.model.parameters(), on.model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert not any(
        type(c).__name__ == "NbtrackCallback" for c in on.callback_handler.callbacks
    )  # removed again after train()


@pytest.mark.autolog_failure
def test_a_failing_callback_does_not_fail_training(store, tmp_path, monkeypatch):
    from nbtrack.integrations import transformers as nb_tf

    monkeypatch.setattr(nb_tf, "_numbers", lambda logs: 1 / 0)
    nt.autolog("transformers")
    trainer = make_trainer(tmp_path)
    with pytest.warns(NbtrackWarning, match="transformers integration failed"):
        trainer.train()
    assert trainer.state.global_step == 4
    assert only_run().status == "FINISHED"


@pytest.mark.parametrize("explicit", [False, True], ids=["own-run", "explicit-run"])
def test_report_to_nbtrack(store, tmp_path, explicit):
    import nbtrack.integrations.transformers  # noqa: F401  (adds "nbtrack" to report_to)

    if explicit:
        with nt.start_run(name="mine") as run:
            trainer = make_trainer(tmp_path, report_to="nbtrack")
            trainer.train()
        assert only_run().run_id == run.run_id
    else:
        trainer = make_trainer(tmp_path, report_to="nbtrack")
        trainer.train()
        assert nt.active_run() is None  # the callback ended the run it started
    run = only_run()
    assert run.status == "FINISHED"
    assert run.params["report_to"] == "['nbtrack']"
    logged, expected = history(run.run_id, "loss"), reported_losses(trainer)
    assert [s for s, _ in logged] == [s for s, _ in expected] == [1, 2, 3, 4]
    assert [v for _, v in logged] == pytest.approx([v for _, v in expected])


def test_track_cell_with_autolog(store, ip, tmp_path):
    ip.user_ns.update(make_trainer=make_trainer, tmp_path=tmp_path)
    ip.run_cell(
        "%%track --autolog -n hf-cell\nt = make_trainer(tmp_path)\nt.train()\n"
    ).raise_error()
    run = only_run()
    assert run.name == "hf-cell"
    logged, expected = history(run.run_id, "loss"), reported_losses(ip.user_ns["t"])
    assert [s for s, _ in logged] == [s for s, _ in expected]
    assert [v for _, v in logged] == pytest.approx([v for _, v in expected])


@pytest.mark.slow
def test_a_two_process_torchrun_job_is_one_run_holding_rank_0_s_logs(store, store_path, tmp_path):
    """``torchrun --nproc-per-node 2`` on CPU (gloo): both ranks train with autolog on; only
    the main process (``is_world_process_zero``) logs, so the job is one run."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).with_name("_transformers_ddp.py")
    out = tmp_path / "seen"
    env = {**os.environ, "NBTRACK_STORE": str(store_path), "PYTHONWARNINGS": "ignore",
           "OMP_NUM_THREADS": "1"}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "SLURM_PROCID", "SLURM_NTASKS"):
        env.pop(name, None)
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         str(script), str(out)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = {r: json.loads(Path(f"{out}.{r}.json").read_text()) for r in (0, 1)}
    assert [(ranks[r]["rank"], ranks[r]["world_size"]) for r in (0, 1)] == [(0, 2), (1, 2)]
    run = only_run()
    assert run.tags["nbtrack.autolog"] == "transformers"
    assert (run.tags["nbtrack.rank"], run.tags["nbtrack.world_size"]) == ("0", "2")
    expected = [(h["step"], h["loss"]) for h in ranks[0]["history"] if "loss" in h]
    logged = history(run.run_id, "loss")
    assert [s for s, _ in logged] == [s for s, _ in expected] == [1, 2, 3]
    assert [v for _, v in logged] == pytest.approx([v for _, v in expected])
