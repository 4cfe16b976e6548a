"""Reading a store on object storage over a slow network (issue 15), run by hand.

    python benchmarks/remote.py [--runs 10000] [--latency-ms 20] [--quick]

A local S3-compatible server (``moto_server``) sits behind a TCP proxy that delays every
chunk the client sends by ``--latency-ms`` (one request ≈ one delay; responses are not
delayed, so this is a lower bound of a real round trip). The store is built on local disk
(untimed: ``--runs`` runs with 2 params, 2 tags and 10 metric points each, compacted, gc'ed)
and uploaded. Every phase runs in a fresh interpreter; the segment cache
(``NBTRACK_CACHE_DIR``) is a fresh folder for "cold" and the folder a previous phase filled
for "warm cache".

| phase | target |
|---|---|
| search over all runs with a filter, cold (fresh process, empty cache; after import) | ≤ 1 s |
| the same search again in that process (warm) | ≤ 100 ms |
| search in a fresh process with the cache filled (warm cache) | (reported) |
| `nbtrack runs list` wall time, fresh process, empty cache (import included) | ≤ 2 s |
| baseline: the same searches on the local copy of the store | (reported) |

Also reported: S3 requests made by the cold search (counted at the proxy), the files and
bytes of the store, and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LatencyProxy:
    """TCP proxy on 127.0.0.1 that delays each chunk from the client by ``delay`` seconds."""

    def __init__(self, target_port: int, delay: float) -> None:
        self.target_port = target_port
        self.delay = delay
        self.port = free_port()
        self.requests = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()
        self._ready.wait(30)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self.port)
        )
        self._ready.set()
        self._loop.run_until_complete(server.serve_forever())

    async def _pipe(self, reader, writer, delay: float) -> None:  # type: ignore[no-untyped-def]
        try:
            while data := await reader.read(65536):
                if delay:
                    if data[:4] in (b"GET ", b"PUT ", b"HEAD", b"POST", b"DELE"):
                        self.requests += 1
                    await asyncio.sleep(delay)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader, writer) -> None:  # type: ignore[no-untyped-def]
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        await asyncio.gather(
            self._pipe(reader, up_writer, self.delay), self._pipe(up_reader, writer, 0.0)
        )


BUILD = """
import sys, time
import nbtrack as nt
from nbtrack.storage import compaction
store = nt.set_store(sys.argv[1])
n = int(sys.argv[2])
for i in range(n):
    with nt.start_run(name=f"trial-{i}", params={"lr": 10 ** -(i % 5), "depth": i % 7},
                      tags={"team": "ab"[i % 2], "sweep": "s1"}) as run:
        for step in range(10):
            run.log_metric("loss", 1.0 / (step + 1 + i % 13), step=step)
    if i % 500 == 499:
        print(f"  built {i + 1}/{n}", file=sys.stderr, flush=True)
compaction.compact(store)
compaction.gc(store, only_expired=False)
"""

SEARCH = """
import json, sys, time
t0 = time.perf_counter()
import nbtrack as nt
t_import = time.perf_counter() - t0
store = nt.set_store(sys.argv[1])
t0 = time.perf_counter()
df = nt.search_runs(experiment="*", filter="metrics.loss < 0.2 AND params.depth != '3'")
cold = time.perf_counter() - t0
warm = []
for _ in range(5):
    t0 = time.perf_counter()
    nt.search_runs(experiment="*", filter="metrics.loss < 0.2 AND params.depth != '3'")
    warm.append(time.perf_counter() - t0)
