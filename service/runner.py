"""Lifecycle of one worker's entry script: init() once (now or in the background), readiness, and timed run() calls.

run() executes in the thread that serves the request: handing it to a thread of its own costs about as much CPU as a
1-row predict. SCORING_TIMEOUT_MS is enforced by a watchdog (the worker's, or the runner's own thread under another
gunicorn worker class), not by SIGALRM, so it works in any thread: at the deadline the call is asked to stop with an
asynchronous exception, which takes effect at its next Python bytecode. A call still busy ABANDON_GRACE_S later is
blocked in C code; it is abandoned: its turn is given back, and ScoringWorker answers its request 504 at once.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from enum import Enum

from service.entry_script import EntryScript
from service.errors import InitFailed, NotReady, ScoringTimeout
from service.logs import escape_controls

logger = logging.getLogger("azmlinfsrv.user_script")
SPARE_THREADS = 4
"""Threads a worker keeps beyond MAX_CONCURRENT_RUNS, to take over its loop from calls that are slow or stuck."""
ABANDON_GRACE_S = 0.1
"""How long after its interrupt a timed-out call may take to stop before it counts as blocked in C."""
WATCH_INTERVAL_S = 0.01


class State(Enum):
    """Where the worker's init() is; only READY serves /score."""

    STARTING = "starting"
    READY = "ready"
    FAILED = "failed"


class _Interrupted(BaseException):
    """Raised inside a run() that outlived SCORING_TIMEOUT_MS (a BaseException: user `except Exception` keeps out)."""


class Call:
    """One run() call in progress, as the watchdog sees it.

    ``lock`` orders the watchdog's interrupt and abandonment against the call finishing, so no other code of the
    thread is ever interrupted and a call is either answered by its own thread or abandoned, never both.
    """

    __slots__ = ("lock", "thread_id", "deadline", "interrupted_at", "finished", "abandoned")

    def __init__(self, thread_id: int, deadline: float) -> None:
        self.lock = threading.Lock()
        self.thread_id = thread_id
        self.deadline = deadline
        self.interrupted_at: float | None = None
        self.finished = False
        self.abandoned = False


def _set_async_exc(thread_id: int, exc: type[BaseException] | None) -> None:
    # None clears an exception that is still pending (the call finished before it took effect).
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc else None)


class ThreadGuard:
    """The server's say on request threads; this default (any WSGI server) allows everything."""

    def can_block(self) -> bool:
        """Whether the calling thread may start a run() or wait (False: answer 504 at once)."""
        return True

    @contextlib.contextmanager
    def waiting(self) -> Iterator[None]:
        """Around a wait (for init() or a run() turn): a waiting thread does no work."""
        yield


