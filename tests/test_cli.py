"""The ``nbtrack`` command, run for real in a subprocess against a store filled by the API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Filled in a separate process through the public API only, so the CLI reads exactly what a
# user's script would leave behind (and no store state leaks into this test process).
POPULATE = textwrap.dedent(
    """
    import json, sys
    import nbtrack as nt

    nt.set_store(sys.argv[1])
    ids = {}
    runs = [
        ("alpha", "a-fast", "0.1", "vision", [0.9, 0.5, 0.3]),
        ("alpha", "a-slow", "0.01", "vision", [0.9, 0.8, 0.7]),
        ("alpha", "a-nlp", "0.001", "nlp", [0.6, 0.4, 0.2]),
        ("beta", "b-one", "0.1", "nlp", [1.5, 1.2, 1.1]),
    ]
    for experiment, name, lr, team, losses in runs:
        with nt.start_run(name=name, experiment=experiment, params={"lr": lr},
                          tags={"team": team}) as run:
            for value in losses:
                nt.log_metric("loss", value)
            if name == "a-fast":
                nt.log_metric("odd", float("nan"))
                nt.log_text("hello", "notes.txt")
            ids[name] = run.id
    print(json.dumps(ids))
    """
)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBTRACK_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["COLUMNS"] = "200"
    env.update(extra)
    return env


def run_python(code: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -c CODE ARGS`` in the tests' environment and capture its output."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=cwd,
        timeout=120,
        check=False,
    )


def populate(store: Path) -> dict[str, str]:
    """Fill ``store`` with four runs in two experiments; return run ids by run name."""
    done = run_python(POPULATE, str(store))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def nbtrack(
    *args: str,
    store: Path | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m nbtrack [--store STORE] ARGS`` and capture its output."""
    command = [sys.executable, "-m", "nbtrack"]
    if store is not None:
        command += ["--store", str(store)]
    return subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        env=env or _env(),
        cwd=cwd or ROOT,
        timeout=120,
        check=False,
    )


