"""System metrics: one sampler thread per run, real psutil readings, stops with the run."""

from __future__ import annotations

import sys
import threading
import time
import types

import pytest

import nbtrack as nt
from integrations._autolog_helpers import only_run
from nbtrack.errors import ConfigError
from nbtrack.tracking.system_metrics import SystemMetricsSampler
from tests._system_keys import SYSTEM_KEYS

pytest.importorskip("psutil")

BASE_KEYS = set(SYSTEM_KEYS)


def sampler_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("nbtrack-system-metrics-")]


def wait_for_steps(run: nt.Run, key: str, n: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(nt.get_metric_history(run.run_id, key)) >= n:
            return
        time.sleep(0.1)
    raise AssertionError(f"fewer than {n} samples of {key} after {timeout} s")


def test_start_run_log_system_metrics_samples_until_the_run_ends(store, monkeypatch):
    monkeypatch.setenv("NBTRACK_SYSTEM_METRICS_INTERVAL", "0.1")
    import psutil

    with nt.start_run(log_system_metrics=True) as run:
        assert len(sampler_threads()) == 1
        wait_for_steps(run, "system/cpu_percent", 3)
    assert sampler_threads() == []  # stopped (and joined) with the run
    got = nt.get_run(run.run_id)
    assert set(got.metrics) >= BASE_KEYS
    assert 0 < got.metrics["system/memory_percent"] <= 100
    total_mb = psutil.virtual_memory().total / 2**20
    assert 0 < got.metrics["system/memory_used_mb"] <= total_mb
    h = nt.get_metric_history(run.run_id, "system/cpu_percent")
    assert h.step.tolist() == list(range(len(h)))  # one step per sample
    n = len(h)
    time.sleep(0.5)
    assert len(nt.get_metric_history(run.run_id, "system/cpu_percent")) == n  # nothing after end


def test_the_environment_variable_turns_it_on_for_every_run(store, monkeypatch):
    monkeypatch.setenv("NBTRACK_SYSTEM_METRICS", "1")
    monkeypatch.setenv("NBTRACK_SYSTEM_METRICS_INTERVAL", "30")
    with nt.start_run() as run:
        assert len(sampler_threads()) == 1
    # a run shorter than one interval still gets one sample: the last one, at its end
    assert set(nt.get_run(run.run_id).metrics) >= BASE_KEYS
    with nt.start_run(log_system_metrics=False):
        assert sampler_threads() == []


def test_track_system_samples_the_cell_s_run(store, ip, monkeypatch):
    monkeypatch.setenv("NBTRACK_SYSTEM_METRICS_INTERVAL", "0.1")
    result = ip.run_cell("%%track --system -n sys\nimport time\ntime.sleep(0.5)\n")
    result.raise_error()
    run = only_run()
    assert run.name == "sys"
    assert set(run.metrics) >= BASE_KEYS
    assert sampler_threads() == []


@pytest.mark.parametrize("value", ["0", "-1", "soon"], ids=["zero", "negative", "text"])
def test_a_bad_interval_is_a_config_error_before_the_run_starts(store, monkeypatch, value):
    monkeypatch.setenv("NBTRACK_SYSTEM_METRICS_INTERVAL", value)
    with pytest.raises(ConfigError, match="NBTRACK_SYSTEM_METRICS_INTERVAL"):
        nt.start_run(log_system_metrics=True)
    assert nt.search_runs().empty


def test_without_psutil_it_is_a_clear_error_before_the_run_starts(store, monkeypatch):
    monkeypatch.setitem(sys.modules, "psutil", None)  # makes `import psutil` fail
    with pytest.raises(ConfigError, match=r"nbtrack\[system\]"):
        nt.start_run(log_system_metrics=True)
    assert nt.search_runs().empty


def test_no_gpu_is_not_an_error_and_gives_no_gpu_keys(store):
    with nt.start_run() as run:
        sampler = SystemMetricsSampler(run, interval=10.0).start()
        values = sampler.sample()
        sampler.stop()
    try:
        import pynvml

        pynvml.nvmlInit()
        has_gpu = pynvml.nvmlDeviceGetCount() > 0
    except Exception:
        has_gpu = False
    assert any(k.startswith("gpu") for k in values) == has_gpu


def test_gpu_readings_are_mapped_to_per_gpu_keys(store, monkeypatch):
    """NVML stand-in (this machine has no GPU): checks our key names and units only."""
    fake = types.SimpleNamespace(
        nvmlInit=lambda: None,
        nvmlShutdown=lambda: None,
        nvmlDeviceGetCount=lambda: 2,
        nvmlDeviceGetHandleByIndex=lambda i: i,
        nvmlDeviceGetUtilizationRates=lambda h: types.SimpleNamespace(gpu=40 + h),
        nvmlDeviceGetMemoryInfo=lambda h: types.SimpleNamespace(used=(h + 1) * 2**20),
        nvmlDeviceGetTemperature=lambda h, sensor: 60,
        nvmlDeviceGetPowerUsage=lambda h: 150_000 if h == 0 else 1 / 0,  # gpu1: no power
    )
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    with nt.start_run() as run:
        sampler = SystemMetricsSampler(run, interval=10.0).start()
        values = sampler.sample()
        sampler.stop()
    assert values["gpu0/utilization"] == 40.0
    assert values["gpu1/utilization"] == 41.0
    assert values["gpu1/memory_used_mb"] == 2.0
    assert values["gpu0/temperature"] == 60.0
    assert values["gpu0/power_w"] == 150.0
    assert "gpu1/power_w" not in values


def test_a_failing_sample_never_stops_the_run(store, monkeypatch):
    monkeypatch.setenv("NBTRACK_SYSTEM_METRICS_INTERVAL", "0.05")
    with nt.start_run(log_system_metrics=True) as run:
        monkeypatch.setattr(SystemMetricsSampler, "sample", lambda self: 1 / 0)
        time.sleep(0.3)
        nt.log_metric("loss", 1.0)
    assert run.status == "FINISHED"
    assert nt.get_run(run.run_id).metrics["loss"] == 1.0


def test_track_system_without_psutil_is_a_usage_error_and_starts_no_run(store, ip, monkeypatch):
    from IPython.core.error import UsageError

    monkeypatch.setitem(sys.modules, "psutil", None)
    result = ip.run_cell("%%track --system\nx = 1\n")
    assert isinstance(result.error_in_exec, UsageError)
    assert "nbtrack[system]" in str(result.error_in_exec)
    assert nt.search_runs().empty


def test_each_rank_s_system_metrics_run_is_tagged_with_its_rank(store, monkeypatch):
    """Every rank of a distributed job may sample its own hardware into its own run: the run
    says which rank it is (issue 14), from the launcher's variables."""
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    with nt.start_run(log_system_metrics=True, group="job-17") as run:
        pass
    tags = nt.get_run(run.id).tags
    assert (tags["nbtrack.rank"], tags["nbtrack.world_size"], tags["nbtrack.local_rank"]) == (
        "1", "2", "1"
    )
    assert tags["nbtrack.group"] == "job-17"
    assert any(k.startswith("system/") for k in nt.get_run(run.id).metrics)
    monkeypatch.delenv("RANK")
    monkeypatch.delenv("WORLD_SIZE")
    with nt.start_run(log_system_metrics=True) as single:
        pass
    assert "nbtrack.rank" not in nt.get_run(single.id).tags


def test_without_nvml_installed_there_are_no_gpu_keys_and_no_error(store, monkeypatch):
    """``import pynvml`` failing (no nvidia-ml-py) is the normal CPU-only case."""
    monkeypatch.setitem(sys.modules, "pynvml", None)
    monkeypatch.setenv("NBTRACK_SYSTEM_METRICS_INTERVAL", "0.05")
    with nt.start_run(log_system_metrics=True) as run:
        wait_for_steps(run, "system/cpu_percent", 2)
    got = nt.get_run(run.run_id)
    assert got.status == "FINISHED"
    assert set(got.metrics) >= BASE_KEYS
    assert not any(k.startswith("system/gpu") for k in got.metrics)


def test_system_metrics_in_the_run_table_and_the_curves(store, monkeypatch):
    """The inline views show system metrics like any other metric."""
    pytest.importorskip("ipywidgets")
    monkeypatch.setenv("NBTRACK_SYSTEM_METRICS_INTERVAL", "0.05")
    with nt.start_run(name="sampled", log_system_metrics=True) as run:
        wait_for_steps(run, "system/memory_percent", 3)
    table = nt.show_runs(columns=["name", "metrics.system/memory_percent"])
    assert table.columns == ["name", "metrics.system/memory_percent"]
    assert table.frame.set_index("run_id").loc[run.run_id, "metrics.system/memory_percent"] == (
        pytest.approx(nt.get_run(run.run_id).metrics["system/memory_percent"])
    )
    plot = nt.plot_metrics([run.run_id], ["system/cpu_percent", "system/memory_used_mb"])
    assert plot.keys == ["system/cpu_percent", "system/memory_used_mb"]
    history = nt.get_metric_history(run.run_id, "system/memory_used_mb").sort_values("step")
    titles = [a.text for a in plot.figure.layout.annotations]
    assert titles == ["<b>system/cpu_percent</b>", "<b>system/memory_used_mb</b>"]
    [trace] = [t for t in plot.figure.data if t.xaxis == "x2"]  # the second key's panel
    assert list(trace.x) == history.step.tolist()
    assert list(trace.y) == pytest.approx(history.value.tolist())


def test_the_default_interval_is_ten_seconds_and_the_variable_changes_it(store, monkeypatch):
    def sampler_interval() -> float:
        [thread] = sampler_threads()
        return thread._target.__self__.interval  # the sampler whose loop the thread runs

    monkeypatch.delenv("NBTRACK_SYSTEM_METRICS_INTERVAL", raising=False)
    with nt.start_run(log_system_metrics=True):
        assert sampler_interval() == 10.0
    monkeypatch.setenv("NBTRACK_SYSTEM_METRICS_INTERVAL", "2.5")
    with nt.start_run(log_system_metrics=True):
        assert sampler_interval() == 2.5


def test_the_environment_variable_without_psutil_warns_and_the_run_goes_on(store, monkeypatch):
    monkeypatch.setenv("NBTRACK_SYSTEM_METRICS", "1")
    monkeypatch.setitem(sys.modules, "psutil", None)
    with pytest.warns(nt.NbtrackWarning, match=r"NBTRACK_SYSTEM_METRICS=1 is ignored.*nbtrack\[system\]"):
        run = nt.start_run()
    assert sampler_threads() == []
    nt.log_metric("loss", 1.0)
    nt.end_run()
    assert nt.get_run(run.run_id).metrics == {"loss": 1.0}
