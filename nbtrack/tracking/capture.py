"""Context capture: what a run records about where and how it ran.

Collects git state (commit, branch, dirty flag, diff, remote URL without credentials),
the Python environment (interpreter, platform, host, versions of the packages that are
imported), the hardware (CPU, cores, memory, GPUs) and the notebook path, plus the
literal parameters of a cell's source. ``nbtrack.ipython`` hands in the cell source and the
user namespace; nothing here imports IPython, ipywidgets or plotly, and only the standard
library is imported at module level.

Costs and caching (measured on a 2-core VM, Python 3.11):

- environment and hardware are collected once per process and cached. Package versions
  come from an index of the ``*.dist-info`` folders on ``sys.path`` (names and versions
  from the folder names, ``top_level.txt``, and ``RECORD`` only for modules whose
  distribution has another name), built in a few ms instead of the 0.25-1 s of
  ``importlib.metadata.packages_distributions()``; :func:`warm_capture_cache` builds it in
  a background thread when the extension loads. Later calls cost well under 1 ms: the
  package list is recomputed only when ``sys.modules`` changed size.
- git is asked through one ``git status`` subprocess (about 3-7 ms) plus, when the tree is
  dirty, one ``git diff`` (capped at :data:`MAX_DIFF_BYTES`). Results are cached per
  directory for :data:`GIT_TTL_S` seconds so a "run all" of many tracked cells pays once;
  the remote URL is cached for :data:`GIT_REMOTE_TTL_S`.
"""

from __future__ import annotations

import ast
import dataclasses
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

__all__ = [
    "GIT_REMOTE_TTL_S",
    "GIT_TTL_S",
    "MAX_DIFF_BYTES",
    "GitInfo",
    "collect_environment",
    "collect_git_info",
    "collect_hardware",
    "collect_packages",
    "extract_literal_params",
    "find_notebook_path",
    "names_assigned",
    "peek_git_info",
    "reset_capture_cache",
    "strip_url_credentials",
    "warm_capture_cache",
]

#: A dirty tree's diff is cut to this many bytes (UTF-8) before it is stored.
MAX_DIFF_BYTES = 1_000_000
#: Seconds a directory's git commit/branch/dirty state is reused before git is asked again.
GIT_TTL_S = 2.0
#: Seconds a directory's remote URL is reused (remotes rarely change).
GIT_REMOTE_TTL_S = 60.0
#: Timeout of each git subprocess, in seconds; a slower git yields no git info.
GIT_TIMEOUT_S = 3.0
#: Timeout of the ``nvidia-smi`` query, in seconds.
GPU_TIMEOUT_S = 5.0

_DIFF_TRUNCATED_NOTE = "\n# nbtrack: diff truncated at {limit} bytes (full size {size} bytes)\n"


@dataclasses.dataclass(frozen=True)
class GitInfo:
    """Git state of the repository that holds a directory.

    Attributes:
        commit: Full SHA of ``HEAD``, or ``None`` before the first commit.
        branch: Current branch, or ``None`` on a detached ``HEAD``.
        is_dirty: Whether tracked files differ from ``HEAD`` (untracked files do not count).
        remote: URL of the branch's upstream remote (else ``origin``, else the first remote)
            with any credentials removed, or ``None`` when the repository has no remote.
        diff: ``git diff HEAD`` when dirty, cut to :data:`MAX_DIFF_BYTES`; ``None`` when clean.
    """

    commit: str | None
    branch: str | None
    is_dirty: bool
    remote: str | None
    diff: str | None

    def as_tags(self) -> dict[str, str]:
        """The ``nbtrack.git.*`` tags of this state (keys whose value is unknown are left out)."""
        tags = {"nbtrack.git.dirty": "true" if self.is_dirty else "false"}
        if self.commit:
            tags["nbtrack.git.commit"] = self.commit
        if self.branch:
            tags["nbtrack.git.branch"] = self.branch
        if self.remote:
            tags["nbtrack.git.remote"] = self.remote
        return tags