def strict_json(text: str) -> Any:
    """Parse JSON, refusing the non-standard NaN/Infinity spellings."""

    def refuse(name: str) -> Any:
        raise AssertionError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def assert_one_line_error(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("nbtrack: error: "), lines[0]
    assert "Traceback" not in done.stderr
    for needle in needles:
        assert needle.lower() in lines[0].lower(), lines[0]


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    store = tmp_path_factory.mktemp("cli") / "store"
    return store, populate(store)


@pytest.fixture
def store(filled: tuple[Path, dict[str, str]]) -> Path:
    return filled[0]


@pytest.fixture
def ids(filled: tuple[Path, dict[str, str]]) -> dict[str, str]:
    return filled[1]


# --------------------------------------------------------------------------- experiments


def test_experiments_table_lists_each_experiment_with_its_run_count(store: Path) -> None:
    done = nbtrack("experiments", store=store)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["experiment", "runs", "last_start"]
    rows = {line.split()[0]: line.split()[1] for line in lines[2:]}
    assert rows == {"alpha": "3", "beta": "1"}


def test_experiments_json(store: Path) -> None:
    done = nbtrack("experiments", "--json", store=store)
    assert done.returncode == 0, done.stderr
    data = strict_json(done.stdout)
    assert {(e["experiment"], e["runs"]) for e in data} == {("alpha", 3), ("beta", 1)}


def test_json_flag_also_works_before_the_command(store: Path) -> None:
    done = nbtrack("--json", "experiments", store=store)
    assert done.returncode == 0, done.stderr
    assert len(strict_json(done.stdout)) == 2


# --------------------------------------------------------------------------- runs list


def test_runs_list_searches_every_experiment_by_default(store: Path, ids: dict[str, str]) -> None:
    done = nbtrack("runs", "list", "--json", store=store)
    assert done.returncode == 0, done.stderr
    rows = strict_json(done.stdout)
    assert {r["run_id"] for r in rows} == set(ids.values())
    assert {r["experiment"] for r in rows} == {"alpha", "beta"}


def test_runs_list_experiment_option_narrows_the_search(store: Path, ids: dict[str, str]) -> None:
    done = nbtrack("runs", "list", "--experiment", "beta", "--json", store=store)
    assert done.returncode == 0, done.stderr
    assert [r["run_id"] for r in strict_json(done.stdout)] == [ids["b-one"]]


@pytest.mark.parametrize(
    ("filter_text", "names"),
    [
        pytest.param("metrics.loss < 0.5", {"a-fast", "a-nlp"}, id="metric-lt"),
        pytest.param("params.lr = '0.1'", {"a-fast", "b-one"}, id="param-eq"),
        pytest.param(
            "tags.team = 'nlp' AND (metrics.loss < 0.5 OR params.lr = '0.1')",
            {"a-nlp", "b-one"},
            id="and-or-parens",
        ),
        pytest.param("attributes.name LIKE 'a-%'", {"a-fast", "a-slow", "a-nlp"}, id="like"),
    ],
)
def test_runs_list_filter(
    store: Path, ids: dict[str, str], filter_text: str, names: set[str]
) -> None:
    done = nbtrack("runs", "list", "--filter", filter_text, "--json", store=store)
    assert done.returncode == 0, done.stderr
    assert {r["run_id"] for r in strict_json(done.stdout)} == {ids[n] for n in names}


def test_runs_list_order_by_and_limit(store: Path, ids: dict[str, str]) -> None:
    done = nbtrack(
        "runs", "list", "--order-by", "metrics.loss ASC", "--limit", "2", "--json", store=store
    )
    assert done.returncode == 0, done.stderr
    assert [r["run_id"] for r in strict_json(done.stdout)] == [ids["a-nlp"], ids["a-fast"]]


def test_runs_list_says_when_the_limit_cut_the_list(store: Path) -> None:
    done = nbtrack("runs", "list", "--limit", "1", store=store)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 3  # header, rule, one run
    assert "--limit" in done.stderr


def _table(text: str) -> tuple[list[str], list[str]]:
    """Header cells and data lines of a table printed by the CLI (rule line dropped)."""
    header, rule, *rows = text.splitlines()
    assert set(rule) <= {"─", " "}, rule
    return header.split(), rows


def test_runs_list_default_columns_are_the_informative_ones(
    store: Path, ids: dict[str, str]
) -> None:
    done = nbtrack("runs", "list", store=store)
    assert done.returncode == 0, done.stderr
    headers, rows = _table(done.stdout)
    assert headers[:6] == ["run_id", "experiment", "name", "status", "start", "duration"]
    assert "metrics.loss" in headers  # every run has it; "odd" (one run, NaN) ranks after
    assert headers.index("metrics.loss") < headers.index("metrics.odd")
    assert not any(h.startswith(("params.", "tags.")) for h in headers)
    assert len(rows) == len(ids)
    # run ids are shown as the shortest prefix (>= 6) unique in the store, which resolves
    for run_id in ids.values():
        short = next(r.split()[0] for r in rows if run_id.startswith(r.split()[0]))
        assert 6 <= len(short) < len(run_id)
        shown = nbtrack("runs", "show", short, "--json", store=store)
        assert strict_json(shown.stdout)["run_id"] == run_id
    assert "FINISHED" in done.stdout


def test_runs_list_hides_the_experiment_column_for_one_experiment(store: Path) -> None:
    done = nbtrack("runs", "list", "-e", "beta", store=store)
    assert done.returncode == 0, done.stderr
    headers, rows = _table(done.stdout)
    assert "experiment" not in headers and len(rows) == 1


@pytest.mark.parametrize("width", [40, 60, 80])
def test_runs_list_fits_the_terminal_width(store: Path, width: int) -> None:
    done = nbtrack("runs", "list", store=store, env=_env(COLUMNS=str(width)))
    assert done.returncode == 0, done.stderr
    assert all(len(line) <= width for line in done.stdout.splitlines()), done.stdout
    assert "run_id" in done.stdout.splitlines()[0]
    assert "hidden to fit the terminal" in done.stderr


def test_a_narrow_terminal_keeps_the_first_metric_before_start_and_experiment(
    store: Path,
) -> None:
    done = nbtrack("runs", "list", store=store, env=_env(COLUMNS="60"))
    assert done.returncode == 0, done.stderr
    headers, _ = _table(done.stdout)
    assert headers == ["run_id", "name", "status", "metrics.loss"]


def test_runs_list_columns_picks_and_orders_columns(store: Path, ids: dict[str, str]) -> None:
    done = nbtrack("runs", "list", "--columns", "name,loss,params.lr,tags.team,id", store=store)
    assert done.returncode == 0, done.stderr
    headers, rows = _table(done.stdout)
    assert headers == ["name", "metrics.loss", "params.lr", "tags.team", "run_id"]
    line = next(r for r in rows if r.startswith("b-one"))
    assert line.split() == ["b-one", "1.1", "0.1", "nlp", ids["b-one"]]


def test_runs_list_unknown_column_exits_1_and_lists_the_columns(store: Path) -> None:
    done = nbtrack("runs", "list", "--columns", "name,accuracy", store=store)
    assert_one_line_error(done, "accuracy", "metrics.loss", "params.lr")


def test_runs_list_wide_shows_every_column_and_full_ids(store: Path, ids: dict[str, str]) -> None:
    done = nbtrack("runs", "list", "--wide", store=store)
    assert done.returncode == 0, done.stderr
    headers, _ = _table(done.stdout)
    for column in (
        "run_id",
        "experiment",
        "start_time",
        "end_time",
        "duration_s",
        "metrics.loss",
        "metrics.odd",
        "params.lr",
        "tags.team",
    ):
        assert column in headers
    assert all(run_id in done.stdout for run_id in ids.values())


def test_runs_list_json_keeps_every_column(store: Path) -> None:
    rows = strict_json(nbtrack("runs", "list", "--json", store=store).stdout)
    for row in rows:
        for key in (
            "run_id",
            "experiment",
            "start_time",
            "duration_s",
            "params.lr",
            "metrics.loss",
            "tags.team",
        ):
            assert key in row


def test_runs_list_with_no_match_prints_a_note(store: Path) -> None:
    done = nbtrack("runs", "list", "--filter", "metrics.loss > 100", store=store)
    assert done.returncode == 0, done.stderr
    assert "no runs" in done.stdout
    done = nbtrack("runs", "list", "-f", "metrics.loss > 100", "-c", "name,loss", store=store)
    assert done.returncode == 0, done.stderr
    assert "no runs" in done.stdout
    done = nbtrack("runs", "list", "--deleted", "--wide", store=store)
    assert done.returncode == 0, done.stderr
    assert "no deleted runs" in done.stdout


# --------------------------------------------------------------------------- runs show


def test_runs_show_table(store: Path, ids: dict[str, str]) -> None:
    done = nbtrack("runs", "show", ids["a-fast"], store=store)
    assert done.returncode == 0, done.stderr
    assert ids["a-fast"] in done.stdout
    assert "a-fast" in done.stdout
    assert "FINISHED" in done.stdout
    assert "lr" in done.stdout
    assert "0.1" in done.stdout
    assert "notes.txt" in done.stdout


def test_runs_show_json_has_everything_and_is_strict(store: Path, ids: dict[str, str]) -> None:
    done = nbtrack("runs", "show", ids["a-fast"], "--json", store=store)
    assert done.returncode == 0, done.stderr
    run = strict_json(done.stdout)
    assert run["run_id"] == ids["a-fast"]
    assert run["experiment"] == "alpha"
    assert run["name"] == "a-fast"
    assert run["status"] == "FINISHED"
    assert run["params"]["lr"] == "0.1"
    assert run["metrics"]["loss"] == pytest.approx(0.3)
    assert run["metrics"]["odd"] is None  # NaN has no JSON spelling
    assert run["tags"]["team"] == "vision"
    assert "notes.txt" in json.dumps(run["artifacts"])
    assert run["start_time"]
    assert run["end_time"]


# --------------------------------------------------------------------------- metrics, sql


def test_metrics_history_json(store: Path, ids: dict[str, str]) -> None:
    done = nbtrack("metrics", ids["a-slow"], "loss", "--json", store=store)
    assert done.returncode == 0, done.stderr
    points = strict_json(done.stdout)
    assert [p["step"] for p in points] == [0, 1, 2]
    assert [p["value"] for p in points] == pytest.approx([0.9, 0.8, 0.7])
    assert all(p["timestamp"] for p in points)


def test_metrics_history_table(store: Path, ids: dict[str, str]) -> None:
    done = nbtrack("metrics", ids["a-slow"], "loss", store=store)
    assert done.returncode == 0, done.stderr
    header, _rule, *rows = done.stdout.splitlines()
    assert header.split() == ["step", "value", "timestamp"]
    assert len(rows) == 3


def test_sql_json(store: Path) -> None:
    done = nbtrack(
        "sql",
        "SELECT experiment, count(*) AS n FROM runs GROUP BY experiment ORDER BY experiment",
        "--json",
        store=store,
    )
    assert done.returncode == 0, done.stderr
    assert strict_json(done.stdout) == [
        {"experiment": "alpha", "n": 3},
        {"experiment": "beta", "n": 1},
    ]


def test_sql_table(store: Path) -> None:
    done = nbtrack("sql", "SELECT count(*) AS points FROM metrics WHERE key = 'loss'", store=store)
    assert done.returncode == 0, done.stderr
    words = done.stdout.split()
    assert [words[0], set(words[1]), words[2]] == ["points", {"─"}, "12"]


def test_store_comes_from_the_environment(store: Path) -> None:
    done = nbtrack("experiments", "--json", env=_env(NBTRACK_STORE=str(store)))
    assert done.returncode == 0, done.stderr
    assert len(strict_json(done.stdout)) == 2


# --------------------------------------------------------------------------- delete / restore


def test_delete_hides_a_run_and_restore_brings_it_back(tmp_path: Path) -> None:
    store = tmp_path / "store"
    ids = populate(store)
    victim = ids["a-slow"]

    done = nbtrack("runs", "delete", victim, store=store)
    assert done.returncode == 0, done.stderr
    assert victim in done.stdout
    assert "nbtrack runs restore" in done.stderr
    listed = strict_json(nbtrack("runs", "list", "--json", store=store).stdout)
    assert victim not in {r["run_id"] for r in listed}

    # deleted runs can be found again
    deleted = strict_json(nbtrack("runs", "list", "--deleted", "--json", store=store).stdout)
    assert [(r["run_id"], r["deleted"], r["name"]) for r in deleted] == [(victim, True, "a-slow")]
    assert deleted[0]["params.lr"] == "0.01" and deleted[0]["metrics.loss"] == 0.7
    done = nbtrack("runs", "list", "--deleted", store=store)
    assert done.returncode == 0, done.stderr
    assert "a-slow" in done.stdout and "a-fast" not in done.stdout
    assert "nbtrack runs restore" in done.stderr
    filtered = nbtrack(
        "runs", "list", "--deleted", "-f", "params.lr = '0.1'", "--json", store=store
    )
    assert strict_json(filtered.stdout) == []
    assert_one_line_error(
        nbtrack("runs", "list", "--deleted", "-e", "gamma", store=store), "gamma", "alpha"
    )

    # showing a deleted run says so and how to restore it
    done = nbtrack("runs", "show", victim, store=store)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("DELETED")
    assert f"nbtrack runs restore {victim}" in done.stdout
    assert "a-slow" in done.stdout and "0.01" in done.stdout
    shown = strict_json(nbtrack("runs", "show", victim, "--json", store=store).stdout)
    assert shown["deleted"] is True and shown["params"] == {"lr": "0.01"}
    # commands that need a live run say it is deleted and how to restore it
    assert_one_line_error(
        nbtrack("metrics", victim, "loss", store=store), "deleted", f"runs restore {victim}"
    )

    done = nbtrack("runs", "restore", victim, "--json", store=store)
    assert done.returncode == 0, done.stderr
    assert strict_json(done.stdout)["run_id"] == victim
    listed = strict_json(nbtrack("runs", "list", "--json", store=store).stdout)
    assert victim in {r["run_id"] for r in listed}
    assert strict_json(nbtrack("runs", "list", "--deleted", "--json", store=store).stdout) == []
    shown = strict_json(nbtrack("runs", "show", victim, "--json", store=store).stdout)
    assert shown["deleted"] is False


# --------------------------------------------------------------------------- run id prefixes


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


@pytest.mark.parametrize("command", ["show", "metrics", "delete-restore"])
def test_a_unique_prefix_of_six_or_more_names_a_run(tmp_path: Path, command: str) -> None:
    store = tmp_path / "store"
    ids = populate(store)
    run_id = ids["a-nlp"]
    others = [i for i in ids.values() if i != run_id]
    # ids begin with their start time: the unique part starts after what they share
    length = max(6, *(len(_common_prefix(run_id, o)) + 1 for o in others))
    prefix = run_id[:length]
    if command == "show":
        done = nbtrack("runs", "show", prefix, "--json", store=store)
        assert done.returncode == 0, done.stderr
        assert strict_json(done.stdout)["run_id"] == run_id
    elif command == "metrics":
        done = nbtrack("metrics", prefix, "loss", "--json", store=store)
        assert done.returncode == 0, done.stderr
        assert [p["value"] for p in strict_json(done.stdout)] == [0.6, 0.4, 0.2]
    else:
        done = nbtrack("runs", "delete", prefix, store=store)
        assert done.returncode == 0, done.stderr
        assert run_id in done.stdout
        deleted = strict_json(nbtrack("runs", "list", "--deleted", "--json", store=store).stdout)
        assert [r["run_id"] for r in deleted] == [run_id]
        done = nbtrack("runs", "restore", prefix, store=store)  # deleted runs resolve too
        assert done.returncode == 0, done.stderr
        assert run_id in done.stdout


def test_an_ambiguous_prefix_lists_the_candidates(store: Path, ids: dict[str, str]) -> None:
    pairs = [(a, b) for a in ids.values() for b in ids.values() if a < b]
    a, b = max(pairs, key=lambda p: len(_common_prefix(*p)))
    prefix = _common_prefix(a, b)
    assert len(prefix) >= 6  # runs started within seconds share their time prefix
    done = nbtrack("runs", "show", prefix, store=store)
    assert_one_line_error(done, "ambiguous", a, b)


def test_a_prefix_shorter_than_six_is_not_resolved(store: Path, ids: dict[str, str]) -> None:
    done = nbtrack("runs", "show", ids["b-one"][:5], store=store)
    assert_one_line_error(done, "at least 6")


# --------------------------------------------------------------------------- global options


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["runs", "list", "--json", "--store", "{store}"], id="runs-list"),
        pytest.param(["runs", "--store", "{store}", "list", "--json"], id="between"),
        pytest.param(["experiments", "--store", "{store}", "--json"], id="experiments"),
        pytest.param(
            ["--json", "sql", "SELECT count(*) AS n FROM runs", "--store", "{store}"], id="sql"
        ),
    ],
)
def test_store_and_json_are_accepted_after_the_command(store: Path, args: list[str]) -> None:
    done = nbtrack(*[a.replace("{store}", str(store)) for a in args], cwd=store.parent)
    assert done.returncode == 0, done.stderr
    assert strict_json(done.stdout)


