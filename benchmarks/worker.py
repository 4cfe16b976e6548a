"""Runs one step of one phase for one system, in a fresh interpreter started by run.py.

Usage (internal): ``python benchmarks/worker.py '<json spec>'``. The spec names the system,
the phase, the step (``build`` = untimed preparation, ``measure`` = the timed part), the
store directory, the workload sizes and values handed over from earlier steps. The result is
printed as one JSON line prefixed by ``@@RESULT@@`` on the original stdout; everything the
libraries print goes to stderr.

Network guard: any attempt to connect to, or resolve, a non-loopback address is refused
and recorded; the result then carries ``network_attempts`` and run.py marks it.
"""

from __future__ import annotations

import importlib
import json
import os
import socket
import sys
import traceback

MARK = "@@RESULT@@ "
HERE = os.path.dirname(os.path.abspath(__file__))

NETWORK_ATTEMPTS: list[str] = []
_LOCAL_NAMES = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "", None}


def _is_local(address) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    if isinstance(address, tuple) and address:
        host = address[0]
        return host in _LOCAL_NAMES or str(host).startswith("127.")
    return True


def _install_network_guard() -> None:
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def connect(self, address):
        if not _is_local(address):
            NETWORK_ATTEMPTS.append(f"connect {address!r}")
            raise OSError(f"benchmark network guard: connect to {address!r} refused")
        return real_connect(self, address)

    def connect_ex(self, address):
        if not _is_local(address):
            NETWORK_ATTEMPTS.append(f"connect_ex {address!r}")
            return 111  # ECONNREFUSED
        return real_connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if name not in _LOCAL_NAMES and not str(name).startswith("127."):
            NETWORK_ATTEMPTS.append(f"resolve {name!r}")
            raise socket.gaierror(socket.EAI_NONAME, f"benchmark network guard: {name!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    socket.getaddrinfo = getaddrinfo


def main() -> int:
    spec = json.loads(sys.argv[1])
    # Keep the real stdout for the result line; send everything else to stderr.
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    _install_network_guard()
    sys.path.insert(0, HERE)
    os.makedirs(spec["store"], exist_ok=True)
    os.chdir(spec["store"])
    module = importlib.import_module(_MODULES[spec["system"]])
    try:
        fn = getattr(module, f"{spec['step']}_{spec['phase']}")
        result = fn(spec)
    except Exception as exc:
        traceback.print_exc()
        result = {"error": f"{type(exc).__name__}: {exc}".splitlines()[0][:300]}
    warm = getattr(module, "WARMUP", None)
    if warm and "error" not in result:
        result.setdefault("details", {}).update(warm)
    if NETWORK_ATTEMPTS:
        result["network_attempts"] = NETWORK_ATTEMPTS[:20]
    out.write(MARK + json.dumps(result) + "\n")
    out.flush()
    sys.stderr.flush()
    # Skip interpreter teardown noise from background threads only after the libraries'
    # own atexit hooks ran (they may flush): a normal exit does both.
    return 0


_MODULES = {
    "nbtrack": "sys_nbtrack",
    "mlflow-sqlite": "sys_mlflow",
    "mlflow-file": "sys_mlflow",
    "trackio": "sys_trackio",
}

if __name__ == "__main__":
    sys.exit(main())
