"""Peak memory of the current process, for the benchmarks."""

from __future__ import annotations

from pathlib import Path


def peak_rss_mib() -> float:
    """The process's peak resident set size (VmHWM), in MiB.

    Not getrusage's ru_maxrss: Linux carries it across exec, so a child started by a parent
    holding gigabytes reports the parent's size at fork rather than its own.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("VmHWM not in /proc/self/status: peak memory needs Linux")
