"""Process-group CPU time and memory, and machine-wide CPU use, read from /proc (Linux only, no psutil needed)."""

import os
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    """Fields of /proc/PID/stat after the command name (which may hold spaces), so index 0 is the state."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rindex(")") + 2 :].split()


def session_pids(sid: int) -> list[int]:
    """Pids of the live processes in session ``sid`` (a server started with ``start_new_session``), sorted.

    The session leader comes first because its pid is the session id and pids only grow while it lives.
    """
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if int(_stat_fields(int(entry.name))[3]) == sid:
                pids.append(int(entry.name))
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
    return sorted(pids, key=lambda p: (p != sid, p))


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of ``pids`` including their reaped children; a process that is gone counts 0."""
    ticks = 0
    for pid in pids:
        try:
            fields = _stat_fields(pid)
        except (FileNotFoundError, ProcessLookupError):
            continue
        ticks += sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / CLK_TCK


def memory_mb(pid: int) -> dict[str, float]:
    """``{"rss": MB, "pss": MB}`` of one process; PSS splits pages shared with forked siblings, so it adds up honestly.

    Raises:
        FileNotFoundError: the process is gone.
    """
    rss_kb = next(
        int(line.split()[1])
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("VmRSS:")
    )
    pss_kb = 0
    rollup = Path(f"/proc/{pid}/smaps_rollup")
    if rollup.exists():
        pss_kb = next((int(line.split()[1]) for line in rollup.read_text().splitlines() if line.startswith("Pss:")), 0)
    return {"rss": rss_kb / 1024, "pss": pss_kb / 1024}


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds summed over all cores since boot, from the first line of /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # guest time is already inside user/nice
    return (total - idle) / CLK_TCK, total / CLK_TCK