def test_store_after_the_command_wins_over_the_environment(store: Path, tmp_path: Path) -> None:
    env = _env(NBTRACK_STORE=str(tmp_path / "nowhere"))
    done = nbtrack("runs", "list", "--json", "--store", str(store), env=env)
    assert done.returncode == 0, done.stderr
    assert len(strict_json(done.stdout)) == 4


# --------------------------------------------------------------------------- maintenance


def test_compact_gc_doctor_change_no_query_result(tmp_path: Path) -> None:
    store = tmp_path / "store"
    populate(store)
    populate(store)  # a second writer process: two segments per partition to merge

    def segments() -> int:
        return len(list(store.rglob("*.parquet")))

    def snapshot() -> tuple[Any, Any]:
        runs = nbtrack("runs", "list", "--json", "--order-by", "attributes.run_id", store=store)
        points = nbtrack(
            "sql",
            "SELECT run_id, key, step, value FROM metrics ORDER BY ALL",
            "--json",
            store=store,
        )
        assert runs.returncode == 0, runs.stderr
        assert points.returncode == 0, points.stderr
        return strict_json(runs.stdout), strict_json(points.stdout)

    before, files_before = snapshot(), segments()
    assert len(before[0]) == 8

    done = nbtrack("compact", store=store)
    assert done.returncode == 0, done.stderr
    # "merged N files into M (R rows); N replaced files stay on disk ... after 60 s"
    words = done.stdout.split()
    assert words[0] == "merged", done.stdout
    merged, written = int(words[1]), int(words[4])
    assert merged > written > 0
    assert f"{merged} replaced files stay on disk" in done.stdout
    assert "after 60 s (NBTRACK_GC_GRACE)" in done.stdout
    assert segments() == files_before + written  # nothing deleted within the grace period

    # during the grace period gc keeps them, and says why
    done = nbtrack("gc", store=store)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("nothing to delete"), done.stdout
    assert f"{merged} files replaced less than 60 s ago" in done.stdout
    # doctor does not count files inside their grace period as problems
    done = nbtrack("doctor", store=store)
    assert done.returncode == 0, (done.stdout, done.stderr)

    # past the grace (0 s here) doctor counts exactly the files still on disk, and exits 1
    done = nbtrack("doctor", "--json", store=store, env=_env(NBTRACK_GC_GRACE="0"))
    assert done.returncode == 1, done.stderr
    problems = strict_json(done.stdout)
    waiting = sum(int(p["problem"].split()[0]) for p in problems)
    assert waiting == merged and all("nbtrack gc" in p["action"] for p in problems)

    done = nbtrack("gc", store=store, env=_env(NBTRACK_GC_GRACE="0"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"deleted {merged} files replaced by compaction", done.stdout
    assert segments() == files_before - merged + written

    # gc removed them: doctor must not report them again (their names stay in the footers)
    done = nbtrack("doctor", "--json", store=store, env=_env(NBTRACK_GC_GRACE="0"))
    assert done.returncode == 0, done.stdout
    assert strict_json(done.stdout) == []
    done = nbtrack("doctor", store=store, env=_env(NBTRACK_GC_GRACE="0"))
    assert done.returncode == 0, done.stderr
    assert "no problems" in done.stdout

    done = nbtrack("gc", "--json", store=store, env=_env(NBTRACK_GC_GRACE="0"))
    assert strict_json(done.stdout)["replaced"] == 0
    assert nbtrack("compact", store=store).stdout.startswith("nothing to compact")

    assert snapshot() == before


def test_doctor_exits_1_on_a_problem(tmp_path: Path) -> None:
    store = tmp_path / "store"
    populate(store)
    partition = next(p.parent for p in store.rglob("*.parquet"))
    (partition / "stray.csv").write_text("a,b\n")
    done = nbtrack("doctor", store=store)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "stray.csv" in done.stdout and "not written by nbtrack" in done.stdout
    assert "1 problem(s) found" in done.stderr
    done = nbtrack("doctor", "--json", store=store)
    assert done.returncode == 1
    assert [p["path"].endswith("stray.csv") for p in strict_json(done.stdout)] == [True]
    (partition / "stray.csv").unlink()
    assert nbtrack("doctor", store=store).returncode == 0


# --------------------------------------------------------------------------- errors


def test_bad_filter_exits_1_with_one_line_naming_the_position(store: Path) -> None:
    done = nbtrack("runs", "list", "--filter", "metrics.loss <<< 1", store=store)
    assert_one_line_error(done, "position")


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["runs", "show", "no-such-run"], id="show"),
        pytest.param(["runs", "delete", "no-such-run"], id="delete"),
        pytest.param(["runs", "restore", "no-such-run"], id="restore"),
        pytest.param(["metrics", "no-such-run", "loss"], id="metrics"),
    ],
)
def test_unknown_run_exits_1(store: Path, args: list[str]) -> None:
    assert_one_line_error(nbtrack(*args, store=store), "no-such-run")


