# %% [markdown]
# # 07 · Models and the registry
#
# A run's main output is often a model. `nt.log_model` stores it in the run, in the same
# Parquet store as everything else: its files as content-addressed artifacts, plus a record
# of its flavor, library versions, requirements and **signature** (the columns it takes).
# The **registry** gives models names, numbered versions and movable **aliases** such as
# `@champion`, so code that serves a model asks for `models:/churn@champion` and never
# hard-codes a run id.
#
# Here we train two small scikit-learn classifiers on synthetic churn data, log and register
# both, point `@champion` at the better one, and load it back by alias.

# %%
import os

import nbtrack as nt
import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

nt.set_store(os.environ.get("NBTRACK_STORE", ".nbtrack"))
nt.set_experiment("models");

# %% [markdown]
# ## Data: a synthetic churn table

# %%
rng = np.random.default_rng(7)
n = 600
customers = pd.DataFrame({
    "tenure_months": rng.integers(1, 72, n),
    "monthly_spend": rng.normal(60, 20, n).round(2),
    "support_calls": rng.poisson(1.5, n),
})
risk = (3 - customers.tenure_months / 12) + 0.8 * customers.support_calls - customers.monthly_spend / 50
churned = (risk + rng.normal(0, 1, n) > 1).astype(int)
X_train, X_test, y_train, y_test = train_test_split(customers, churned, test_size=0.3, random_state=0)
X_train.head(3)

# %% [markdown]
# ## Train, log and register two models
#
# `input_example` gives nbtrack the signature: column names and dtypes. scikit-learn models
# are stored with [skops](https://skops.readthedocs.io), a format that runs no code when
# loaded (nbtrack falls back to pickle, with a warning, only when skops cannot store a model).

# %%
candidates = {
    "logreg": LogisticRegression(max_iter=1000),
    "forest": RandomForestClassifier(n_estimators=50, max_depth=5, random_state=0),
}
versions = {}
for label, model in candidates.items():
    with nt.start_run(name=label) as run:
        model.fit(X_train, y_train)
        accuracy = float((model.predict(X_test) == y_test).mean())
        nt.log_metric("accuracy", accuracy)
        info = nt.log_model(model, "model", input_example=X_train.head(5))
    version = nt.register_model(info.model_uri, "churn-model")
    versions[label] = (version.version, accuracy)
    print(f"{label}: accuracy {accuracy:.3f} -> churn-model version {version.version} "
          f"({info.flavor}, {info.format}, {info.size:,} bytes)")

# %%
info.signature.describe(), info.requirements

# %% [markdown]
# ## Move `@champion` to the better model
#
# An alias move is one immutable record: every reader sees the old version or the new one,
# never neither, and concurrent moves are ordered by a sequence number claimed in the store.

# %%
best = max(versions, key=lambda label: versions[label][1])
nt.set_model_alias("churn-model", "champion", versions[best][0])
nt.show_models()

# %%
nt.show_models("churn-model")

# %% [markdown]
# ## Load the champion back
#
# `nt.load_model` returns the scikit-learn object itself; `as_pyfunc=True` returns a wrapper
# whose `predict` checks its input against the signature first.

# %%
# NBVAL_CHECK_OUTPUT
champion = nt.load_model("models:/churn-model@champion")
version = nt.get_model_version_by_alias("churn-model", "champion")
print("champion is", type(champion).__name__, "- the better model:",
      type(champion).__name__ == type(candidates[best]).__name__)
print("same predictions as the trained model:",
      bool((champion.predict(X_test) == candidates[best].predict(X_test)).all()))

# %%
print(f"@champion is version {version.version}, logged by run {nt.get_run(version.run_id).name!r}")

# %% tags=["raises-exception"]
pyfunc = nt.load_model("models:/churn-model@champion", as_pyfunc=True)
pyfunc.predict(X_test.drop(columns="support_calls"))  # SignatureError: names the missing column

# %% [markdown]
# The CLI shows the same registry: `nbtrack models list`, `nbtrack models versions
# churn-model`, and `nbtrack models alias churn-model champion 1` to move the alias.
# See docs/models.md for the format and the whole API.
