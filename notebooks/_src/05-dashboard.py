# %% [markdown]
# # 05 · The dashboard: everything in one view
#
# Notebooks 01–04 logged their runs into one store: a quickstart, a scikit-learn sweep,
# training curves with a failed run, and a search benchmark. `nt.dashboard()` shows any
# experiment — or all of them — as one linked view:
#
# - **filter bar**: tag chips (click a tag value to keep only those runs), status boxes, and a
#   free-text filter in the grammar of [04](04-search-and-sql.ipynb);
# - **run table**: sort by any column, choose columns, tick runs;
# - **curves** of the ticked runs (the first ten rows when nothing is ticked), with a metric
#   picker, smoothing, log scale and step/time axes;
# - **compare**: the params that differ, final metrics, parallel coordinates, a scatter.
#
# The **Refresh** button reads the store again; `refresh_every=5` does it on a timer, so a
# dashboard left open in one notebook follows runs that another notebook is training.

# %%
%load_ext nbtrack

# %%
import os

import nbtrack as nt

store_path = os.environ.get("NBTRACK_STORE", ".nbtrack")
nt.set_store(store_path);

# %% [markdown]
# If you opened this notebook first, the store may not hold the other notebooks' runs yet.
# The next cell then runs notebooks 01–04 for you, headless, into the same store (about a
# minute); otherwise it does nothing.

# %%
DEMO_EXPERIMENTS = ["quickstart", "digits-sweep", "training-curves", "search-and-sql"]
missing = [e for e in DEMO_EXPERIMENTS if e not in nt.list_experiments()]
if missing:
    import nbformat
    from nbclient import NotebookClient

    os.environ["NBTRACK_STORE"] = os.path.abspath(store_path)  # the kernels below inherit it
    for notebook in ["01-quickstart", "02-hyperparameter-sweep", "03-training-curves",
                     "04-search-and-sql"]:
        print("running", notebook, "...")
        nb = nbformat.read(f"{notebook}.ipynb", as_version=4)
        NotebookClient(nb, timeout=300, resources={"metadata": {"path": "."}}).execute()
print("experiments:", ", ".join(nt.list_experiments()))

# %% [markdown]
# ## What the store holds

# %%
everything = nt.search_runs(experiment="*")
everything.groupby(["experiment", "status"]).size().unstack(fill_value=0)

# %%
# NBVAL_CHECK_OUTPUT
print("demo experiments in the store:", sorted(set(DEMO_EXPERIMENTS) & set(nt.list_experiments())))
print("statuses seen:", sorted(set(everything["status"])))

# %% [markdown]
# ## The dashboard over every experiment
#
# `"*"` shows all experiments; `nt.dashboard()` with no argument shows the current one, and
# a list of names shows those. *(In a static copy of this notebook — GitHub, nbviewer, the
# HTML in `build/` — only the run table is drawn; run the cell for the live view.)*

# %%
dash = nt.dashboard("*")
dash

# %% [markdown]
# The dashboard is also an object you can drive from code. `dash.table.frame` is the
# DataFrame behind the table and `dash.shown_run_ids` the runs whose curves are drawn;
# `dash.refresh()` reads the store again.

# %%
dash.table.frame[["experiment", "name", "status"]].head(8)

# %% [markdown]
# ## One experiment at a time
#
# The training runs of [03](03-training-curves.ipynb) only.
# Tick the two finished runs to compare SGD and Adam; untick everything
# to see all runs' curves.

# %%
nt.dashboard("training-curves", refresh_every=None)

# %% [markdown]
# ## Static views for a report
#
# The dashboard is for exploring. For a report, the individual views draw the same pictures
# and keep them in the saved notebook: the validation curves of every training run in the
# store …

# %%
trained = nt.search_runs(experiment="training-curves", filter="attributes.status = 'FINISHED'")
nt.plot_metrics(trained, ["val_loss", "val_accuracy"])

# %% [markdown]
# … and the best run of each family from the sweep in [02](02-hyperparameter-sweep.ipynb):

# %%
sweep = nt.search_runs(experiment="digits-sweep", order_by=["metrics.accuracy DESC"])
nt.compare(sweep.drop_duplicates("tags.family"))

# %% [markdown]
# ## From here
#
# - Track your own notebook: `%load_ext nbtrack`, then `%%track` on a cell.
# - The runs are in the store folder (`NBTRACK_STORE`, else `./.nbtrack`); from a terminal,
#   `nbtrack runs list` and `nbtrack sql "SELECT ..."` read it.
# - Start over: delete the store folder.
