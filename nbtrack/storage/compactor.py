"""The compactor process: automatic compaction of a local store, outside the training process.

The store's compactor thread (``background``) only decides that a merge is due; the merge
runs here, in a child process started with ``python -m nbtrack.storage.compactor ROOT``:

- its memory (DuckDB's scan buffers and code, Arrow batches) never counts against the
  training process, whose peak RSS therefore does not grow with compaction;
- it holds no GIL of the training process, and runs at a lower CPU priority (``nice``);
- it inherits the environment, so every ``NBTRACK_*`` setting applies unchanged.

The child prints the counts of ``compaction.merge_due`` as JSON on stdout. If the store is
closed meanwhile (interpreter exit), the child is stopped: a merge cut short leaves only a
temporary file, which gc deletes later; visible files are never touched until the atomic
rename of the finished, verified merge.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from typing import Any

from nbtrack.errors import StoreError

#: How often the waiting thread checks whether its store is closing.
POLL_S = 0.2
#: Niceness added to the child (lower CPU priority than the training process).
NICENESS = 10


def _package_root() -> str:
    """The folder that holds the ``nbtrack`` package (so the child imports the same one)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_in_child(root: str, stopping: threading.Event) -> dict[str, Any] | None:
    """Run ``merge_due`` on the local store at ``root`` in a child process; wait for it.

    Returns the child's counts (None when nothing was due, another compactor held the lock,
    or ``stopping`` was set and the child was stopped).

    Raises:
        StoreError: the child failed; its last error line is in the message.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (_package_root(), env.get("PYTHONPATH", "")) if p
    )
    child = subprocess.Popen(
        [sys.executable, "-m", "nbtrack.storage.compactor", root],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        close_fds=True,
    )
    while True:
        try:
            out, err = child.communicate(timeout=POLL_S)
            break
        except subprocess.TimeoutExpired:
            if stopping.is_set():
                child.terminate()
                child.communicate()
                return None
    if child.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        raise StoreError(
            f"the compactor process failed (exit {child.returncode}): "
            f"{lines[-1] if lines else 'no message'}"
        )
    text = out.decode().strip()
    result = json.loads(text) if text else None
    return result if isinstance(result, dict) else None


def main(argv: list[str]) -> int:
    """Entry point of the child: ``python -m nbtrack.storage.compactor ROOT``."""
    if len(argv) != 1:
        print("usage: python -m nbtrack.storage.compactor STORE_ROOT", file=sys.stderr)
        return 2
    try:
        os.nice(NICENESS)
    except OSError:
        pass  # not allowed here: run at the same priority
    from nbtrack.storage import compaction
    from nbtrack.storage.store import ParquetStore

    store = ParquetStore(argv[0])
    stats = compaction.merge_due(store)
    print(json.dumps(stats))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
