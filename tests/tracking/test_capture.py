"""Context capture: git, environment, hardware, notebook path and cell literal params."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nbtrack.tracking import capture
from nbtrack.tracking.capture import git as capture_git

requires_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    capture.reset_capture_cache()
    yield
    capture.reset_capture_cache()


def _git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    out = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    )
    return out.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with one commit on branch ``main``."""
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    (root / "train.py").write_text("lr = 0.1\n")
    _git(root, "add", "train.py")
    _git(root, "commit", "-q", "-m", "first")
    return root


# --------------------------------------------------------------------------- credentials
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "https://user:token@github.com/org/repo.git",
            "https://github.com/org/repo.git",
            id="https-user-token",
        ),
        pytest.param(
            "https://ghp_abc123@github.com/org/r", "https://github.com/org/r", id="https-token-only"
        ),
        pytest.param(
            "ssh://user:pass@host:2222/x.git", "ssh://host:2222/x.git", id="ssh-user-pass"
        ),
        pytest.param("ssh://git@host/x.git", "ssh://host/x.git", id="ssh-user"),
        pytest.param("http://a:b@c@host/x", "http://host/x", id="at-in-password"),
        pytest.param(
            "https://github.com/org/repo.git", "https://github.com/org/repo.git", id="clean"
        ),
        pytest.param("git@github.com:org/repo.git", "git@github.com:org/repo.git", id="scp-like"),
        pytest.param("/srv/git/repo.git", "/srv/git/repo.git", id="local-path"),
        pytest.param("https://u:p@host", "https://host", id="no-path"),
    ],
)
def test_strip_url_credentials_removes_userinfo(url: str, expected: str) -> None:
    assert capture.strip_url_credentials(url) == expected


# --------------------------------------------------------------------------- git
@requires_git
def test_git_info_of_a_clean_repo(repo: Path) -> None:
    info = capture.collect_git_info(repo)
    assert info is not None
    assert info.commit == _git(repo, "rev-parse", "HEAD")
    assert info.branch == "main"
    assert info.is_dirty is False
    assert info.diff is None
    assert info.remote is None
    assert info.as_tags() == {
        "nbtrack.git.commit": info.commit,
        "nbtrack.git.branch": "main",
        "nbtrack.git.dirty": "false",
    }


@requires_git
def test_git_info_from_a_subdirectory(repo: Path) -> None:
    sub = repo / "notebooks"
    sub.mkdir()
    info = capture.collect_git_info(sub)
    assert info is not None
    assert info.branch == "main"


@requires_git
def test_dirty_repo_gives_the_diff(repo: Path) -> None:
    (repo / "train.py").write_text("lr = 0.2\n")
    info = capture.collect_git_info(repo)
    assert info is not None
    assert info.is_dirty is True
    assert info.diff is not None
    assert "-lr = 0.1" in info.diff
    assert "+lr = 0.2" in info.diff
    assert info.as_tags()["nbtrack.git.dirty"] == "true"


@requires_git
def test_untracked_files_do_not_make_the_tree_dirty(repo: Path) -> None:
    (repo / "scratch.txt").write_text("notes")
    info = capture.collect_git_info(repo)
    assert info is not None
    assert info.is_dirty is False


@requires_git
def test_diff_is_capped(repo: Path) -> None:
    (repo / "train.py").write_text("x = 1\n" * 50_000)
    info = capture.collect_git_info(repo, max_diff_bytes=10_000)
    assert info is not None
    assert info.diff is not None
    assert len(info.diff.encode()) <= 10_000
    assert "diff truncated at 10000 bytes" in info.diff


@requires_git
@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://alice:s3cret-token@github.com/org/repo.git", id="https"),
        pytest.param("ssh://alice:s3cret-token@example.com/org/repo.git", id="ssh"),
    ],
)
def test_remote_url_is_stored_without_credentials(repo: Path, url: str) -> None:
    _git(repo, "remote", "add", "origin", url)
    info = capture.collect_git_info(repo)
    assert info is not None
    assert info.remote is not None
    assert "s3cret" not in info.remote
    assert "alice" not in info.remote
    assert info.remote.endswith("/org/repo.git")
    assert "s3cret" not in repr(info.as_tags())


