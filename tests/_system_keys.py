"""The system metrics the sampler logs on every machine (GPU keys appear only with an
NVIDIA driver), as the tests expect them (docs/integrations.md lists the same)."""

SYSTEM_KEYS = (
    "system/cpu_percent",
    "system/memory_used_mb",
    "system/memory_percent",
    "system/process_rss_mb",
    "system/disk_read_mb_s",
    "system/disk_write_mb_s",
    "system/network_sent_mb_s",
    "system/network_recv_mb_s",
)
