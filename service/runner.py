"""Lifecycle of one worker's entry script: init() once (now or in the background), readiness, and timed run() calls.

run() executes on a few threads of its own so SCORING_TIMEOUT_MS is enforced for every gunicorn thread (the reference's
SIGALRM works only in a main thread). A timed-out call is answered with 504 at once; the still-running call is then
asked to stop with an asynchronous exception, which takes effect at its next Python bytecode.

The hand-off to a run() thread is two C-level lock operations each way, not a concurrent.futures pool: a Future's
Condition and work queue cost about as much CPU as a 1-row predict.
"""

from __future__ import annotations

import contextvars
import ctypes
import logging
import threading
import time
from collections.abc import Callable, Mapping
from enum import Enum
from queue import Empty, SimpleQueue

from service.entry_script import EntryScript
from service.errors import InitFailed, NotReady, ScoringTimeout
from service.logs import escape_controls

logger = logging.getLogger("azmlinfsrv.user_script")
SPARE_THREADS = 4


class State(Enum):
    """Where the worker's init() is; only READY serves /score."""

    STARTING = "starting"
    READY = "ready"
    FAILED = "failed"


class _Interrupted(BaseException):
    """Raised inside a run() that outlived SCORING_TIMEOUT_MS (a BaseException: user `except Exception` keeps out)."""


class _Call:
    """One run() call. ``lock`` orders the interrupt against the call starting and finishing, so a call given up
    before it started never runs and no other call is interrupted; ``done`` is held until the call has finished."""

    __slots__ = ("lock", "thread_id", "given_up", "done", "context", "arguments", "headers", "result", "error")

    def __init__(self, arguments: Mapping[str, object], headers: Mapping[str, str]) -> None:
        self.lock = threading.Lock()
        self.thread_id: int | None = None
        self.given_up = False
        self.done = threading.Lock()
        self.done.acquire()
        self.context = contextvars.copy_context()
        self.arguments, self.headers = arguments, headers
        self.result: tuple[object, float] | None = None
        self.error: BaseException | None = None


class _RunThread:
    """A run() thread's mailbox: ``call`` is set, then ``wake`` released; the thread goes back to the idle queue."""

    __slots__ = ("wake", "call")

    def __init__(self) -> None:
        self.wake = threading.Lock()
        self.wake.acquire()
        self.call: _Call | None = None


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
        # Spare threads take over from calls that timed out but have not stopped yet.
        self._max_run_threads = threads + SPARE_THREADS
        self._run_threads = 0
        self._idle: SimpleQueue[_RunThread] = SimpleQueue()
        self._spawn_lock = threading.Lock()

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
            self._settled.wait(self.timeout_ms / 1000)
        self._check_initialised()

    def run(self, arguments: Mapping[str, object], request_headers: Mapping[str, str]) -> tuple[object, float]:
        """Call run() and return (output, elapsed ms); the caller's context (flask.request) is visible inside.

        At most MAX_CONCURRENT_RUNS calls run at once; waiting for a turn counts towards the timeout. A call that
        times out gives its turn back at once, so one stuck call (e.g. in C code that no exception can stop) does
        not block the worker's later requests.

        Raises
        ------
        ScoringTimeout
            run() did not finish within SCORING_TIMEOUT_MS.
        Exception
            Whatever run() raised, unchanged.
        """
        timeout_s = self.timeout_ms / 1000
        deadline = time.monotonic() + timeout_s
        if not self._turns.acquire(timeout=timeout_s):
            raise ScoringTimeout(f"Scoring timeout after {self.timeout_ms} ms")
        try:
            call = _Call(arguments, request_headers)
            worker = self._idle_thread(deadline)
            if worker is not None:
                worker.call = call
                worker.wake.release()
                if call.done.acquire(timeout=max(deadline - time.monotonic(), 0)):
                    if call.error is not None:
                        raise call.error
                    return call.result
                self._interrupt(call)
            raise ScoringTimeout(f"Scoring timeout after {self.timeout_ms} ms")
        finally:
            self._turns.release()

    def _idle_thread(self, deadline: float) -> _RunThread | None:
        """An idle run() thread, started if fewer than the maximum exist; None if none is free by ``deadline``."""
        try:
            return self._idle.get_nowait()
        except Empty:
            pass
        with self._spawn_lock:
            spawn = self._run_threads < self._max_run_threads
            self._run_threads += spawn
        if spawn:
            worker = _RunThread()
            threading.Thread(target=self._serve, args=(worker,), name=f"run-{self._run_threads}", daemon=True).start()
            return worker
        try:
            return self._idle.get(timeout=max(deadline - time.monotonic(), 0))
        except Empty:
            return None

    def _serve(self, worker: _RunThread) -> None:
        while True:
            worker.wake.acquire()
            call, worker.call = worker.call, None
            try:
                call.result = call.context.run(self._timed, call)
            except BaseException as exc:  # run()'s own failure, even SystemExit, is this request's answer
                call.error = exc
            call.done.release()
            self._idle.put(worker)

    def _timed(self, call: _Call) -> tuple[object, float]:
        try:
            with call.lock:
                if call.given_up:
                    return None, 0.0
                call.thread_id = threading.get_ident()
            try:
                started = time.perf_counter()
                output = self.script.call_run(call.arguments, call.headers)
                elapsed_ms = (time.perf_counter() - started) * 1000
            finally:
                with call.lock:
                    call.thread_id = None
            return output, elapsed_ms
        except _Interrupted:
            logger.warning("A run() call that exceeded %d ms was stopped", self.timeout_ms)
            return None, 0.0

    @staticmethod
    def _interrupt(call: _Call) -> None:
        with call.lock:
            call.given_up = True
            if call.thread_id is not None:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(call.thread_id), ctypes.py_object(_Interrupted)
                )
