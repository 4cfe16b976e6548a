"""A writer on a simulated host: ``python _host_writer.py MODE ARGS`` (see test_many_hosts).

``NBTRACK_HOST_ID`` names the host; ``SKEW_S`` shifts this process's wall clock (as a
host whose clock is off would be), before nbtrack is imported.
"""

import os
import sys
import time

_skew = float(os.environ.get("SKEW_S", "0"))
_time_ns, _time = time.time_ns, time.time
time.time_ns = lambda: _time_ns() + int(_skew * 1e9)
time.time = lambda: _time() + _skew

import nbtrack as nt  # noqa: E402

mode = sys.argv[1]
host = os.environ["NBTRACK_HOST_ID"]
nt.set_experiment("hosts")
if mode == "sweep":
    runs, points = int(sys.argv[2]), int(sys.argv[3])
    for r in range(runs):
        with nt.start_run(name=f"{host}-{r}", params={"host": host, "r": r}):
            for step in range(points):
                nt.log_metric("loss", 1.0 / (step + 1), step=step)
            nt.set_tag("host", host)
    print("done", flush=True)
elif mode == "start":  # start a run, log 5 steps, tag it, end it
    with nt.start_run(name="handover") as run:
        for step in range(5):
            nt.log_metric("loss", float(step), step=step)
        nt.set_tag("stage", host)
    print(run.id, flush=True)
elif mode == "resume":  # resume the run, log 5 more steps, tag it, end it
    with nt.start_run(run_id=sys.argv[2]):
        for step in range(5, 10):
            nt.log_metric("loss", float(step))
        nt.set_tag("stage", host)
    print("done", flush=True)
elif mode == "status":  # a reader: the run's status as this host sees it
    print(nt.get_run(sys.argv[2]).status, flush=True)
elif mode == "hang":  # start a run, make sure it is flushed, then wait to be killed
    run = nt.start_run(name="victim")
    nt.log_metric("loss", 1.0)
    nt.get_run(run.id)  # a read flushes first
    print(run.id, flush=True)
    time.sleep(600)
