"""%%track and the line magics, run as real cells in IPython's in-process test shell."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pytest
from IPython.core.error import UsageError

import nbtrack as nt
from nbtrack.ipython import _live
from nbtrack.ipython._output import CappedText
from nbtrack.ipython._series import MetricSeriesSet
from nbtrack.ipython._summary import RunSummary, sparkline_svg
from nbtrack.tracking import capture


class FakeRenderer:
    """Records what the live view asks to draw, in place of plotly widgets."""

    instances: ClassVar[list[FakeRenderer]] = []

    def __init__(self) -> None:
        self.prepared: list[list[str]] = []
        self.draws: list[dict[str, list[tuple[int, float]]]] = []
        self.draw_times: list[float] = []
        self.replaced: Any = None
        self.announced: str | None = None
        self.discarded = False
        FakeRenderer.instances.append(self)

    def announce(self, header: str) -> None:
        self.announced = header

    def prepare(self, keys: Sequence[str]) -> None:
        self.prepared.append(list(keys))

    def draw(self, series: Mapping[str, Sequence[tuple[int, float]]], header: str) -> None:
        self.draws.append({k: list(v) for k, v in series.items()})
        self.draw_times.append(time.monotonic())

    def replace(self, summary: Any) -> bool:
        self.replaced = summary
        return True

    def discard(self) -> None:
        self.discarded = True


@pytest.fixture(scope="module")
def shell() -> Any:
    from IPython.testing.globalipapp import get_ipython

    ip = get_ipython()
    ip.run_line_magic("load_ext", "nbtrack")
    return ip


@pytest.fixture
def ip(shell: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The test shell with nbtrack loaded, a fake live renderer and a clean namespace."""
    magics = shell.magics_manager.registry["TrackMagics"]
    FakeRenderer.instances.clear()
    monkeypatch.setattr(magics, "live_renderer_factory", FakeRenderer)
    before = set(shell.user_ns)
    yield shell
    for name in set(shell.user_ns) - before:
        shell.user_ns.pop(name, None)


def runs() -> pd.DataFrame:
    return nt.search_runs(experiment="*")


def only_run() -> nt.Run:
    df = runs()
    assert len(df) == 1, df
    return nt.get_run(df.run_id.iloc[0])


def artifact(run: nt.Run, path: str) -> str:
    return nt.read_artifact(run.run_id, path).decode()


# --------------------------------------------------------------------------- basics
def test_cell_is_one_finished_run_with_params_metrics_and_context(ip: Any) -> None:
    result = ip.run_cell(
        "%%track -n baseline\n"
        "import nbtrack as nt\n"
        "lr = 0.01\n"
        "layers = [64, 32]\n"
        'name = "resnet"\n'
        "for epoch in range(3):\n"
        "    nt.log_metric('loss', 1.0 / (epoch + 1))\n"
        "print('training done')\n",
        store_history=True,
    )
    assert result.success, result.error_in_exec
    run = only_run()
    assert run.name == "baseline"
    assert run.status == "FINISHED"
    assert run.params == {"lr": "0.01", "layers": "[64, 32]", "name": "resnet"}
    assert run.metrics == {"loss": pytest.approx(1 / 3)}
    history = nt.get_metric_history(run.run_id, "loss")
    assert list(history.step) == [0, 1, 2]
    tags = run.tags
    assert tags["nbtrack.cell.execution_count"] == str(ip.execution_count - 1)
    assert len(tags["nbtrack.cell.hash"]) == 16
    env = capture.collect_environment()
    assert tags["nbtrack.python"] == env["python"]
    assert tags["nbtrack.platform"] == env["platform"]
    assert tags["nbtrack.host"] == env["host"]
    assert {"cell.py", "stdout.txt", "environment.json"} <= set(nt.list_artifacts(run.run_id))
    assert "traceback.txt" not in nt.list_artifacts(run.run_id)
    assert artifact(run, "cell.py").splitlines() == [
        "# %%track -n baseline",
        "import nbtrack as nt",
        "lr = 0.01",
        "layers = [64, 32]",
        'name = "resnet"',
        "for epoch in range(3):",
        "    nt.log_metric('loss', 1.0 / (epoch + 1))",
        "print('training done')",
    ]
    assert artifact(run, "stdout.txt") == "training done\n"
    environment = json.loads(artifact(run, "environment.json"))
    assert environment["python"] == env["python"]
    assert "pytest" in environment["packages"]
    assert environment["hardware"]["cpu_count"] == os.cpu_count()