class Runner:
    """Owns the entry script of one worker: its init() state and its run() calls."""

    def __init__(self, script: EntryScript, *, timeout_ms: int, threads: int) -> None:
        self.script = script
        self.timeout_ms = timeout_ms
        self.state = State.STARTING
        self.stopping = False
        self.init_seconds: float | None = None
        self._settled = threading.Event()
        self._turns = threading.BoundedSemaphore(threads)
        self._timeout_message = f"Scoring timeout after {timeout_ms} ms"
        self._calls: set[Call] = set()
        self._watchdog: threading.Thread | None = None
        self._watchdog_lock = threading.Lock()
        self.watched_externally = False
        """Set by a worker whose own watchdog calls :meth:`watch`; else the runner starts a thread for it."""
        self.threads: ThreadGuard = ThreadGuard()
        """What the server lets a request thread do (ScoringWorker: block only when its loop can be taken over)."""

    @property
    def ready(self) -> bool:
        """True once init() has finished and until shutdown begins."""
        return self.state is State.READY and not self.stopping

    def start(
        self,
        *,
        background: bool,
        on_failure: Callable[[BaseException], None] | None = None,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        """Run the script's init(): in this thread (exceptions propagate) or in a background thread.

        ``on_ready`` is called once init() has succeeded. In the background, a failing init() is logged (one line
        naming the script and the cause, then the traceback), the state becomes FAILED and ``on_failure(exc)`` is
        called.

        Raises
        ------
        InitFailed
            init() raised, in this thread; its message names the script and the cause.
        """
        if not background:
            try:
                self._init(on_ready)
            except Exception as exc:
                self.state = State.FAILED
                raise InitFailed(self._describe_failure(exc)) from exc
            finally:
                self._settled.set()
            return

        def target() -> None:
            try:
                self._init(on_ready)
            except BaseException as exc:
                logger.error("Refusing to start: %s", self._describe_failure(exc), exc_info=exc)
                self.state = State.FAILED
                if on_failure is not None:
                    on_failure(exc)
            finally:
                self._settled.set()

        threading.Thread(target=target, name="entry-script-init", daemon=True).start()

    def _describe_failure(self, exc: BaseException) -> str:
        # One log line: the script, the exception type and its message (the traceback follows on its own lines).
        return f"init() in {self.script.path.name} raised {type(exc).__name__}: {escape_controls(str(exc))}"

    def _init(self, on_ready: Callable[[], None] | None) -> None:
        logger.info("Invoking user's init function")
        started = time.perf_counter()
        self.script.init()
        self.init_seconds = time.perf_counter() - started
        logger.info("User's init has completed successfully in %.3f s", self.init_seconds)
        if on_ready is not None:
            on_ready()
        self.state = State.READY

    def begin_shutdown(self) -> None:
        """Mark the worker as stopping: readiness answers 503 from now on, so a balancer sends no new requests.

        /score keeps serving: gunicorn stops accepting connections, and requests it has already accepted are
        answered normally within the graceful timeout.
        """
        self.stopping = True

    def check_ready(self) -> None:
        """Raises NotReady (503) unless init() has finished and the worker is not stopping."""
        if self.stopping and self.state is State.READY:
            raise NotReady("The service is shutting down.", headers={"Retry-After": "1"})
        self._check_initialised()

    def _check_initialised(self) -> None:
        if self.state is State.READY:
            return
        reasons = {
            State.STARTING: "The service is starting: init() has not finished yet.",
            State.FAILED: "The entry script's init() failed; see the service log.",
        }
        raise NotReady(reasons[self.state], headers={"Retry-After": "1"})

    def wait_until_ready(self) -> None:
        """Wait (at most SCORING_TIMEOUT_MS) for init() to settle, then check readiness.

        A worker still in init() holds /score requests rather than failing them: the reference's workers do not
        accept connections before init() is done, so clients never saw a not-ready worker.

        A stopping worker still serves: these requests were accepted before the shutdown began.

        Raises
        ------
        NotReady
            init() is still running after the wait, or has failed.
        """
        if self.state is State.STARTING:
            with self.threads.waiting():
                self._settled.wait(self.timeout_ms / 1000)
        self._check_initialised()

    def run(self, arguments: Mapping[str, object], request_headers: Mapping[str, str]) -> tuple[object, float]:
        """Call run() in this thread and return (output, elapsed ms).

        At most MAX_CONCURRENT_RUNS calls run at once; waiting for a turn counts towards the timeout, and a caller
        that may not block (``threads.can_block``) gets the timeout at once. A call that times out gives its turn
        back, so one stuck call (e.g. in C code that no exception can stop) does not block later requests.

        Raises
        ------
        ScoringTimeout
            run() did not finish within SCORING_TIMEOUT_MS (also raised, late, by a call that was abandoned).
        Exception
            Whatever run() raised, unchanged.
        """
        timeout_s = self.timeout_ms / 1000
        deadline = time.monotonic() + timeout_s
        if not self.threads.can_block():
            raise self.timeout_error()
        if not self._turns.acquire(blocking=False):
            with self.threads.waiting():
                if not self._turns.acquire(timeout=timeout_s):
                    raise self.timeout_error()
        call = Call(threading.get_ident(), deadline)
        if not self.watched_externally and self._watchdog is None:
            self._start_watchdog()
        self._calls.add(call)
        try:
            try:
                started = time.perf_counter()
                output = self.script.call_run(arguments, request_headers)
                elapsed_ms = (time.perf_counter() - started) * 1000
            finally:
                self._finish(call)
        except _Interrupted:
            self._finish(call)
            logger.warning("A run() call that exceeded %d ms was stopped", self.timeout_ms)
            raise self.timeout_error() from None
        if call.abandoned:
            raise self.timeout_error()
        return output, elapsed_ms

    def timeout_error(self) -> ScoringTimeout:
        """The error a call that outlived SCORING_TIMEOUT_MS is answered with."""
        return ScoringTimeout(self._timeout_message)

    def _finish(self, call: Call) -> None:
        with call.lock:
            if call.finished:
                return
            call.finished = True
            try:
                if call.interrupted_at is not None:
                    _set_async_exc(call.thread_id, None)
            finally:
                # The pending interrupt may fire on the way into the clear: the turn must be given back all the same.
                self._calls.discard(call)
                if not call.abandoned:
                    self._turns.release()

    def watch(self, now: float, on_abandon: Callable[[Call], object] | None = None) -> list:
        """Interrupt the calls past their deadline; abandon those still busy ABANDON_GRACE_S later.

        ``on_abandon(call)`` is called under the call's lock, before the call's own thread can see that it was
        abandoned (it must not block); what it returns is listed. Without it, the abandoned calls are listed.
        """
        abandoned, results = [], []
        for call in list(self._calls):
            if now < call.deadline:
                continue
            with call.lock:
                if call.finished or call.abandoned:
                    continue
                if call.interrupted_at is None:
                    call.interrupted_at = now
                    _set_async_exc(call.thread_id, _Interrupted)
                elif now - call.interrupted_at >= ABANDON_GRACE_S:
                    call.abandoned = True
                    abandoned.append(call)
                    results.append(call if on_abandon is None else on_abandon(call))
        for call in abandoned:
            self._calls.discard(call)
            self._turns.release()
            logger.error(
                "A run() call did not stop within %d ms of its %d ms timeout (blocked in C code?); its thread "
                "stays busy until it returns",
                ABANDON_GRACE_S * 1000,
                self.timeout_ms,
            )
        return results

    def _start_watchdog(self) -> None:
        with self._watchdog_lock:
            if self._watchdog is None:
                self._watchdog = threading.Thread(target=self._watch_forever, name="run-watchdog", daemon=True)
                self._watchdog.start()

    def _watch_forever(self) -> None:
        while True:
            time.sleep(WATCH_INTERVAL_S)
            self.watch(time.monotonic())