@requires_git
def test_remote_prefers_the_upstream_of_the_branch(repo: Path, tmp_path: Path) -> None:
    upstream = tmp_path / "upstream.git"
    _git(tmp_path, "init", "-q", "--bare", str(upstream))
    _git(repo, "remote", "add", "aaa", "https://example.com/other.git")
    _git(repo, "remote", "add", "up", str(upstream))
    _git(repo, "push", "-q", "-u", "up", "main")
    info = capture.collect_git_info(repo)
    assert info is not None
    assert info.remote == str(upstream)


@requires_git
def test_detached_head_has_no_branch(repo: Path) -> None:
    _git(repo, "checkout", "-q", "--detach")
    info = capture.collect_git_info(repo)
    assert info is not None
    assert info.branch is None
    assert info.commit is not None
    assert "nbtrack.git.branch" not in info.as_tags()


@requires_git
def test_repo_without_commits(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q", "-b", "main")
    info = capture.collect_git_info(tmp_path)
    assert info is not None
    assert info.commit is None
    assert info.branch == "main"


@requires_git
def test_not_a_repo_gives_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert capture.collect_git_info(tmp_path) is None


def test_missing_directory_gives_none(tmp_path: Path) -> None:
    assert capture.collect_git_info(tmp_path / "nope") is None


def test_git_not_installed_gives_none(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert capture.collect_git_info(repo) is None


@requires_git
def test_git_timeout_gives_none(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(*args: object, **kwargs: object) -> None:
        raise subprocess.TimeoutExpired(cmd="git", timeout=capture.GIT_TIMEOUT_S)

    monkeypatch.setattr(subprocess, "run", slow)
    assert capture.collect_git_info(repo) is None


@requires_git
def test_git_info_is_cached_for_a_short_time(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = capture_git._git

    def counting(directory: str, *args: str) -> object:
        calls.append(args[0])
        return real(directory, *args)

    monkeypatch.setattr(capture_git, "_git", counting)
    first = capture.collect_git_info(repo)
    n = len(calls)
    assert capture.collect_git_info(repo) == first
    assert len(calls) == n  # served from the cache
    (repo / "train.py").write_text("lr = 0.3\n")
    assert capture.collect_git_info(repo, use_cache=False).is_dirty is True
    monkeypatch.setattr(capture_git, "GIT_TTL_S", 0.0)
    assert capture.collect_git_info(repo).is_dirty is True


# --------------------------------------------------------------------------- environment
def test_environment_names_python_platform_and_host() -> None:
    env = capture.collect_environment()
    assert env["python"] == ".".join(map(str, sys.version_info[:3]))
    assert env["platform"]
    assert env["host"]
    assert env["python_executable"] == sys.executable


def test_packages_are_the_imported_distributions() -> None:
    packages = capture.collect_packages()
    assert packages["pytest"] == importlib.metadata.version("pytest")
    # every entry is an installed distribution whose module is imported
    assert all(isinstance(v, str) and v for v in packages.values())


def test_packages_match_importlib_metadata() -> None:
    capture.reset_capture_cache()  # earlier tests may have imported packages since it was filled
    mapping = importlib.metadata.packages_distributions()
    expected = {}
    for top in {name.partition(".")[0] for name in list(sys.modules)}:
        for dist in mapping.get(top, ()):
            expected[dist.lower().replace("_", "-")] = importlib.metadata.version(dist)
    got = {k.lower().replace("_", "-"): v for k, v in capture.collect_packages().items()}
    assert expected.items() <= got.items()


def test_module_named_unlike_its_distribution() -> None:
    pytest.importorskip("sklearn")
    assert capture.collect_packages()["scikit-learn"] == importlib.metadata.version("scikit-learn")


def test_local_modules_are_not_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_local_helpers.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import my_local_helpers  # noqa: F401

    try:
        assert not any("my_local_helpers" in name for name in capture.collect_packages())
    finally:
        sys.modules.pop("my_local_helpers", None)


def test_packages_follow_new_imports() -> None:
    before = capture.collect_packages()
    import json  # stdlib: no distribution

    assert json is not None
    fake = "nbtrack_fake_module_for_test"
    sys.modules[fake] = sys  # makes sys.modules grow so the cache is recomputed
    try:
        after = capture.collect_packages()
    finally:
        del sys.modules[fake]
    assert after.keys() >= before.keys()


def test_cached_collection_is_fast() -> None:
    thread = capture.warm_capture_cache()
    thread.join(30)
    capture.collect_packages()
    capture.collect_hardware()
    start = time.perf_counter()
    for _ in range(100):
        capture.collect_environment()
        capture.collect_hardware()
        capture.collect_packages()
    per_call = (time.perf_counter() - start) / 100
    assert per_call < 0.005  # the budget is 1 ms; generous for slow CI machines


def test_warm_up_returns_the_same_thread_until_reset() -> None:
    first = capture.warm_capture_cache()
    assert capture.warm_capture_cache() is first
    first.join(30)
    assert not first.is_alive()


# --------------------------------------------------------------------------- hardware
def test_hardware_reports_cores_and_memory() -> None:
    hw = capture.collect_hardware()
    assert hw["cpu_count"] == os.cpu_count()
    assert 1 <= hw["cpu_available"] <= hw["cpu_count"]
    if sys.platform.startswith("linux"):
        assert hw["memory_total_bytes"] > 100 * 2**20
        assert hw["cpu_model"]
    assert isinstance(hw["gpus"], list)


def test_gpus_come_from_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "nvidia-smi"
    script.write_text(
        "#!/bin/sh\n"
        'echo "NVIDIA A100-SXM4-40GB, 40960 MiB"\n'
        'echo "NVIDIA A100-SXM4-40GB, 40960 MiB"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    gpus = capture.collect_hardware()["gpus"]
    assert gpus == [{"name": "NVIDIA A100-SXM4-40GB", "memory_total": "40960 MiB"}] * 2


def test_no_nvidia_smi_means_no_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    real = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "nvidia-smi" else real(name))
    assert capture.collect_hardware()["gpus"] == []


def test_failing_nvidia_smi_means_no_gpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "nvidia-smi"
    script.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert capture.collect_hardware()["gpus"] == []


# --------------------------------------------------------------------------- notebook
def test_notebook_path_from_vscode_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JPY_SESSION_NAME", "/srv/other.ipynb")
    ns = {"__vsc_ipynb_file__": "/home/me/train.ipynb"}
    assert capture.find_notebook_path(ns) == "/home/me/train.ipynb"


def test_notebook_path_from_jupyter_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JPY_SESSION_NAME", "work/train.ipynb")
    assert capture.find_notebook_path({}) == "work/train.ipynb"


def test_notebook_path_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert capture.find_notebook_path(None) is None
    assert capture.find_notebook_path({"__vsc_ipynb_file__": 3}) is None


def test_capture_module_imports_no_ui_library() -> None:
    code = (
        "import sys, nbtrack.tracking.capture\n"
        "bad = [m for m in ('IPython', 'ipywidgets', 'plotly', 'pandas') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.stdout.strip() == ""


# --------------------------------------------------------------------------- params
@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param("lr = 0.01", {"lr": 0.01}, id="float"),
        pytest.param("epochs = 10", {"epochs": 10}, id="int"),
        pytest.param("x = -3", {"x": -3}, id="negative"),
        pytest.param("x = -1e-3", {"x": -0.001}, id="negative-exponent"),
        pytest.param("name = 'resnet'", {"name": "resnet"}, id="string"),
        pytest.param(
            "flag = True\nnothing = None", {"flag": True, "nothing": None}, id="bool-none"
        ),
        pytest.param("layers = [64, 32]", {"layers": [64, 32]}, id="list"),
        pytest.param("shape = (3, 224, 224)", {"shape": (3, 224, 224)}, id="tuple"),
        pytest.param("cfg = {'a': 1, 'b': [1, 2]}", {"cfg": {"a": 1, "b": [1, 2]}}, id="dict"),
        pytest.param("a = b = 1", {"a": 1, "b": 1}, id="chained"),
        pytest.param("x: int = 3", {"x": 3}, id="annotated"),
        pytest.param("a, b = 1, 'two'", {"a": 1, "b": "two"}, id="tuple-unpacking"),
        pytest.param("[a, b] = [1, 2]", {"a": 1, "b": 2}, id="list-unpacking"),
        pytest.param("lr = 0.1\nlr = 0.2", {"lr": 0.2}, id="last-assignment-wins"),
        pytest.param("s = 'a' 'b'", {"s": "ab"}, id="implicit-concat"),
    ],
)
def test_literal_assignments_are_params(source: str, expected: dict[str, object]) -> None:
    assert capture.extract_literal_params(source) == expected


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("model = make_model()", id="call"),
        pytest.param("y = x", id="name"),
        pytest.param("y = 1 + 2", id="arithmetic"),
        pytest.param("xs = [f(1)]", id="call-in-list"),
        pytest.param("import numpy as np", id="import"),
        pytest.param("from os import path", id="import-from"),
        pytest.param("if True:\n    x = 1", id="if"),
        pytest.param("for i in range(3):\n    x = 1", id="for"),
        pytest.param("while False:\n    x = 1", id="while"),
        pytest.param("with open('f') as fh:\n    x = 1", id="with"),
        pytest.param("try:\n    x = 1\nexcept Exception:\n    pass", id="try"),
        pytest.param("def f():\n    x = 1", id="def"),
        pytest.param("class C:\n    x = 1", id="class"),
        pytest.param("x: int", id="annotation-only"),
        pytest.param("s = {1, 2}", id="set"),
        pytest.param("b = b'raw'", id="bytes"),
        pytest.param("c = 1j", id="complex"),
        pytest.param("obj.attr = 1", id="attribute"),
        pytest.param("d['k'] = 1", id="subscript"),
        pytest.param("a, *rest = 1, 2, 3", id="starred"),
        pytest.param("a, b = pair", id="unpack-name"),
        pytest.param("x = lambda: 1", id="lambda"),
        pytest.param("x = f'{y}'", id="f-string"),
    ],
)
def test_non_literal_assignments_are_not_params(source: str) -> None:
    assert capture.extract_literal_params(source) == {}


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("lr = 0.1\nlr = schedule(lr)", id="reassigned-by-call"),
        pytest.param("lr = 0.1\nlr *= 2", id="augmented"),
        pytest.param("lr = 0.1\nimport lr", id="import-rebinds"),
        pytest.param("lr = 0.1\ndef lr():\n    pass", id="def-rebinds"),
        pytest.param("lr = 0.1\nlr, b = f()", id="unpack-rebinds"),
    ],
)
def test_a_later_non_literal_binding_drops_the_param(source: str) -> None:
    assert "lr" not in capture.extract_literal_params(source)


def test_params_keep_first_assignment_order() -> None:
    assert list(capture.extract_literal_params("b = 1\na = 2\nb = 3")) == ["b", "a"]


def test_syntax_error_propagates() -> None:
    with pytest.raises(SyntaxError):
        capture.extract_literal_params("x = (")


def test_names_assigned_sees_every_binding() -> None:
    source = (
        "a = 1\n"
        "for i in range(3):\n    b = i\n"
        "with open('f') as fh:\n    c = 2\n"
        "import numpy as np\n"
        "def model():\n    inner = 1\n"
        "class Net:\n    pass\n"
        "(d := 4)\n"
    )
    names = capture.names_assigned(source)
    assert {"a", "i", "b", "fh", "c", "np", "model", "Net", "d"} <= names