def test_unknown_experiment_exits_1_and_lists_the_known_ones(store: Path) -> None:
    done = nbtrack("runs", "list", "--experiment", "gamma", store=store)
    assert_one_line_error(done, "gamma", "alpha", "beta")


def test_unknown_metric_key_exits_1_and_lists_the_known_ones(
    store: Path, ids: dict[str, str]
) -> None:
    done = nbtrack("metrics", ids["a-fast"], "accuracy", store=store)
    assert_one_line_error(done, "accuracy", "loss")


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("SELEC * FROM runs", id="syntax"),
        pytest.param("SELECT * FROM no_such_view", id="unknown-table"),
        pytest.param("DROP VIEW runs", id="write"),
        pytest.param("COPY runs TO '/tmp/nbtrack-cli-out.csv'", id="copy-out"),
    ],
)
def test_bad_sql_exits_1(store: Path, query: str) -> None:
    assert_one_line_error(nbtrack("sql", query, store=store))


def test_missing_store_exits_1(tmp_path: Path) -> None:
    done = nbtrack("runs", "list", store=tmp_path / "nowhere")
    assert_one_line_error(done, "nowhere")
    assert not (tmp_path / "nowhere").exists()  # a read never creates a store


def test_default_store_missing_exits_1(tmp_path: Path) -> None:
    assert_one_line_error(nbtrack("experiments", cwd=tmp_path), "NBTRACK_STORE")


