"""Convex worker processes (`convex_worker`) that any thread can call with a deadline.

A call takes an idle worker, sends it the call and waits for the answer on a queue its reader
thread fills; at the deadline the worker is killed (a new one replaces it when needed). The
same design runs on every OS: pipes, threads and `Popen.kill`, no signals.

The pool starts with one worker and grows (up to `max_workers`) only while calls are slow:
once the oldest call in flight has run `grow_after_s` and longer than a worker took to start,
it starts as many workers as there are calls waiting or expected (`expect`). At 0 ms latency
one worker serves every call; at 200 ms the pool fills within about one round trip. Workers
start one after another on a thread of their
own, so a caller never waits for a process to be created.
"""

from __future__ import annotations

import contextlib
import importlib.util
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sync_client.convex_worker import read_message, write_message

if TYPE_CHECKING:
    from sync_client.redaction import RevealsSecret

#: How long a caller waits for a busy worker, and a call must have run, before the pool grows.
GROW_AFTER_S = 0.05
#: How much longer a worker's first call may take before it counts as slow: the SDK connects
#: in the background once its client exists, and the first call waits for that (80 ms here
#: at 0 ms latency).
FIRST_CALL_ALLOWANCE_S = 0.1
#: How long a new worker may take to start (import the SDK, create its client).
START_TIMEOUT_S = 30.0
# The worker runs without `site` (-S: a faster start) and imports only this package and the
# SDK, from the folders this process found them in, which come as arguments.
_BOOTSTRAP = (
    "import sys; sys.path += sys.argv[1:]; del sys.argv[1:]; "
    "from sync_client.convex_worker import main; main()"
)


