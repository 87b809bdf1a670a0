"""Which process runs a recorded run, and whether that process is still alive (for runs killed without a word).

A pid alone is not an identity: after a run is SIGKILLed its pid can be handed to an unrelated process. On Linux the
kernel's boot id plus the process's start time (in clock ticks since boot, /proc/<pid>/stat field 22) names one
process for good; elsewhere only the pid is recorded and checked.
"""

import os
import socket
from dataclasses import dataclass
from pathlib import Path

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


@dataclass(frozen=True)
class ProcessIdentity:
    """A process as a run records it: ``pid``, ``host`` name and ``started`` (``<boot id>/<start ticks>`` or None)."""

    pid: int
    host: str
    started: str | None

    @classmethod
    def current(cls) -> "ProcessIdentity":
        """This process."""
        try:
            started = start_token(os.getpid())
        except OSError:  # /proc unreadable: the pid alone is recorded, and checked
            started = None
        return cls(os.getpid(), socket.gethostname(), started)

    def is_gone(self) -> bool:
        """True when this process has certainly ended (a zombie counts as ended); False while it may still run.

        A process on another host cannot be checked from here, so it is never reported gone. A pid now held by a
        process that started at another time is gone: that is pid reuse, not the recorded process.
        """
        if self.host != socket.gethostname():
            return False
        if self.started is not None:
            try:
                return start_token(self.pid) != self.started
            except OSError:  # /proc will not say (hidepid, ...): fall back to what the pid says
                pass
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, owned by another user
            return False
        return False


def start_token(pid: int) -> str | None:
    """``<boot id>/<start time in ticks>`` of the live process ``pid``; None if it does not exist or is a zombie.

    Raises ``OSError`` when /proc cannot tell: ``PermissionError`` for another user's process under ``hidepid``, for
    one. Only "no such entry" means the process is gone; a process that exists but cannot be read may be alive.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):  # ESRCH: it ended while being read
        return None
    boot_id = _BOOT_ID.read_text().strip()
    # The command name may hold spaces and parentheses: the fields after the last ")" are fixed (state is first).
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):
        return None
    return f"{boot_id}/{fields[19]}"
