# %% [markdown]
# # 04 · Search and SQL
#
# Every run, param, metric point and tag sits in Parquet files that DuckDB queries. This
# notebook shows the three ways to ask questions of them:
#
# 1. **filters** in `nt.search_runs` (MLflow's grammar plus `OR`, `NOT`, parentheses, `IN`,
#    `IS NULL`, `ILIKE` and backticked keys), which return pandas DataFrames;
# 2. **`nt.sql`**: read-only SQL over the views `runs`, `params`, `metrics`, `tags` and
#    `artifacts`, for joins and aggregates a filter cannot express;
# 3. **plain DuckDB** (or Polars, Spark …) straight on the files, with no nbtrack at all.

# %%
%load_ext nbtrack

# %%
import os

import nbtrack as nt
import numpy as np
import pandas as pd

store_path = os.environ.get("NBTRACK_STORE", ".nbtrack")
nt.set_store(store_path)
nt.set_experiment("search-and-sql");

# %% [markdown]
# ## Some runs to search
#
# Twelve runs of an imaginary image/text benchmark: two teams, four models, a few learning
# rates. Each logs `acc` and `val loss` (a key with a space, to show backticks) for ten
# epochs. One run has no `team` tag. The runs are logged once per store; running the
# notebook again reuses them, so the counts below stay the same.

# %%
configs = [
    ("vision", "resnet18", 0.1), ("vision", "resnet18", 0.01), ("vision", "resnet50", 0.1),
    ("vision", "resnet50", 0.01), ("vision", "vit-small", 0.001), ("vision", "vit-small", 0.0003),
    ("nlp", "bert-base", 0.0001), ("nlp", "bert-base", 0.00003), ("nlp", "distilbert", 0.0001),
    ("nlp", "distilbert", 0.001), ("nlp", "bert-base", 0.001), (None, "resnet18", 0.03),
]
if nt.search_runs(max_results=1).empty:
    rng = np.random.default_rng(42)
    for i, (team, model, lr) in enumerate(configs):
        tags = {"team": team} if team else {}
        ceiling = rng.uniform(0.72, 0.96)
        with nt.start_run(name=f"{model}-{i:02d}", params={"model": model, "lr": lr,
                          "batch_size": 32 if team == "nlp" else 128}, tags=tags):
            for epoch in range(10):
                progress = 1 - np.exp(-(epoch + 1) / 3)
                nt.log_metrics({"acc": ceiling * progress,
                                "val loss": 1.2 * (1 - ceiling * progress) + rng.normal(0, 0.01)},
                               step=epoch)
runs = nt.search_runs()
print(len(runs), "runs in experiment 'search-and-sql'")

# %% [markdown]
# ## Filters
#
# `OR` — MLflow's filters only have `AND`:

# %%
nt.search_runs(filter="params.model = 'vit-small' OR metrics.acc > 0.9",
               order_by=["metrics.acc DESC"])[["name", "params.model", "metrics.acc"]]

# %% [markdown]
# **Parentheses** change the meaning: `AND` binds tighter than `OR` (precedence
# `NOT` > `AND` > `OR`), so the two filters below differ only in grouping, and match
# different runs:

# %%
loose = "tags.team = 'vision' OR tags.team = 'nlp' AND metrics.acc > 0.85"
grouped = "(tags.team = 'vision' OR tags.team = 'nlp') AND metrics.acc > 0.85"
for text in (loose, grouped):
    print(f"{len(nt.search_runs(filter=text)):2d} runs  {text}")

# %% [markdown]
# **Backticks** quote keys with spaces or punctuation. `IN`, `LIKE`, `IS NULL` and `NOT`
# work on params, metrics, tags and attributes (`attributes.name`, `status`, `start_time` …):

# %%
examples = [
    "metrics.`val loss` < 0.3",
    "params.model IN ('resnet18', 'resnet50') AND params.lr >= 0.03",
    "attributes.name LIKE 'bert%'",
    "tags.team IS NULL",
    "NOT tags.team = 'vision'",
]
for text in examples:
    names = list(nt.search_runs(filter=text, order_by=["attributes.name"])["name"])
    shown = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
    print(f"{len(names):2d} runs  {text:<62} {shown}")

# %% [markdown]
# Note the last line: a run without a `team` tag does not match `tags.team = 'vision'`, so
# `NOT` includes it (two-valued logic, as in MLflow). A malformed filter raises
# `nbtrack.FilterError` pointing at the position:

# %%
try:
    nt.search_runs(filter="metrics.acc > 0.9 AND (params.lr = 0.1")
except nt.FilterError as err:
    print(err)

# %% [markdown]
# The checked cell (compared by `make test`):