cache = getattr(store.fs, "cache", None)
print(json.dumps({"rows": len(df), "import_s": t_import, "first_s": cold,
                  "warm_s": sorted(warm)[len(warm) // 2],
                  "cache_hits": cache.hits if cache else None,
                  "cache_misses": cache.misses if cache else None}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--latency-ms", type=float, default=20.0)
    ap.add_argument("--quick", action="store_true", help="1,000 runs")
    ap.add_argument("--stores", help="keep the built local store here and reuse it on reruns")
    args = ap.parse_args()
    n_runs = 1000 if args.quick else args.runs

    work = tempfile.mkdtemp(prefix="nbtrack-remote-bench-")
    moto_port = free_port()
    moto = subprocess.Popen(
        [shutil.which("moto_server") or os.path.join(os.path.dirname(sys.executable),
                                                     "moto_server"),
         "-H", "127.0.0.1", "-p", str(moto_port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", moto_port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("moto_server did not start") from None
                time.sleep(0.1)
        proxy = LatencyProxy(moto_port, args.latency_ms / 1000)
        env = {
            **os.environ,
            "PYTHONPATH": ROOT,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
        }
        local = os.path.join(args.stores or work, f"remote-runs{n_runs}", "store")
        marker = os.path.join(os.path.dirname(local), "built")
        t0 = time.perf_counter()
        if not os.path.exists(marker):
            print(f"building {n_runs} runs on local disk ...", file=sys.stderr)
            shutil.rmtree(local, ignore_errors=True)
            subprocess.run([sys.executable, "-c", BUILD, local, str(n_runs)], env=env, check=True)
            open(marker, "w").close()
        build_s = time.perf_counter() - t0

        import s3fs

        fs = s3fs.S3FileSystem(key="testing", secret="testing",
                               endpoint_url=f"http://127.0.0.1:{moto_port}")
        fs.mkdir("bench")
        files = [os.path.join(d, f) for d, _, fs_ in os.walk(local) for f in fs_
                 if not f.startswith(".") and not d.endswith("_locks")]
        for path in files:
            fs.put_file(path, "bench/store/" + os.path.relpath(path, local))
        n_bytes = sum(os.path.getsize(p) for p in files)
        uri = "s3://bench/store"
        slow = {**env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{proxy.port}"}

        def phase(code: str, cache: str, *args: str, where: str = uri) -> dict:
            before = proxy.requests
            out = subprocess.run(
                [sys.executable, "-c", textwrap.dedent(code), where, *args],
                env={**slow, "NBTRACK_CACHE_DIR": cache}, capture_output=True, text=True,
            )
            if out.returncode:
                raise SystemExit(out.stderr[-3000:])
            got = json.loads(out.stdout.strip().splitlines()[-1])
            got["requests"] = proxy.requests - before
            return dict(got)

        cache = os.path.join(work, "cache")
        local_run = phase(SEARCH, os.path.join(work, "cache-local"), where=local)
        cold = phase(SEARCH, cache)
        warm_cache = phase(SEARCH, cache)
        cli_cache = os.path.join(work, "cache-cli")
        before = proxy.requests
        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "nbtrack", "--store", uri, "runs", "list"],
            env={**slow, "NBTRACK_CACHE_DIR": cli_cache}, capture_output=True, text=True,
        )
        cli_s = time.perf_counter() - t0
        if done.returncode:
            raise SystemExit(done.stderr[-2000:])
        cli_requests = proxy.requests - before
    finally:
        moto.terminate()
        moto.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)

    load = os.getloadavg()
    print(f"\nremote store: {n_runs} runs, {len(files)} files, {n_bytes / 1e6:.1f} MB "
          f"(built in {build_s:.0f} s); added latency {args.latency_ms:g} ms per request; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print("| phase | measured | target | requests |")
    print("|---|---|---|---|")
    print(f"| search, cold (fresh process, empty cache; import {cold['import_s']:.2f} s "
          f"not counted) | {cold['first_s'] * 1e3:.0f} ms | ≤ 1000 ms | {cold['requests']} |")
    print(f"| search again in that process | {cold['warm_s'] * 1e3:.0f} ms | ≤ 100 ms | |")
    print(f"| search, fresh process, cache filled | {warm_cache['first_s'] * 1e3:.0f} ms | "
          f"| {warm_cache['requests']} |")
    print(f"| baseline: the same store on local disk, fresh process / again | "
          f"{local_run['first_s'] * 1e3:.0f} ms / {local_run['warm_s'] * 1e3:.0f} ms | | 0 |")
    print(f"| `nbtrack runs list`, fresh process, empty cache (wall) | {cli_s * 1e3:.0f} ms "
          f"| ≤ 2000 ms | {cli_requests} |")
    print(f"rows matched: {cold['rows']}; cache misses cold {cold['cache_misses']}, "
          f"hits with the cache filled {warm_cache['cache_hits']}")


if __name__ == "__main__":
    main()
