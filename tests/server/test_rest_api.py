"""The REST API on a real Jupyter Server over a real store: every endpoint, errors, paging."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import time

import pytest
from tornado.httpclient import HTTPClientError

import nbtrack as nt
from nbtrack.errors import FilterError, QueryError, RunNotFoundError


def _runs(n: int, experiment: str = "Default") -> list[str]:
    ids = []
    for i in range(n):
        with nt.start_run(
            name=f"r{i:03d}", experiment=experiment, params={"lr": 10 ** -(i % 4), "i": i}
        ) as r:
            r.log_metrics({"loss": 1.0 / (i + 1), "acc": i / n})
            r.set_tag("parity", "even" if i % 2 == 0 else "odd")
        ids.append(r.run_id)
    return ids


async def test_experiments_lists_names_and_counts(api, store) -> None:
    _runs(3, "alpha")
    _runs(2, "beta")
    code, body = await api("experiments")
    assert code == 200
    assert [(e["name"], e["run_count"], e["running"]) for e in body["experiments"]] == [
        ("alpha", 3, 0),
        ("beta", 2, 0),
    ]
    assert all(isinstance(e["last_start_time"], int) for e in body["experiments"])


async def test_runs_carry_attributes_params_latest_metrics_and_tags(api, store) -> None:
    with nt.start_run(name="one", params={"lr": 0.1}, tags={"team": "vision"}) as r:
        r.log_metric("loss", 2.0)
        r.log_metric("loss", 0.5)
        r.log_metric("bad", float("nan"))
    code, body = await api("runs")
    assert code == 200
    assert body["next_page_token"] is None
    (run,) = body["runs"]
    assert run["run_id"] == r.run_id
    assert run["name"] == "one"
    assert run["experiment"] == "Default"
    assert run["status"] == "FINISHED"
    assert run["params"] == {"lr": "0.1"}
    assert run["metrics"] == {"loss": 0.5, "bad": "NaN"}
    assert run["tags"] == {"team": "vision"}
    assert run["start_time"] <= run["end_time"]
    # the inline views' colour of this run, so the sidebar and the plots agree
    from nbtrack.views._colors import color_for

    assert run["color"] == color_for(r.run_id)


async def test_filter_order_and_experiment_match_search_runs(api, store) -> None:
    _runs(8, "alpha")
    _runs(3, "beta")
    flt, order = "tags.parity = 'even' AND metrics.loss < 0.5", "metrics.acc DESC"
    code, body = await api("runs", params={"filter": flt, "order_by": order, "experiment": "alpha"})
    assert code == 200
    expected = nt.search_runs(experiment="alpha", filter=flt, order_by=[order])
    assert [r["run_id"] for r in body["runs"]] == list(expected["run_id"])
    assert len(body["runs"]) == 3
    # Several experiments: the parameter repeats.
    code, body = await api(
        "runs", params=[("experiment", "alpha"), ("experiment", "beta"), ("max_results", "100")]
    )
    assert code == 200
    assert len(body["runs"]) == 11


async def test_pagination_visits_every_run_once_in_order(api, store) -> None:
    ids = _runs(23)
    seen, token, pages = [], None, 0
    while True:
        # Params order as text (MLflow's rule, DESIGN.md §8): order by the zero-padded name.
        params = {"max_results": "10", "order_by": "attributes.name ASC"}
        if token:
            params["page_token"] = token
        code, body = await api("runs", params=params)
        assert code == 200
        seen.extend(r["run_id"] for r in body["runs"])
        pages += 1
        token = body["next_page_token"]
        if token is None:
            break
    assert pages == 3
    assert seen == ids


async def test_page_token_of_another_query_and_bad_sizes_are_400(api, store) -> None:
    _runs(5)
    code, body = await api("runs", params={"max_results": "2"})
    token = body["next_page_token"]
    code, body = await api(
        "runs", params={"max_results": "2", "page_token": token, "filter": "params.i > 0"}
    )
    assert code == 400
    assert body["error"] == "InvalidValueError"
    assert "was not made by this search" in body["message"]
    for bad in ("0", "-1", "ten", "100000"):
        code, body = await api("runs", params={"max_results": bad})
        assert code == 400, bad
        assert body["error"] == "InvalidValueError"
    code, body = await api("runs", params={"page_token": "@@not-base64@@"})
    assert code == 400


@pytest.mark.parametrize(
    "flt",
    ["metrics.loss >", "params.lr = 'unterminated", "metrics.loss < 1 AND", "nonsense.key = 1"],
)
async def test_bad_filter_is_400_with_position_and_the_python_message(api, store, flt) -> None:
    _runs(1)
    with pytest.raises(FilterError) as info:
        nt.search_runs(filter=flt)
    code, body = await api("runs", params={"filter": flt})
    assert code == 400
    assert body == {
        "error": "FilterError",
        "message": str(info.value),
        "position": info.value.position,
    }


async def test_bad_order_by_is_400(api, store) -> None:
    code, body = await api("runs", params={"order_by": "attributes.nope DESC"})
    assert code == 400
    assert body["error"] == "FilterError"
    assert "unknown attribute 'nope'" in body["message"]


async def test_one_run_with_artifacts_and_unknown_run_404(api, store, tmp_path) -> None:
    with nt.start_run(name="art", params={"a": 1}) as r:
        r.log_text("hello", "notes/readme.txt")
        r.log_metric("m", 3.0)
    code, body = await api("runs", r.run_id)
    assert code == 200
    assert body["name"] == "art"
    assert body["params"] == {"a": "1"}
    assert body["metrics"] == {"m": 3.0}
    assert body["artifacts"] == [{"path": "notes/readme.txt", "size": 5}]
    with pytest.raises(RunNotFoundError) as info:
        nt.get_run("0" * 32)
    code, body = await api("runs", "0" * 32)
    assert code == 404
    assert body == {"error": "RunNotFoundError", "message": str(info.value)}


async def test_metric_history_is_downsampled_keeping_extremes(api, store) -> None:
    n = 300_000
    with nt.start_run(name="long") as r:
        for i in range(n):
            r.log_metric("loss", 1.0, step=i)
        r.log_metric("loss", 1.0, step=n)  # the last point
    # one spike and one dip in the middle, written as their own points
    with nt.start_run(name="spiky") as s:
        for i in range(n):
            value = 100.0 if i == 123_457 else (-5.0 if i == 222_222 else math.sin(i / 1000))
            s.log_metric("loss", value, step=i)
    code, body = await api("runs", s.run_id, "metrics", "loss", params={"max_points": "500"})
    assert code == 200
    assert body["total_points"] == n
    assert body["downsampled"] is True
    points = body["points"]
    assert 4 <= len(points) <= 500
    steps = [p["step"] for p in points]
    assert steps == sorted(steps)
    assert steps[0] == 0 and steps[-1] == n - 1
    assert points[steps.index(123_457)]["value"] == 100.0
    assert 222_222 in steps
    assert all(isinstance(p["timestamp"], int) for p in points)
    # the same indices as the inline views' rule
    from nbtrack.tracking.downsample import downsample_indices

    values = nt.get_metric_history(s.run_id, "loss")["value"].to_numpy()
    assert steps == downsample_indices(values, 500).tolist()
    # the default budget, a short series, an unknown key, bad budgets
    code, body = await api("runs", r.run_id, "metrics", "loss")
    assert code == 200 and len(body["points"]) <= 2000
    code, body = await api("runs", r.run_id, "metrics", "nope")
    assert code == 200 and body["points"] == [] and body["total_points"] == 0
    for bad in ("3", "x", "1000000"):
        code, body = await api("runs", r.run_id, "metrics", "loss", params={"max_points": bad})
        assert code == 400, bad
        assert body["error"] == "InvalidValueError"
    code, body = await api("runs", "f" * 32, "metrics", "loss")
    assert code == 404


async def test_metric_keys_with_slashes_and_nan(api, store) -> None:
    with nt.start_run() as r:
        r.log_metric("val/loss", float("nan"), step=0)
        r.log_metric("val/loss", float("inf"), step=1)
        r.log_metric("val/loss", 0.5, step=2)
    code, body = await api("runs", r.run_id, "metrics", "val/loss")
    assert code == 200
    assert [p["value"] for p in body["points"]] == ["NaN", "Infinity", 0.5]


PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


async def test_artifacts_list_and_download_with_content_types(
    api, jp_fetch, store, tmp_path
) -> None:
    png = tmp_path / "plot.png"
    png.write_bytes(PNG)
    with nt.start_run() as r:
        r.log_text("line one\n", "log.txt")
        r.log_dict({"a": 1}, "cfg/config.json")
        r.log_artifact(str(png), "images")
        r.log_text("<script>alert(1)</script>", "page.html")
    code, body = await api("runs", r.run_id, "artifacts")
    assert code == 200
    assert [(a["path"], a["content_type"]) for a in body["artifacts"]] == [
        ("cfg/config.json", "application/json; charset=utf-8"),
        ("images/plot.png", "image/png"),
        ("log.txt", "text/plain; charset=utf-8"),
        ("page.html", "text/html; charset=utf-8"),
    ]
    resp = await jp_fetch("nbtrack", "api", "runs", r.run_id, "artifacts", "log.txt")
    assert resp.body == b"line one\n"
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert resp.headers["Content-Disposition"].startswith("inline")
    resp = await jp_fetch("nbtrack", "api", "runs", r.run_id, "artifacts", "images/plot.png")
    assert resp.body == PNG
    assert resp.headers["Content-Type"] == "image/png"
    resp = await jp_fetch(
        "nbtrack", "api", "runs", r.run_id, "artifacts", "cfg/config.json", params={"download": "1"}
    )
    assert json.loads(resp.body) == {"a": 1}
    assert resp.headers["Content-Disposition"] == 'attachment; filename="config.json"'
    # HTML is the run author's content: sandboxed, never sniffed
    resp = await jp_fetch("nbtrack", "api", "runs", r.run_id, "artifacts", "page.html")
    assert resp.headers["Content-Security-Policy"].startswith("sandbox")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    code, body = await api("runs", r.run_id, "artifacts", "missing.txt")
    assert code == 404
    assert body["error"] == "ArtifactError"
    assert "has no artifact 'missing.txt'" in body["message"]


@pytest.mark.parametrize(
    "raw",
    [
        "../../../../etc/passwd",
        "a/../../etc/passwd",
        "%2e%2e/%2e%2e/etc/passwd",
        "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "/etc/passwd",
        "%2Fetc%2Fpasswd",
        "..%5C..%5Cetc%5Cpasswd",
        "C:%5Cwindows%5Cwin.ini",
    ],
)
async def test_artifact_path_traversal_is_refused(
    raw, store, jp_serverapp, http_server_client, jp_auth_header, jp_base_url
) -> None:
    with nt.start_run() as r:
        r.log_text("secret-free", "ok.txt")
    url = f"{jp_base_url}nbtrack/api/runs/{r.run_id}/artifacts/{raw}"
    with pytest.raises(HTTPClientError) as info:
        await http_server_client.fetch(url, headers=jp_auth_header)
    assert info.value.code == 400
    body = json.loads(info.value.response.body)
    assert body["error"] == "ArtifactError"
    assert "climbs out" in body["message"] or "is absolute" in body["message"]


async def test_sql_runs_one_select_in_the_same_sandbox(api, store) -> None:
    _runs(4)
    code, body = await api(
        "sql", method="POST", body={"query": "SELECT name, start_time FROM runs ORDER BY name"}
    )
    assert code == 200
    assert body["columns"] == ["name", "start_time"]
    assert [row[0] for row in body["rows"]] == ["r000", "r001", "r002", "r003"]
    assert body["row_count"] == 4 and body["truncated"] is False
    code, body = await api(
        "sql", method="POST", body={"query": "SELECT * FROM range(50)", "max_rows": 10}
    )
    assert code == 200 and len(body["rows"]) == 10 and body["truncated"] is True
    for bad in (
        "DROP VIEW runs",
        "COPY runs TO '/tmp/x.csv'",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT 1; SELECT 2",
        "",
    ):
        with pytest.raises(QueryError) as info:
            nt.sql(bad)
        code, body = await api("sql", method="POST", body={"query": bad})
        assert code == 400, bad
        assert body == {"error": "QueryError", "message": str(info.value)}
    code, body = await api("sql", method="POST", body=["not", "an", "object"])
    assert code == 400 and body["error"] == "InvalidValueError"
    code, body = await api("sql", method="POST", body={"query": "SELECT 1", "max_rows": 0})
    assert code == 400


async def test_patch_sets_and_deletes_tags_and_renames(api, store) -> None:
    (run_id,) = _runs(1)
    code, body = await api(
        "runs",
        run_id,
        method="PATCH",
        body={"name": "best-run", "tags": {"stage": "prod", "parity": None}},
    )
    assert code == 200
    assert body["name"] == "best-run"
    assert body["tags"] == {"stage": "prod"}
    fresh = nt.search_runs(filter=f"attributes.run_id = '{run_id}'")
    assert fresh["name"][0] == "best-run"
    assert fresh["tags.stage"][0] == "prod"
    assert "tags.parity" not in fresh.columns


async def test_bad_edits_are_400_and_write_nothing(api, store) -> None:
    (run_id,) = _runs(1)
    before = nt.search_runs()
    for body in (
        {"tags": {"ok": "1", "bad key!": "x"}},
        {"tags": {"ok": "x" * 9000}},
        {"tags": ["a"]},
        {"name": ""},
        {"name": "x" * 300},
        {"colour": "red"},
    ):
        code, reply = await api("runs", run_id, method="PATCH", body=body)
        assert code == 400, body
        assert reply["error"] in ("InvalidKeyError", "InvalidValueError"), reply
    after = nt.search_runs()
    assert after.equals(before)
    code, reply = await api("runs", run_id, method="PATCH", body=b"{not json".decode())
    assert code == 400
    code, reply = await api("runs", "e" * 32, method="PATCH", body={"tags": {"a": "b"}})
    assert code == 404


async def test_renaming_a_running_run_is_409(api, store) -> None:
    run = nt.start_run(name="live")
    try:
        code, body = await api("runs", run.run_id, method="PATCH", body={"name": "other"})
        assert code == 409
        assert body["error"] == "ActiveRunError"
        code, body = await api("runs", run.run_id, method="PATCH", body={"tags": {"k": "v"}})
        assert code == 200 and body["tags"] == {"k": "v"}
    finally:
        nt.end_run()


async def test_delete_and_restore(api, store) -> None:
    a, b = _runs(2)
    code, body = await api("runs", a, method="DELETE")
    assert code == 200 and body == {"run_id": a, "deleted": True}
    code, body = await api("runs", a)
    assert code == 404
    code, body = await api("runs")
    assert [r["run_id"] for r in body["runs"]] == [b]
    code, body = await api("runs", a, "restore", method="POST", body={})
    assert code == 200 and body["run_id"] == a
    assert set(nt.search_runs()["run_id"]) == {a, b}
    code, body = await api("runs", "d" * 32, method="DELETE")
    assert code == 404


async def test_requests_without_credentials_are_refused(
    store, jp_serverapp, http_server_client, jp_base_url
) -> None:
    (run_id,) = _runs(1)
    base = f"{jp_base_url}nbtrack/api"
    for method, path, body in (
        ("GET", "/experiments", None),
        ("GET", "/runs", None),
        ("GET", f"/runs/{run_id}", None),
        ("GET", f"/runs/{run_id}/metrics/loss", None),
        ("PATCH", f"/runs/{run_id}", json.dumps({"name": "x"})),
        ("DELETE", f"/runs/{run_id}", None),
        ("POST", "/sql", json.dumps({"query": "SELECT 1"})),
    ):
        with pytest.raises(HTTPClientError) as info:
            await http_server_client.fetch(
                base + path, method=method, body=body, allow_nonstandard_methods=True
            )
        assert info.value.code in (401, 403), (method, path)
        with pytest.raises(HTTPClientError) as info:
            await http_server_client.fetch(
                base + path,
                method=method,
                body=body,
                headers={"Authorization": "token wrong"},
                allow_nonstandard_methods=True,
            )
        assert info.value.code in (401, 403), (method, path)
    assert nt.get_run(run_id).name == "r000"  # nothing was renamed or deleted


async def test_cookie_sessions_need_the_xsrf_token_for_writes(
    store, jp_serverapp, http_server_client, jp_base_url, jp_auth_header
) -> None:
    (run_id,) = _runs(1)
    base = f"{jp_base_url}nbtrack/api"
    token = jp_auth_header["Authorization"].split()[-1]
    # A browser logs in once with the token; afterwards only the cookie authenticates.
    resp = await http_server_client.fetch(f"{base}/experiments?token={token}")
    login = [c.split(";")[0] for c in resp.headers.get_list("Set-Cookie")]
    assert login, "the token login sets a cookie"
    cookie = "; ".join(login)
    resp = await http_server_client.fetch(f"{base}/runs/{run_id}", headers={"Cookie": cookie})
    assert resp.code == 200  # reads need no XSRF token
    patch = json.dumps({"tags": {"via": "cookie"}})
    with pytest.raises(HTTPClientError) as info:
        await http_server_client.fetch(
            f"{base}/runs/{run_id}", method="PATCH", body=patch, headers={"Cookie": cookie}
        )
    assert info.value.code == 403
    assert "tags.via" not in nt.search_runs().columns
    xsrf = "2|0a1b2c3d|0123456789abcdef0123456789abcdef|1700000000"
    resp = await http_server_client.fetch(
        f"{base}/runs/{run_id}",
        method="PATCH",
        body=patch,
        headers={"Cookie": f"{cookie}; _xsrf={xsrf}", "X-XSRFToken": xsrf},
    )
    assert resp.code == 200
    assert nt.get_run(run_id).tags == {"parity": "even", "via": "cookie"}


async def test_unchanged_runs_answer_304_with_the_etag(api, jp_fetch, store) -> None:
    _runs(2)
    first = await jp_fetch("nbtrack", "api", "runs")
    etag = first.headers["Etag"]
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("nbtrack", "api", "runs", headers={"If-None-Match": etag})
    assert info.value.code == 304
    _runs(1)
    again = await jp_fetch("nbtrack", "api", "runs", headers={"If-None-Match": etag})
    assert again.code == 200 and again.headers["Etag"] != etag


async def test_an_unexpected_failure_is_a_json_500_without_traceback(
    api, store, monkeypatch
) -> None:
    from nbtrack.tracking import pages

    def boom(*args, **kwargs):
        raise RuntimeError("internal detail /secret/path")

    monkeypatch.setattr(pages, "search_run_page", boom)
    code, body = await api("runs")
    assert code == 500
    assert body["error"] == "InternalError"
    assert "secret" not in json.dumps(body) and "Traceback" not in json.dumps(body)


WRITER = """
import sys, time
import nbtrack as nt
with nt.start_run(name="live-writer") as run:
    print(run.run_id, flush=True)
    i = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        run.log_metric("loss", 1.0 / (i + 1), step=i)
        i += 1
        if i % 500 == 0:
            time.sleep(0.01)
        if i >= 40_000 and sys.stdin.readline() == "stop\\n":
            break
