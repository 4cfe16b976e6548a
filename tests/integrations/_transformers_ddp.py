"""A 2-process transformers ``Trainer`` job on CPU (gloo) with ``nt.autolog("transformers")``,
started by tests/integrations/test_transformers.py with ``torchrun --nproc-per-node 2``.
Each rank writes its rank and the Trainer's log history to ``<out>.<rank>.json``.
"""

from __future__ import annotations

import json
import sys

import torch
import transformers

import nbtrack as nt


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


if __name__ == "__main__":
    out = sys.argv[1]
    nt.autolog("transformers")
    transformers.set_seed(0)
    config = transformers.BertConfig(
        vocab_size=32, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=16, num_labels=2,
    )
    args = transformers.TrainingArguments(
        output_dir=f"{out}-trainer", max_steps=3, logging_steps=1,
        per_device_train_batch_size=4, learning_rate=1e-3, report_to="none",
        save_strategy="no", use_cpu=True, disable_tqdm=True, seed=0, ddp_backend="gloo",
    )
    trainer = transformers.Trainer(
        model=transformers.BertForSequenceClassification(config), args=args,
        train_dataset=TinyData(),
    )
    trainer.train()
    from nbtrack.integrations.distributed import rank_info

    info = rank_info()
    with open(f"{out}.{trainer.args.process_index}.json", "w") as f:
        json.dump(
            {"rank": info.rank, "world_size": info.world_size,
             "history": trainer.state.log_history}, f,
        )
