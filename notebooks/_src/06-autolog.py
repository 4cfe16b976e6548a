# %% [markdown]
# # 06 · Autologging: a scikit-learn sweep and a LightGBM model, no logging code
#
# `nt.autolog()` patches the training entry points of the ML frameworks you use, so a
# `fit` records its params, its metrics, a fingerprint of its training data and the fitted
# model by itself. Here a grid search over an SVM on scikit-learn's bundled digits
# (nothing is downloaded) becomes one parent run with **a child run per candidate**, and a
# LightGBM model trained in a `%%track --autolog` cell logs its validation loss at every
# boosting iteration, its early-stopping point and its feature importance.
#
# Autolog is **the one place where nbtrack starts a run by itself** (as MLflow's autolog
# does): a `fit` with no active run starts a run and ends it when `fit` returns. Inside a
# `%%track` cell or a `with nt.start_run():` block, everything goes into that run.

# %%
%load_ext nbtrack

# %%
import os

import lightgbm as lgb
import nbtrack as nt
import plotly.io as pio
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

nt.set_store(os.environ.get("NBTRACK_STORE", ".nbtrack"))
nt.set_experiment("autolog-demo")
pio.renderers.default = "plotly_mimetype+notebook_connected"

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
nt.autolog(["sklearn", "lightgbm"])

# %% [markdown]
# ## A grid search is a parent run with one child per candidate
#
# No `start_run`, no `log_metric`: the search's `fit` starts a run. The parent holds the
# search's params, `best_cv_score`, the `best_<param>` values, the training metrics of the
# refitted best model and the model itself; each child holds one candidate's params and its
# cross-validation scores (`mean_test_score`, `split0_test_score` ...).

# %%
search = GridSearchCV(
    make_pipeline(StandardScaler(), SVC()),
    {"svc__C": [1.0, 10.0], "svc__gamma": [0.001, 0.01, 0.1]},
    cv=3,
)
search.fit(X_train, y_train)

runs = nt.search_runs(order_by=["attributes.start_time ASC"])
parent = runs[runs["tags.nbtrack.autolog"].notna() & runs.parent_run_id.isna()].iloc[-1]
children = runs[runs.parent_run_id == parent.run_id]
children[["params.svc__C", "params.svc__gamma", "metrics.mean_test_score", "metrics.rank_test_score"]].sort_values(
    "metrics.rank_test_score"
)

# %%
# NBVAL_CHECK_OUTPUT
best = nt.get_run(parent.run_id)
print("child runs:", len(children))
print("best params:", best.params["best_svc__C"], best.params["best_svc__gamma"])
print("best CV score matches:", round(best.metrics["best_cv_score"], 6) == round(search.best_score_, 6))
print("artifacts:", sorted(nt.list_artifacts(parent.run_id)))

# %% [markdown]
# ## LightGBM inside a `%%track --autolog` cell
#
# `--autolog` turns autologging on for this cell only and sends everything to the cell's
# run. Each boosting iteration's validation loss is a step of the metric
# `valid_0-multi_logloss`; early stopping adds `best_iteration`; the feature importance is
# stored as a table (`feature_importance.csv`) and a chart.

# %%
%%track --autolog -n lightgbm-digits --no-live
model = lgb.LGBMClassifier(n_estimators=200, learning_rate=0.2, num_leaves=15, random_state=0, verbose=-1)
model.fit(
    X_train, y_train, eval_X=(X_test,), eval_y=(y_test,),
    callbacks=[lgb.early_stopping(10, verbose=False)],
)

# %%
# NBVAL_CHECK_OUTPUT
lgb_run = nt.get_run(nt.search_runs(filter="attributes.run_name = 'lightgbm-digits'").run_id[0])
history = nt.get_metric_history(lgb_run.run_id, "valid_0-multi_logloss")
print("iterations logged:", len(history), "- best iteration:", int(lgb_run.metrics["best_iteration"]))
print("same as LightGBM's:", int(lgb_run.metrics["best_iteration"]) == model.best_iteration_)
autologged = [a for a in nt.list_artifacts(lgb_run.run_id) if a.startswith(("feature_", "model/"))]
print("autologged artifacts:", sorted(autologged))

# %%
nt.plot_metrics([lgb_run.run_id], ["valid_0-multi_logloss"])

# %%
import io

import pandas as pd

importance = pd.read_csv(io.BytesIO(nt.read_artifact(lgb_run.run_id, "feature_importance.csv")))
importance.sort_values("gain", ascending=False).head(5)

# %% [markdown]
# ## System metrics
#
# `start_run(log_system_metrics=True)` (or `%%track --system`, or
# `NBTRACK_SYSTEM_METRICS=1`) samples CPU, memory, disk and network use — and each NVIDIA
# GPU when there is one — into `system/...` metrics on a thread that stops with the run.
# The default interval is 10 s; here it is shortened so a two-second cell gets a few samples.

# %%
os.environ["NBTRACK_SYSTEM_METRICS_INTERVAL"] = "0.5"
with nt.start_run(name="with-system-metrics", log_system_metrics=True) as run:
    GridSearchCV(SVC(), {"C": [1.0, 10.0]}, cv=3).fit(X_train, y_train)
sorted(k for k in nt.get_run(run.run_id).metrics if k.startswith("system/"))

# %%
_ = nt.autolog(disable=True)  # back to plain training