def test_store_that_is_a_file_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("not a store")
    assert_one_line_error(nbtrack("experiments", store=path), "not a directory")


def test_folder_that_is_not_a_store_exits_1_and_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("my files")
    assert_one_line_error(nbtrack("runs", "list", store=tmp_path), "not an nbtrack store")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_corrupt_store_exits_1(tmp_path: Path) -> None:
    (tmp_path / "format.json").write_text("{not json")
    assert_one_line_error(nbtrack("runs", "list", store=tmp_path), str(tmp_path))


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


@pytest.mark.parametrize(
    ("url", "needles"),
    [
        pytest.param(
            "foo://x/store",
            ["unknown store URL scheme", "foo://", "nbtrack[s3]"],
            id="unknown-scheme",
        ),
        pytest.param(
            "gs://bucket/store",
            ["gs://", "pip install gcsfs"],
            id="gs-without-gcsfs",
            marks=pytest.mark.skipif(_installed("gcsfs"), reason="gcsfs is installed"),
        ),
    ],
)
@pytest.mark.parametrize("where", ["before", "after"])
def test_bad_store_url_is_one_line_naming_the_fix(
    tmp_path: Path, url: str, needles: list[str], where: str
) -> None:
    args = (
        ["--store", url, "runs", "list"] if where == "before" else ["runs", "list", "--store", url]
    )
    done = nbtrack(*args, cwd=tmp_path)
    assert_one_line_error(done, *needles)