"""


@pytest.mark.slow
async def test_reading_while_another_process_writes(api, store, store_path) -> None:
    from tests.conftest import python_env

    env = python_env(store_path)
    env["NBTRACK_FLUSH_INTERVAL"] = "0.2"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        run_id = proc.stdout.readline().strip()
        assert len(run_id) == 32, proc.stderr.read()
        seen: list[int] = []
        statuses = set()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            code, body = await api("runs", params={"filter": "attributes.name = 'live-writer'"})
            assert code == 200, body
            statuses.update(r["status"] for r in body["runs"])
            code, body = await api("runs", run_id, "metrics", "loss", params={"max_points": "200"})
            if code == 404:  # the run's first record is not flushed yet
                continue
            assert code == 200, body
            assert len(body["points"]) <= 200
            steps = [p["step"] for p in body["points"]]
            assert steps == sorted(steps)
            seen.append(body["total_points"])
            if len(set(seen)) >= 3 and seen[-1] >= 40_000:
                break
        assert len(set(seen)) >= 3, seen  # the history grew while we read it
        assert seen == sorted(seen)  # and never went back
        assert "RUNNING" in statuses
        proc.stdin.write("stop\n")
        proc.stdin.flush()
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
        code, body = await api("runs", run_id)
        assert body["status"] == "FINISHED"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_extension_is_enabled_by_the_installed_config_file() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "jupyter_server", "extension", "list"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    text = out.stdout + out.stderr
    plain = text.replace("\x1b[32m", "").replace("\x1b[0m", "")
    assert "nbtrack.server enabled" in plain, text
    assert re.search(r"nbtrack\.server\s.*OK", plain), text


async def test_a_request_picks_one_of_the_configured_stores(
    api, store, store_path, second_store_path, tmp_path
) -> None:
    """The lab setting "store" sends X-Nbtrack-Store: a configured store is served, any other
    path is refused with 403 before anything is opened (issue 12)."""
    _runs(2)
    nt.set_store(str(second_store_path))
    with nt.start_run(name="in-the-second-store"):
        pass
    nt.set_store(str(store_path))

    code, body = await api("stores")
    assert code == 200
    assert body == {"default": str(store_path), "stores": [str(store_path), str(second_store_path)]}

    code, body = await api("runs")
    assert code == 200 and len(body["runs"]) == 2
    code, body = await api("runs", headers={"X-Nbtrack-Store": str(second_store_path)})
    assert code == 200
    assert [r["name"] for r in body["runs"]] == ["in-the-second-store"]
    code, body = await api("experiments", headers={"X-Nbtrack-Store": str(second_store_path)})
    assert code == 200 and sum(e["run_count"] for e in body["experiments"]) == 1

    elsewhere = tmp_path / "not-configured"
    code, body = await api("runs", headers={"X-Nbtrack-Store": str(elsewhere)})
    assert code == 403
    assert body["error"] == "StoreNotServedError"
    assert "c.NbtrackApp.stores" in body["message"]
    assert not elsewhere.exists()  # refused before anything was opened or created
