"""Helpers of the reliability suite: child processes, their output, store fingerprints."""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from conftest import python_env

HERE = Path(__file__).resolve().parent
CHILD = HERE / "_child.py"
FULL = os.environ.get("NBTRACK_FULL_RELIABILITY") == "1"


def child_env(store_path: Path | str, **extra: str) -> dict[str, str]:
    """Environment of a child process: this store, fast flushes, no ambient settings."""
    env = python_env(store_path)
    for name in list(env):
        if name.startswith("NBTRACK_") and name != "NBTRACK_STORE":
            del env[name]
    env["NBTRACK_FLUSH_INTERVAL"] = "0.2"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


_LIVE: list[Child] = []


def _kill_leftovers() -> None:
    """At exit, SIGKILL any child a failed test left running."""
    for child in _LIVE:
        if child.proc.poll() is None:
            child.proc.kill()


atexit.register(_kill_leftovers)


class Child:
    """A child process of ``_child.py`` whose stdout lines arrive on a queue."""

    def __init__(self, store_path: Path | str, role: str, *args: Any, **env: str) -> None:
        self.role = role
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self.err_path = Path(store_path).parent / f"stderr-{role}-{os.getpid()}-{id(self)}.txt"
        self._err = open(self.err_path, "wb")  # noqa: SIM115 - closed in wait()/kill()
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD), role, *map(str, args)],
            env=child_env(store_path, **env),
            stdout=subprocess.PIPE,
            stderr=self._err,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        _LIVE.append(self)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def stderr(self) -> str:
        self._err.flush()
        return self.err_path.read_text(errors="replace")[-3000:]

    def expect(self, prefix: str, timeout: float = 120.0) -> str:
        """The next line starting with ``prefix`` (earlier lines are kept in ``seen``)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"{self.role}: no {prefix!r} line within {timeout} s; "
                    f"seen {self.seen[-5:]}; stderr:\n{self.stderr()}"
                )
            try:
                line = self.lines.get(timeout=min(left, 1.0))
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(
                    f"{self.role} exited ({self.proc.wait()}) before printing {prefix!r}; "
                    f"seen {self.seen[-5:]}; stderr:\n{self.stderr()}"
                )
            self.seen.append(line)
            if line.startswith(prefix):
                return line

    def drain(self) -> list[str]:
        """Lines printed so far and not yet consumed."""
        out = []
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                return out
            if line is None:
                self.lines.put(None)
                return out
            self.seen.append(line)
            out.append(line)

    def kill(self) -> None:
        """SIGKILL, then reap (the pid stops existing, as after a real crash)."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=60)
        self._reader.join(timeout=30)
        self.drain()
        self._err.close()

    def wait(self, timeout: float = 600.0) -> int:
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.role} did not finish in {timeout} s") from None
        self._reader.join(timeout=30)
        self._err.close()
        return rc


_FINGERPRINT_SQL = """
SELECT 'runs' AS t, run_id, to_json(struct_pack(run_id, experiment, name, status, start_time,
    end_time, parent_run_id, description))::VARCHAR AS j FROM runs
UNION ALL SELECT 'params', run_id, to_json(struct_pack(key, value))::VARCHAR FROM params
UNION ALL SELECT 'tags', run_id, to_json(struct_pack(key, value))::VARCHAR FROM tags
UNION ALL SELECT 'metrics', run_id,
    to_json(struct_pack(key, step, timestamp, v := CAST(value AS VARCHAR)))::VARCHAR FROM metrics
UNION ALL SELECT 'latest', run_id,
    to_json(struct_pack(key, step, v := CAST(value AS VARCHAR)))::VARCHAR FROM latest_metrics
UNION ALL SELECT 'artifacts', run_id, to_json(struct_pack(path, size, sha256))::VARCHAR
    FROM artifacts
"""


def fingerprint(run_ids: list[str]) -> str:
    """Hash of everything a user can read about ``run_ids``.

    Covers the search_runs rows (the wide frame), every row of the SQL views (runs, params,
    tags, metrics, latest metrics, artifacts) and the bytes of every artifact.
    """
    import nbtrack as nt

    df = nt.search_runs(experiment="*", filter="")
    df = df[df["run_id"].isin(run_ids)].sort_values("run_id")
    df = df.drop(columns=["duration_s"]).dropna(axis=1, how="all")
    from nbtrack.tracking import settings

    # The read model's own connection (it has latest_metrics; nt.sql has the five views).
    rows = settings.get_store().query(_FINGERPRINT_SQL).to_pandas()
    rows = rows[rows["run_id"].isin(run_ids)]
    parts: list[Any] = [
        df.to_json(orient="records", date_format="iso"),
        sorted(zip(rows["t"], rows["run_id"], rows["j"], strict=True)),
    ]
    for t, rid, j in parts[1]:
        if t == "artifacts":
            path = json.loads(j)["path"]
            parts.append([rid, path, hashlib.sha256(nt.read_artifact(rid, path)).hexdigest()])
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def files_under(root: Path) -> set[str]:
    """Every file (and symlink) under ``root``, as relative paths."""
    out = set()
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            out.add(os.path.relpath(os.path.join(dirpath, f), root))
    return out


def temp_files(root: Path) -> list[Path]:
    """Leftover temporary files (``.<name>.<rand>.tmp``) anywhere in the store."""
    return [
        Path(dirpath) / f
        for dirpath, _dirs, files in os.walk(root)
        for f in files
        if f.startswith(".") and f.endswith(".tmp")
    ]


def age(paths: list[Path], seconds: float = 3600.0) -> None:
    """Pretend ``paths`` were last written ``seconds`` ago (gc and doctor look at mtimes)."""
    old = time.time() - seconds
    for p in paths:
        os.utime(p, (old, old))


def run_cli(
    store_path: Path | str, *args: str, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """``python -m nbtrack --store STORE ARGS`` in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "nbtrack", "--store", str(store_path), *args],
        env=child_env(store_path, NBTRACK_GC_GRACE="1"),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
