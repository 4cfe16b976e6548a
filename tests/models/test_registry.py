"""The registry: versions, aliases, tags, descriptions, search, deleted runs, racing writers."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import nbtrack as nt
from nbtrack import models
from nbtrack.errors import FilterError, ModelError, ModelNotFoundError, RunNotFoundError
from tests.conftest import python_env


class Const:
    """A python_function model returning a constant: which model was loaded is visible."""

    def __init__(self, value: float) -> None:
        self.value = value

    def predict(self, df):
        return np.full(len(df), self.value)


X = pd.DataFrame({"x": [1.0, 2.0, 3.0]})


def _logged(value: float, name: str = "model") -> str:
    with nt.start_run(), pytest.warns(nt.NbtrackWarning, match="pickle"):
        return nt.log_model(Const(value), name, input_example=X).model_uri


def test_versions_count_up_and_load_by_number_alias_and_latest(store):
    uri1, uri2 = _logged(1.0), _logged(2.0)
    assert nt.register_model(uri1, "churn").version == 1
    assert nt.register_model(uri2, "churn").version == 2
    assert nt.load_model("models:/churn/1").value == 1.0
    assert nt.load_model("models:/churn/latest").value == 2.0
    nt.set_model_alias("churn", "champion", 1)
    assert nt.load_model("models:/churn@champion").value == 1.0
    nt.set_model_alias("churn", "champion", "2")  # moves
    assert nt.get_model_version_by_alias("churn", "champion").version == 2
    assert nt.load_model("models:/churn@champion").value == 2.0
    rm = models.get_registered_model("churn")
    assert rm.aliases == {"champion": 2} and rm.latest_version == 2
    nt.delete_model_alias("churn", "champion")
    with pytest.raises(ModelNotFoundError, match="no alias 'champion'"):
        nt.load_model("models:/churn@champion")


def test_tags_descriptions_and_search(store):
    uri = _logged(1.0)
    nt.register_model(uri, "churn-a", tags={"team": "growth"}, description="first")
    nt.register_model(uri, "churn-b")
    nt.register_model(uri, "other")
    models.set_registered_model_tag("churn-a", "team", "growth")
    models.set_registered_model_tag("churn-b", "team", "risk")
    models.update_registered_model("churn-a", "the churn model")
    models.update_model_version("churn-a", 1, "v1 notes")
    models.set_model_version_tag("churn-b", 1, "validated", "true")
    assert models.get_registered_model("churn-a").description == "the churn model"
    mv = models.get_model_version("churn-a", 1)
    assert mv.description == "v1 notes" and mv.tags == {"team": "growth"}
    names = [m.name for m in nt.search_registered_models("name LIKE 'churn%'")]
    assert names == ["churn-a", "churn-b"]
    assert [m.name for m in nt.search_registered_models("tags.team = 'risk' OR name = 'other'")] == [
        "churn-b", "other"]
    assert [m.name for m in nt.search_registered_models("NOT tags.team = 'growth'")] == [
        "churn-b", "other"]
    found = nt.search_model_versions("tags.validated = true")
    assert [(v.name, v.version) for v in found] == [("churn-b", 1)]
    run_id = uri.split("/")[1]
    assert len(nt.search_model_versions(f"run_id = '{run_id}'")) == 3
    models.delete_registered_model_tag("churn-b", "team")
    assert models.get_registered_model("churn-b").tags == {}
    with pytest.raises(FilterError, match=r"metrics\.loss is not one of them"):
        nt.search_registered_models("metrics.loss > 1")


def test_deleted_versions_and_models_keep_their_numbers(store):
    uri = _logged(1.0)
    for _ in range(3):
        nt.register_model(uri, "m")
    models.delete_model_version("m", 3)
    assert nt.register_model(uri, "m").version == 4  # 3 is never reused
    models.delete_registered_model("m")
    with pytest.raises(ModelNotFoundError):
        models.get_registered_model("m")
    assert nt.register_model(uri, "m").version == 5
    assert [v.version for v in nt.search_model_versions("name = 'm'")] == [5]


def test_registered_versions_of_deleted_runs_stay_loadable(store):
    uri = _logged(7.0)
    nt.register_model(uri, "keep")
    run_id = uri.split("/")[1]
    nt.delete_run(run_id)
    with pytest.raises(RunNotFoundError):
        nt.load_model(uri)
    assert nt.load_model("models:/keep/1").value == 7.0
    nt.restore_run(run_id)
    assert nt.load_model(uri).value == 7.0


def test_a_model_logged_in_one_process_loads_in_another(store, store_path, tmp_path):
    from sklearn.linear_model import LinearRegression

    code = (
        "import nbtrack as nt, pandas as pd\n"
        "from sklearn.linear_model import LinearRegression\n"
        "X = pd.DataFrame({'x': [1.0, 2.0, 3.0, 4.0]})\n"
        "with nt.start_run() as r:\n"
        "    info = nt.log_model(LinearRegression().fit(X, [2.0, 4.0, 6.0, 8.0]), 'lr',"
        " input_example=X)\n"
        "nt.register_model(info.model_uri, 'lr')\n"
        "nt.set_model_alias('lr', 'prod', 1)\n"
    )
    subprocess.run([sys.executable, "-c", code], env=python_env(store_path), check=True,
                   cwd=tmp_path, timeout=240)
    loaded = nt.load_model("models:/lr@prod")
    assert isinstance(loaded, LinearRegression)
    np.testing.assert_allclose(loaded.predict(pd.DataFrame({"x": [10.0]})), [20.0])


def _register_many(args: tuple[str, str, int]) -> list[int]:
    store_path, uri, n = args
    nt.set_store(store_path)
    return [nt.register_model(uri, "raced").version for _ in range(n)]


def _move_alias(args: tuple[str, int, int]) -> list[int]:
    store_path, version, n = args
    nt.set_store(store_path)
    out = []
    for _ in range(n):
        nt.set_model_alias("raced", "champion", version)
        out.append(version)
    return out


@pytest.mark.slow
def test_racing_processes_get_distinct_dense_versions_and_one_alias_winner(store, store_path):
    uri = _logged(1.0)
    ctx = multiprocessing.get_context("spawn")  # fresh interpreters: real separate writers
    with ctx.Pool(4) as pool:
        results = pool.map(_register_many, [(str(store_path), uri, 5)] * 4)
    versions = sorted(v for r in results for v in r)
    assert versions == list(range(1, 21))  # distinct and dense
    assert sorted(v.version for v in nt.search_model_versions("name = 'raced'")) == versions
    with ctx.Pool(4) as pool:
        pool.map(_move_alias, [(str(store_path), v, 3) for v in (1, 2, 3, 4)])
    # Every move was one record with a claimed sequence number: exactly one version wins,
    # the one whose move claimed the highest number, and every reader agrees.
    claims = store.claims(f"{_slug('raced')}/aliases/{_slug('champion')}")
    assert len(claims) == 12
    import json

    last = json.loads(store.fs.read_bytes(store.fs.join(
        "registry", _slug("raced"), "aliases", _slug("champion"), claims[-1])))
    assert nt.get_model_version_by_alias("raced", "champion").version == last["version"]


def _slug(name: str) -> str:
    from nbtrack.storage.schema import experiment_id

    return experiment_id(name)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        pytest.param(lambda u: nt.register_model(u, "../evil"), "not allowed", id="dotdot-name"),
        pytest.param(lambda u: nt.register_model(u, "a/b"), "not allowed", id="slash-name"),
        pytest.param(lambda u: nt.register_model(u, ""), "not allowed", id="empty-name"),
        pytest.param(lambda u: nt.register_model("runs:/nope", "m"), "bad model URI", id="short-uri"),
        pytest.param(lambda u: nt.register_model("s3://x/y", "m"), "bad model URI", id="foreign-uri"),
        pytest.param(lambda u: nt.register_model(u + "x", "m"), "no model", id="unknown-model"),
        pytest.param(lambda u: nt.set_model_alias("m", "latest", 1), "reserved", id="reserved-alias"),
        pytest.param(lambda u: nt.set_model_alias("m", "v3", 1), "reserved", id="version-alias"),
        pytest.param(lambda u: nt.set_model_alias("m", "a/b", 1), "not allowed", id="bad-alias"),
        pytest.param(lambda u: nt.set_model_alias("m", "ok", 0), "whole number", id="bad-version"),
        pytest.param(lambda u: nt.set_model_alias("m", "ok", 9), "no version 9", id="missing-version"),
        pytest.param(lambda u: nt.load_model("models:/m/0"), "whole number", id="version-zero"),
    ],
)
def test_bad_registry_input_is_refused_before_anything_is_written(store, store_path, call, match):
    uri = _logged(1.0)
    nt.register_model(uri, "m")
    before = sorted(p.relative_to(store_path) for p in store_path.rglob("*") if p.is_file()
                    and "_writers" not in p.parts)
    with pytest.raises(ModelError, match=match):
        call(uri)
    store.flush()
    after = sorted(p.relative_to(store_path) for p in store_path.rglob("*") if p.is_file()
                   and "_writers" not in p.parts)
    assert after == before


def test_a_python_function_class_defined_in_a_script_loads_in_another_process(
    store, store_path, tmp_path
):
    code = (
        "import warnings, nbtrack as nt\n"
        "class Scaler:\n"
        "    def predict(self, df):\n"
        "        return df['x'] * 10\n"
        "warnings.simplefilter('ignore')\n"
        "with nt.start_run():\n"
        "    info = nt.log_model(Scaler(), 'scaler')\n"
        "nt.register_model(info.model_uri, 'scaler')\n"
    )
    subprocess.run([sys.executable, "-c", code], env=python_env(store_path), check=True,
                   cwd=tmp_path, timeout=240)
    model = nt.load_model("models:/scaler/1")  # the class came by value (cloudpickle)
    assert list(model.predict(pd.DataFrame({"x": [1.0, 2.0]}))) == [10.0, 20.0]
