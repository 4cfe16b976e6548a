"""Machine capture: the interpreter and platform, and the hardware (CPU, cores, memory, GPUs).

Both are collected once per process and cached.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import sys
from typing import Any

from nbtrack.tracking.capture._files import read_text

__all__ = ["GPU_TIMEOUT_S", "clear_machine_cache", "collect_environment", "collect_hardware"]

#: Timeout of the ``nvidia-smi`` query, in seconds.
GPU_TIMEOUT_S = 5.0

_environment: dict[str, str] | None = None
_hardware: dict[str, Any] | None = None


def clear_machine_cache() -> None:
    """Forget the cached environment and hardware."""
    global _environment, _hardware
    _environment = None
    _hardware = None


def collect_environment() -> dict[str, str]:
    """Interpreter and machine identity, cached for the process.

    Returns:
        ``python`` (version), ``python_implementation``, ``python_executable``, ``platform``
        and ``host``.
    """
    global _environment
    env = _environment
    if env is None:
        env = {
            "python": platform.python_version(),
            "python_implementation": platform.python_implementation(),
            "python_executable": sys.executable,
            "platform": platform.platform(),
            "host": socket.gethostname(),
        }
        _environment = env
    return dict(env)


def _cpu_model() -> str | None:
    text = read_text("/proc/cpuinfo")
    if text:
        for line in text.splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware", "cpu model") and value.strip():
                return value.strip()
    return platform.processor() or None


def _memory_total_bytes() -> int | None:
    text = read_text("/proc/meminfo")
    if text:
        for line in text.splitlines():
            if line.startswith("MemTotal:"):
                parts = line.split()
                try:
                    return int(parts[1]) * 1024  # the kernel reports kB (KiB)
                except (IndexError, ValueError):
                    return None
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return None


def _gpus() -> list[dict[str, str]]:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        result = subprocess.run(
            [smi, "--query-gpu=name,memory.total", "--format=csv,noheader"],
            capture_output=True,
            timeout=GPU_TIMEOUT_S,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    if result.returncode != 0:
        return []
    gpus = []
    for line in result.stdout.decode("utf-8", "replace").splitlines():
        if not line.strip():
            continue
        name, _, memory = line.rpartition(",")
        if not name:
            name, memory = memory, ""
        gpus.append({"name": name.strip(), "memory_total": memory.strip()})
    return gpus


def collect_hardware() -> dict[str, Any]:
    """CPU model, logical and usable cores, total memory and GPUs, cached for the process.

    Returns:
        ``cpu_model``, ``cpu_count`` (logical cores), ``cpu_available`` (cores this process
        may run on), ``memory_total_bytes``, ``gpus`` (list of ``{"name", "memory_total"}``
        from ``nvidia-smi``; empty when it is not installed) and ``machine``.
    """
    global _hardware
    hardware = _hardware
    if hardware is None:
        try:
            available: int | None = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            available = os.cpu_count()
        hardware = {
            "cpu_model": _cpu_model(),
            "cpu_count": os.cpu_count(),
            "cpu_available": available,
            "memory_total_bytes": _memory_total_bytes(),
            "gpus": _gpus(),
            "machine": platform.machine(),
        }
        _hardware = hardware
    return {**hardware, "gpus": [dict(gpu) for gpu in hardware["gpus"]]}