def test_output_still_reaches_the_user(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    ip.run_cell("%%track\nimport sys\nprint('to stdout')\nprint('to stderr', file=sys.stderr)\n")
    out, err = capsys.readouterr()
    assert "to stdout" in out
    assert "to stderr" in err
    run = only_run()
    assert artifact(run, "stderr.txt") == "to stderr\n"


def test_same_cell_gives_same_hash_different_cell_another(ip: Any) -> None:
    ip.run_cell("%%track\nx = 1\n")
    ip.run_cell("%%track\nx = 1\n")
    ip.run_cell("%%track\nx = 2\n")
    hashes = runs()["tags.nbtrack.cell.hash"]
    assert hashes.nunique() == 2


def test_run_variable_is_the_active_run(ip: Any) -> None:
    result = ip.run_cell(
        "%%track\n"
        "import nbtrack as nt\n"
        "same = run is nt.active_run()\n"
        "run.log_metric('acc', 0.5)\n"
        "run.id\n"
    )
    assert result.success
    run = only_run()
    assert result.result == run.run_id  # the last expression is the cell's Out value
    assert ip.user_ns["same"] is True
    assert ip.user_ns["run"].run_id == run.run_id
    assert run.metrics == {"acc": 0.5}
    assert nt.active_run() is None


def test_as_names_the_run_variable(ip: Any) -> None:
    ip.run_cell("%%track --as r\nr.set_tag('via', 'as')\n")
    assert only_run().tags["via"] == "as"


def test_trailing_semicolon_silences_the_value(ip: Any) -> None:
    assert ip.run_cell("%%track\n1 + 1;\n").result is None
    assert ip.run_cell("%%track\n1 + 1\n").result == 2


def test_ipython_syntax_inside_the_cell(ip: Any) -> None:
    result = ip.run_cell("%%track\nfiles = !echo hi\nx = %pwd\n")
    assert result.success, result.error_in_exec
    assert ip.user_ns["files"] == ["hi"]


def test_no_automatic_params_for_runs_started_through_the_api(ip: Any) -> None:
    ip.run_cell("import nbtrack as nt\nwith nt.start_run() as r:\n    lr = 0.1\n")
    run = only_run()
    assert run.params == {}
    assert not any(k.startswith("nbtrack.") for k in run.tags)


# --------------------------------------------------------------------------- params
def test_only_top_level_literals_are_captured(ip: Any) -> None:
    ip.run_cell(
        "%%track\n"
        "import math\n"
        "batch = 32\n"
        "a = b = -1\n"
        "dropout: float = 0.5\n"
        "opt, momentum = 'sgd', 0.9\n"
        "computed = math.sqrt(4)\n"
        "_private = 1\n"
        "__version__ = '1.0'\n"
        "alias = batch\n"
        "if True:\n    in_if = 1\n"
        "for i in range(2):\n    in_for = 2\n"
        "def f():\n    in_def = 3\n"
        "with open(__file__ if '__file__' in dir() else '/dev/null') as fh:\n    in_with = 4\n"
    )
    assert only_run().params == {
        "batch": "32",
        "a": "-1",
        "b": "-1",
        "dropout": "0.5",
        "opt": "sgd",
        "momentum": "0.9",
    }


def test_p_logs_values_at_the_end_of_the_cell(ip: Any) -> None:
    ip.user_ns["seed"] = 7
    ip.run_cell("%%track -p seed model_size\nmodel_size = 10 * 3\nseed = seed + 1\n")
    assert only_run().params == {"seed": "8", "model_size": "30"}


def test_p_wins_over_a_literal_of_the_same_name(ip: Any) -> None:
    ip.run_cell("%%track -p lr\nlr = 0.1\nlr = lr / 10\n")
    assert only_run().params == {"lr": "0.01"}


def test_p_is_repeatable(ip: Any) -> None:
    ip.run_cell("%%track -p x -p y\nx = 1 + 0\ny = 2 + 0\n")
    assert only_run().params == {"x": "1", "y": "2"}


def test_too_long_literal_is_skipped_not_fatal(ip: Any) -> None:
    ip.run_cell(f"%%track\nshort = 1\nlong = {'x' * 7000!r}\n")
    run = only_run()
    assert run.status == "FINISHED"
    assert run.params == {"short": "1"}


def test_p_variable_deleted_by_the_cell_is_reported(
    ip: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    ip.user_ns["tmp"] = 1
    ip.run_cell("%%track -p tmp\ndel tmp\n")
    assert "tmp" in capsys.readouterr().err
    run = only_run()
    assert run.status == "FINISHED"
    assert run.params == {}


# --------------------------------------------------------------------------- options
def test_experiment_name_and_tags(ip: Any) -> None:
    result = ip.run_cell("%%track -e vision -n r1 -t team=cv stage=dev -t note=a=b\npass\n")
    assert result.success, result.error_in_exec
    run = only_run()
    assert run.experiment == "vision"
    assert run.name == "r1"
    tags = run.tags
    assert tags["team"] == "cv"
    assert tags["stage"] == "dev"
    assert tags["note"] == "a=b"


def test_quoted_option_values(ip: Any) -> None:
    ip.run_cell('%%track -n \'my run\' -t "note=two words" -e "an experiment"\npass\n')
    run = only_run()
    assert run.name == "my run"
    assert run.experiment == "an experiment"
    assert run.tags["note"] == "two words"


def test_variables_expand_in_the_options(ip: Any) -> None:
    ip.user_ns["trial"] = 3
    ip.run_cell("%%track -n trial-{trial}\npass\n")
    assert only_run().name == "trial-3"


def test_nested_runs(ip: Any) -> None:
    result = ip.run_cell(
        "%%track -n parent\n"
        "for i in range(2):\n"
        "    get_ipython().run_cell_magic('track', f'--nested -n child{i} --as child', 'k = 1')\n"
    )
    assert result.success, result.error_in_exec
    df = runs().set_index("name")
    assert set(df.index) == {"parent", "child0", "child1"}
    assert df.loc["child0", "parent_run_id"] == df.loc["parent", "run_id"]
    assert df.loc["child1", "parent_run_id"] == df.loc["parent", "run_id"]
    assert set(df.status) == {"FINISHED"}
    assert nt.active_run() is None


def test_track_without_nested_inside_a_run_is_a_clear_error(ip: Any) -> None:
    result = ip.run_cell("import nbtrack as nt\nouter = nt.start_run(name='outer')\n")
    assert result.success
    try:
        result = ip.run_cell("%%track\nx = 1\n")
        assert isinstance(result.error_in_exec, UsageError)
        assert "--nested" in str(result.error_in_exec)
        assert "outer" in str(result.error_in_exec)
        assert list(runs().name) == ["outer"]  # no half-made run
    finally:
        nt.end_run()


def test_runs_the_cell_left_open_are_ended_with_it(ip: Any) -> None:
    ip.run_cell(
        "%%track -n parent\nimport nbtrack as nt\nchild = nt.start_run(name='child', nested=True)\n"
    )
    df = runs().set_index("name")
    assert set(df.status) == {"FINISHED"}
    assert nt.active_run() is None


def test_cell_that_ends_its_own_run(ip: Any) -> None:
    result = ip.run_cell("%%track\nimport nbtrack as nt\nnt.end_run('KILLED')\n")
    assert result.success, result.error_in_exec
    assert only_run().status == "KILLED"
    assert nt.active_run() is None


def test_help_lists_the_options(ip: Any) -> None:
    doc = ip.find_cell_magic("track").__doc__
    for option in ("-e", "-n", "-t", "-p", "--live", "--nested", "--as"):
        assert option in doc


# --------------------------------------------------------------------------- failure paths
def test_exception_fails_the_run_and_reaches_the_user(ip: Any) -> None:
    result = ip.run_cell(
        "%%track\n"
        "import nbtrack as nt\n"
        "nt.log_metric('loss', 0.5)\n"
        "def boom():\n"
        "    raise ValueError('bad batch')\n"
        "boom()\n"
    )
    error = result.error_in_exec
    assert type(error) is ValueError
    assert str(error) == "bad batch"
    run = only_run()
    assert run.status == "FAILED"
    assert run.metrics == {"loss": 0.5}
    tb = artifact(run, "traceback.txt")
    assert tb.startswith("Traceback (most recent call last):")
    assert "ValueError: bad batch" in tb
    assert "line 6, in <module>" in tb  # line numbers are the cell's, %%track is line 1
    assert "line 5, in boom" in tb
    assert "run_cell_magic" not in tb  # no nbtrack/IPython frames
    assert nt.active_run() is None


def test_traceback_shown_to_the_user_points_at_the_cell(
    ip: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    ip.run_cell("x = 0", store_history=True)
    result = ip.run_cell("%%track\nx = 1\n1 / 0\n", store_history=True)
    out, err = capsys.readouterr()
    shown = out + err
    assert "ZeroDivisionError" in shown
    assert "1 / 0" in shown
    assert "_tracked_cell" not in shown  # our frames are hidden
    # every frame of the cell cites the cell's own number (it said In[N+1] in the body)
    cited = set(re.findall(r"Cell In\[(\d+)\]", shown))
    assert cited == {str(result.execution_count)}, shown


def test_keyboard_interrupt_kills_the_run(ip: Any) -> None:
    result = ip.run_cell(
        "%%track\n"
        "import nbtrack as nt\n"
        "for i in range(5):\n"
        "    nt.log_metric('loss', float(i))\n"
        "raise KeyboardInterrupt\n"
    )
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    run = only_run()
    assert run.status == "KILLED"
    assert len(nt.get_metric_history(run.run_id, "loss")) == 5
    assert "KeyboardInterrupt" in artifact(run, "traceback.txt")


@pytest.mark.filterwarnings("ignore:To exit")
def test_system_exit_fails_the_run(ip: Any) -> None:
    ip.run_cell("%%track\nraise SystemExit(3)\n")
    assert only_run().status == "FAILED"


def test_sigint_during_bookkeeping_is_deferred() -> None:
    import signal

    from nbtrack.ipython._context import deferred_sigint

    reached_end = False
    with pytest.raises(KeyboardInterrupt), deferred_sigint():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the signal is handled here, and held
        reached_end = True
    assert reached_end
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_top_level_await_is_a_clear_error(ip: Any) -> None:
    result = ip.run_cell("%%track\nimport asyncio\nawait asyncio.sleep(0)\n")
    assert isinstance(result.error_in_exec, UsageError)
    assert "No run was started" in str(result.error_in_exec)
    assert runs().empty


@pytest.mark.parametrize(
    ("line", "message"),
    [
        pytest.param("--bogus", "unrecognized arguments", id="unknown-option"),
        pytest.param("-t team", "KEY=VALUE", id="tag-without-equals"),
        pytest.param("-t =x", "KEY=VALUE", id="tag-without-key"),
        pytest.param("-t 'bad key!=1'", "tag key", id="tag-bad-key"),
        pytest.param("-t nbtrack.host=x", "reserved", id="reserved-tag"),
        pytest.param("-p nope", "nope", id="missing-p-variable"),
        pytest.param("-p 1x", "variable names", id="p-not-identifier"),
        pytest.param("--as 'not a name'", "variable name", id="as-not-identifier"),
        pytest.param("-n ''", "non-empty", id="empty-name"),
        pytest.param("-e", "expected one argument", id="option-without-value"),
        pytest.param("-n 'unclosed", "cannot parse", id="unbalanced-quote"),
    ],
)
def test_bad_options_are_a_usage_error_and_no_run(ip: Any, line: str, message: str) -> None:
    result = ip.run_cell(f"%%track {line}\nx = 1\n")
    assert isinstance(result.error_in_exec, UsageError)
    assert message in str(result.error_in_exec)
    assert "\n" not in str(result.error_in_exec)
    assert runs().empty
    assert nt.active_run() is None
    assert "x" not in ip.user_ns  # the cell did not run


def test_bad_experiment_name_is_a_usage_error(ip: Any) -> None:
    result = ip.run_cell("%%track -e 'a\tb'\nx = 1\n")
    assert isinstance(result.error_in_exec, UsageError)
    assert runs().empty


def test_syntax_error_is_clear_and_starts_no_run(ip: Any) -> None:
    result = ip.run_cell("%%track\nx = 1\ny = (\n")
    error = result.error_in_exec
    assert isinstance(error, UsageError)
    assert "SyntaxError" in str(error)
    assert "line 3" in str(error)
    assert "No run was started" in str(error)
    assert runs().empty
    assert nt.active_run() is None


# --------------------------------------------------------------------------- git
def test_git_context_in_a_temporary_repo(
    ip: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    git_env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@e.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@e.com",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=tmp_path, check=True, capture_output=True, text=True, env=git_env
        ).stdout.strip()

    git("init", "-q", "-b", "exp")
    (tmp_path / "model.py").write_text("depth = 1\n")
    git("add", "model.py")
    git("commit", "-q", "-m", "init")
    git("remote", "add", "origin", "https://bob:ghp_SECRET123@github.com/acme/models.git")
    (tmp_path / "model.py").write_text("depth = 2\n")
    monkeypatch.chdir(tmp_path)
    capture.reset_capture_cache()
    ip.run_cell("%%track\nx = 1\n")
    run = only_run()
    tags = run.tags
    assert tags["nbtrack.git.commit"] == git("rev-parse", "HEAD")
    assert tags["nbtrack.git.branch"] == "exp"
    assert tags["nbtrack.git.dirty"] == "true"
    assert tags["nbtrack.git.remote"] == "https://github.com/acme/models.git"
    diff = artifact(run, "git.diff")
    assert "+depth = 2" in diff
    everything = json.dumps(tags) + "".join(
        artifact(run, path) for path in nt.list_artifacts(run.run_id)
    )
    assert "SECRET" not in everything
    assert "bob" not in everything


def test_git_tags_are_stored_early_in_a_long_cell(
    ip: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull}
    for args in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "x"]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@e.com", *args],
            cwd=tmp_path,
            check=True,
            env=env,
        )
    monkeypatch.chdir(tmp_path)
    capture.reset_capture_cache()  # cold: git runs in a thread while the cell runs
    ip.run_cell(
        "%%track\n"
        "import time, nbtrack as nt\n"
        "for _ in range(150):  # git answers in a thread; allow a loaded machine 15 s\n"
        "    mid_cell_tags = nt.get_run(run.id).tags\n"
        "    if 'nbtrack.git.branch' in mid_cell_tags:\n"
        "        break\n"
        "    time.sleep(0.1)\n"
    )
    assert ip.user_ns["mid_cell_tags"]["nbtrack.git.branch"] == "main"
    assert only_run().tags["nbtrack.git.dirty"] == "false"


def test_no_git_tags_outside_a_repo(
    ip: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    capture.reset_capture_cache()
    ip.run_cell("%%track\nx = 1\n")
    run = only_run()
    assert run.status == "FINISHED"
    assert not any(k.startswith("nbtrack.git.") for k in run.tags)
    assert "git.diff" not in nt.list_artifacts(run.run_id)


def test_notebook_path_tag(ip: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/me/train.ipynb")
    ip.run_cell("%%track\nx = 1\n")
    assert only_run().tags["nbtrack.notebook"] == "/home/me/train.ipynb"


# --------------------------------------------------------------------------- live view
def test_no_renderer_when_the_cell_logs_no_metric(ip: Any) -> None:
    ip.run_cell("%%track\nx = 1\n")
    assert FakeRenderer.instances == []


def test_live_view_is_throttled_and_replaced_by_the_summary(ip: Any) -> None:
    result = ip.run_cell(
        "%%track\n"
        "import time, nbtrack as nt\n"
        "t0 = time.monotonic()\n"
        "i = 0\n"
        "while time.monotonic() - t0 < 1.2:\n"
        "    nt.log_metric('loss', 1 / (i + 1))\n"
        "    i += 1\n"
    )
    assert result.success, result.error_in_exec
    (renderer,) = FakeRenderer.instances
    logged = ip.user_ns["i"]
    assert logged > 1000
    assert 1 <= len(renderer.draws) <= 1.2 / _live.LIVE_INTERVAL_S + 2
    gaps = [b - a for a, b in zip(renderer.draw_times, renderer.draw_times[1:], strict=False)]
    assert all(gap >= _live.LIVE_INTERVAL_S * 0.9 for gap in gaps)
    last = renderer.draws[-1]["loss"]
    assert len(last) <= 2 * 1000 + 1  # decimated
    assert renderer.announced is not None
    assert "loading" in renderer.announced
    assert isinstance(renderer.replaced, RunSummary)
    assert renderer.replaced.status == "FINISHED"
    assert renderer.replaced.metrics["loss"][0] == logged - 1


def test_live_keys_pick_the_plotted_metrics(ip: Any) -> None:
    ip.run_cell(
        "%%track --live acc\n"
        "import time, nbtrack as nt\n"
        "for i in range(3):\n"
        "    nt.log_metrics({'loss': 1.0, 'acc': 0.5})\n"
        "time.sleep(0.4)\n"
    )
    (renderer,) = FakeRenderer.instances
    assert renderer.draws
    assert all(set(draw) == {"acc"} for draw in renderer.draws)
    # the summary still shows every metric
    assert set(renderer.replaced.metrics) == {"loss", "acc"}


def test_live_view_only_for_keys_the_cell_logs(ip: Any) -> None:
    ip.run_cell("%%track --live other\nimport nbtrack as nt\nnt.log_metric('loss', 1.0)\n")
    assert all(not draw for r in FakeRenderer.instances for draw in r.draws)


def test_no_live_option(ip: Any) -> None:
    ip.run_cell("%%track --no-live\nimport nbtrack as nt\nnt.log_metric('loss', 1.0)\n")
    assert FakeRenderer.instances == []


def test_slow_first_plot_is_abandoned_when_the_cell_ends_first(
    ip: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Slow(FakeRenderer):
        def prepare(self, keys: Sequence[str]) -> None:
            time.sleep(0.8)
            super().prepare(keys)

    magics = ip.magics_manager.registry["TrackMagics"]
    monkeypatch.setattr(magics, "live_renderer_factory", Slow)
    result = ip.run_cell(
        "%%track\nimport time, nbtrack as nt\nnt.log_metric('loss', 1.0)\ntime.sleep(0.3)\n"
    )
    assert result.success, result.error_in_exec
    (renderer,) = FakeRenderer.instances
    assert isinstance(renderer.replaced, RunSummary)  # the placeholder got the summary
    time.sleep(1.2)  # the drawer finishes prepare(), sees the cell ended, draws nothing
    assert renderer.draws == []
    assert renderer.discarded


def test_broken_renderer_never_breaks_the_cell(ip: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken(FakeRenderer):
        def draw(self, series: Any, header: str) -> None:
            raise RuntimeError("no frontend")

    magics = ip.magics_manager.registry["TrackMagics"]
    monkeypatch.setattr(magics, "live_renderer_factory", Broken)
    result = ip.run_cell(
        "%%track\nimport time, nbtrack as nt\nnt.log_metric('loss', 1.0)\ntime.sleep(0.3)\n"
    )
    assert result.success, result.error_in_exec
    assert only_run().status == "FINISHED"


def test_terminal_shell_has_no_live_view_by_default(shell: Any) -> None:
    magics = shell.magics_manager.registry["TrackMagics"]
    assert magics.live_renderer_factory is None
    assert getattr(shell, "kernel", None) is None
    from nbtrack.ipython._tracked_cell import TrackOptions

    assert magics._renderer_factory(TrackOptions()) is None


# --------------------------------------------------------------------------- summary
def test_summary_html_names_the_run_and_the_compare_command() -> None:
    summary = RunSummary(
        run_id="abc123",
        name="baseline",
        experiment="Default",
        status="FAILED",
        duration_s=12.5,
        params={"lr": "0.01"},
        metrics={"loss": (9, 0.25, 10)},
        series={"loss": [(i, 1 / (i + 1)) for i in range(10)]},
        error="ValueError: <bad>",
    )
    html = summary._repr_html_()
    for text in ("baseline", "abc123", "FAILED", "12.5 s", "lr", "0.01", "loss", "0.25"):
        assert text in html
    assert "%track_compare abc123" in html
    assert "<svg" in html
    assert "&lt;bad&gt;" in html  # escaped
    assert "%track_compare abc123" in repr(summary)


def test_sparkline_needs_two_points() -> None:
    assert sparkline_svg([(0, 1.0)]) == ""
    assert sparkline_svg([(0, 1.0), (1, float("nan")), (2, 2.0)]).startswith("<svg")
    many = sparkline_svg([(i, float(i % 7)) for i in range(100_000)])
    assert many.count(",") < 200


def test_summary_is_displayed_when_there_was_no_live_view(
    ip: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    ip.run_cell("%%track -n shown\nx = 1\n")
    out = capsys.readouterr().out
    assert "nbtrack run shown" in out
    assert "%track_compare" in out


# --------------------------------------------------------------------------- output capture
def test_capped_text_keeps_head_and_tail() -> None:
    text = CappedText(limit=100)
    for i in range(1000):
        text.write(f"line {i}\n")
    value = text.getvalue()
    assert value.startswith("line 0\nline 1\n")
    assert value.endswith("line 999\n")
    assert "bytes of output omitted" in value
    assert len(value.encode()) < 100 + 200
    assert text.total_bytes == sum(len(f"line {i}\n") for i in range(1000))


def test_capped_text_under_the_cap_is_exact() -> None:
    text = CappedText(limit=100)
    text.write("é" * 10)
    text.write("x")
    assert text.getvalue() == "é" * 10 + "x"


def test_large_output_is_stored_capped(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    ip.run_cell("%%track\nfor i in range(300_000):\n    print(i)\n")
    capsys.readouterr()
    stored = artifact(only_run(), "stdout.txt")
    assert stored.startswith("0\n1\n2\n")
    assert stored.endswith("299999\n")
    assert len(stored.encode()) < 1_100_000


# --------------------------------------------------------------------------- line magics
def test_track_runs_shows_the_current_experiment(ip: Any) -> None:
    ip.run_cell("%%track -n a\nlr = 0.1\n")
    ip.run_cell("%%track -n b\nlr = 0.2\n")
    ip.run_cell("%%track -n c -e other\nlr = 0.3\n")
    shown = ip.run_line_magic("track_runs", "params.lr = '0.2'")
    assert list(_frame(shown).name) == ["b"]
    assert set(_frame(ip.run_line_magic("track_runs", "")).name) == {"a", "b"}
    assert set(_frame(ip.run_line_magic("track_runs", "-e '*'")).name) == {"a", "b", "c"}
    assert set(_frame(ip.run_line_magic("track_runs", "-e other")).name) == {"c"}


def _frame(shown: Any) -> pd.DataFrame:
    """The runs behind what a line magic returned (a DataFrame or a view widget)."""
    if isinstance(shown, pd.DataFrame):
        return shown
    for attr in ("frame", "runs"):
        frame = getattr(shown, attr, None)
        if isinstance(frame, pd.DataFrame):
            return frame
    raise AssertionError(f"no runs frame in {type(shown).__name__}")


def test_track_runs_bad_filter_is_a_usage_error(ip: Any) -> None:
    with pytest.raises(UsageError, match="position"):
        ip.run_line_magic("track_runs", "metrics.acc >")


def test_track_compare(ip: Any) -> None:
    ip.run_cell("%%track -n a\nlr = 0.1\nimport nbtrack as nt\nnt.log_metric('acc', 0.5)\n")
    ip.run_cell("%%track -n b\nlr = 0.2\nimport nbtrack as nt\nnt.log_metric('acc', 0.7)\n")
    ids = list(runs().run_id)
    shown = ip.run_line_magic("track_compare", " ".join(ids))
    if isinstance(shown, pd.DataFrame):  # the fallback before nbtrack.views.compare existed
        assert set(shown.columns) == set(ids)
        assert "metrics.acc" in shown.index
    else:
        assert set(_frame(shown).run_id) == set(ids)


def test_track_compare_needs_ids(ip: Any) -> None:
    with pytest.raises(UsageError):
        ip.run_line_magic("track_compare", "")


def test_track_compare_unknown_run_is_a_usage_error(ip: Any) -> None:
    with pytest.raises(UsageError):
        ip.run_line_magic("track_compare", "nosuchrun")


def test_track_store_and_experiment(ip: Any, tmp_path: Path) -> None:
    store = tmp_path / "elsewhere"
    ip.run_line_magic("track_store", str(store))
    ip.run_line_magic("track_experiment", "ablation")
    ip.run_cell("%%track\nx = 1\n")
    run = only_run()
    assert run.experiment == "ablation"
    assert store.exists()
    with pytest.raises(UsageError):
        ip.run_line_magic("track_store", "")
    with pytest.raises(UsageError):
        ip.run_line_magic("track_experiment", "")


def test_unload_removes_the_magics(shell: Any) -> None:
    from nbtrack.ipython import load_ipython_extension, unload_ipython_extension

    unload_ipython_extension(shell)
    try:
        assert shell.find_cell_magic("track") is None
        assert shell.find_line_magic("track_runs") is None
    finally:
        load_ipython_extension(shell)
    assert shell.find_cell_magic("track") is not None


def test_import_nbtrack_does_not_import_ipython() -> None:
    code = "import sys, nbtrack; print('IPython' in sys.modules)"
    out = subprocess.run(
        [os.sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.stdout.strip() == "False"


def test_live_redraws_wait_longer_when_drawing_costs_more() -> None:
    series = MetricSeriesSet()
    view = _live.LiveMetricsView(series, FakeRenderer)
    assert view.next_pause(0.001) == _live.LIVE_INTERVAL_S  # cheap: the base interval
    assert view.next_pause(0.2) == pytest.approx(1.0)  # 5 x the measured cost
    assert view.next_pause(10.0) == _live.MAX_PAUSE_S  # never longer than the cap
    empty = view.next_pause(0.1)
    for step in range(5000):
        series.add("loss", 1.0 / (step + 1), step)
        series.add("acc", step / 5000, step)
    # many points drawn: the browser's share raises the pause even for a cheap kernel draw
    assert view.next_pause(0.1) > empty