# %%
# NBVAL_CHECK_OUTPUT
print("OR:         ", len(nt.search_runs(filter="params.model = 'vit-small' OR metrics.acc > 0.9")))
print("loose:      ", len(nt.search_runs(filter=loose)))
print("grouped:    ", len(nt.search_runs(filter=grouped)))
print("backticks:  ", len(nt.search_runs(filter="metrics.`val loss` < 0.3")))
print("no team tag:", list(nt.search_runs(filter="tags.team IS NULL")["name"]))

# %% [markdown]
# `search_runs` spans experiments too: `experiment="*"` searches them all, e.g. every
# failed run in the store (the one from [03](03-training-curves.ipynb), if it ran):

# %%
nt.search_runs(experiment="*", filter="attributes.status = 'FAILED'")[["experiment", "name", "status"]]

# %% [markdown]
# ## SQL over the views
#
# `nt.sql` runs one read-only `SELECT` (DuckDB's dialect) and returns a DataFrame. The
# `metrics` view has one row per logged point, so curves can be aggregated: here the best
# accuracy of each model and the first epoch it passed 0.8, joined with the `team` tag.

# %%
nt.sql("""
    SELECT p.value AS model, t.value AS team,
           max(m.value) AS best_acc, min(m.step) FILTER (WHERE m.value > 0.8) AS epoch_over_0_8,
           count(DISTINCT r.run_id) AS runs
    FROM runs r
    JOIN params p ON p.run_id = r.run_id AND p.key = 'model'
    JOIN metrics m ON m.run_id = r.run_id AND m.key = 'acc'
    LEFT JOIN tags t ON t.run_id = r.run_id AND t.key = 'team'
    WHERE r.experiment = 'search-and-sql'
    GROUP BY ALL
    ORDER BY best_acc DESC
""").astype({"epoch_over_0_8": "Int64"})

# %% [markdown]
# The same store holds every notebook's runs; one query summarises all experiments:

# %%
nt.sql("""
    SELECT r.experiment, count(DISTINCT r.run_id) AS runs,
           count(DISTINCT r.run_id) FILTER (WHERE r.status = 'FAILED') AS failed,
           count(m.value) AS metric_points
    FROM runs r LEFT JOIN metrics m USING (run_id)
    GROUP BY r.experiment ORDER BY r.experiment
""")

# %% [markdown]
# ## Exporting to pandas
#
# Both `search_runs` and `sql` return ordinary pandas DataFrames: pivot them, plot them, or
# write them anywhere pandas writes (`to_csv`, `to_parquet`, `to_excel` …).

# %%
points = nt.sql("""
    SELECT r.name, m.step, m.value FROM metrics m JOIN runs r USING (run_id)
    WHERE r.experiment = 'search-and-sql' AND m.key = 'acc'
""")
curves = points.pivot_table(index="step", columns="name", values="value")
curves.iloc[:, :5].round(3).tail(3)

# %%
import tempfile
from pathlib import Path

export = Path(tempfile.mkdtemp()) / "search-and-sql-runs.csv"
nt.search_runs(order_by=["metrics.acc DESC"]).to_csv(export, index=False)
print(f"{export.name}: {len(pd.read_csv(export))} rows, {export.stat().st_size:,} bytes")

# %% [markdown]
# ## Reading the store with plain DuckDB
#
# The store is a documented format ([docs/format.md](../docs/format.md)): Hive-partitioned
# Parquet segments. Files are immutable; a compacted file names the files it replaces in
# its footer, so an exact read drops those. This is the query from the docs, run by plain
# `duckdb` with no nbtrack involved:

# %%
import duckdb

con = duckdb.connect()
con.execute(f"""SET VARIABLE files = (
    SELECT list(file ORDER BY file) FROM glob('{Path(store_path).as_posix()}/metrics/*/*.parquet'))""")
plain = con.sql("""
    WITH replaced AS (
      SELECT DISTINCT regexp_replace(file_name, '[^/]*$', '')
             || unnest(CAST(json(decode(value)) AS VARCHAR[])) AS path
      FROM parquet_kv_metadata(getvariable('files'))
      WHERE decode(key) = 'nbtrack.replaces'
    )
    SELECT run_id, key, step, timestamp, value, experiment_id
    FROM read_parquet(getvariable('files'), hive_partitioning = true, filename = true)
    WHERE filename NOT IN (SELECT path FROM replaced)
""").df()
plain.groupby("experiment_id").size().rename("metric points").to_frame()

# %% [markdown]
# Same rows as nbtrack's own `metrics` view:

# %%
# NBVAL_CHECK_OUTPUT
through_nbtrack = nt.sql("SELECT count(*) AS n FROM metrics")["n"].iloc[0]
print("plain DuckDB and nt.sql count the same metric points:", len(plain) == through_nbtrack)

# %% [markdown]
# Next: [05 · dashboard](05-dashboard.ipynb) puts all of it in one view.
