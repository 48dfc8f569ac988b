"""Policy retrains and mini-batches off the request path: one worker thread per engine.

The click that triggers a retrain only starts it (`jobs.start`, a few milliseconds under the
lock: a copy of the served state and a reserved version id) and returns; the worker fits,
learns most of the events that arrived meanwhile and stores the version without the lock, then
lands it under the lock, replaying the last few events (`recsys.lifecycle.jobs`). Jobs run
one at a time, in the order they were started.

A thread, not a process: the fit is numpy and BLAS, which release the GIL, and the DuckDB
connection belongs to this process (a second process would get a lock error). Between those
calls the worker runs Python, and a click that gave the interpreter up (DuckDB's commit, a BLAS
call) waits to get it back until the worker is asked to let go: after `sys.getswitchinterval()`,
5 ms by default, paid at each of a click's dozens of such calls. While a job runs the interval
is `SWITCH_INTERVAL` instead. An algorithm that reads other served models (a blend) fits and
measures under the lock, as it would synchronously; its fit is light.

Scripted runs (autopilot, and the scenarios that play it) want the same result on every run,
so they run with the worker `suspended()`: their retrains happen inside the event, as before.
A reset, a reopen or a forgotten user `discard()`s the jobs in flight: they were trained on a
log that no longer exists. A job lost to a crash leaves an unused version id if it had not
been stored yet (the policy counters, read from the log, fire it again), else a version the
update log records as trained that never served: nothing half-written either way.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from recsys.lifecycle import jobs
from recsys.lifecycle.jobs import Job, Lifecycle

KEEP = 20  # finished jobs remembered for the pages
SWITCH_INTERVAL = 0.0005  # seconds the worker may keep the interpreter from a waiting click
log = logging.getLogger(__name__)
_switching = threading.Lock()
_workers = [0, 0.0]  # workers running, and the interval before the first one started


@contextmanager
def _responsive() -> Iterator[None]:
    """While any worker of the process runs, the interpreter switches threads every
    SWITCH_INTERVAL (it is one setting per process: the first worker sets it, the last one
    puts the previous value back)."""
    with _switching:
        if not _workers[0]:
            _workers[1] = sys.getswitchinterval()
            sys.setswitchinterval(min(_workers[1], SWITCH_INTERVAL))
        _workers[0] += 1
    try:
        yield
    finally:
        with _switching:
            _workers[0] -= 1
            if not _workers[0]:
                sys.setswitchinterval(_workers[1])


def settle() -> None:
    """Take every object alive now (the imports, an opened lab) out of the garbage collector's
    full passes (`gc.freeze`), for a process that serves one long-lived engine: a full pass
    otherwise walks about 130,000 objects, 70 to 90 ms of CPU, inside whichever click (or
    worker step) allocates when one is due. Frozen objects still go when nothing refers to
    them (a replaced model does: retrains leave no reference cycles); `Engine.close` calls
    `unsettle`, which gives them back to the collector."""
    gc.collect()
    gc.freeze()


def unsettle() -> None:
    gc.unfreeze()


class Retrainer:
    """Runs `jobs.Job`s on a worker thread when `enabled` (the app turns it on; the CLI and
    the tests leave it off unless they ask). `lock` is the engine's lock."""

    def __init__(self, lock: threading.RLock):
        self.lock = lock
        self.enabled = False
        self._jobs: list[Job] = []  # unfinished ones, and the newest KEEP finished
        self._pending: deque[tuple[Lifecycle, Job]] = deque()
        self._idle = threading.Condition()
        self._busy = False
        self._thread: threading.Thread | None = None
        self._local = threading.local()

    @property
    def active(self) -> bool:
        """Whether a policy's retrain goes to the worker now."""
        return self.enabled and not getattr(self._local, "suspended", 0)

    def submit(self, life: Lifecycle, job: Job) -> None:
        """Queue a started job; the worker runs it as soon as the previous one is done."""
        with self._idle:
            finished = [j for j in self._jobs if j.finished]
            drop = {id(j) for j in finished[: max(len(finished) - KEEP, 0)]}
            self._jobs = [j for j in self._jobs if id(j) not in drop] + [job]
            self._pending.append((life, job))
            self._busy = True
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="retrainer", daemon=True)
                self._thread.start()

    def jobs(self) -> list[Job]:
        """The jobs of this process, oldest first: running, queued and the last few finished."""
        with self._idle:
            return list(self._jobs)

    def running(self) -> list[Job]:
        return [job for job in self.jobs() if not job.finished and not job.discarded]

    def busy(self, algorithm: str) -> bool:
        """Whether a job of `algorithm` is queued or running: a policy starts no second one
        (it fires again after this one lands), so the queue holds one job per algorithm."""
        return any(job.algorithm == algorithm for job in self.running())

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every queued job has landed (or failed); False on timeout. Never call it
        while holding the engine's lock: landing needs it."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._busy, timeout)

    def discard(self) -> None:
        """Jobs in flight will not land (call under the engine's lock, before the log
        changes)."""
        with self._idle:
            for job in [*self._jobs, *(job for _, job in self._pending)]:
                if not job.finished:
                    job.discarded = True

    @contextmanager
    def suspended(self) -> Iterator[None]:
        """Within this, on this thread, retrains run inside the event (after the queue has
        drained): a scripted run is reproducible. Nests (a scenario's autopilot runs)."""
        self.wait()
        self._local.suspended = getattr(self._local, "suspended", 0) + 1
        try:
            yield
        finally:
            self._local.suspended -= 1

    def _work(self) -> None:
        with _responsive():
            self._drain()

    def _drain(self) -> None:
        try:
            while True:
                with self._idle:
                    if not self._pending:
                        self._busy, self._thread = False, None
                        self._idle.notify_all()
                        return
                    life, job = self._pending.popleft()
                self._run(life, job)
        except BaseException:  # not an Exception (those _run keeps): waiters must not hang
            with self._idle:
                for _, job in self._pending:
                    job.stage, job.error = "failed", "the retrain worker stopped"
                    job.ended = time.monotonic()
                self._pending.clear()
                self._busy, self._thread = False, None
                self._idle.notify_all()
            raise

    def _run(self, life: Lifecycle, job: Job) -> None:
        try:
            if job.discarded:
                return
            with self.lock if job.model.components else nullcontext():
                jobs.run(life, job)
                jobs.catch_up(life, job)
            jobs.save(life, job)
            jobs.pregate(life, job)
            with self.lock:
                if not job.discarded:
                    jobs.land(life, job)
        except Exception as error:  # the worker must survive; the page shows the failure
            log.exception("%s failed", job.label)
            job.stage, job.error = "failed", str(error)
        finally:  # also after a BaseException: the job must not look busy forever
            if job.discarded:
                job.stage = "discarded"
            elif not job.finished:
                job.stage, job.error = "failed", job.error or "the retrain was interrupted"
            job.ended = time.monotonic()
