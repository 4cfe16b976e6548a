# %% [markdown]
# # 02 · A hyperparameter sweep with scikit-learn
#
# Sixteen models of four families — a linear classifier (ridge), random forest, SVM and
# k-nearest neighbours — classify handwritten digits (`load_digits`, 1,797 8×8 images that
# ship with scikit-learn: nothing is downloaded). Each model is one run, **tagged with its
# family**. Then we narrow the runs down with the tag filter, look at them in the run
# table, draw parallel coordinates, and compare the best run of each family.

# %%
%load_ext nbtrack

# %%
import os
from datetime import datetime, timezone

import nbtrack as nt
import pandas as pd
import plotly.io as pio
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import RidgeClassifier
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

nt.set_store(os.environ.get("NBTRACK_STORE", ".nbtrack"))
nt.set_experiment("digits-sweep")
# Plain plotly figures as plotly JSON: JupyterLab draws them with its bundled plotly.js,
# offline (the "notebook_connected" renderer would fetch plotly.js from a CDN).
pio.renderers.default = "plotly_mimetype"

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
print(f"{len(X_train)} training images, {len(X_test)} test images, {len(set(y))} classes")

# %% [markdown]
# ## The sweep
#
# The grid: each entry is a model family and the hyperparameters tried. Every run of this
# execution of the notebook also gets a `sweep` tag (the time it started), so the analysis
# below looks at this sweep only, however often the notebook has run against the store.

# %%
grid = {
    "linear": [{"alpha": a} for a in (0.1, 10.0, 1000.0)],
    "forest": [{"n_estimators": n, "max_depth": d} for n in (20, 60) for d in (5, None)],
    "svm": [{"C": c, "gamma": g} for c in (1.0, 10.0) for g in (0.0003, 0.001, 0.01)],
    "knn": [{"n_neighbors": k} for k in (1, 5, 15)],
}


def make_model(family, params):
    if family == "linear":
        return make_pipeline(StandardScaler(), RidgeClassifier(**params))
    if family == "forest":
        return RandomForestClassifier(random_state=0, n_jobs=1, **params)
    if family == "svm":
        return SVC(**params)
    return KNeighborsClassifier(**params)


sweep = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
for family, settings in grid.items():
    for params in settings:
        name = family + " " + " ".join(f"{k}={v}" for k, v in params.items())
        with nt.start_run(name=name, params={"family": family, **params},
                          tags={"family": family, "sweep": sweep}):
            model = make_model(family, params).fit(X_train, y_train)
            predicted = model.predict(X_test)
            nt.log_metrics({
                "accuracy": accuracy_score(y_test, predicted),
                "f1_macro": f1_score(y_test, predicted, average="macro"),
            })
        print(f"{name:<36} accuracy {accuracy_score(y_test, predicted):.3f}")

# %% [markdown]
# ## The tag filter
#
# Filters use MLflow's grammar plus `OR`, `NOT`, parentheses and `IN`. Tags are reached as
# `tags.<key>`: here the runs of this sweep that are SVMs or forests.

# %%
this_sweep = f"tags.sweep = '{sweep}'"
kernels_and_trees = nt.search_runs(
    filter=f"{this_sweep} AND tags.family IN ('svm', 'forest')",
    order_by=["metrics.accuracy DESC"],
)
kernels_and_trees[["name", "tags.family", "metrics.accuracy", "duration_s"]]

# %%
# NBVAL_CHECK_OUTPUT
by_family = nt.search_runs(filter=this_sweep).groupby("tags.family")["name"].nunique()
print("runs per family:", {family: int(n) for family, n in by_family.sort_index().items()})
print("svm or forest:  ", len(kernels_and_trees), "runs")

# %% [markdown]
# ## The run table
#
# `nt.show_runs` takes the same filter. In a live kernel you can sort by any column (click
# its header), choose columns, page, and tick runs; the ticked ids are in
# `table.selected_run_ids`. Here, the whole sweep, best first:

# %%
table = nt.show_runs(filter=this_sweep,
                     columns=["name", "status", "tags.family", "metrics.accuracy",
                              "metrics.f1_macro", "duration_s"])
table.sort("metrics.accuracy", ascending=False)
table

# %% [markdown]
# ## Parallel coordinates
#
# How do the SVM's two hyperparameters drive accuracy? One line per run, from `C` and
# `gamma` (log scale) to the accuracy it reached: the largest `gamma` costs about 18 points,
# whatever `C` is. `search_runs` gives a plain pandas DataFrame (params are strings, as in
# MLflow), so any plotting library works on it:

# %%
import numpy as np
import plotly.express as px

svm = nt.search_runs(filter=f"{this_sweep} AND tags.family = 'svm'")
axes = pd.DataFrame({
    "log10 C": np.log10(svm["params.C"].astype(float)),
    "log10 gamma": np.log10(svm["params.gamma"].astype(float)),
    "accuracy": svm["metrics.accuracy"],
})
fig = px.parallel_coordinates(axes, color="accuracy", color_continuous_scale="Viridis")
fig.update_layout(height=360, margin={"l": 60, "r": 40, "t": 50, "b": 30})

# %% [markdown]
# ## Comparing the best run of each family
#
# Sort the sweep by accuracy and keep the first run per family. `nt.compare` shows which
# params differ between them and their final metrics side by side; in a live kernel it
# adds parallel coordinates and a param-vs-metric scatter with pickers.

# %%
ranked = nt.search_runs(filter=this_sweep, order_by=["metrics.accuracy DESC"])
best = ranked.drop_duplicates("tags.family")
best[["name", "metrics.accuracy", "metrics.f1_macro", "duration_s"]]

# %%
nt.compare(best)

# %%
# NBVAL_CHECK_OUTPUT
print("winner of the sweep:", best.iloc[0]["tags.family"])
print("families compared: ", sorted(best["tags.family"]))

# %% [markdown]
# On digits, a well-chosen RBF kernel wins, and a plain nearest-neighbour classifier is
# close behind. (`duration_s`, the run's wall time, is mostly the fit.) Everything above stays queryable: the next notebooks train
# models epoch by epoch ([03](03-training-curves.ipynb)) and search runs with filters and
# SQL ([04](04-search-and-sql.ipynb)).
