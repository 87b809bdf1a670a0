"""The worker processes: forked once each (the driver's ``init()`` runs once per process, as on Azure), one pipe each
and one mini-batch in flight per worker. Ours rather than ``multiprocessing.Pool`` because stopping a Pool mid-run
takes its queue's shared lock, which a worker may hold, and a Pool silently loses the task of a worker that died;
here a dead worker is seen at once (its process sentinel) and stopping is a SIGTERM per process."""

from __future__ import annotations

import multiprocessing
import os
import time
from multiprocessing.connection import wait

from service.batch import worker

STOP_GRACE_S = 10


def _serve(conn, driver_path, environment: dict[str, str]) -> None:
    """A worker's life: start (init()), then answer mini-batches until the parent sends None or goes away."""
    worker.start(driver_path, environment)
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        conn.send(worker.run_one(*task))


class WorkerPool:
    """``size`` forked workers. ``submit`` hands a mini-batch to an idle one; ``wait`` blocks until at least one
    answers (or dies) and returns the outcomes."""

    def __init__(self, size: int, driver_path, environment: dict[str, str], *, wake_fd: int | None = None) -> None:
        """``wake_fd``: a file descriptor that, when readable, ends a ``wait`` early (the run's signal latch)."""
        self._wake_fd = wake_fd
        # fork: workers inherit the loaded modules; spawn would re-run `python -m service`'s __main__ in each child
        context = multiprocessing.get_context("fork")
        self._processes = []
        self._idle = []
        self._busy: dict = {}  # connection -> (process, mini-batch index)
        for _ in range(size):
            parent, child = context.Pipe()
            process = context.Process(target=_serve, args=(child, driver_path, environment), daemon=True)
            process.start()
            child.close()
            self._processes.append(process)
            self._idle.append((process, parent))

    @property
    def has_idle(self) -> bool:
        return bool(self._idle)

    def submit(self, index: int, payload, encode: bool) -> None:
        process, conn = self._idle.pop()
        conn.send((index, payload, encode))
        self._busy[conn] = (process, index)

    def wait(self) -> list[worker.Outcome]:
        """Outcomes of the mini-batches that finished (none when only ``wake_fd`` woke it); a worker that died fails
        its mini-batch and the run."""
        sentinels = {process.sentinel: conn for conn, (process, _) in self._busy.items()}
        wake = [] if self._wake_fd is None else [self._wake_fd]
        outcomes = []
        for ready in wait([*self._busy, *sentinels, *wake]):
            if ready == self._wake_fd:
                os.read(self._wake_fd, 512)  # drained; the caller looks at what woke it
                continue
            conn = sentinels.get(ready, ready)
            if conn not in self._busy:
                continue  # both its pipe and its sentinel were ready: handled once
            process, index = self._busy.pop(conn)
            try:
                outcomes.append(conn.recv())
                self._idle.append((process, conn))
            except (EOFError, OSError):
                process.join()
                outcomes.append(worker.Outcome(
                    index, error=f"a worker process died (exit code {process.exitcode}) while running it", fatal=True
                ))
        return outcomes

    def close(self) -> None:
        """Let idle workers exit, then stop whatever still runs."""
        for _, conn in self._idle:
            try:
                conn.send(None)
            except OSError:
                pass
        self.terminate()

    def terminate(self) -> None:
        """SIGTERM every worker still alive and reap them all; SIGKILL one still alive ``STOP_GRACE_S`` later (a
        driver may handle SIGTERM itself, and a worker signalled before it reset its handlers only records it)."""
        for process in self._processes:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + STOP_GRACE_S
        for process in self._processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.exitcode is None:
                process.kill()
                process.join()
