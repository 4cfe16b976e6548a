"""PyTorch modules importable by another process (a model's class must be, to load weights)."""

import torch


class TinyNet(torch.nn.Module):
    """Two inputs -> one output; constructible with no arguments."""

    def __init__(self, hidden: int = 4) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Linear(2, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class NeedsArgs(torch.nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(2, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x)
