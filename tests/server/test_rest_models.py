"""The registry endpoints of the REST API on a real Jupyter Server over a real store."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import nbtrack as nt
from nbtrack import models
from nbtrack.errors import FilterError, ModelNotFoundError

pytest.importorskip("sklearn")
pytest.importorskip("skops")

X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
Y = np.array([0, 0, 1, 1])


def _logged(run_name: str, c: float = 1.0) -> tuple[str, str]:
    """A real scikit-learn model logged in a new run: (run id, runs:/ URI)."""
    from sklearn.linear_model import LogisticRegression

    with nt.start_run(name=run_name) as run:
        info = nt.log_model(LogisticRegression(C=c).fit(X, Y), "model", input_example=X)
    return run.run_id, info.model_uri


@pytest.fixture
def registry(store) -> dict[str, str]:
    """Two registered models: churn (v1, v2, @champion -> v2, tags) and fraud (v1)."""
    run1, uri1 = _logged("churn-run-1", 1.0)
    run2, uri2 = _logged("churn-run-2", 0.5)
    run3, uri3 = _logged("fraud-run", 2.0)
    nt.register_model(uri1, "churn", tags={"stage": "old"}, description="first try")
    nt.register_model(uri2, "churn")
    nt.register_model(uri3, "fraud")
    nt.set_model_alias("churn", "champion", 2)
    models.set_registered_model_tag("churn", "team", "growth")
    models.update_registered_model("churn", "predicts churn")
    return {"run1": run1, "run2": run2, "run3": run3}


async def test_models_lists_registered_models_with_latest_version_and_aliases(
    api, registry
) -> None:
    code, body = await api("models")
    assert code == 200
    assert body["next_page_token"] is None
    churn, fraud = body["models"]
    assert churn["name"] == "churn" and fraud["name"] == "fraud"
    assert churn["latest_version"] == 2 and fraud["latest_version"] == 1
    assert churn["aliases"] == {"champion": 2} and fraud["aliases"] == {}
    assert churn["tags"] == {"team": "growth"}
    assert churn["description"] == "predicts churn"
    assert isinstance(churn["creation_time"], int)
    assert churn["last_updated_time"] >= churn["creation_time"]
    # what the Python API says, in the same order
    assert [m["name"] for m in body["models"]] == [
        m.name for m in models.search_registered_models()
    ]


async def test_models_filter_and_order_by_follow_search_registered_models(api, registry) -> None:
    flt = "tags.team = 'growth'"
    code, body = await api("models", params={"filter": flt})
    assert code == 200
    assert (
        [m["name"] for m in body["models"]]
        == [m.name for m in models.search_registered_models(flt)]
        == ["churn"]
    )
    code, body = await api("models", params={"filter": "name LIKE 'fr%' OR name = 'nope'"})
    assert [m["name"] for m in body["models"]] == ["fraud"]
    code, body = await api("models", params={"order_by": "name DESC"})
    assert [m["name"] for m in body["models"]] == ["fraud", "churn"]
    code, body = await api("models", params={"order_by": "latest_version DESC"})
    assert [m["name"] for m in body["models"]] == ["churn", "fraud"]
    # the one updated last (fraud was registered after churn, but churn's description
    # was set after that) comes first
    code, body = await api("models", params={"order_by": "last_updated_timestamp DESC"})
    assert [m["name"] for m in body["models"]] == ["churn", "fraud"]


async def test_models_pages_with_a_token(api, store) -> None:
    _, uri = _logged("many")
    names = [f"m{i:02d}" for i in range(7)]
    for name in reversed(names):
        nt.register_model(uri, name)
    seen, token, pages = [], None, 0
    while True:
        params = {"max_results": "3"}
        if token:
            params["page_token"] = token
        code, body = await api("models", params=params)
        assert code == 200
        seen += [m["name"] for m in body["models"]]
        pages += 1
        token = body["next_page_token"]
        if token is None:
            break
    assert seen == names and pages == 3
    # a token belongs to its search: another order_by refuses it
    code, body = await api("models", params={"max_results": "3"})
    code, body = await api(
        "models", params={"page_token": body["next_page_token"], "order_by": "name DESC"}
    )
    assert code == 400 and body["error"] == "InvalidValueError"


async def test_one_model_has_its_versions_aliases_tags_and_runs(api, registry) -> None:
    code, body = await api("models", "churn")
    assert code == 200
    assert body["name"] == "churn"
    assert body["aliases"] == {"champion": 2}
    assert body["tags"] == {"team": "growth"}
    v2, v1 = body["versions"]  # newest first
    assert (v2["version"], v1["version"]) == (2, 1)
    assert v2["aliases"] == ["champion"] and v1["aliases"] == []
    assert v1["tags"] == {"stage": "old"} and v1["description"] == "first try"
    assert v1["run_id"] == registry["run1"] and v2["run_id"] == registry["run2"]
    assert v2["run"]["name"] == "churn-run-2"
    assert v2["run"]["experiment"] == "Default"
    assert v2["run"]["status"] == "FINISHED"
    assert v2["run"]["color"].startswith("#")
    assert v2["source"] == f"runs:/{registry['run2']}/model"
    assert v2["model_uri"] == "models:/churn/2"
    info = models.get_model_info(registry["run2"], "model")
    assert v2["flavor"] == "sklearn" == info.flavor
    assert (v2["size"], v2["sha256"], v2["format"]) == (info.size, info.sha256, info.format)
    assert isinstance(v2["creation_time"], int)
    code, versions = await api("models", "churn", "versions")
    assert code == 200
    assert versions == {"name": "churn", "versions": body["versions"]}


async def test_a_version_of_a_deleted_run_has_no_run_link(api, registry) -> None:
    nt.delete_run(registry["run1"])
    code, body = await api("models", "churn", "versions")
    assert code == 200
    v1 = next(v for v in body["versions"] if v["version"] == 1)
    assert v1["run"] is None and v1["run_id"] == registry["run1"]
    assert v1["flavor"] == "sklearn"  # the model record stays readable


async def test_a_name_with_a_space_is_url_encoded(api, store) -> None:
    _, uri = _logged("spaced")
    nt.register_model(uri, "churn model")
    code, body = await api("models", "churn model")  # jp_fetch URL-encodes it
    assert code == 200 and body["name"] == "churn model"
    assert body["versions"][0]["version"] == 1


async def test_unchanged_models_answer_304_and_an_alias_move_changes_the_etag(
    jp_fetch, registry
) -> None:
    from tornado.httpclient import HTTPClientError

    first = await jp_fetch("nbtrack", "api", "models")
    etag = first.headers["Etag"]
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("nbtrack", "api", "models", headers={"If-None-Match": etag})
    assert info.value.code == 304
    nt.set_model_alias("churn", "champion", 1)  # the sidebar's poll must see this
    again = await jp_fetch("nbtrack", "api", "models", headers={"If-None-Match": etag})
    assert again.code == 200 and again.headers["Etag"] != etag


async def test_no_models_is_an_empty_list(api, store) -> None:
    code, body = await api("models")
    assert code == 200
    assert body == {"models": [], "next_page_token": None}


@pytest.mark.parametrize(
    "path",
    [pytest.param(("models", "nope"), id="model"),
     pytest.param(("models", "nope", "versions"), id="versions")],
)  # fmt: skip
async def test_an_unknown_model_is_404_with_the_python_message(api, registry, path) -> None:
    code, body = await api(*path)
    assert code == 404
    assert body["error"] == "ModelNotFoundError"
    with pytest.raises(ModelNotFoundError) as python:
        models.get_registered_model("nope")
    assert body["message"] == str(python.value)
    assert "Traceback" not in body["message"]


@pytest.mark.parametrize(
    ("params", "error"),
    [
        pytest.param({"filter": "name = "}, "FilterError", id="malformed-filter"),
        pytest.param({"filter": "metrics.loss < 1"}, "FilterError", id="runs-only-identifier"),
        pytest.param({"order_by": "size DESC"}, "FilterError", id="unknown-order-field"),
        pytest.param({"order_by": "name sideways"}, "FilterError", id="bad-direction"),
        pytest.param({"max_results": "0"}, "InvalidValueError", id="zero-page"),
        pytest.param({"max_results": "many"}, "InvalidValueError", id="not-a-number"),
        pytest.param({"page_token": "garbage"}, "InvalidValueError", id="bad-token"),
    ],
)
async def test_bad_model_searches_are_400_json(api, registry, params, error) -> None:
    code, body = await api("models", params=params)
    assert code == 400, body
    assert body["error"] == error
    assert "Traceback" not in body["message"]


async def test_a_bad_filter_says_what_search_registered_models_says(api, registry) -> None:
    code, body = await api("models", params={"filter": "name = 'a' AND"})
    with pytest.raises(FilterError) as python:
        models.search_registered_models("name = 'a' AND")
    assert code == 400
    assert body["message"] == str(python.value)
    assert body["position"] == python.value.position


async def test_a_malformed_model_name_is_400(api, store) -> None:
    code, body = await api("models", "a@b")
    assert code == 400
    assert body["error"] == "ModelError"


async def test_models_need_a_login(registry, jp_serverapp, http_server_client, jp_base_url) -> None:
    from tornado.httpclient import HTTPClientError

    base = f"{jp_base_url}nbtrack/api"
    for path in ("/models", "/models/churn", "/models/churn/versions"):
        for headers in ({}, {"Authorization": "token wrong"}):
            with pytest.raises(HTTPClientError) as info:
                await http_server_client.fetch(base + path, headers=headers)
            assert info.value.code in (401, 403), path
