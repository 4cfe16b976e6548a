"""%%track in real Jupyter kernels: a notebook run end to end with nbclient, and an interrupt.

Every kernel gets ``NBTRACK_STORE`` pointing at this test's store folder and runs in a
temporary directory, so nothing touches the repository.
"""

from __future__ import annotations

import os
import queue
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import nbformat
import pytest

import nbtrack as nt
from nbtrack.tracking.colors import color_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

REPO = Path(__file__).resolve().parents[2]

TRAIN_CELL = """%%track -n train -t stage=ci -p final_loss
import time
import nbtrack as nt
lr = 0.05
epochs = 40
for epoch in range(epochs):
    nt.log_metrics({"loss": 1.0 / (epoch + 1), "acc": epoch / epochs}, step=epoch)
    time.sleep(0.15)
final_loss = 1.0 / epochs
print("trained", epochs, "epochs")
"""


def kernel_env(store: Path, notebook: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["NBTRACK_STORE"] = str(store)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("JPY_SESSION_NAME", None)
    if notebook is not None:
        env["JPY_SESSION_NAME"] = str(notebook)  # what Jupyter Server sets
    return env


def runs_by_name(store: Path) -> dict[str, nt.Run]:
    nt.set_store(str(store))
    df = nt.search_runs(experiment="*")
    return {row.name: nt.get_run(row.run_id) for row in df.itertuples()}


def _client_class() -> type:
    from nbclient import NotebookClient

    class RecordingClient(NotebookClient):
        """Keeps every iopub message with the index of the cell it belongs to."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.messages: dict[int, list[tuple[float, dict[str, Any]]]] = defaultdict(list)

        def process_message(self, msg: dict[str, Any], cell: Any, cell_index: int) -> Any:
            self.messages[cell_index].append((time.monotonic(), msg))
            return super().process_message(msg, cell, cell_index)

    return RecordingClient


def test_notebook_with_tracked_cells(store_path: Path, tmp_path: Path) -> None:
    notebook_path = tmp_path / "train.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext nbtrack"),
        nbformat.v4.new_code_cell("x0 = 0  # keeps the cell numbers of the tests below"),
        nbformat.v4.new_code_cell(TRAIN_CELL),
        nbformat.v4.new_code_cell("%%track -n broken\nsize = 3\nraise ValueError('bad batch')\n"),
        nbformat.v4.new_code_cell("%%track -n quiet\nx = 1\nprint('no metrics here')\n"),
        nbformat.v4.new_code_cell("%track_runs"),
    ]
    nbformat.write(nb, notebook_path)
    client = _client_class()(
        nb,
        timeout=180,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute(env=kernel_env(store_path, notebook_path))

    runs = runs_by_name(store_path)
    assert set(runs) == {"train", "broken", "quiet"}

    train = runs["train"]
    assert train.status == "FINISHED"
    assert train.params == {"lr": "0.05", "epochs": "40", "final_loss": "0.025"}
    assert train.metrics == {"loss": pytest.approx(1 / 40), "acc": pytest.approx(39 / 40)}
    assert len(nt.get_metric_history(train.run_id, "loss")) == 40
    tags = train.tags
    assert tags["stage"] == "ci"
    assert tags["nbtrack.notebook"] == str(notebook_path)
    assert tags["nbtrack.kernel_id"]
    assert tags["nbtrack.cell.execution_count"] == "3"
    assert "nbtrack.git.commit" not in tags  # the kernel ran outside any repository
    artifacts = set(nt.list_artifacts(train.run_id))
    assert {"cell.py", "stdout.txt", "environment.json"} <= artifacts
    assert nt.read_artifact(train.run_id, "stdout.txt") == b"trained 40 epochs\n"
    assert b"ipykernel" in nt.read_artifact(train.run_id, "environment.json")

    broken = runs["broken"]
    assert broken.status == "FAILED"
    assert broken.params == {"size": "3"}
    assert b"ValueError: bad batch" in nt.read_artifact(broken.run_id, "traceback.txt")
    assert runs["quiet"].status == "FINISHED"
    assert all(run.tags["nbtrack.kernel_id"] == tags["nbtrack.kernel_id"] for run in runs.values())

    cells = client.nb.cells
    # the failing cell shows the normal error to the user
    errors = [o for o in cells[3].outputs if o.output_type == "error"]
    assert [(e.ename, e.evalue) for e in errors] == [("ValueError", "bad batch")]

    # the live view: plotly JSON outputs re-sent in place while the cell ran, throttled,
    # with no widget (no comm) at all
    train_messages = client.messages[2]
    assert not any(m["msg_type"].startswith("comm_") for _, m in train_messages)
    displays = [
        (t, m["content"])
        for t, m in train_messages
        if m["msg_type"] in ("display_data", "update_display_data")
    ]
    # a placeholder first, then the plot in its place, then the summary in its place
    display_ids = {d.get("transient", {}).get("display_id") for _, d in displays}
    assert len(display_ids) == 1, displays
    assert "loading" in displays[0][1]["data"]["text/html"]
    plots = [(t, d) for t, d in displays if "nbtrack-live" in d["data"].get("text/html", "")]
    assert "nbtrack-run-summary" in displays[-1][1]["data"]["text/html"]
    assert len(plots) >= 3, [m["msg_type"] for _, m in train_messages]
    last = plots[-1][1]["data"]["text/html"]
    assert last.count("<polyline") == 2 and "loss:" in last and "acc:" in last
    assert f'stroke="{color_for(train.run_id)}"' in last  # the run's colour
    assert "width:100%" in last  # as wide as the output
    duration = train_messages[-1][0] - train_messages[0][0]
    # throttled: ≤ 4 redraws/s (counted, not timed: a loaded box delivers in bursts)
    assert len(plots) <= 4 * duration + 2, (duration, len(plots))

    # when the cell ended, the summary replaced the live view (no widget left in the output)
    outputs = cells[2].outputs
    assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
    summaries = [
        o for o in outputs if "nbtrack-run-summary" in o.get("data", {}).get("text/html", "")
    ]
    assert len(summaries) == 1
    html = summaries[0]["data"]["text/html"]
    assert train.run_id in html
    assert "FINISHED" in html
    assert f"%track_compare {train.run_id}" in html
    assert "<svg" in html
    assert any(o.get("text") == "trained 40 epochs\n" for o in outputs if o.output_type == "stream")

    # a cell that logs no metric draws nothing, and still shows its summary
    quiet_types = [m["msg_type"] for _, m in client.messages[4]]
    assert "comm_open" not in quiet_types
    assert any(
        "nbtrack-run-summary" in o.get("data", {}).get("text/html", "") for o in cells[4].outputs
    )
    assert not any(o.output_type == "error" for o in cells[5].outputs)


def test_interrupted_cell_leaves_a_killed_run_with_its_metrics(
    store_path: Path, tmp_path: Path
) -> None:
    from jupyter_client import KernelManager

    km = KernelManager(kernel_name="python3")
    km.start_kernel(env=kernel_env(store_path), cwd=str(tmp_path))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        reply = kc.execute_interactive("%load_ext nbtrack", timeout=60)
        assert reply["content"]["status"] == "ok"
        msg_id = kc.execute(
            "%%track -n sleepy --no-live\n"
            "import time, nbtrack as nt\n"
            "lr = 0.1\n"
            "for i in range(5):\n"
            "    nt.log_metric('loss', 1.0 / (i + 1))\n"
            "print('logged', flush=True)\n"
            "time.sleep(120)\n"
        )
        _wait_for_stream(kc, msg_id, "logged", timeout=60)
        km.interrupt_kernel()
        reply = kc.get_shell_msg(timeout=60)
        assert reply["parent_header"]["msg_id"] == msg_id
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        # the kernel is still usable and nothing is left running in it; ipykernel aborts
        # requests that arrive while it is still handling the error: wait out that window
        for _ in range(20):
            after = kc.execute_interactive(
                "import nbtrack as nt\nassert nt.active_run() is None", timeout=60
            )
            if after["content"]["status"] != "aborted":
                break
        assert after["content"]["status"] == "ok"
        run = _wait_for_status(store_path, "sleepy", "KILLED", timeout=30)
        assert run.params == {"lr": "0.1"}
        history = nt.get_metric_history(run.run_id, "loss")
        assert list(history.step) == [0, 1, 2, 3, 4]
        assert b"KeyboardInterrupt" in nt.read_artifact(run.run_id, "traceback.txt")
        assert nt.read_artifact(run.run_id, "stdout.txt") == b"logged\n"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _wait_for_stream(kc: Any, msg_id: str, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=1)
        except queue.Empty:
            continue
        if (
            msg["parent_header"].get("msg_id") == msg_id
            and msg["msg_type"] == "stream"
            and text in msg["content"]["text"]
        ):
            return
        if msg["msg_type"] == "error":
            raise AssertionError(f"the cell failed: {msg['content']}")
    raise AssertionError(f"no {text!r} on stdout within {timeout} s")


def _wait_for_status(store: Path, name: str, status: str, timeout: float) -> nt.Run:
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        run = runs_by_name(store).get(name)
        if run is not None:
            seen = run.status
            if seen == status:
                return run
        time.sleep(0.2)
    raise AssertionError(f"run {name!r} is {seen}, expected {status}")