_NO_S3FS = textwrap.dedent(
    """
    import sys
    sys.modules["s3fs"] = None  # as if s3fs were not installed: importing it fails
    from nbtrack.cli import main
    raise SystemExit(main(sys.argv[1:]))
    """
)


def test_s3_store_without_s3fs_names_the_extra_to_install(tmp_path: Path) -> None:
    done = run_python(_NO_S3FS, "--store", "s3://bucket/store", "experiments", cwd=tmp_path)
    assert_one_line_error(done, "s3://", "pip install 'nbtrack[s3]'")


@pytest.mark.skipif(not _installed("s3fs"), reason="needs s3fs")
def test_s3_store_without_credentials_says_how_to_provide_them(tmp_path: Path) -> None:
    env = {k: v for k, v in _env().items() if not k.startswith("AWS_")}
    env.update(
        AWS_EC2_METADATA_DISABLED="true",  # no instance-metadata lookup
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
    )
    done = nbtrack("--store", "s3://bucket/store", "experiments", env=env, cwd=tmp_path)
    assert_one_line_error(done, "credentials", "AWS_ACCESS_KEY_ID")


def test_bad_store_url_in_python_is_a_store_error(tmp_path: Path) -> None:
    probe = textwrap.dedent(
        """
        import sys
        sys.modules["s3fs"] = None
        import nbtrack as nt
        from nbtrack.errors import NbtrackError, StoreError
        for url in ("foo://x", "s3://bucket/x"):
            try:
                nt.set_store(url)
            except StoreError as error:
                assert isinstance(error, NbtrackError)
                assert not isinstance(error, (ImportError, ValueError)), type(error).__mro__
                print(url, "->", error)
            else:
                raise AssertionError(url)
        """
    )
    done = run_python(probe, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "unknown store URL scheme" in done.stdout
    assert "pip install 'nbtrack[s3]'" in done.stdout


def test_empty_folder_is_an_empty_store(tmp_path: Path) -> None:
    done = nbtrack("experiments", store=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "no experiments" in done.stdout
    done = nbtrack("runs", "list", "--json", store=tmp_path)
    assert done.returncode == 0, done.stderr
    assert strict_json(done.stdout) == []


@pytest.mark.parametrize(
    "args",
    [
        pytest.param([], id="no-command"),
        pytest.param(["bogus"], id="unknown-command"),
        pytest.param(["runs"], id="runs-without-action"),
        pytest.param(["runs", "frobnicate"], id="unknown-runs-action"),
        pytest.param(["runs", "show"], id="missing-run-id"),
        pytest.param(["runs", "list", "--limit", "-1"], id="negative-limit"),
        pytest.param(["runs", "list", "--limit", "many"], id="non-numeric-limit"),
        pytest.param(["metrics", "only-one-arg"], id="metrics-missing-key"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str]) -> None:
    done = nbtrack(*args, store=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "usage: nbtrack" in done.stderr
    assert "Traceback" not in done.stderr


def test_help_exits_0() -> None:
    done = nbtrack("--help")
    assert done.returncode == 0
    for command in ("experiments", "runs", "metrics", "sql", "compact", "gc", "doctor"):
        assert command in done.stdout


# --------------------------------------------------------------------------- formatting (in process)


def test_render_table_truncates_wide_cells_but_never_run_ids() -> None:
    from nbtrack.cli import render_table

    long_id = "r" * 50
    text, hidden = render_table(["run_id", "note"], [[long_id, "x" * 80]], max_cell=10)
    assert hidden == 0
    assert long_id in text
    assert "x" * 9 + "…" in text
    assert "x" * 10 not in text


def test_render_table_drops_columns_that_do_not_fit_the_terminal() -> None:
    from nbtrack.cli import render_table

    text, hidden = render_table(["a", "b", "c"], [["1" * 10, "2" * 10, "3" * 10]], width=25)
    assert hidden == 1
    assert "3" not in text
    assert all(len(line) <= 25 for line in text.splitlines())


def test_to_jsonable_makes_strict_json() -> None:
    import datetime as dt

    from nbtrack.cli import to_jsonable

    stamp = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    data = to_jsonable({"t": stamp, "nan": float("nan"), "inf": float("inf"), "n": [1, 2.5]})
    assert data == {"t": "2026-01-02T03:04:05+00:00", "nan": None, "inf": None, "n": [1, 2.5]}
    strict_json(json.dumps(data))


def test_cli_calls_exactly_the_public_api() -> None:
    import nbtrack as nt
    from nbtrack.cli import _api

    for name, func in vars(_api()).items():
        assert getattr(nt, name) is func, name


def test_cli_never_loads_the_notebook_stack(store: Path) -> None:
    probe = textwrap.dedent(
        """
        import contextlib, io, sys
        from nbtrack.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            for args in (["experiments"], ["runs", "list"], ["sql", "SELECT 1"], ["doctor"]):
                assert main(["--store", sys.argv[1], *args]) == 0, args
        heavy = ("IPython", "ipywidgets", "plotly", "tornado", "nbtrack.ipython",
                 "nbtrack.views", "nbtrack.server")
        print(sorted(m for m in sys.modules if m.split(".")[0] in heavy or m.startswith(heavy)))
        """
    )
    done = run_python(probe, str(store))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_runs_list_table_does_not_load_pandas(store: Path) -> None:
    probe = textwrap.dedent(
        """
        import contextlib, io, sys
        from nbtrack.cli import main
        with contextlib.redirect_stdout(io.StringIO()) as out:
            assert main(["--store", sys.argv[1], "runs", "list", "--wide"]) == 0
        assert "a-fast" in out.getvalue()
        print("pandas" in sys.modules)
        """
    )
    done = run_python(probe, str(store))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_runs_list_table_shows_what_json_says(store: Path) -> None:
    columns = "run_id,name,status,metrics.loss,params.lr,tags.team,experiment"
    table = nbtrack("runs", "list", "--columns", columns, "-o", "metrics.loss", store=store)
    assert table.returncode == 0, table.stderr
    rows = strict_json(nbtrack("runs", "list", "--json", "-o", "metrics.loss", store=store).stdout)
    _, lines = _table(table.stdout)
    expected = [
        [
            r["run_id"],
            r["name"],
            r["status"],
            f"{r['metrics.loss']:.6g}",
            r["params.lr"],
            r["tags.team"],
            r["experiment"],
        ]
        for r in rows
    ]
    assert [line.split() for line in lines] == expected


# --------------------------------------------------------------------------- typos


def test_typos_get_the_python_api_error_with_a_suggestion(store: Path, ids: dict[str, str]) -> None:
    # The same check and message as nbtrack.search_runs / get_metric_history (tracking.lookup).
    done = nbtrack("runs", "list", "-e", "alpah", store=store)
    assert_one_line_error(done, "no experiment named 'alpah'", "did you mean 'alpha'")
    done = nbtrack("metrics", ids["a-nlp"], "los", store=store)
    assert_one_line_error(done, "has no metric 'los'", "did you mean 'loss'", "it has: 'loss'")


def test_table_cells_are_plain_text_not_rich_markup() -> None:
    from nbtrack.cli._output import render_table

    text, hidden = render_table(["tag", "n"], [["[bold]", 1], ["[red]hi[/red]", 2]], width=80)
    assert hidden == 0
    assert "[bold]" in text and "[red]hi[/red]" in text


def test_render_table_aligns_wide_characters_and_right_aligns_numbers() -> None:
    from nbtrack.cli import render_table
    from nbtrack.cli._output import cell_width

    text, _ = render_table(
        ["name", "loss", "tag"], [["訓練-1", 0.5, "a"], ["run-22", 12.25, "b"]], width=None
    )
    header, rule, first, second = text.splitlines()
    # Each column starts at the same terminal column in every line (CJK takes two).
    starts = [cell_width(line[: line.index(v)]) for line, v in ((first, "a"), (second, "b"))]
    assert starts[0] == starts[1] == cell_width(header[: header.index("tag")])
    assert cell_width(rule) == cell_width(header)
    # Numbers end under the end of their header.
    def end(line: str, value: str) -> int:
        return cell_width(line[: line.index(value) + len(value)])

    assert end(first, "0.5") == end(second, "12.25") == end(header, "loss")
