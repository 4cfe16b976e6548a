"""A 2-process Lightning job on CPU (gloo) with ``nt.autolog("lightning")``, run as a script
by tests/integrations/test_lightning.py: ``python _lightning_ddp.py <strategy> <out.json>``.

``ddp`` starts rank 1 as a new copy of this script (LOCAL_RANK=1, no RANK); ``ddp_spawn``
pickles the trainer — with nbtrack's logger in it — into two spawned workers. Each rank
writes what it saw (its rank as nbtrack and Lightning see it, the losses it logged) to
``<out>.<rank>.json``.
"""

from __future__ import annotations

import json
import os
import sys

import lightning.pytorch as L
import torch

import nbtrack as nt


class DDPModule(L.LightningModule):
    def __init__(self, lr: float = 0.05) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Linear(3, 1)
        self.seen: list[tuple[int, float]] = []

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss)
        self.seen.append((self.global_step, float(loss.detach())))
        return loss

    def on_train_end(self) -> None:
        from nbtrack.integrations.distributed import rank_info

        info = rank_info()
        out = f"{sys.argv[2]}.{self.global_rank}.json"
        with open(out, "w") as f:
            json.dump({"rank": info.rank, "world_size": info.world_size, "seen": self.seen}, f)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def loader() -> torch.utils.data.DataLoader:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 3, generator=g)
    data = torch.utils.data.TensorDataset(x, x.sum(dim=1, keepdim=True))
    return torch.utils.data.DataLoader(data, batch_size=8)


if __name__ == "__main__":
    nt.autolog("lightning", log_models=False)
    L.seed_everything(0)
    trainer = L.Trainer(
        max_epochs=1,
        log_every_n_steps=1,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        logger=False,
        accelerator="cpu",
        devices=2,
        strategy=sys.argv[1],
    )
    trainer.fit(DDPModule(lr=0.05), loader())
    print(f"rank {trainer.global_rank} of pid {os.getpid()} done")
