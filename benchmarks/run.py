"""nbtrack vs MLflow (sqlite, file store) vs trackio on one identical, seeded workload.

    python benchmarks/run.py [--quick] [--systems nbtrack,mlflow-sqlite,mlflow-file,trackio]
                             [--phases import,runs,...] [--python PATH] [--setup]
                             [--json OUT.json] [--markdown OUT.md] [--big-store DIR] [--keep]

Every step of every phase runs in its own fresh interpreter (benchmarks/worker.py) against
its own fresh temporary store; preparation (``build``) steps are separate processes from the
timed (``measure``) steps. Peers (mlflow, trackio) are only needed in the interpreter given by
``--python`` (see benchmarks/README.md); ``--setup`` creates benchmarks/.venv with them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import workload as W  # noqa: E402

SYSTEMS = ["nbtrack", "mlflow-sqlite", "mlflow-file", "trackio"]
PEERS = SYSTEMS[1:]
PHASES = [
    "import",
    "runs",
    "log_metric",
    "history",
    "bytes",
    "log_metrics",
    "params_tags",
    "search",
    "search100k",
    "track",
    "exit",
]
NBTRACK_ONLY = {"search100k", "track", "exit"}
IMPORT_MODULE = {
    "nbtrack": "nbtrack",
    "mlflow-sqlite": "mlflow",
    "mlflow-file": "mlflow",
    "trackio": "trackio",
}
MARK = "@@RESULT@@ "


# ---------------------------------------------------------------- rows of the table


def rows(sizes):
    """(key, label, unit, target, higher_is_better) for every row of the table."""
    s = sizes
    return [
        (
            "import",
            f"cold import (`python -c 'import X'`, median of {s['import_reps']})",
            "ms",
            150,
            False,
        ),
        ("runs", f"start+end of {s['runs']} runs", "ms/run", 3, False),
        (
            "runs:first",
            "  … first run in a fresh process (1 param, 1 tag, 1 point)",
            "ms",
            None,
            False,
        ),
        ("log_metric", f"{s['log_metric']:,} × log_metric, end included", "µs/call", 2, False),
        (
            "log_metrics",
            f"{s['steps']:,} steps × {s['keys']} keys via log_metrics",
            "points/s",
            2_000_000,
            True,
        ),
        (
            "params_tags",
            f"{s['params']} params + {s['tags']} tags, end included",
            "ms",
            None,
            False,
        ),
        (
            "search",
            f"search over {s['search_runs']:,} runs (median of {s['search_reps']})",
            "ms",
            10,
            False,
        ),
        ("search:first", "  … first search in a fresh process", "ms", None, False),
        (
            "history",
            f"history of {s['log_metric']:,} points → DataFrame (median of 5)",
            "ms",
            10,
            False,
        ),
        ("history:first", "  … first read in a fresh process", "ms", None, False),
        ("bytes", "bytes on disk per metric point (nbtrack compacted)", "B/point", 4, False),
        (
            "search100k",
            f"search over {s['big_runs']:,} runs (median of {s['big_reps']})",
            "ms",
            300,
            False,
        ),
        ("search100k:first", "  … first search in a fresh process", "ms", None, False),
        ("track", "`%%track` overhead on an empty cell", "ms", 20, False),
    ]


# ---------------------------------------------------------------- environment


def base_env(system: str, phase_dir: str, store: str) -> dict:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "NBTRACK_", "TRACKIO_"))
    }
    env.update(
        {
            # no telemetry, no hub, no network
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "1",
            "HF_HUB_OFFLINE": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "GRADIO_ANALYTICS_ENABLED": "False",
            "HF_HOME": os.path.join(phase_dir, "hf-home"),
            "PYTHONHASHSEED": "0",
            # each system's store inside this phase's fresh directory
            "NBTRACK_STORE": os.path.join(store, "nbtrack"),
            "TRACKIO_DIR": os.path.join(store, "trackio"),
        }
    )
    if system == "mlflow-sqlite":
        env["MLFLOW_TRACKING_URI"] = "sqlite:///" + os.path.abspath(
            os.path.join(store, "mlflow.db")
        )
    elif system == "mlflow-file":
        env["MLFLOW_TRACKING_URI"] = "file:" + os.path.join(store, "mlruns")
        # MLflow 3.x refuses the file store unless this opt-out is set (see README).
        env["MLFLOW_ALLOW_FILE_STORE"] = "true"
    return env


# ---------------------------------------------------------------- running steps


class Runner:
    def __init__(self, args, sizes):
        self.args = args
        self.sizes = sizes
        self.python = args.python
        self.base = args.tmp or tempfile.mkdtemp(prefix="nbtrack-bench-")
        os.makedirs(self.base, exist_ok=True)
        self.counter = 0

    def fresh_dir(self, label: str) -> tuple[str, str]:
        self.counter += 1
        phase_dir = os.path.join(self.base, f"{self.counter:03d}-{label}")
        store = os.path.join(phase_dir, "store")
        os.makedirs(store)
        os.makedirs(os.path.join(phase_dir, "hf-home"))
        return phase_dir, store

    def step(self, system, phase, step, phase_dir, store, echo=False, **extra) -> dict:
        spec = {"system": system, "phase": phase, "step": step, "store": store, "sizes": self.sizes}
        spec.update(extra)
        env = base_env(system, phase_dir, store)
        log_path = os.path.join(phase_dir, f"{step}-{phase}.stderr.log")
        t0 = time.perf_counter()
        note(f"[{system}] {phase}: {step} …")
        with open(log_path, "w") as log:
            proc = subprocess.Popen(
                [self.python, os.path.join(HERE, "worker.py"), json.dumps(spec)],
                env=env,
                cwd=store,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )

            def pump():
                for line in proc.stderr:
                    log.write(line)
                    if echo and line.startswith("  build"):
                        sys.stderr.write(line)

            t = threading.Thread(target=pump, daemon=True)
            t.start()
            try:
                out, _ = proc.communicate(timeout=self.args.timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
                t.join(5)
                return {"error": f"timed out after {self.args.timeout}s (log: {log_path})"}
            t.join(5)
        wall = time.perf_counter() - t0
        load = os.getloadavg()[0]
        for line in out.splitlines():
            if line.startswith(MARK):
                res = json.loads(line[len(MARK) :])
                break
        else:
            res = {"error": f"worker exited {proc.returncode} without a result: {tail(log_path)}"}
        if "error" in res and "log" not in res:
            res["log"] = log_path
            res["error"] += f" | {tail(log_path, 2)}"
        res.setdefault("details", {})["load_1min_after"] = round(load, 2)
        if res.get("network_attempts"):
            res["check"] = "NETWORK: " + "; ".join(res["network_attempts"][:3])
        note(
            f"[{system}] {phase}: {step} done in {wall:.1f}s"
            + (f" ERROR {res['error']}" if "error" in res else "")
        )
        return res

    def import_time(self, system: str) -> dict:
        module = IMPORT_MODULE[system]
        phase_dir, store = self.fresh_dir(f"{system}-import")
        env = base_env(system, phase_dir, store)

        def once(code):
            t0 = time.perf_counter()
            p = subprocess.run(
                [self.python, "-c", code], env=env, cwd=store, capture_output=True, text=True
            )
            el = time.perf_counter() - t0
            if p.returncode:
                raise RuntimeError(
                    p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "failed"
                )
            return el

        try:
            once(f"import {module}")  # warm the page cache and .pyc files
            times = [once(f"import {module}") for _ in range(self.sizes["import_reps"])]
            bare = [once("pass") for _ in range(self.sizes["import_reps"])]
        except RuntimeError as exc:
            return {"error": f"import {module} failed: {exc}"}
        ms = statistics.median(times) * 1e3
        return {
            "value": ms,
            "unit": "ms",
            "details": {
                "all_ms": [t * 1e3 for t in times],
                "bare_interpreter_ms": statistics.median(bare) * 1e3,
            },
        }


def tail(path, n=3):
    try:
        with open(path) as f:
            lines = [ln.rstrip() for ln in f if ln.strip()]
        return " / ".join(lines[-n:])[-600:]
    except OSError:
        return ""


def note(msg):
    print(time.strftime("%H:%M:%S ") + msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the benchmark


def run_system(r: Runner, system: str, phases: list[str], results: dict) -> None:
    res = results.setdefault(system, {})
    if True:  # the import check doubles as "is this system installed?"
        imp = r.import_time(system)
        if "error" in imp:
            res["import"] = imp
            note(
                f"[{system}] not importable with {r.python}: {imp['error']} — skipped "
                "(install the peers with `python benchmarks/run.py --setup`, or pass --python)"
            )
            return
        if "import" in phases:
            res["import"] = imp
    if "runs" in phases:
        d, s = r.fresh_dir(f"{system}-runs")
        res["runs"] = r.step(system, "runs", "measure", d, s)
        first = res["runs"].get("details", {}).get("first_run_ms")
        if first is not None:
            res["runs:first"] = {"value": first, "unit": "ms"}
    if {"log_metric", "history", "bytes"} & set(phases):
        d, s = r.fresh_dir(f"{system}-log_metric")
        lm = r.step(system, "log_metric", "measure", d, s)
        res["log_metric"] = lm
        if "history" in phases:
            if "handoff" in lm:
                res["history"] = r.step(system, "history", "measure", d, s, handoff=lm["handoff"])
            else:
                res["history"] = {"error": "log_metric phase failed"}
        if "bytes" in phases:
            bd, bs = r.fresh_dir(f"{system}-baseline")
            base = r.step(system, "baseline", "build", bd, bs)
            if "error" in base:
                res["bytes"] = base
            elif "handoff" in lm:
                res["bytes"] = r.step(system, "bytes", "measure", d, s, baseline_store=bs)
            else:
                res["bytes"] = {"error": "log_metric phase failed"}
    if "log_metrics" in phases:
        d, s = r.fresh_dir(f"{system}-log_metrics")
        res["log_metrics"] = r.step(system, "log_metrics", "measure", d, s)
    if "params_tags" in phases:
        d, s = r.fresh_dir(f"{system}-params_tags")
        res["params_tags"] = r.step(system, "params_tags", "measure", d, s)
    if "search" in phases:
        d, s = r.fresh_dir(f"{system}-search")
        built = r.step(system, "search", "build", d, s, echo=True)
        res["search"] = built if "error" in built else r.step(system, "search", "measure", d, s)
    if system == "nbtrack" and "search100k" in phases:
        if r.args.big_store:
            s = os.path.abspath(r.args.big_store)
            d = os.path.dirname(s)
            os.makedirs(os.path.join(d, "hf-home"), exist_ok=True)
            os.makedirs(s, exist_ok=True)
        else:
            d, s = r.fresh_dir(f"{system}-search100k")
        built = r.step(system, "search100k", "build", d, s, echo=True)
        res["search100k"] = (
            built if "error" in built else r.step(system, "search100k", "measure", d, s)
        )
        res["search100k"].setdefault("details", {})["build"] = built.get("details")
    if system == "nbtrack" and "track" in phases:
        d, s = r.fresh_dir(f"{system}-track")
        res["track"] = r.step(system, "track", "measure", d, s)
    if system == "nbtrack" and "exit" in phases:
        d, s = r.fresh_dir(f"{system}-exit")
        built = r.step(system, "exit", "build", d, s)
        res["exit"] = (
            r.step(system, "exit", "measure", d, s, handoff=built["handoff"])
            if "handoff" in built
            else built
        )
        res["exit"]["note"] = "durability at a clean exit: a run logged, ended, process exits"
    # split "first call" rows out of search/history results
    for key in ("search", "history", "search100k"):
        if key in res and "first" in res[key]:
            res[key + ":first"] = {"value": res[key]["first"], "unit": "ms"}


# ---------------------------------------------------------------- the table


def fmt(v, unit):
    if v is None:
        return "–"
    if unit == "points/s":
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def cell(res, unit):
    if res is None:
        return "–"
    if "error" in res:
        return "not installed" if res["error"].startswith("import ") else "error"
    return fmt(res.get("value"), unit)


def ratio(nb, peer, higher):
    if not nb or not peer or "value" not in nb or "value" not in peer:
        return "–"
    if peer.get("no_ratio"):
        return "n/a"
    a, b = nb["value"], peer["value"]
    if a <= 0 or b <= 0:
        return "–"
    x = a / b if higher else b / a
    return f"{x:,.1f}×" if x >= 10 else f"{x:.2f}×"


def target_met(nb, target, higher):
    if target is None or not nb or "value" not in nb:
        return ""
    ok = nb["value"] >= target if higher else nb["value"] <= target
    return "yes" if ok else "**no**"


def table(results, systems, sizes) -> str:
    peers = [s for s in systems if s != "nbtrack"]
    head = (
        ["phase", "unit", "target", *systems] + [f"nbtrack vs {p}" for p in peers] + ["target met"]
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    nb = results.get("nbtrack", {})
    for key, label, unit, target, higher in rows(sizes):
        if not any(key in results.get(s, {}) for s in systems):
            continue
        tgt = "" if target is None else ("≥ " if higher else "≤ ") + fmt(target, unit)
        vals = [cell(results.get(s, {}).get(key), unit) for s in systems]
        rats = [ratio(nb.get(key), results.get(p, {}).get(key), higher) for p in peers]
        lines.append(
            "| "
            + " | ".join([label, unit, tgt, *vals, *rats, target_met(nb.get(key), target, higher)])
            + " |"
        )
    return "\n".join(lines)


def checks(results) -> str:
    out = []
    for system, res in results.items():
        for key, r in res.items():
            bits = []
            if "check" in r:
                bits.append(f"check: {r['check']}")
            if "note" in r:
                bits.append(r["note"])
            if "no_ratio" in r:
                bits.append(f"no ratio: {r['no_ratio']}")
            if "error" in r:
                bits.append(f"ERROR: {r['error']}")
            if bits:
                out.append(f"- {system} / {key}: " + "; ".join(bits))
    return "\n".join(out)


# ---------------------------------------------------------------- main


def setup_venv() -> str:
    venv = os.path.join(HERE, ".venv")
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        subprocess.check_call([sys.executable, "-m", "venv", venv])
    subprocess.check_call(
        [py, "-m", "pip", "install", "-q", "-e", REPO, "-r", os.path.join(HERE, "requirements.txt")]
    )
    return py


def versions(python) -> dict:
    code = (
        "import importlib.metadata as m, json, platform\n"
        "out = {'python': platform.python_version()}\n"
        "for d in ('nbtrack', 'mlflow', 'trackio', 'duckdb', 'pyarrow', 'pandas'):\n"
        "    try: out[d] = m.version(d)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps(out))"
    )
    try:
        return json.loads(
            subprocess.run([python, "-c", code], capture_output=True, text=True).stdout
        )
    except (ValueError, OSError):
        return {}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--quick", action="store_true", help="small sizes, for smoke-testing the harness"
    )
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--phases", default=",".join(PHASES))
    ap.add_argument(
        "--python", default=sys.executable, help="interpreter with nbtrack (and the peers)"
    )
    ap.add_argument(
        "--setup", action="store_true", help="create benchmarks/.venv with the peers and use it"
    )
    ap.add_argument("--json", help="write all results (with details) to this file")
    ap.add_argument("--markdown", help="write the table and checks to this file")
    ap.add_argument(
        "--big-store", help="build (or reuse, if already built) the 100k-run store here"
    )
    ap.add_argument(
        "--tmp", help="base directory for the temporary stores (default: a new temp dir)"
    )
    ap.add_argument("--keep", action="store_true", help="keep the temporary stores")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per step")
    ap.add_argument(
        "--from-json",
        help="comma-separated result files of earlier runs: merge them and print the table "
        "(no benchmark is run)",
    )
    ap.add_argument(
        "--reference",
        action="store_true",
        help="add columns with the peers' numbers quoted in the issue (measured on this "
        "machine when it was quiet) and nbtrack's ratio to them",
    )
    args = ap.parse_args(argv)
    if args.from_json:
        return render_saved(args)

    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    for s in systems:
        if s not in SYSTEMS:
            ap.error(f"unknown system {s!r}; choose from {', '.join(SYSTEMS)}")
    for p in phases:
        if p not in PHASES:
            ap.error(f"unknown phase {p!r}; choose from {', '.join(PHASES)}")
    if args.setup:
        args.python = setup_venv()
    elif args.python is None:
        venv_py = os.path.join(HERE, ".venv", "bin", "python")
        args.python = venv_py if os.path.exists(venv_py) else sys.executable
    sizes = dict(W.QUICK if args.quick else W.FULL)
    r = Runner(args, sizes)
    vers = versions(args.python)
    note(f"python {args.python}; versions {vers}; stores under {r.base}")
    results: dict = {}
    t0 = time.time()
    load0 = os.getloadavg()
    try:
        for system in systems:
            run_system(
                r,
                system,
                [p for p in phases if system == "nbtrack" or p not in NBTRACK_ONLY],
                results,
            )
    except BaseException:
        cleanup(args, r)
        raise
    header = (
        f"{'Quick (reduced sizes)' if args.quick else 'Full'} run of "
        f"{', '.join(systems)}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{os.cpu_count()} CPUs, 1-min load average {load0[0]:.1f} at start, "
        f"{os.getloadavg()[0]:.1f} at end; " + ", ".join(f"{k} {v}" for k, v in vers.items())
    )
    shown_results = dict(results)
    if args.reference and args.quick:
        note("--reference ignored with --quick: the reference numbers are for the full sizes")
    use_ref = args.reference and not args.quick
    shown = add_reference(shown_results, systems) if use_ref else systems
    md = (
        header
        + "\n\n"
        + table(shown_results, shown, sizes)
        + "\n\nRatios: how many times better nbtrack is (peer time ÷ nbtrack time; for points/s "
        "nbtrack ÷ peer); below 1× nbtrack is worse.\n\nChecks and notes:\n\n"
        + checks(results)
        + "\n"
    )
    if "import" in phases:
        bare = (
            results.get("nbtrack", {})
            .get("import", {})
            .get("details", {})
            .get("bare_interpreter_ms")
        )
        if bare:
            md += f"\nA bare `python -c pass` takes {bare:.0f} ms here (included in every import time).\n"
    md += f"\nTotal benchmark wall time: {time.time() - t0:.0f} s.\n"
    print(md)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(md)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"header": header, "sizes": sizes, "versions": vers, "results": results},
                f,
                indent=1,
            )
    cleanup(args, r)
    return 0


# The peers' numbers quoted in issue 2 (MLflow 3.17 sqlite / trackio 0.43, this machine).
REFERENCE = {
    "ref:mlflow-sqlite": {
        "import": 1270,
        "runs": 12,
        "log_metric": 5300,
        "log_metrics": 2500,
        "search": 305,
        "history": 800,
        "bytes": 240,
    },
    "ref:trackio": {
        "import": 610,
        "log_metric": 42,
        "log_metrics": 280_000,
        "search": 19,
        "history": 126,
        "bytes": 164,
    },
}


def add_reference(results: dict, systems: list[str]) -> list[str]:
    for name, vals in REFERENCE.items():
        results[name] = {k: {"value": v} for k, v in vals.items()}
    return [*systems, *REFERENCE]


def render_saved(args) -> int:
    results: dict = {}
    sizes = None
    headers = []
    for path in args.from_json.split(","):
        with open(path) as f:
            saved = json.load(f)
        sizes = sizes or saved["sizes"]
        for system, res in saved["results"].items():
            results.setdefault(system, {}).update(res)
        headers.append(saved.get("header", path))
    systems = [s for s in SYSTEMS if s in results]
    if args.reference and sizes != W.FULL:
        note("--reference ignored: the saved results are not from the full sizes")
    elif args.reference:
        systems = add_reference(results, systems)
    md = (
        "Merged from:\n\n"
        + "\n".join(f"- {h}" for h in headers)
        + "\n\n"
        + table(results, systems, sizes)
        + "\n\n"
        + RATIO_NOTE
        + "\n\nChecks and notes:\n\n"
        + checks({k: v for k, v in results.items() if not k.startswith("ref:")})
        + "\n"
    )
    print(md)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(md)
    return 0


RATIO_NOTE = (
    "Ratios: how many times better nbtrack is (peer time ÷ nbtrack time; for points/s "
    "nbtrack ÷ peer); below 1× nbtrack is worse."
)


def cleanup(args, r) -> None:
    if not args.keep and not args.tmp:
        note(f"removing {r.base} …")
        shutil.rmtree(r.base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
