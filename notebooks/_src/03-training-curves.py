# %% [markdown]
# # 03 · Training curves: two optimisers and a run that fails
#
# A small neural network written in NumPy (one hidden layer, no framework, CPU only) learns
# to tell malignant from benign tumours in scikit-learn's bundled breast-cancer dataset.
# Each training run is a `%%track` cell that logs the validation loss and accuracy once per
# epoch: **while the cell runs, a live plot draws the curves** (the first plot in a kernel
# takes a few seconds to appear); when it ends, the run summary replaces the plot. We train with SGD and with Adam, compare the two runs, and then start a
# run that fails on purpose to see what nbtrack keeps of it.

# %%
%load_ext nbtrack

# %%
import os
import time

import nbtrack as nt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

nt.set_store(os.environ.get("NBTRACK_STORE", ".nbtrack"))
nt.set_experiment("training-curves")

X, y = load_breast_cancer(return_X_y=True)
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
mean, std = X_train.mean(axis=0), X_train.std(axis=0)
X_train, X_val = (X_train - mean) / std, (X_val - mean) / std
print(f"{X_train.shape[0]} training and {X_val.shape[0]} validation samples, {X.shape[1]} features")

# %% [markdown]
# ## The model and the training loop
#
# Plain NumPy: a `tanh` hidden layer, a sigmoid output, binary cross-entropy, mini-batches
# of 64, and two optimisers (SGD with momentum, Adam). The only nbtrack line is
# `nt.log_metrics(...)` at the end of each epoch; it logs into whatever run is active.
# NumPy is told to raise on overflow instead of quietly producing `inf`.

# %%
def forward(w, X):
    h = np.tanh(X @ w["W1"] + w["b1"])
    return h, 1 / (1 + np.exp(-(h @ w["W2"] + w["b2"]).ravel()))


def cross_entropy(p, y):
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def gradients(w, X, y):
    h, p = forward(w, X)
    d = ((p - y) / len(y))[:, None]
    dh = (d @ w["W2"].T) * (1 - h**2)
    return {"W1": X.T @ dh, "b1": dh.sum(axis=0), "W2": h.T @ d, "b2": d.sum(axis=0)}


def train(optimizer, lr, epochs, hidden=16, batch=64, seed=0, pause=0.1):
    """Train; log val_loss and val_accuracy every epoch. `pause` lets you watch the curves."""
    rng = np.random.default_rng(seed)
    w = {"W1": rng.normal(0, 0.3, (X_train.shape[1], hidden)), "b1": np.zeros(hidden),
         "W2": rng.normal(0, 0.3, (hidden, 1)), "b2": np.zeros(1)}
    m = {k: np.zeros_like(v) for k, v in w.items()}  # momentum / Adam first moment
    s = {k: np.zeros_like(v) for k, v in w.items()}  # Adam second moment
    t = 0
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        for epoch in range(epochs):
            order = rng.permutation(len(X_train))
            for start in range(0, len(order), batch):
                rows = order[start:start + batch]
                g = gradients(w, X_train[rows], y_train[rows])
                t += 1
                for k in w:
                    if optimizer == "sgd":
                        m[k] = 0.9 * m[k] + g[k]
                        w[k] -= lr * m[k]
                    else:
                        m[k] = 0.9 * m[k] + 0.1 * g[k]
                        s[k] = 0.999 * s[k] + 0.001 * g[k] ** 2
                        w[k] -= lr * (m[k] / (1 - 0.9**t)) / (np.sqrt(s[k] / (1 - 0.999**t)) + 1e-8)
            _, p = forward(w, X_val)
            nt.log_metrics({"val_loss": cross_entropy(p, y_val),
                            "val_accuracy": float(np.mean((p > 0.5) == y_val))}, step=epoch)
            time.sleep(pause)
    return w

# %% [markdown]
# ## Run 1: SGD with momentum
#
# `optimizer`, `lr` and `epochs` are plain assignments at the top of the cell, so they are
# recorded as params. `-t` adds tags; `--as sgd_run` names the variable that holds the run.

# %%
%%track -n sgd-momentum -t model=mlp16 --as sgd_run
optimizer = "sgd"
lr = 0.01
epochs = 40
weights = train(optimizer, lr, epochs)

# %% [markdown]
# ## Run 2: Adam

# %%
%%track -n adam -t model=mlp16 --as adam_run
optimizer = "adam"
lr = 0.003
epochs = 40
weights = train(optimizer, lr, epochs)

# %% [markdown]
# ## The two optimisers, side by side
#
# `nt.plot_metrics` overlays the curves of any runs (pass `smoothing=0.6` to smooth noisy
# ones, `x="relative"` for seconds instead of epochs):

# %%
nt.plot_metrics([sgd_run, adam_run], ["val_loss", "val_accuracy"])

# %% [markdown]
# Both reach about 95 % validation accuracy; Adam ends with the lower validation loss.
# `nt.compare` lines up the params that differ and the final metrics:

# %%
nt.compare([sgd_run, adam_run])

# %% [markdown]
# ## A run that fails on purpose
#
# A learning rate of 30 makes SGD blow the weights up within the first epoch; NumPy raises
# `FloatingPointError`. The exception reaches you as usual (the traceback below), and the
# run is **not** lost: nbtrack ends it `FAILED` and keeps the traceback as an artifact.
#
# *(The cell carries the `raises-exception` tag, so "Run All" goes on past it.)*

# %% tags=["raises-exception"]
%%track -n sgd-too-fast -t model=mlp16 --as failed_run
optimizer = "sgd"
lr = 30.0
epochs = 40
weights = train(optimizer, lr, epochs)

# %% [markdown]
# Later — in this kernel, another one, or from the command line — the failed run is in the
# store with its status, params and the traceback:

# %%
failed = nt.get_run(failed_run.id)
print(f"{failed.name}: {failed.status}, params {failed.params}")
print("artifacts:", sorted(nt.list_artifacts(failed.run_id)))
print()
print(nt.read_artifact(failed.run_id, "traceback.txt").decode()[-600:])

# %% [markdown]
# Finding failed runs is one filter away, here for this experiment:

# %%
nt.search_runs(filter="attributes.status = 'FAILED'")[["name", "status", "params.lr", "start_time"]].head()

# %%
# NBVAL_CHECK_OUTPUT
for r in (sgd_run, adam_run, failed_run):
    final = nt.get_run(r.id)
    print(f"{final.name:<13} {final.status:<9} optimizer={final.params['optimizer']} lr={final.params['lr']}")
print("last traceback line:", nt.read_artifact(failed_run.id, "traceback.txt").decode().strip().splitlines()[-1].split(":")[0])

# %% [markdown]
# Next: [04 · search and SQL](04-search-and-sql.ipynb) queries everything logged so far.