# --------------------------------------------------------------------------- caches
# One lock guards every cache below; the collections themselves run outside it, except the
# environment warm-up, which is idempotent and joined through _warm_thread.
_lock = threading.Lock()
_git_cache: dict[str, tuple[float, GitInfo | None]] = {}
_remote_cache: dict[str, tuple[float, str | None]] = {}
_environment: dict[str, str] | None = None
_hardware: dict[str, Any] | None = None
_index: _PackageIndex | None = None
_index_lock = threading.Lock()  # the index is filled lazily; one filler at a time
_packages: tuple[int, dict[str, str]] | None = None
_warm_thread: threading.Thread | None = None


def reset_capture_cache() -> None:
    """Forget every cached capture (for tests, or after the environment changed)."""
    global _environment, _hardware, _index, _packages, _warm_thread
    with _lock:
        _git_cache.clear()
        _remote_cache.clear()
        _environment = None
        _hardware = None
        _index = None
        _packages = None
        _warm_thread = None


def warm_capture_cache(directory: str | None = None) -> threading.Thread:
    """Start collecting environment, hardware, package map and git info in the background.

    Calling it again while a warm-up runs (or after one finished) returns the same thread.

    Args:
        directory: Directory whose git state to prefetch; the current directory by default.

    Returns:
        The daemon thread doing the work (join it to wait).
    """
    global _warm_thread
    with _lock:
        if _warm_thread is not None:
            return _warm_thread
        thread = threading.Thread(
            target=_warm, args=(directory,), name="nbtrack-capture-warmup", daemon=True
        )
        _warm_thread = thread
    thread.start()
    return thread


def _warm(directory: str | None) -> None:
    # A failure here only means the first tracked cell collects synchronously; never raise
    # from a daemon thread (it would print to the user's notebook).
    try:
        collect_environment()
        collect_hardware()
        collect_packages()
        collect_git_info(directory or os.getcwd())
    except Exception:  # noqa: BLE001 - best-effort prefetch, see comment above
        pass


# --------------------------------------------------------------------------- git
_CREDENTIALS_RE = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/?#@]*@)")


def strip_url_credentials(url: str) -> str:
    """Remove user name, password or token from a URL.

    ``https://user:token@host/x`` and ``ssh://user:pass@host/x`` become ``https://host/x``
    and ``ssh://host/x``. The scp-like ``git@host:org/repo.git`` form carries no secret (the
    user is always ``git`` and authentication is by key) and is returned unchanged.

    Args:
        url: A remote URL as git stores it.

    Returns:
        The URL without its ``userinfo@`` part.
    """
    url = url.strip()
    match = _CREDENTIALS_RE.match(url)
    if match is None:
        return url
    rest = url[match.end("scheme") :]
    authority, sep, path = rest.partition("/")
    # rpartition: an unencoded password may itself contain '@'; drop through the last one
    host = authority.rpartition("@")[2]
    return f"{match.group('scheme')}{host}{sep}{path}"


