"""System metrics: one sampler thread per run logging CPU, memory, disk, network and GPUs.

``start_run(log_system_metrics=True)``, ``NBTRACK_SYSTEM_METRICS=1`` or ``%%track --system``
start a :class:`SystemMetricsSampler` for the run; it stops when the run ends. Every
``interval`` seconds (``NBTRACK_SYSTEM_METRICS_INTERVAL``, default 10) it logs, at step
0, 1, 2 ...:

- ``system/cpu_percent`` (whole machine, 0-100 per core summed as psutil reports it),
  ``system/memory_used_mb``, ``system/memory_percent``, ``system/process_rss_mb``;
- ``system/disk_read_mb_s``, ``system/disk_write_mb_s``, ``system/network_sent_mb_s``,
  ``system/network_recv_mb_s`` (rates over the last interval);
- per NVIDIA GPU ``i`` (through NVML, ``nvidia-ml-py``, when a driver is present):
  ``system/gpu{i}/utilization``, ``system/gpu{i}/memory_used_mb``,
  ``system/gpu{i}/temperature``, ``system/gpu{i}/power_w``. No driver or no GPU is not an
  error: those keys are simply absent.

psutil is imported only when a sampler starts (the ``nbtrack[system]`` extra). The thread
is a daemon that sleeps on an ``Event``, so stopping it is immediate; one sample costs well
under a millisecond of CPU (benchmarks/README.md has the measurement).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from nbtrack.errors import ConfigError

_log = logging.getLogger("nbtrack")
_MB = 1024.0 * 1024.0


class _MetricSink(Protocol):
    """What the sampler needs of a run (``Run`` satisfies it)."""

    run_id: str

    def log_metrics(
        self, metrics: Mapping[str, Any], step: int | None = None, timestamp: Any = None
    ) -> None: ...


def require_psutil() -> Any:
    """Import psutil or raise a ConfigError naming the extra to install."""
    try:
        import psutil
    except ImportError:
        raise ConfigError(
            "system metrics need psutil: pip install 'nbtrack[system]' (or psutil)"
        ) from None
    return psutil


class _Gpus:
    """NVML handles for the machine's GPUs; empty when NVML or a driver is missing."""

    def __init__(self) -> None:
        self.nvml: Any = None
        self.handles: list[Any] = []
        try:
            import pynvml

            pynvml.nvmlInit()
            self.nvml = pynvml
            self.handles = [
                pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())
            ]
        # No nvidia-ml-py, no driver (NVMLError_LibraryNotFound) or no device: no GPU keys.
        except Exception as exc:  # noqa: BLE001
            _log.debug("nbtrack: no GPU metrics (%s)", exc)
            self.nvml, self.handles = None, []

    def sample(self) -> dict[str, float]:
        out: dict[str, float] = {}
        nvml = self.nvml
        for i, h in enumerate(self.handles):
            prefix = f"system/gpu{i}/"
            for key, read in (
                ("utilization", lambda h=h: nvml.nvmlDeviceGetUtilizationRates(h).gpu),
                ("memory_used_mb", lambda h=h: nvml.nvmlDeviceGetMemoryInfo(h).used / _MB),
                ("temperature", lambda h=h: nvml.nvmlDeviceGetTemperature(h, 0)),
                ("power_w", lambda h=h: nvml.nvmlDeviceGetPowerUsage(h) / 1000.0),
            ):
                try:
                    out[prefix + key] = float(read())
                # A GPU may not support one reading (power on some boards): skip that key.
                except Exception:  # noqa: BLE001
                    continue
        return out

    def close(self) -> None:
        if self.nvml is not None:
            try:
                self.nvml.nvmlShutdown()
            # Shutting NVML down at run end must never fail the run's end.
            except Exception:  # noqa: BLE001
                pass


