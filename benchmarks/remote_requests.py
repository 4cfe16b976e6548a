"""S3 requests per read of a remote store, by kind, with a latency model (issue 15), by hand.

    python benchmarks/remote_requests.py [--runs 1000 10000] [--latency-ms 20]

Wall time on a shared, loaded machine says little about the network, so this counts what
the network sees instead: every request reaching the S3 server (``moto_server``, behind the
proxy of ``benchmarks/remote.py``) is logged with its method and path, and classified as
LIST (ListObjectsV2), GET, HEAD, PUT or DELETE. Phases, each in a fresh interpreter with an
empty segment cache unless said otherwise:

- ``search cold``: the first ``nt.search_runs`` with a filter (import not counted);
- ``search warm``: the same search again in that process (median of 5, per search);
- ``search, cache filled``: a fresh process whose segment cache a previous one filled;
- ``runs list``: ``nbtrack runs list`` (the CLI), import included.

The latency model: a phase costs at least ``round trips × latency``, where round trips are
the request waves that cannot overlap; ``requests × latency`` is the worst case (no
concurrency). Both are printed for ``--latency-ms`` per request. The load average is printed
with the counts (counts do not depend on it; no times are reported).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from remote import BUILD, ROOT, LatencyProxy, free_port


class CountingProxy(LatencyProxy):
    """The latency proxy, logging each request's first line and when it was sent."""

    def __init__(self, target_port: int, delay: float) -> None:
        self.log: list[tuple[float, str]] = []
        super().__init__(target_port, delay)

    async def _pipe(self, reader, writer, delay: float) -> None:  # type: ignore[no-untyped-def]
        try:
            while data := await reader.read(65536):
                if delay and data[:4] in (b"GET ", b"PUT ", b"HEAD", b"POST", b"DELE"):
                    self.requests += 1
                    self.log.append((time.monotonic(), data.split(b"\r\n", 1)[0].decode()))
                if delay:
                    import asyncio

                    await asyncio.sleep(delay)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()


def kind(line: str) -> str:
    method, target = line.split(" ")[:2]
    path, _, query = target.partition("?")
    if method == "GET" and ("list-type=2" in query or (path.count("/") <= 1 and bool(query))):
        return "LIST"
    if method == "DELETE":
        return "DELETE"
    return {"GET": "GET", "HEAD": "HEAD", "PUT": "PUT", "POST": "POST"}.get(method, method)


def waves(entries: list[tuple[float, str]], latency: float) -> int:
    """Request waves: a request sent within one latency of the previous one overlaps it."""
    n, last = 0, -1e9
    for t, _ in entries:
        if t - last > latency * 0.9:
            n += 1
        last = t
    return n


CHILD = """
import json, sys, time
import nbtrack as nt
store = nt.set_store(sys.argv[1])
q = "metrics.loss < 0.2 AND params.depth != '3'"

def mark(name):
    print(json.dumps({"phase": name}), flush=True)
    sys.stdin.readline()

mark("start")
df = nt.search_runs(experiment="*", filter=q)
mark("search cold")
for _ in range(5):
    nt.search_runs(experiment="*", filter=q)
mark("search warm x5")
print(json.dumps({"phase": "end", "rows": len(df)}), flush=True)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, nargs="+", default=[1000, 10_000])
    ap.add_argument("--latency-ms", type=float, default=20.0)
    args = ap.parse_args()
    latency = args.latency_ms / 1000
    rows: list[tuple[int, str, collections.Counter[str], int]] = []
    for n_runs in args.runs:
        rows += measure(n_runs, latency)
    load = os.getloadavg()
    print(f"\nS3 requests per phase ({args.latency_ms:g} ms per request in the model); "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (counts do not depend on it)")
    print("| runs | phase | requests | LIST | GET | HEAD | PUT | DELETE | round trips "
          "| model: round trips × latency | model: requests × latency |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n_runs, phase, counts, trips in rows:
        total = sum(counts.values())
        print(f"| {n_runs:,} | {phase} | {total} | {counts['LIST']} | {counts['GET']} | "
              f"{counts['HEAD']} | {counts['PUT']} | {counts['DELETE']} | {trips} | "
              f"{trips * args.latency_ms:.0f} ms | {total * args.latency_ms:.0f} ms |")


def measure(n_runs: int, latency: float) -> list[tuple[int, str, collections.Counter[str], int]]:
    work = tempfile.mkdtemp(prefix="nbtrack-remote-requests-")
    moto_port = free_port()
    exe = shutil.which("moto_server") or os.path.join(os.path.dirname(sys.executable),
                                                      "moto_server")
    moto = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(moto_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out: list[tuple[int, str, collections.Counter[str], int]] = []
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
        proxy = CountingProxy(moto_port, latency)
        env = {
            **os.environ, "PYTHONPATH": ROOT, "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
        }
        local = os.path.join(work, "store")
        print(f"building {n_runs} runs on local disk ...", file=sys.stderr)
        subprocess.run([sys.executable, "-c", BUILD, local, str(n_runs)], env=env, check=True)
        import s3fs

        fs = s3fs.S3FileSystem(key="testing", secret="testing",
                               endpoint_url=f"http://127.0.0.1:{moto_port}")
        fs.mkdir("bench")
        for d, _, names in os.walk(local):
            for f in names:
                if not f.startswith(".") and not d.endswith("_locks"):
                    path = os.path.join(d, f)
                    fs.put_file(path, "bench/store/" + os.path.relpath(path, local))
        uri = "s3://bench/store"
        slow = {**env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{proxy.port}"}

        def searches(cache: str, label: str) -> None:
            child = subprocess.Popen(
                [sys.executable, "-c", textwrap.dedent(CHILD), uri],
                env={**slow, "NBTRACK_CACHE_DIR": cache}, stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, text=True,
            )
            assert child.stdin is not None
            assert child.stdout is not None
            mark = len(proxy.log)
            while True:
                msg = json.loads(child.stdout.readline())
                got = proxy.log[mark:]
                mark = len(proxy.log)
                if msg["phase"] == "search cold":
                    out.append((n_runs, f"search cold{label}", _count(got), waves(got, latency)))
                elif msg["phase"] == "search warm x5":
                    per = collections.Counter({k: round(v / 5) for k, v in _count(got).items()})
                    out.append((n_runs, f"search warm (per search){label}", per,
                                round(waves(got, latency) / 5)))
                if msg["phase"] == "end":
                    break
                child.stdin.write("\n")
                child.stdin.flush()
            child.wait(timeout=600)

        cache = os.path.join(work, "cache")
        searches(cache, "")
        searches(cache, ", cache filled")
        mark = len(proxy.log)
        done = subprocess.run(
            [sys.executable, "-m", "nbtrack", "--store", uri, "runs", "list"],
            env={**slow, "NBTRACK_CACHE_DIR": os.path.join(work, "cache-cli")},
            capture_output=True, text=True,
        )
        if done.returncode:
            raise SystemExit(done.stderr[-2000:])
        got = proxy.log[mark:]
        out.append((n_runs, "`nbtrack runs list` (cold)", _count(got), waves(got, latency)))
        if os.environ.get("NBTRACK_BENCH_SHOW_REQUESTS"):
            for _, line in got:
                print("   ", line[:160], file=sys.stderr)
    finally:
        moto.terminate()
        moto.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    return out


def _count(entries: list[tuple[float, str]]) -> collections.Counter[str]:
    return collections.Counter(kind(line) for _, line in entries)


if __name__ == "__main__":
    main()
