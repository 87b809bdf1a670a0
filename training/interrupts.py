"""SIGINT and SIGTERM as exceptions, so that a stopped command records what it was doing and exits 130 or 143.

SIGINT raises ``KeyboardInterrupt("SIGINT")`` and SIGTERM raises :class:`Terminated`; both derive from
``BaseException``, so ``except Exception`` in a job or a library does not swallow them, and the code that owns a
resource (a recorded run, a trial process, a wait on Azure) cleans it up in ``except BaseException`` and re-raises.

The handlers are installed whatever disposition the process inherited. A background job of a non-interactive shell
(``cmd &`` in a script, some CI runners) starts with SIGINT ignored, and Python keeps an inherited SIG_IGN: ``kill
-INT`` would then do nothing, and a sweep told to stop would run to its end and exit 0. A command that is sent a signal
here is being asked to stop, as gunicorn (the service) also reads it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Terminated(BaseException):
    """SIGTERM arrived (a container, CI or ``kill`` stopping the process); the message names the signal."""


def _raise_for(signum: int, frame) -> None:
    name = signal.Signals(signum).name
    raise KeyboardInterrupt(name) if signum == signal.SIGINT else Terminated(name)


def signal_of(exc: BaseException) -> signal.Signals:
    """The signal an interrupt exception stands for: SIGTERM for :class:`Terminated`, else SIGINT."""
    return signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT


def signal_name(exc: BaseException) -> str:
    """``"SIGINT"`` or ``"SIGTERM"``: the name of :func:`signal_of`."""
    return signal_of(exc).name


def exit_status(exc: BaseException) -> int:
    """The shell's status for a process ended by the signal behind ``exc``: 128 + 2 (SIGINT) or 128 + 15 (SIGTERM)."""
    return 128 + signal_of(exc)


@contextmanager
def _handled_by(handler) -> Iterator[None]:
    """SIGINT and SIGTERM go to ``handler(signum, frame)`` within the block; the previous handlers come back after it.

    Outside the main thread (where Python cannot set handlers) the block runs with the handlers as they are.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, handler) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def raised_as_exceptions():
    """Within the block, SIGINT raises ``KeyboardInterrupt("SIGINT")`` and SIGTERM :class:`Terminated`."""
    return _handled_by(_raise_for)


def deferred(on_signal):
    """Within the block, SIGINT and SIGTERM call ``on_signal(signum)`` instead of raising.

    For cleanup that must not itself be cut short by a second Ctrl-C (stopping trial processes, recording a run):
    ``on_signal`` may hurry it up (kill instead of waiting), never abandon it.
    """
    return _handled_by(lambda signum, frame: on_signal(signum))


def block() -> None:
    """Block SIGINT and SIGTERM in the calling thread, and so in the processes it starts (they inherit its mask).

    The kernel then delivers them to a thread that does not block them: the main thread, where Python runs handlers.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)


def unblock() -> None:
    """Unblock SIGINT and SIGTERM in the calling thread: one that arrived while they were blocked is delivered now."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)


def interrupt_behind(exc: BaseException) -> BaseException | None:
    """The KeyboardInterrupt or :class:`Terminated` that ``exc`` is, or that it was raised from or while handling.

    The Azure SDKs catch a KeyboardInterrupt in their log streaming and raise their own exception in its place (v1
    ``ExperimentExecutionException``, v2 ``JobException``); the interrupt is still in its ``__context__`` chain.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt | Terminated):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


@contextmanager
def waiting_on_remote(what: str, how_to_cancel: str) -> Iterator[None]:
    """A wait on ``what`` (a job running elsewhere): an interrupt stops the wait, never the remote work.

    The interrupt is re-raised (whatever the SDK turned it into) with a note saying that ``what`` keeps running and
    ``how_to_cancel`` it: cancelling on the user's behalf, without asking, would throw away a paid-for job.
    """
    try:
        yield
    except BaseException as exc:
        interrupt = interrupt_behind(exc)
        if interrupt is None:
            raise
        interrupt.add_note(f"stopped waiting; {what} keeps running. To cancel it: {how_to_cancel}")
        raise interrupt from None
