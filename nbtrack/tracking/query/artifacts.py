"""A run's artifacts: listing their paths and reading their bytes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nbtrack.errors import ArtifactError
from nbtrack.tracking.query.reads import current_store, fetch_run_row, run_sql

if TYPE_CHECKING:
    from nbtrack.storage.protocol import Store

__all__ = ["list_artifacts", "read_artifact"]


def list_artifacts(run_id: str, *, store: Store | None = None) -> list[str]:
    """Paths of every artifact a run logged (``log_artifact``, ``log_text``, ``%%track``...).

    Args:
        run_id: The run's id or a unique prefix of it (at least 6 characters).
        store: The store to read; the current one when None.

    Returns:
        The artifact paths, sorted, e.g. ``["cell.py", "config.json", "plots/loss.html"]``.

    Raises:
        RunNotFoundError: no run has this id, or it is deleted.
        AmbiguousRunIdError: the prefix matches several runs.

    Example:
        >>> nt.list_artifacts(run.run_id)  # doctest: +SKIP
        ['config.json', 'notes.md']
    """
    st = current_store(store)
    run_id = fetch_run_row(run_id, st)["run_id"]
    t = run_sql("SELECT path FROM artifacts WHERE run_id = ? ORDER BY path", [run_id], st)
    return t.column(0).to_pylist()


def read_artifact(run_id: str, path: str, *, store: Store | None = None) -> bytes:
    """The bytes of one artifact of a run.

    Args:
        run_id: The run's id or a unique prefix of it (at least 6 characters).
        path: The artifact's path as ``list_artifacts`` gives it.
        store: The store to read; the current one when None.

    Returns:
        The artifact's content (decode text with ``.decode()``, JSON with ``json.loads``).

    Raises:
        RunNotFoundError: no run has this id, or it is deleted.
        AmbiguousRunIdError: the prefix matches several runs.
        ArtifactError: the run has no artifact at ``path``.

    Example:
        >>> json.loads(nt.read_artifact(run.run_id, "config.json"))  # doctest: +SKIP
        {'classes': 10}
    """
    st = current_store(store)
    run_id = fetch_run_row(run_id, st)["run_id"]
    t = run_sql("SELECT sha256 FROM artifacts WHERE run_id = ? AND path = ?", [run_id, path], st)
    if t.num_rows == 0:
        raise ArtifactError(
            f"run {run_id} has no artifact {path!r}; see nbtrack.list_artifacts({run_id!r})"
        )
    return st.read_blob(t.column(0)[0].as_py())