def _import_folders() -> list[str]:
    """Where this package and the SDK (`convex`, its native `_convex`) are imported from."""
    folders = [str(Path(__file__).resolve().parents[1])]
    for name in ("convex", "_convex"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin is not None:
            origin = Path(spec.origin).resolve()
            folder = origin.parents[1] if spec.submodule_search_locations else origin.parent
            if str(folder) not in folders:
                folders.append(str(folder))
    return folders


class CallTimedOut(Exception):
    """The worker did not answer within the deadline; it has been killed."""


class WorkerStartFailed(Exception):
    """No worker could start (the SDK missing, the interpreter failing): the message says why."""


class WorkerGone(Exception):
    """The worker process ended during the call (its exit code, if known, is in the message)."""


@dataclass(eq=False)
class _Worker:
    process: subprocess.Popen[bytes]
    answers: queue.Queue[tuple[Any, ...] | None] = field(default_factory=queue.Queue)
    started_at: float = field(default_factory=time.monotonic)
    busy_since: float | None = None
    ready: bool = False
    warm: bool = False  # it has answered a call
    stopped: bool = False

    def send(self, message: tuple[Any, ...]) -> None:
        assert self.process.stdin is not None
        write_message(self.process.stdin, message)

    def kill(self) -> None:
        self.stopped = True
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


class WorkerPool:
    """Up to `max_workers` worker processes connected to `url` with `admin_key`."""

    def __init__(
        self,
        url: str,
        admin_key: RevealsSecret | None,
        *,
        max_workers: int = 1,
        grow_after_s: float = GROW_AFTER_S,
        start_timeout_s: float = START_TIMEOUT_S,
    ) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self._url = url
        self._admin_key = admin_key
        self.max_workers = max_workers
        self._grow_after_s = grow_after_s
        self._start_timeout_s = start_timeout_s
        self._changed = threading.Condition()
        self._idle: list[_Worker] = []
        self._workers: set[_Worker] = set()
        self._starting = 0  # asked for or started, not yet ready
        self._to_spawn = 0  # asked for, not yet started
        self._spawner: threading.Thread | None = None
        self._waiting = 0
        self._expected = 0
        self._start_s = 0.0  # how long the last worker took to start
        self._closed = False
        self._start_failure: str | None = None
        self._folders = _import_folders()
        #: The most workers that ran at once (the benchmark reports it).
        self.peak = 0

    def __repr__(self) -> str:
        return f"WorkerPool(workers={len(self._workers)}, max_workers={self.max_workers})"

    # --- calls ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Start a first worker now (so that it is ready by the first call)."""
        with self._changed:
            if not self._workers and not self._starting:
                self._ask_for(1)

    def expect(self, calls: int) -> None:
        """About `calls` calls will come soon: should calls be slow, start workers for them."""
        with self._changed:
            self._expected = max(0, calls)

    def call(self, message: tuple[Any, ...], timeout_s: float | None) -> tuple[Any, ...]:
        """Send `message` to a worker and return its answer, within `timeout_s` of sending."""
        worker = self._acquire()
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        try:
            worker.send(message)
            answer = self._answer(worker, deadline)
        except queue.Empty:
            self._discard(worker)
            raise CallTimedOut from None
        except OSError:  # its stdin closed: the process has ended
            answer = None
        if answer is None:
            self._discard(worker)
            raise WorkerGone(f"exit code {worker.process.wait()}")
        self._release(worker)
        return answer

    def close(self) -> None:
        """Stop every worker (idle or busy) and wait until each has ended."""
        with self._changed:
            self._closed = True
            workers = list(self._workers)
            spawner, self._spawner = self._spawner, None
            self._workers.clear()
            self._idle.clear()
            self._changed.notify_all()
        if spawner is not None:
            spawner.join()  # it kills a worker it was starting
        for worker in workers:
            worker.kill()

    # --- machinery ----------------------------------------------------------------------------

    def _acquire(self) -> _Worker:
        with self._changed:
            self._waiting += 1
            self._expected = max(0, self._expected - 1)
            try:
                while True:
                    if self._closed:
                        raise RuntimeError("the Convex worker pool is closed")
                    if self._idle:
                        worker = self._idle.pop()
                        worker.busy_since = time.monotonic()
                        return worker
                    if self._start_failure is not None:
                        raise WorkerStartFailed(self._start_failure)
                    if not self._workers and not self._starting:
                        self._ask_for(1)
                    self._grow_if_slow()
                    self._changed.wait(self._grow_after_s)
                    self._stop_slow_starters()
            finally:
                self._waiting -= 1

    def _answer(self, worker: _Worker, deadline: float | None) -> tuple[Any, ...] | None:
        """The worker's answer (queue.Empty at the deadline); while it is late, grow."""
        while True:
            wait = self._grow_after_s
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    raise queue.Empty
            try:
                return worker.answers.get(timeout=wait)
            except queue.Empty:
                with self._changed:
                    self._grow_if_slow()

    def _grow_if_slow(self) -> None:
        """Once a call has run `grow_after_s`, ask for a worker for each call waiting or
        expected (up to `max_workers`). Called with the lock held."""
        size = self._starting + sum(1 for worker in self._workers if worker.ready)
        if size >= self.max_workers or self._closed or self._start_failure is not None:
            return
        # Slow means slower than starting a worker takes here and now (a busy machine starts
        # them slowly and stalls fast calls too: growing then would only add to the load). A
        # worker's first call also waits for its connection, which takes a while even nearby.
        slow_after = max(self._grow_after_s, self._start_s)
        now = time.monotonic()
        in_flight = [w for w in self._workers if w.busy_since is not None]
        if not any(
            now - w.busy_since >= slow_after + (0 if w.warm else FIRST_CALL_ALLOWANCE_S)
            for w in in_flight
            if w.busy_since is not None
        ):
            return
        wanted = len(in_flight) + self._waiting + self._expected
        if (missing := min(self.max_workers, wanted) - size) > 0:
            self._ask_for(missing)

    def _ask_for(self, count: int) -> None:
        """Have `count` more workers started (by the spawner thread). Lock held."""
        self._to_spawn += count
        self._starting += count
        if self._spawner is None:
            self._spawner = threading.Thread(
                target=self._spawn_workers, name="convex-worker-spawner", daemon=True
            )
            self._spawner.start()
        self._changed.notify_all()

    def _spawn_workers(self) -> None:
        with self._changed:
            while not self._closed:
                if not self._to_spawn:
                    self._changed.wait()
                    continue
                self._to_spawn -= 1
                self._changed.release()
                try:
                    worker: _Worker | None = self._spawn()
                except OSError as error:  # the interpreter cannot be started
                    worker = None
                    failure = f"the Convex worker process failed to start: {error}"
                finally:
                    self._changed.acquire()
                if worker is None:
                    self._starting -= 1
                    self._start_failure = failure
                elif self._closed:
                    worker.kill()
                    return
                elif not worker.stopped:  # else it failed at once: its reader said so
                    self._workers.add(worker)
                    self.peak = max(self.peak, len(self._workers))
                self._changed.notify_all()

    def _spawn(self) -> _Worker:
        process = subprocess.Popen(
            [sys.executable, "-S", "-c", _BOOTSTRAP, *self._folders],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        worker = _Worker(process)
        key = None if self._admin_key is None else self._admin_key.reveal()
        # Should it have ended at once, its reader sees the end of its output and says so.
        with contextlib.suppress(OSError):
            worker.send(("connect", self._url, key))
        threading.Thread(
            target=self._read_answers, args=(worker,), name="convex-worker-reader", daemon=True
        ).start()
        return worker

    def _read_answers(self, worker: _Worker) -> None:
        """Feed the worker's answers to its queue; the first says whether it started."""
        stdout: IO[bytes] | None = worker.process.stdout
        assert stdout is not None
        first = _read(stdout)
        with self._changed:
            self._starting -= 1
            # It may answer before the spawner has added it to the pool: do that here then.
            if self._closed or worker.stopped:
                pass
            elif first == ("ready",):
                worker.ready = True
                self._start_s = time.monotonic() - worker.started_at
                self._workers.add(worker)
                self._idle.append(worker)
            else:
                self._workers.discard(worker)
                worker.stopped = True
                if first is not None and first[0] == "error":
                    self._start_failure = f"the Convex worker process failed to start: {first[1]}"
                else:
                    code = worker.process.wait()
                    self._start_failure = (
                        f"the Convex worker process ended before it was ready (exit code {code})"
                    )
            self._changed.notify_all()
        while (answer := _read(stdout)) is not None:
            worker.answers.put(answer)
        worker.answers.put(None)

    def _stop_slow_starters(self) -> None:
        now = time.monotonic()
        for worker in list(self._workers):
            starting = worker.busy_since is None and worker not in self._idle
            if starting and now - worker.started_at > self._start_timeout_s:
                self._workers.discard(worker)
                worker.stopped = True
                worker.process.kill()
                self._start_failure = (
                    f"the Convex worker process did not start within {self._start_timeout_s:g} s"
                )

    def _release(self, worker: _Worker) -> None:
        with self._changed:
            worker.busy_since = None
            worker.warm = True
            if worker in self._workers:
                self._idle.append(worker)
            self._changed.notify_all()
        if self._closed:
            worker.kill()

    def _discard(self, worker: _Worker) -> None:
        with self._changed:
            self._workers.discard(worker)
            self._changed.notify_all()
        worker.kill()


def _read(stream: IO[bytes]) -> tuple[Any, ...] | None:
    try:
        return read_message(stream)
    except (OSError, ValueError, EOFError, TypeError):  # a cut-off or garbled message
        return None
