"""Child processes of the reliability suite: ``python _child.py ROLE [ARGS]``.

Every role talks to the parent through stdout, one line per event (``ready``, ``run <id>``,
``flushed <run_id> <n>`` ...), flushed immediately, so the parent can act (or SIGKILL) at a
known moment. The store comes from ``$NBTRACK_STORE``.

Roles:
    writer PROC THREADS POINTS PACE     load writer: one run per thread, POINTS points each
    compactor STOPFILE                  compacts in a loop until STOPFILE exists
    searcher STOPFILE OUTFILE           reads in a loop, checks snapshots, writes a report
    flusher                             logs forever, reporting every completed flush
    flusher_compactor                   the same plus compaction in the main thread
    pause WHAT                          stops forever between a temp write and its rename;
                                        WHAT is segment, compaction, blob or format
    artifact SIZE NAME                  logs SIZE bytes of fixed content as artifact NAME
    end_then_leave HOW                  ends a run on a slow disk, then leaves at once by
                                        HOW: os_exit (as a forked multiprocessing child
                                        does), sigterm (as Pool.__exit__ does to workers)
                                        or sigkill (kill -9)
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any

PARENT = os.getppid()


def orphaned() -> bool:
    """True once the test process that started us is gone (never loop forever then)."""
    return os.getppid() != PARENT


def say(*parts: Any) -> None:
    sys.stdout.write(" ".join(str(p) for p in parts) + "\n")
    sys.stdout.flush()


def writer(proc: int, threads: int, points: int, pace: float) -> None:
    import nbtrack as nt

    nt.set_store(os.environ["NBTRACK_STORE"])
    errors: list[BaseException] = []

    def one(t: int) -> None:
        try:
            name = f"p{proc}-t{t}"
            with nt.start_run(
                name=name,
                experiment=f"load-{proc % 2}",
                params={"proc": proc, "thread": t, "points": points},
                tags={"role": "load"},
            ) as run:
                say("run", run.id, name)
                chunk = max(1, points // 50)
                t0 = time.monotonic()
                for step in range(points):
                    nt.log_metric("x", float(step), step=step)
                    if step % chunk == chunk - 1:
                        nt.set_tag("progress", str(step + 1))
                        if pace:
                            # Spread the points over PACE seconds so that compaction and
                            # searches interleave with the writes.
                            ahead = t0 + pace * (step + 1) / points - time.monotonic()
                            if ahead > 0:
                                time.sleep(ahead)
                nt.log_metrics({"final/a": 1.0, "final/b": 2.0})
                nt.set_tag("progress", "done")
        except BaseException as exc:
            errors.append(exc)
            raise

    ts = [threading.Thread(target=one, args=(t,)) for t in range(threads)]
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    if errors:
        raise SystemExit(f"writer {proc} failed: {errors[0]!r}")
    say("done", proc)


def compactor(stopfile: str) -> None:
    from nbtrack.storage import compaction
    from nbtrack.tracking import settings

    store = settings.get_store(os.environ["NBTRACK_STORE"])
    rounds = merged = 0
    say("ready")
    while not os.path.exists(stopfile) and not orphaned():
        stats = compaction.compact(store, min_files=2, blocking=True)
        rounds += 1
        merged += stats["merged_files"]
        time.sleep(0.1)
    say("compacted", json.dumps({"rounds": rounds, "merged_files": merged}))


def _file_counts(root: str) -> tuple[int, int]:
    total = metrics = 0
    for dirpath, _dirs, files in os.walk(root):
        total += len(files)
        if f"{os.sep}metrics{os.sep}" in dirpath + os.sep:
            metrics += len(files)
    return total, metrics


def searcher(stopfile: str, outfile: str) -> None:
    import nbtrack as nt

    root = os.environ["NBTRACK_STORE"]
    store = nt.set_store(root)
    last: dict[str, int] = {}
    last_runs = 0
    violations: list[str] = []
    reads = searches = 0
    max_files = max_metric_files = max_visible = 0
    say("ready")
    final = False
    while True:
        if os.path.exists(stopfile) or orphaned():
            final = True  # one last read after every writer has exited
        df = nt.sql(
            "SELECT run_id, count(*) AS n, count(DISTINCT step) AS d FROM metrics "
            "WHERE key = 'x' GROUP BY run_id"
        )
        reads += 1
        for run_id, n, d in zip(df["run_id"], df["n"], df["d"], strict=True):
            if n != d:
                violations.append(f"read {reads}: run {run_id} has {n} points but {d} steps")
            if n < last.get(run_id, 0):
                violations.append(
                    f"read {reads}: run {run_id} went from {last[run_id]} to {n} points"
                )
            last[run_id] = int(n)
        missing = set(last) - set(df["run_id"])
        if missing:
            violations.append(f"read {reads}: runs vanished: {sorted(missing)}")
        runs = nt.search_runs(experiment="*")
        searches += 1
        if len(runs) < last_runs:
            violations.append(f"search {searches}: {last_runs} runs then {len(runs)}")
        last_runs = max(last_runs, len(runs))
        total, metric_files = _file_counts(root)
        max_files = max(max_files, total)
        max_metric_files = max(max_metric_files, metric_files)
        snap = store.snapshot()
        for parts in snap.partitions.values():
            for part in parts:
                max_visible = max(max_visible, len(part.visible))
        if final:
            break
        time.sleep(0.05)
    report = {
        "reads": reads,
        "searches": searches,
        "violations": violations[:50],
        "n_violations": len(violations),
        "last_counts": last,
        "max_files": max_files,
        "max_metric_files": max_metric_files,
        "max_visible_per_partition": max_visible,
    }
    with open(outfile, "w") as fh:
        json.dump(report, fh)
    say("searched", reads)


def flusher(compact_too: bool) -> None:
    """Log forever; after each explicit flush report how many steps are durable."""
    import nbtrack as nt
    from nbtrack.storage import compaction

    store = nt.set_store(os.environ["NBTRACK_STORE"])
    run = nt.start_run(name="victim", params={"kind": "flusher"})
    say("run", run.id)

    def log_loop() -> None:
        step = 0
        while not orphaned():
            for _ in range(50):
                run.log_metric("x", float(step), step=step)
                step += 1
            if step % 500 == 0:
                store.flush()
                say("flushed", run.id, step)  # steps [0, step) are on disk
            time.sleep(0.001)

    if not compact_too:
        log_loop()
        return
    threading.Thread(target=log_loop, daemon=True).start()
    while not orphaned():
        compaction.compact(store, min_files=2)
        say("compacted")


def pause(what: str) -> None:
    """Make os.replace stop forever before renaming the first matching temp file."""
    import nbtrack as nt
    from nbtrack.storage import compaction

    real_replace = os.replace

    def matches(dst: str) -> bool:
        base = os.path.basename(dst)
        if what == "segment":
            return f"{os.sep}metrics{os.sep}" in dst and base.startswith("s-")
        if what == "compaction":
            return base.startswith("c-")
        if what == "blob":
            return f"{os.sep}blobs{os.sep}" in dst
        return base == "format.json"

    def slow_replace(src: Any, dst: Any, *a: Any, **kw: Any) -> None:
        if matches(str(dst)):
            say("paused", src, dst)
            while not orphaned():
                time.sleep(1)
            os._exit(1)
        real_replace(src, dst, *a, **kw)

    os.replace = slow_replace  # type: ignore[assignment]
    root = os.environ["NBTRACK_STORE"]
    store = nt.set_store(root)
    if what == "format":
        return
    run = nt.start_run(name=f"pause-{what}")
    say("run", run.id)
    if what == "segment":
        for step in range(1000):
            run.log_metric("x", float(step), step=step)
        store.flush()
    elif what == "compaction":
        compaction.compact(store, min_files=2)
    elif what == "blob":
        run.log_text("the content of an artifact\n" * 100, "notes.txt")
    say("not paused")  # the parent fails the test if it sees this


def artifact(size: int, name: str) -> None:
    import nbtrack as nt

    nt.set_store(os.environ["NBTRACK_STORE"])
    content = (b"0123456789abcdef" * (size // 16 + 1))[:size]
    say("ready")
    with nt.start_run(name=f"artifact-{os.getpid()}") as run:
        say("run", run.id)
        run.log_text(content.decode(), name)
    nt.search_runs()  # flush the index record
    say("done")


def pool_work(i: int) -> str:
    """A multiprocessing task: one short run, ended before the task returns."""
    import nbtrack as nt

    with nt.start_run(name=f"task-{i}") as run:
        for step in range(100):
            run.log_metric("x", float(step), step=step)
    return run.id


def end_then_leave(how: str) -> None:
    import signal

    import nbtrack as nt

    real_replace = os.replace

    def slow_replace(src: Any, dst: Any, *a: Any, **kw: Any) -> None:
        time.sleep(2.0)  # a slow disk: each rename takes 2 s
        real_replace(src, dst, *a, **kw)

    nt.set_store(os.environ["NBTRACK_STORE"])
    os.replace = slow_replace  # type: ignore[assignment]
    with nt.start_run(name="short") as run:
        for step in range(100):
            run.log_metric("x", float(step), step=step)
    say("ended", run.id)  # the run has ended: what it logged must now be durable
    if how == "os_exit":
        os._exit(0)
    os.kill(os.getpid(), signal.SIGKILL if how == "sigkill" else signal.SIGTERM)
    time.sleep(60)


def fork_noop() -> None:
    """A forked child that does nothing (it must still exit cleanly)."""


def main() -> None:
    role, args = sys.argv[1], sys.argv[2:]
    if role == "writer":
        writer(int(args[0]), int(args[1]), int(args[2]), float(args[3]))
    elif role == "compactor":
        compactor(args[0])
    elif role == "searcher":
        searcher(args[0], args[1])
    elif role == "flusher":
        flusher(compact_too=False)
    elif role == "flusher_compactor":
        flusher(compact_too=True)
    elif role == "end_then_leave":
        end_then_leave(args[0])
    elif role == "artifact":
        artifact(int(args[0]), args[1])
    elif role == "pause":
        pause(args[0])
    else:
        raise SystemExit(f"unknown role {role!r}")


if __name__ == "__main__":
    main()
