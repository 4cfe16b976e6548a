"""Claiming registry numbers (versions, alias sequence numbers) that are never given twice.

A claim file ``registry/<folder>/<prefix><N>.json`` is created with exclusive-create
semantics (a hard link locally, a conditional PUT on object storage); the process whose
create succeeds owns ``N``, a loser tries ``N + 1``.
"""

from __future__ import annotations

import json
import os
import socket
import time
from typing import TYPE_CHECKING, Any

from nbtrack.errors import StoreError

if TYPE_CHECKING:
    from nbtrack.storage.protocol import Store

#: How many numbers a writer tries before giving up (only reached if claims keep failing).
_MAX_CLAIM_TRIES = 10_000


def now_ms() -> int:
    """Milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


def claim_next(st: Store, folder: str, prefix: str, payload: dict[str, Any]) -> int:
    """Claim the next free number in ``registry/<folder>`` (see the registry package docstring)."""
    taken = [int(n[len(prefix):].split(".")[0]) for n in st.claims(folder)
             if n.startswith(prefix) and n[len(prefix):].split(".")[0].isdigit()]
    n = max(taken, default=0) + 1
    body = json.dumps({**payload, "writer": st.writer_id, "host": socket.gethostname(),
                       "pid": os.getpid(), "time_ms": now_ms()}).encode()
    for _ in range(_MAX_CLAIM_TRIES):
        if st.claim(f"{folder}/{prefix}{n:09d}.json", body):
            return n
        n += 1
    raise StoreError(f"could not claim a number in registry/{folder} after many tries")
