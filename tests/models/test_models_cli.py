"""``nbtrack models ...`` run for real in a subprocess on a store with registered models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

POPULATE = textwrap.dedent(
    """
    import sys, warnings
    import nbtrack as nt
    from sklearn.linear_model import LinearRegression
    nt.set_store(sys.argv[1])
    for i in (1, 2):
        with nt.start_run(name=f"r{i}") as run:
            info = nt.log_model(LinearRegression().fit([[0.0], [1.0]], [0.0, i]), "lr")
        nt.register_model(info.model_uri, "churn", description=f"v{i}")
    nt.register_model(info.model_uri, "other")
    nt.set_model_alias("churn", "champion", 1)
    print(run.id)
    """
)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBTRACK_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["COLUMNS"] = "200"
    return env


def _nbtrack(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nbtrack", "--store", str(store), *args],
        capture_output=True, text=True, env=_env(), timeout=120, check=False,
    )


def test_models_commands(tmp_path: Path) -> None:
    store = tmp_path / "store"
    done = subprocess.run([sys.executable, "-c", POPULATE, str(store)], capture_output=True,
                          text=True, env=_env(), timeout=240, check=False)
    assert done.returncode == 0, done.stderr
    last_run = done.stdout.strip().splitlines()[-1]

    listed = _nbtrack(store, "models", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    assert [(m["name"], m["latest_version"], m["aliases"]) for m in data] == [
        ("churn", 2, {"champion": 1}), ("other", 1, {})]
    table = _nbtrack(store, "models", "list", "--filter", "name = 'churn'")
    assert "churn" in table.stdout and "other" not in table.stdout and "@champion=v1" in table.stdout

    versions = json.loads(_nbtrack(store, "models", "versions", "churn", "--json").stdout)
    assert [(v["version"], v["description"], v["aliases"]) for v in versions] == [
        (2, "v2", []), (1, "v1", ["champion"])]
    assert versions[0]["run_id"] == last_run

    moved = _nbtrack(store, "models", "alias", "churn", "champion", "2")
    assert moved.returncode == 0 and "churn@champion -> version 2" in moved.stdout
    shown = _nbtrack(store, "models", "alias", "churn", "champion", "--json")
    assert json.loads(shown.stdout)["version"] == 2
    show = _nbtrack(store, "models", "show", "churn")
    assert "@champion -> v2" in show.stdout and last_run in show.stdout
    removed = _nbtrack(store, "models", "alias", "churn", "champion", "--delete")
    assert removed.returncode == 0

    for args, needle in [
        (("models", "show", "nope"), "no registered model 'nope'"),
        (("models", "alias", "churn", "champion"), "no alias 'champion'"),
        (("models", "alias", "churn", "latest", "1"), "reserved"),
        (("models", "list", "--filter", "name = "), "bad filter"),
    ]:
        bad = _nbtrack(store, *args)
        assert bad.returncode == 1, (args, bad.stdout)
        assert needle in bad.stderr and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