class SystemMetricsSampler:
    """Samples system metrics into one run on a daemon thread.

    Args:
        run: the run to log into (anything with ``log_metrics(dict, step=)``).
        interval: seconds between samples.
        prefix: key prefix (``system/``; a distributed rank may use ``system/rank1/``).
    """

    def __init__(self, run: _MetricSink, *, interval: float, prefix: str = "system/") -> None:
        if not interval > 0:
            raise ConfigError(f"system metrics interval must be > 0 seconds, got {interval!r}")
        self._psutil = require_psutil()
        self.run = run
        self.interval = float(interval)
        self.prefix = prefix
        self.samples = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._process = self._psutil.Process(os.getpid())
        self._gpus: _Gpus | None = None
        self._last: tuple[float, Any, Any] | None = None
        self._warned = False

    def start(self) -> SystemMetricsSampler:
        """Start the thread (the first sample is logged one interval from now)."""
        self._gpus = _Gpus()
        self._psutil.cpu_percent(interval=None)  # primes the counter: next call is a rate
        self._last = (time.monotonic(), self._disk(), self._net())
        self._thread = threading.Thread(
            target=self._loop, name=f"nbtrack-system-metrics-{self.run.run_id}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, *, final_sample: bool = False) -> None:
        """Stop the thread and wait for it (optionally take one last sample first)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)
        if final_sample:
            self._log_sample()
        if self._gpus is not None:
            self._gpus.close()
            self._gpus = None

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._log_sample()

    def _disk(self) -> Any:
        try:
            return self._psutil.disk_io_counters()
        # Containers without /proc/diskstats: no disk rates.
        except Exception:  # noqa: BLE001
            return None

    def _net(self) -> Any:
        try:
            return self._psutil.net_io_counters()
        # Same for sandboxes without network counters.
        except Exception:  # noqa: BLE001
            return None

    def sample(self) -> dict[str, float]:
        """One reading: every key (without the prefix) and its value."""
        ps = self._psutil
        vm = ps.virtual_memory()
        out = {
            "cpu_percent": float(ps.cpu_percent(interval=None)),
            "memory_used_mb": (vm.total - vm.available) / _MB,
            "memory_percent": float(vm.percent),
            "process_rss_mb": self._process.memory_info().rss / _MB,
        }
        now, disk, net = time.monotonic(), self._disk(), self._net()
        if self._last is not None:
            t0, disk0, net0 = self._last
            dt = max(now - t0, 1e-6)
            if disk is not None and disk0 is not None:
                out["disk_read_mb_s"] = (disk.read_bytes - disk0.read_bytes) / _MB / dt
                out["disk_write_mb_s"] = (disk.write_bytes - disk0.write_bytes) / _MB / dt
            if net is not None and net0 is not None:
                out["network_sent_mb_s"] = (net.bytes_sent - net0.bytes_sent) / _MB / dt
                out["network_recv_mb_s"] = (net.bytes_recv - net0.bytes_recv) / _MB / dt
        self._last = (now, disk, net)
        if self._gpus is not None:
            out.update({k.removeprefix("system/"): v for k, v in self._gpus.sample().items()})
        return out

    def _log_sample(self) -> None:
        try:
            values = self.sample()
            self.run.log_metrics(
                {self.prefix + k: v for k, v in values.items()}, step=self.samples
            )
            self.samples += 1
        # A sampler must never take the process down (a run that ended under us, a flaky
        # /proc read); say it once and keep sampling.
        except Exception as exc:  # noqa: BLE001
            if not self._warned:
                self._warned = True
                _log.warning("nbtrack: a system metrics sample failed: %s", exc)


def attach_sampler(
    run: Any, *, interval: float | None = None, prefix: str = "system/"
) -> SystemMetricsSampler:
    """Start a sampler for ``run`` and stop it (with a last sample) when the run ends.

    Args:
        run: an open ``Run`` owned by this process.
        interval: seconds between samples (default ``NBTRACK_SYSTEM_METRICS_INTERVAL``).
        prefix: key prefix.

    Raises:
        ConfigError: psutil is missing, or the interval is not a positive number.
    """
    from nbtrack import config

    sampler = SystemMetricsSampler(
        run, interval=config.system_metrics_interval() if interval is None else interval,
        prefix=prefix,
    ).start()
    stop: Callable[[], None] = lambda: sampler.stop(final_sample=True)  # noqa: E731
    run.on_end(stop)
    return sampler
