"""The seeded workload shared by every system in the benchmark (standard library only).

Every system receives exactly the same names, values, params and tags. Metric values are
float32-representable (``float(numpy.float32(x))``), as when a training loop logs
``loss.item()`` from a float32 tensor; a float64 round trip of such a value is exact, so read
back values can be compared with ``==``.
"""

from __future__ import annotations

import math
import random
import struct

SEED = 20261124
EXPERIMENT = "bench"
WARMUP_EXPERIMENT = "warmup"
HISTORY_KEY = "loss"
SEARCH_FILTER = "metrics.loss < 0.5 and params.lr = '0.01'"

FULL = {
    "import_reps": 5,
    "runs": 200,
    "log_metric": 20_000,
    "steps": 1_000,
    "keys": 50,
    "params": 500,
    "tags": 100,
    "search_runs": 2_000,
    "search_reps": 20,
    "big_runs": 100_000,
    "big_reps": 20,
    "track_reps": 50,
}

QUICK = {
    "import_reps": 3,
    "runs": 20,
    "log_metric": 2_000,
    "steps": 100,
    "keys": 50,
    "params": 500,
    "tags": 100,
    "search_runs": 200,
    "search_reps": 5,
    "big_runs": 2_000,
    "big_reps": 5,
    "track_reps": 10,
}

_F32 = struct.Struct("<f")


def f32(x: float) -> float:
    """Round a Python float to the nearest float32 value (returned as a Python float)."""
    return _F32.unpack(_F32.pack(x))[0]


def metric_series(n: int, seed: int = SEED) -> list[float]:
    """A noisy, decaying loss curve of ``n`` float32-representable values (steps 0..n-1)."""
    rng = random.Random(seed)
    scale = max(n / 4.0, 1.0)
    return [f32(2.0 * math.exp(-i / scale) + 0.05 + 0.02 * rng.gauss(0.0, 1.0)) for i in range(n)]


def step_dicts(steps: int, keys: int, seed: int = SEED + 1) -> list[dict[str, float]]:
    """``steps`` dicts of ``keys`` metrics each, for the ``log_metrics`` phase."""
    rng = random.Random(seed)
    names = [f"m{k:02d}" for k in range(keys)]
    return [{k: f32(rng.random()) for k in names} for _ in range(steps)]


def many_params(n: int, seed: int = SEED + 2) -> dict[str, str]:
    rng = random.Random(seed)
    return {
        f"param_{i:03d}": f"{rng.choice(['a', 'b', 'c'])}{rng.randrange(10**6)}" for i in range(n)
    }


def many_tags(n: int, seed: int = SEED + 3) -> dict[str, str]:
    rng = random.Random(seed)
    return {f"tag_{i:03d}": f"v{rng.randrange(10**6)}" for i in range(n)}


def search_run_specs(n: int, seed: int = SEED + 4) -> list[dict]:
    """``n`` runs, each with 5 params, 5 metrics (logged once, step 0) and 3 tags."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        params = {
            "lr": rng.choice(["0.1", "0.01", "0.001"]),
            "batch_size": rng.choice(["32", "64", "128", "256"]),
            "optimizer": rng.choice(["adam", "sgd", "adamw"]),
            "layers": str(rng.randint(1, 12)),
            "dropout": rng.choice(["0.0", "0.1", "0.2", "0.5"]),
        }
        metrics = {
            "loss": f32(rng.random()),
            "accuracy": f32(rng.random()),
            "f1": f32(rng.random()),
            "val_loss": f32(rng.random() * 2),
            "epoch_time": f32(rng.uniform(1, 100)),
        }
        tags = {
            "team": rng.choice(["vision", "nlp", "speech"]),
            "stage": rng.choice(["dev", "prod"]),
            "seed": str(rng.randrange(1000)),
        }
        out.append({"name": f"run-{i:06d}", "params": params, "metrics": metrics, "tags": tags})
    return out


def expected_matches(specs: list[dict]) -> set[str]:
    """Names of the runs that ``SEARCH_FILTER`` must return, evaluated in plain Python."""
    return {s["name"] for s in specs if s["metrics"]["loss"] < 0.5 and s["params"]["lr"] == "0.01"}
