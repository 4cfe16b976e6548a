# %% [markdown]
# # 01 · Quickstart: track a notebook cell
#
# nbtrack records experiments from inside Jupyter. This notebook shows the two ways in:
#
# 1. the `%%track` cell magic — one cell is one **run**, recorded with its code, params,
#    metrics, output and environment;
# 2. the Python API (`import nbtrack as nt`), shaped like MLflow's, for loops, scripts and
#    anything a single cell does not fit.
#
# Everything is written to a **store**: a folder of Parquet files that DuckDB queries. No
# server, no account, no network.

# %%
%load_ext nbtrack

# %%
import os

import nbtrack as nt

# Every demo notebook writes to the same store, so 05-dashboard shows them all.
# `make demo` and Binder set NBTRACK_STORE; opened anywhere else, the store is ./.nbtrack.
nt.set_store(os.environ.get("NBTRACK_STORE", ".nbtrack"))
nt.set_experiment("quickstart");

# %% [markdown]
# A toy "training": the loss of a model that learns at rate `lr`, with a little noise.

# %%
import math


def toy_loss(lr, epoch):
    return 2.0 * (1 - lr) ** epoch + 0.03 * abs(math.sin(epoch))

# %% [markdown]
# ## A tracked cell
#
# Put `%%track` on the first line of a cell. The options name the run (`-n`) and tag it
# (`-t key=value`). Top-level assignments of plain values (`lr = 0.05`, `epochs = 30`) are
# recorded as **params** automatically; `nt.log_metric` adds a point to a **metric**
# (steps 0, 1, 2 … are assigned for you).
#
# While the cell runs, a live plot draws the metrics; when it ends, a compact **run
# summary** takes its place: status, duration, params, the last value of each metric with a
# sparkline, and the artifacts recorded (`cell.py`, `stdout.txt`, `environment.json` …).

# %%
%%track -n baseline -t stage=tutorial
lr = 0.05
epochs = 30
for epoch in range(epochs):
    loss = toy_loss(lr, epoch)
    nt.log_metric("loss", loss)
print(f"final loss {loss:.3f}")

# %% [markdown]
# Inside the cell, `run` is the Run object, so the next cell can look at what was recorded.
# `nt.get_run` reads it back from the store:

# %%
recorded = nt.get_run(run.id)
print("status:", recorded.status)
print("params:", recorded.params)
print("artifacts:", sorted(nt.list_artifacts(run.id)))

# %% [markdown]
# ## The same thing with the Python API
#
# `nt.start_run()` is a context manager: the run ends `FINISHED` when the block ends, or
# `FAILED` if it raises. Here, three runs of a toy model with different learning rates:

# %%
for lr in [0.02, 0.1, 0.3]:
    with nt.start_run(name=f"lr={lr}", params={"lr": lr, "epochs": 30},
                      tags={"stage": "tutorial", "api": "fluent"}) as r:
        for epoch in range(30):
            loss = toy_loss(lr, epoch)
            nt.log_metrics({"loss": loss, "loss_ratio": loss / toy_loss(lr, 0)}, step=epoch)
        nt.log_dict({"lr": lr, "note": "toy model"}, "config.json")
    print(f"{r.name:<8} {r.status:<9} loss {loss:.4f}")

# %% [markdown]
# ## All runs of the experiment
#
# `%track_runs` shows the current experiment's runs as a table (newest first). In a live
# kernel the table is sortable and you can tick runs; a filter after the magic narrows it:
# `%track_runs params.lr > 0.05`.

# %%
%track_runs

# %% [markdown]
# `nt.search_runs` returns the same runs as a pandas DataFrame with `params.*`,
# `metrics.*` (latest value) and `tags.*` columns:

# %%
runs = nt.search_runs(filter="tags.stage = 'tutorial'", order_by=["metrics.loss ASC"])
runs[["name", "status", "params.lr", "metrics.loss", "duration_s"]].head()

# %% [markdown]
# The checked cell below (`make test` compares its output) lists the learning rates the
# experiment has seen and the best one. It holds however often this notebook has run.

# %%
# NBVAL_CHECK_OUTPUT
print("learning rates:", sorted(set(runs["params.lr"]), key=float))
print("best lr:", runs.iloc[0]["params.lr"])

# %% [markdown]
# ## Curves
#
# `nt.plot_metrics` draws the metric history of any runs — ids, `Run` objects, a
# `search_runs` DataFrame or a filter string — one colour per run:

# %%
nt.plot_metrics(runs.head(4), "loss")

# %% [markdown]
# ## Where the runs went
#
# The store is plain Parquet. From a terminal, the `nbtrack` command reads it:
#
# ```bash
# nbtrack --store .nbtrack runs list --experiment quickstart
# nbtrack --store .nbtrack runs show RUN_ID
# ```
#
# Next: [02 · hyperparameter sweep](02-hyperparameter-sweep.ipynb).
