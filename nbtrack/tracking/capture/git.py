"""Git capture: commit, branch, dirty flag, diff and remote URL (without credentials).

git is asked through one ``git status`` subprocess (about 3-7 ms) plus, when the tree is
dirty, one ``git diff`` (capped at :data:`MAX_DIFF_BYTES`). Results are cached per
directory for :data:`GIT_TTL_S` seconds so a "run all" of many tracked cells pays once;
the remote URL is cached for :data:`GIT_REMOTE_TTL_S`.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import threading
import time

__all__ = [
    "GIT_REMOTE_TTL_S",
    "GIT_TIMEOUT_S",
    "GIT_TTL_S",
    "MAX_DIFF_BYTES",
    "GitInfo",
    "clear_git_cache",
    "collect_git_info",
    "peek_git_info",
    "strip_url_credentials",
]

#: A dirty tree's diff is cut to this many bytes (UTF-8) before it is stored.
MAX_DIFF_BYTES = 1_000_000
#: Seconds a directory's git commit/branch/dirty state is reused before git is asked again.
GIT_TTL_S = 2.0
#: Seconds a directory's remote URL is reused (remotes rarely change).
GIT_REMOTE_TTL_S = 60.0
#: Timeout of each git subprocess, in seconds; a slower git yields no git info.
GIT_TIMEOUT_S = 3.0

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


# One lock guards both caches; the git subprocesses run outside it.
_lock = threading.Lock()
_git_cache: dict[str, tuple[float, GitInfo | None]] = {}
_remote_cache: dict[str, tuple[float, str | None]] = {}


def clear_git_cache() -> None:
    """Forget every cached git state and remote URL."""
    with _lock:
        _git_cache.clear()
        _remote_cache.clear()


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