def _git(directory: str, *args: str) -> subprocess.CompletedProcess[bytes] | None:
    git = shutil.which("git")
    if git is None:
        return None
    env = dict(os.environ)
    # Never prompt (credential helpers, pagers) and never take locks a user's git may need.
    env.update(GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0", GIT_PAGER="cat", LC_ALL="C")
    try:
        return subprocess.run(
            [git, "-C", directory, *args],
            capture_output=True,
            timeout=GIT_TIMEOUT_S,
            env=env,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None


def _parse_status(output: str) -> tuple[str | None, str | None, str | None, bool]:
    commit = branch = upstream = None
    is_dirty = False
    for line in output.splitlines():
        if line.startswith("# branch.oid "):
            oid = line[len("# branch.oid ") :].strip()
            commit = None if oid == "(initial)" else oid
        elif line.startswith("# branch.head "):
            head = line[len("# branch.head ") :].strip()
            branch = None if head == "(detached)" else head
        elif line.startswith("# branch.upstream "):
            upstream = line[len("# branch.upstream ") :].strip()
        elif line and not line.startswith("#"):
            is_dirty = True
    return commit, branch, upstream, is_dirty


def _collect_remote(directory: str, upstream: str | None) -> str | None:
    now = time.monotonic()
    with _lock:
        cached = _remote_cache.get(directory)
    if cached is not None and now - cached[0] < GIT_REMOTE_TTL_S:
        return cached[1]
    result = _git(directory, "config", "--get-regexp", r"^remote\..*\.url$")
    urls: dict[str, str] = {}
    if result is not None and result.returncode == 0:
        for line in result.stdout.decode("utf-8", "replace").splitlines():
            key, _, url = line.partition(" ")
            urls[key[len("remote.") : -len(".url")]] = url
    name = None
    if upstream:
        # "origin/main" -> "origin"; remote names containing '/' are matched by prefix
        name = next((r for r in urls if upstream.startswith(r + "/")), None)
    if name is None and "origin" in urls:
        name = "origin"
    if name is None and urls:
        name = next(iter(urls))
    remote = strip_url_credentials(urls[name]) if name is not None else None
    with _lock:
        _remote_cache[directory] = (now, remote)
    return remote


def _collect_diff(directory: str, max_bytes: int) -> str | None:
    result = _git(directory, "diff", "HEAD", "--no-color", "--no-ext-diff")
    if result is None or result.returncode != 0:
        # e.g. no commit yet: diff the index instead of HEAD
        result = _git(directory, "diff", "--no-color", "--no-ext-diff")
        if result is None or result.returncode != 0:
            return None
    raw = result.stdout
    if len(raw) <= max_bytes:
        return raw.decode("utf-8", "replace")
    note = _DIFF_TRUNCATED_NOTE.format(limit=max_bytes, size=len(raw))
    head = raw[: max(0, max_bytes - len(note))].decode("utf-8", "ignore")
    return head + note


def collect_git_info(
    directory: str | os.PathLike[str] | None = None,
    *,
    max_diff_bytes: int = MAX_DIFF_BYTES,
    use_cache: bool = True,
) -> GitInfo | None:
    """Git state of the repository holding ``directory``.

    Args:
        directory: Any directory inside the working tree; the current directory by default.
        max_diff_bytes: Cap of the stored diff.
        use_cache: Reuse a result younger than :data:`GIT_TTL_S` for the same directory.

    Returns:
        The state, or ``None`` when the directory is not in a git working tree, git is not
        installed, or git failed or timed out.
    """
    key = os.path.abspath(os.fspath(directory) if directory is not None else os.getcwd())
    now = time.monotonic()
    if use_cache:
        with _lock:
            cached = _git_cache.get(key)
        if cached is not None and now - cached[0] < GIT_TTL_S:
            return cached[1]
    info = _collect_git_info_uncached(key, max_diff_bytes)
    with _lock:
        _git_cache[key] = (now, info)
    return info


def peek_git_info(directory: str | os.PathLike[str] | None = None) -> tuple[bool, GitInfo | None]:
    """The cached git state of ``directory`` if it is younger than :data:`GIT_TTL_S`.

    Returns:
        ``(True, info)`` on a fresh cache entry (``info`` may be ``None``: not a repo),
        ``(False, None)`` when git has to be asked.
    """
    key = os.path.abspath(os.fspath(directory) if directory is not None else os.getcwd())
    with _lock:
        cached = _git_cache.get(key)
    if cached is not None and time.monotonic() - cached[0] < GIT_TTL_S:
        return True, cached[1]
    return False, None


def _collect_git_info_uncached(directory: str, max_diff_bytes: int) -> GitInfo | None:
    if not os.path.isdir(directory):
        return None
    status = _git(
        directory, "status", "--porcelain=v2", "--branch", "--untracked-files=no", "--no-renames"
    )
    if status is None or status.returncode != 0:
        return None
    commit, branch, upstream, is_dirty = _parse_status(status.stdout.decode("utf-8", "replace"))
    remote = _collect_remote(directory, upstream)
    diff = _collect_diff(directory, max_diff_bytes) if is_dirty else None
    return GitInfo(commit=commit, branch=branch, is_dirty=is_dirty, remote=remote, diff=diff)


# --------------------------------------------------------------------------- environment
def collect_environment() -> dict[str, str]:
    """Interpreter and machine identity, cached for the process.

    Returns:
        ``python`` (version), ``python_implementation``, ``python_executable``, ``platform``
        and ``host``.
    """
    global _environment
    env = _environment
    if env is None:
        env = {
            "python": platform.python_version(),
            "python_implementation": platform.python_implementation(),
            "python_executable": sys.executable,
            "platform": platform.platform(),
            "host": socket.gethostname(),
        }
        _environment = env
    return dict(env)


@dataclasses.dataclass
class _Dist:
    path: str  # the .dist-info / .egg-info folder
    version: str
    name: str | None = None  # canonical name from METADATA, read when first reported

    def display_name(self) -> str:
        if self.name is None:
            self.name = _metadata_name(self.path) or os.path.basename(self.path).partition("-")[0]
        return self.name


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _metadata_name(folder: str) -> str | None:
    for filename in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(folder, filename), encoding="utf-8", errors="replace") as fh:
                for _ in range(40):
                    line = fh.readline()
                    if not line or line == "\n":
                        break
                    if line.startswith("Name:"):
                        return line[5:].strip()
        except OSError:
            continue
    return None


class _PackageIndex:
    """Installed distributions and which top-level module each provides.

    Built from folder names (``name-version.dist-info``), ``top_level.txt`` files and, only
    for a module still unresolved, a substring search of ``RECORD`` files. This costs a
    few ms where ``importlib.metadata.packages_distributions()`` parses every RECORD
    (0.25-1 s with 200 distributions).
    """

    def __init__(self) -> None:
        self.by_name: dict[str, _Dist] = {}
        self.roots: list[str] = []
        self._namespaces: Mapping[str, list[str]] | None = None
        for entry in dict.fromkeys(sys.path):
            folder = entry or os.getcwd()
            try:
                names = os.listdir(folder)
            except OSError:
                continue
            found = False
            for filename in names:
                if filename.endswith(".dist-info"):
                    stem = filename[: -len(".dist-info")]
                elif filename.endswith(".egg-info"):
                    stem = filename[: -len(".egg-info")]
                else:
                    continue
                name, _, version = stem.partition("-")
                version = version.split("-py")[0]
                found = True
                # the first folder on sys.path wins, as for imports
                self.by_name.setdefault(
                    _normalize(name), _Dist(os.path.join(folder, filename), version)
                )
            if found:
                self.roots.append(os.path.realpath(folder) + os.sep)
        self._top_level: dict[str, list[_Dist]] | None = None
        self._no_top_level: list[_Dist] = []
        self._records: dict[str, str] = {}
        self._resolved: dict[str, _Dist | None] = {}

    def _load_top_level(self) -> dict[str, list[_Dist]]:
        if self._top_level is None:
            top_level: dict[str, list[_Dist]] = {}
            for dist in self.by_name.values():
                text = _read_text(os.path.join(dist.path, "top_level.txt"))
                if text is None:
                    self._no_top_level.append(dist)
                    continue
                for line in text.split():
                    top_level.setdefault(line.strip().partition("/")[0], []).append(dist)
            self._top_level = top_level
        return self._top_level

    def _search_records(self, top: str) -> _Dist | None:
        needles = (f"\n{top}/", f"\n{top}.py,", f"\n{top}.")
        for dist in self._no_top_level:
            record = self._records.get(dist.path)
            if record is None:
                record = "\n" + (_read_text(os.path.join(dist.path, "RECORD")) or "")
                self._records[dist.path] = record
            if any(needle in record for needle in needles):
                return dist
        return None

    def _is_installed_module(self, module: Any) -> bool:
        file = getattr(module, "__file__", None)
        if not file:
            paths = list(getattr(module, "__path__", None) or [])
            file = paths[0] if paths else None
        if not isinstance(file, str):
            return False
        real = os.path.realpath(file)
        return any(real.startswith(root) for root in self.roots)

    def resolve(self, top: str) -> _Dist | None:
        """The distribution that provides the top-level module ``top``."""
        if top in self._resolved:
            return self._resolved[top]
        dist = self.by_name.get(_normalize(top))
        if dist is None:
            candidates = self._load_top_level().get(top)
            if candidates:
                dist = candidates[0]
        if dist is None and self._is_installed_module(sys.modules.get(top)):
            dist = self._search_records(top)
        self._resolved[top] = dist
        return dist

    def resolve_all(self, top: str) -> list[_Dist]:
        """Every distribution that provides ``top`` (several share namespaces such as
        ``google`` or ``mlflow``/``mlflow-skinny``), the main one first."""
        first = self.resolve(top)
        out = [first] if first is not None else []
        more = list(self._load_top_level().get(top, ()))
        if getattr(sys.modules.get(top), "__file__", None) is None:
            # A namespace package (no __init__): its parts come from several distributions
            # that only the full RECORD-based map names (built once, on first need).
            if self._namespaces is None:
                import importlib.metadata

                self._namespaces = importlib.metadata.packages_distributions()
            for name in self._namespaces.get(top, ()):
                dist = self.by_name.get(_normalize(name))
                if dist is not None:
                    more.append(dist)
        for dist in more:
            if all(dist is not d for d in out):
                out.append(dist)
        return out


def _package_index() -> _PackageIndex:
    global _index
    index = _index
    if index is None:
        index = _index = _PackageIndex()
    return index


_SKIP_MODULES = frozenset(sys.stdlib_module_names) | frozenset(sys.builtin_module_names)


def collect_packages() -> dict[str, str]:
    """Versions of the installed distributions whose top-level modules are imported.

    Only modules present in ``sys.modules`` count, so the result names what the notebook
    actually uses, not everything installed. The result is recomputed only when
    ``sys.modules`` changed size; the distribution index is built once per process (a few
    ms; :func:`warm_capture_cache` builds it in the background).

    Returns:
        Distribution name to version, sorted by name.
    """
    global _packages
    n_modules = len(sys.modules)
    cached = _packages
    if cached is not None and cached[0] == n_modules:
        return dict(cached[1])
    with _index_lock:
        index = _package_index()
        found: dict[str, str] = {}
        for top in {name.partition(".")[0] for name in list(sys.modules)}:
            if top in _SKIP_MODULES or top == "__main__":
                continue
            for dist in index.resolve_all(top):
                found[dist.display_name()] = dist.version
    result = dict(sorted(found.items(), key=lambda item: item[0].lower()))
    _packages = (n_modules, result)
    return dict(result)


# --------------------------------------------------------------------------- hardware
def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def _cpu_model() -> str | None:
    text = _read_text("/proc/cpuinfo")
    if text:
        for line in text.splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware", "cpu model") and value.strip():
                return value.strip()
    return platform.processor() or None


def _memory_total_bytes() -> int | None:
    text = _read_text("/proc/meminfo")
    if text:
        for line in text.splitlines():
            if line.startswith("MemTotal:"):
                parts = line.split()
                try:
                    return int(parts[1]) * 1024  # the kernel reports kB (KiB)
                except (IndexError, ValueError):
                    return None
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return None


def _gpus() -> list[dict[str, str]]:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        result = subprocess.run(
            [smi, "--query-gpu=name,memory.total", "--format=csv,noheader"],
            capture_output=True,
            timeout=GPU_TIMEOUT_S,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    if result.returncode != 0:
        return []
    gpus = []
    for line in result.stdout.decode("utf-8", "replace").splitlines():
        if not line.strip():
            continue
        name, _, memory = line.rpartition(",")
        if not name:
            name, memory = memory, ""
        gpus.append({"name": name.strip(), "memory_total": memory.strip()})
    return gpus


def collect_hardware() -> dict[str, Any]:
    """CPU model, logical and usable cores, total memory and GPUs, cached for the process.

    Returns:
        ``cpu_model``, ``cpu_count`` (logical cores), ``cpu_available`` (cores this process
        may run on), ``memory_total_bytes``, ``gpus`` (list of ``{"name", "memory_total"}``
        from ``nvidia-smi``; empty when it is not installed) and ``machine``.
    """
    global _hardware
    hardware = _hardware
    if hardware is None:
        try:
            available: int | None = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            available = os.cpu_count()
        hardware = {
            "cpu_model": _cpu_model(),
            "cpu_count": os.cpu_count(),
            "cpu_available": available,
            "memory_total_bytes": _memory_total_bytes(),
            "gpus": _gpus(),
            "machine": platform.machine(),
        }
        _hardware = hardware
    return {**hardware, "gpus": [dict(gpu) for gpu in hardware["gpus"]]}


# --------------------------------------------------------------------------- notebook
def find_notebook_path(user_ns: Mapping[str, Any] | None = None) -> str | None:
    """Path of the notebook the kernel runs, when the kernel can know it.

    Looks at VS Code's ``__vsc_ipynb_file__`` in the user namespace, then at
    ``JPY_SESSION_NAME``, which Jupyter Server (2.x) sets in the kernel's environment.

    Args:
        user_ns: The kernel's user namespace, if any.

    Returns:
        The path, or ``None`` when it is unknown (a plain IPython or Python process).
    """
    if user_ns is not None:
        vscode = user_ns.get("__vsc_ipynb_file__")
        if isinstance(vscode, str) and vscode:
            return vscode
    session = os.environ.get("JPY_SESSION_NAME")
    if session:
        return session
    return None


# --------------------------------------------------------------------------- params
def _literal(node: ast.expr) -> tuple[bool, Any]:
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


def _is_plain_value(value: Any) -> bool:
    # literal_eval also accepts sets, bytes and complex numbers; a param is a plain value
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list | tuple):
        return all(_is_plain_value(item) for item in value)
    if isinstance(value, dict):
        return all(
            _is_plain_value(k) and not isinstance(k, list | dict) and _is_plain_value(v)
            for k, v in value.items()
        )
    return False


def _bind(target: ast.expr, value: ast.expr, found: dict[str, Any]) -> None:
    if isinstance(target, ast.Name):
        ok, literal = _literal(value)
        if ok and _is_plain_value(literal):
            found[target.id] = literal
        else:
            # a later non-literal assignment hides an earlier literal one
            found.pop(target.id, None)
    elif isinstance(target, ast.Tuple | ast.List):
        elts = target.elts
        if (
            isinstance(value, ast.Tuple | ast.List)
            and len(value.elts) == len(elts)
            and not any(isinstance(e, ast.Starred) for e in elts)
        ):
            for sub_target, sub_value in zip(elts, value.elts, strict=True):
                _bind(sub_target, sub_value, found)
            return
        for name in _names_bound(target):
            found.pop(name, None)


def _names_bound(target: ast.AST) -> list[str]:
    return [
        node.id
        for node in ast.walk(target)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    ]


def extract_literal_params(source: str | ast.Module) -> dict[str, Any]:
    """Names and values of a cell's top-level assignments of plain literal values.

    Captured: ``x = 3``, ``a = b = 1``, ``x: int = 3``, ``a, b = 1, 2``, negative numbers,
    strings, booleans, ``None`` and lists/tuples/dicts of those. Not captured: calls,
    names, expressions that need evaluation, imports, and any assignment inside
    ``if``/``for``/``while``/``with``/``try``/``def``/``class``. When a name is assigned
    more than once at top level the last assignment wins; a later non-literal assignment
    (``lr = 0.1`` then ``lr = schedule(lr)``) removes the name.

    Args:
        source: Python source of the cell body (already transformed from IPython syntax),
            or its parsed module.

    Returns:
        Name to value, in order of first assignment.

    Raises:
        SyntaxError: When ``source`` is a string that does not parse.
    """
    tree = ast.parse(source) if isinstance(source, str) else source
    found: dict[str, Any] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                _bind(target, stmt.value, found)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None and isinstance(stmt.target, ast.Name):
                _bind(stmt.target, stmt.value, found)
        elif isinstance(stmt, ast.AugAssign | ast.Import | ast.ImportFrom):
            # `lr *= 2` or `import x as lr` rebinds the name to something non-literal
            targets = stmt.names if not isinstance(stmt, ast.AugAssign) else []
            for alias in targets:
                found.pop((alias.asname or alias.name).partition(".")[0], None)
            if isinstance(stmt, ast.AugAssign):
                for name in _names_bound(stmt.target):
                    found.pop(name, None)
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found.pop(stmt.name, None)
    return found


def names_assigned(source: str | ast.Module) -> set[str]:
    """Every name a cell may bind, at any depth (assignments, loops, imports, defs, ``with``).

    Used to accept ``-p VAR`` for a variable the cell itself creates.

    Args:
        source: Python source or its parsed module.

    Returns:
        The set of names.
    """
    tree = ast.parse(source) if isinstance(source, str) else source
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                names.add((alias.asname or alias.name).partition(".")[0])
    return names
