"""Executors: run many independent jobs serially, on a process pool or on a Dask cluster, and
stream each result back as it finishes. Sweeps and benchmarks use them.

    from engine.executors import ProcessExecutor, SerialExecutor, DaskExecutor

    with ProcessExecutor(workers=4) as executor:        # or SerialExecutor(), DaskExecutor(...)
        for index, result in executor.map_unordered(fn, jobs, cancel):
            ...                                           # arrival order, not job order

The contract:
- `fn` is a module-level function (sent by reference: workers import its module) taking one
  job and returning a result. Jobs and results are small picklable specs and records, never
  live objects: a job says what to compute, the worker builds what it needs.
- `map_unordered` yields `(index into jobs, result)` as jobs finish.
- Cancelling: set `cancel` (a `threading.Event`) from any thread, e.g. a Ctrl+C handler or
  the app's Stop key. The executor stops sending jobs, drops queued ones and asks running
  ones to stop: job code calls `stop_requested()` between steps and raises `Stopped`. Jobs
  that had finished are still yielded; then the iterator ends (within ~0.1 s plus one check
  interval of the running jobs). On Dask, running jobs cannot be told to stop: they finish on
  the cluster and their results are dropped.
- A job that raises (anything but `Stopped`) stops the rest and is re-raised in the caller as
  `JobError`, naming the job; the results yielded before it stay valid.
- Small jobs are sent in chunks so the per-job overhead stays small: the first jobs go one at
  a time, then each chunk is sized from the measured time per job to take about
  `chunk_seconds` (never more than an even share of what is left, so the last chunks still
  spread over every worker). At most two chunks per worker are in flight.

Workers import only the engine (NumPy), never Textual, Rich or plotext. Pool workers are
forked from a server process that has the engine imported already (the "forkserver" start
method: cheap to start, and safe from a program that runs threads, such as the app); they
ignore SIGINT and SIGHUP (a Ctrl+C or a closed terminal reaches the whole process group, and
belongs to the parent, which cancels), exit at once when the parent process is gone (even
killed with SIGKILL: each worker watches a pipe only the parent holds open), and use one BLAS
thread each and one thread for the compiled path's split steps (one process per core; more
threads per process only contend). The fork server and
multiprocessing's resource tracker end on their own once the parent and the workers have. Dask
workers started by `DaskExecutor("local")` get one thread each, and Dask sets one BLAS thread
per worker itself.
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import multiprocessing
import os
import re
import signal
import socket
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from queue import Empty, Queue
from typing import Any, Protocol

#: Seconds between checks of the cancel flag while waiting for results.
POLL_SECONDS = 0.1
#: How long a Dask client waits for the scheduler to answer before giving up.
DASK_CONNECT_SECONDS = 5.0
#: How the Dask extra is installed (in messages).
DASK_INSTALL = "pip install 'optplay[dask]' (from a checkout: pip install -e '.[dask]')"
#: Modules the pool's fork server imports once, so each worker starts with the engine loaded.
_PRELOAD = ["numpy", "engine.run", "engine.jobs", "engine.sweep", "engine.bench"]
#: Environment for the fork server: one BLAS/OpenMP thread per worker process, and one thread
#: for the compiled path's split steps (engine/optimizers/compiled.py reads NUMBA_NUM_THREADS).
_ONE_THREAD = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


class Stopped(Exception):
    """Raised by job code that saw `stop_requested()`: the job was cancelled, not failed."""


class ExecutorError(ValueError):
    """An executor cannot be set up (Dask missing, no scheduler at the address, no workers).
    The message is one line, starting with the flag or field it is about."""


class JobError(RuntimeError):
    """A job raised. `index` is the job's position, `detail` the error's one-line text and
    `remote_traceback` the worker's traceback (text)."""

    def __init__(self, index: int, detail: str, remote_traceback: str = "") -> None:
        super().__init__(f"job {index} failed: {detail}")
        self.index = index
        self.detail = detail
        self.remote_traceback = remote_traceback


def machine_workers() -> int:
    """The number of cores this process may use (the default pool size)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


# -- stopping from inside a job ------------------------------------------------------------------

_worker_stop: Any = None  # a multiprocessing.Event, set in pool workers by _init_pool_worker
_local = threading.local()  # .cancel: the threading.Event of a serial map in this thread


def stop_requested() -> bool:
    """Whether the job running in this worker (or thread) should stop now. Cheap enough to
    call between steps; always False on Dask workers."""
    cancel = getattr(_local, "cancel", None)
    if cancel is not None and cancel.is_set():
        return True
    return _worker_stop is not None and _worker_stop.is_set()


def _init_pool_worker(stop: Any, parent_alive: Any) -> None:
    global _worker_stop
    _worker_stop = stop
    # The terminal's signals reach the whole process group; the parent handles them by
    # cancelling, and a worker that died of one would lose the runs it had finished.
    for name in ("SIGINT", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    watch = threading.Thread(
        target=_exit_with_parent, args=(parent_alive,), name="parent-watch", daemon=True
    )
    watch.start()


def _exit_with_parent(parent_alive: Any) -> None:
    """Block on the parent's pipe (nothing is ever sent on it); its end of file means the
    parent is gone, however it ended: exit now rather than run on unwatched."""
    try:
        parent_alive.recv_bytes()
    except (EOFError, OSError):
        pass
    os._exit(1)


# -- chunks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Failure:
    index: int
    detail: str
    traceback: str


@dataclass(frozen=True)
class _ChunkResult:
    results: list[tuple[int, Any]]  # the jobs that finished, in order
    seconds: float  # wall time of those jobs in the worker
    failure: _Failure | None = None


def _run_chunk(fn: Callable[[Any], Any], chunk: Sequence[tuple[int, Any]]) -> _ChunkResult:
    """Run a chunk of jobs in a worker. Stops at the first Stopped (the rest are dropped) or
    failure (reported, not raised: the worker's exception may not pickle)."""
    results: list[tuple[int, Any]] = []
    started = time.perf_counter()
    for index, job in chunk:
        if stop_requested():
            break
        try:
            results.append((index, fn(job)))
        except Stopped:
            break
        except Exception as err:  # reported to the caller as JobError
            detail = f"{type(err).__name__}: {err}".splitlines()[0]
            failure = _Failure(index, detail, traceback.format_exc())
            return _ChunkResult(results, time.perf_counter() - started, failure)
    return _ChunkResult(results, time.perf_counter() - started)


class _Chunker:
    """Chunk sizes from the measured time per job (see the module docstring)."""

    def __init__(self, workers: int, chunk_seconds: float, max_chunk: int = 64) -> None:
        self.workers = workers
        self.chunk_seconds = chunk_seconds
        self.max_chunk = max_chunk
        self.per_job: float | None = None

    def observe(self, result: _ChunkResult) -> None:
        if not result.results:
            return
        per_job = result.seconds / len(result.results)
        self.per_job = per_job if self.per_job is None else 0.5 * (self.per_job + per_job)

    def size(self, remaining: int) -> int:
        if self.per_job is None or self.per_job <= 0.0:
            return 1
        wanted = int(self.chunk_seconds / self.per_job)
        share = math.ceil(remaining / (2 * self.workers))
        return max(1, min(wanted, share, self.max_chunk))


def _take(queue: deque[tuple[int, Any]], n: int) -> list[tuple[int, Any]]:
    return [queue.popleft() for _ in range(min(n, len(queue)))]


def _raise_failure(failure: _Failure | None) -> None:
    if failure is not None:
        raise JobError(failure.index, failure.detail, failure.traceback)


# -- executors ---------------------------------------------------------------------------------


class Executor(Protocol):
    """What sweeps and benchmarks need from an executor."""

    #: "serial", "process pool" or "dask", for messages and reports.
    kind: str

    @property
    def workers(self) -> int:
        """How many jobs run at once."""
        ...

    def describe(self) -> str:
        """One line for a report, e.g. "process pool, 2 workers"."""
        ...

    def map_unordered(
        self,
        fn: Callable[[Any], Any],
        jobs: Sequence[Any],
        cancel: threading.Event | None = None,
    ) -> Iterator[tuple[int, Any]]:
        """Run `fn` on every job; yield (index, result) as each finishes."""
        ...

    def close(self) -> None:
        """Release workers (idempotent)."""
        ...


class _Base:
    kind = "executor"

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        pass


class SerialExecutor(_Base):
    """Every job in the calling thread, one after another (`--workers 1`)."""

    kind = "serial"

    @property
    def workers(self) -> int:
        return 1

    def describe(self) -> str:
        return "serial (this process)"

    def map_unordered(
        self,
        fn: Callable[[Any], Any],
        jobs: Sequence[Any],
        cancel: threading.Event | None = None,
    ) -> Iterator[tuple[int, Any]]:
        cancel = cancel or threading.Event()
        outer = getattr(_local, "cancel", None)
        _local.cancel = cancel
        try:
            for index, job in enumerate(jobs):
                if cancel.is_set():
                    return
                try:
                    result = fn(job)
                except Stopped:
                    return
                except Exception as err:
                    detail = f"{type(err).__name__}: {err}".splitlines()[0]
                    raise JobError(index, detail, traceback.format_exc()) from err
                yield index, result
        finally:
            _local.cancel = outer


@contextlib.contextmanager
def _single_threaded_children() -> Iterator[None]:
    """Environment for starting the fork server: one BLAS thread per worker (a user's own
    setting wins). Restored at once; only the server process keeps it."""
    saved = {k: os.environ.get(k) for k in _ONE_THREAD}
    for key in _ONE_THREAD:
        os.environ.setdefault(key, "1")
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class ProcessExecutor(_Base):
    """A pool of worker processes on this machine (default: one per core).

    The pool starts on the first `map_unordered` and is reused by later ones until `close()`.
    One map at a time per executor."""

    kind = "process pool"

    def __init__(self, workers: int | None = None, chunk_seconds: float = 0.2) -> None:
        if workers is not None and (isinstance(workers, bool) or workers < 1):
            raise ExecutorError(f"workers must be an integer >= 1, got {workers!r}")
        self._workers = int(workers) if workers is not None else machine_workers()
        self.chunk_seconds = chunk_seconds
        self._pool: ProcessPoolExecutor | None = None
        self._ctx = multiprocessing.get_context("forkserver")
        self._stop = self._ctx.Event()
        # The pipe the workers watch (see the module docstring): our writing end, never
        # written, and the reading end each new worker gets a copy of.
        self._parent_alive: Any = None
        self._watched: Any = None

    @property
    def workers(self) -> int:
        return self._workers

    def describe(self) -> str:
        return f"process pool, {self._workers} worker{'s' if self._workers != 1 else ''}"

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._ctx.set_forkserver_preload(_PRELOAD)
            with _single_threaded_children():
                from multiprocessing import forkserver

                forkserver.ensure_running()
            if self._parent_alive is None:
                self._watched, self._parent_alive = self._ctx.Pipe(duplex=False)
            self._pool = ProcessPoolExecutor(
                self._workers,
                mp_context=self._ctx,
                initializer=_init_pool_worker,
                initargs=(self._stop, self._watched),
            )
        return self._pool

    def map_unordered(
        self,
        fn: Callable[[Any], Any],
        jobs: Sequence[Any],
        cancel: threading.Event | None = None,
    ) -> Iterator[tuple[int, Any]]:
        cancel = cancel or threading.Event()
        pool = self._ensure_pool()
        self._stop.clear()
        queue: deque[tuple[int, Any]] = deque(enumerate(jobs))
        chunker = _Chunker(self._workers, self.chunk_seconds)
        running: set[Future[_ChunkResult]] = set()
        try:
            while queue or running:
                if cancel.is_set():
                    break
                while queue and len(running) < 2 * self._workers:
                    chunk = _take(queue, chunker.size(len(queue)))
                    running.add(pool.submit(_run_chunk, fn, chunk))
                done, running = wait(running, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                for future in done:
                    outcome = self._outcome(future)
                    chunker.observe(outcome)
                    yield from outcome.results
                    _raise_failure(outcome.failure)
            if running:  # cancelled: stop the running jobs, keep what they finished
                self._stop.set()
                for future in running:
                    future.cancel()
                done, running = wait(running)
                for future in done:
                    if not future.cancelled():
                        yield from self._outcome(future).results
        finally:
            if running:  # the consumer left early or a job failed: don't leave work behind
                self._stop.set()
                for future in running:
                    future.cancel()
                wait(running)
            self._stop.clear()

    def _outcome(self, future: Future[_ChunkResult]) -> _ChunkResult:
        try:
            return future.result()
        except BrokenProcessPool as err:
            self._pool = None  # a worker died (killed, out of memory): start afresh next time
            raise ExecutorError(f"workers: a worker process died ({err})") from None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._parent_alive is not None:  # after the workers: closing it ends any left
            self._parent_alive.close()
            self._watched.close()
            self._parent_alive = self._watched = None


#: The port of a Dask scheduler address that gives none.
DASK_DEFAULT_PORT = 8786
_HOST_NAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                        r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$")  # fmt: skip


def dask_address(text: str) -> tuple[str, str, int]:
    """A scheduler address as typed ("tcp://host:8786", "host:8786", "host", "[::1]:8786",
    "tls://...") checked for its form only, nothing contacted: (scheme, host, port).
    ExecutorError (one line, starting "--dask") for anything else."""
    usage = "give tcp://HOST:PORT, HOST:PORT or local"
    shown = repr(text) if not text or not text.isprintable() else text
    if not isinstance(text, str) or not text.strip():
        raise ExecutorError(f"--dask: the address is empty; {usage}")
    scheme, sep, rest = text.strip().partition("://")
    if not sep:
        scheme, rest = "tcp", text.strip()
    if scheme not in ("tcp", "tls"):
        raise ExecutorError(
            f"--dask {shown}: {scheme!r} is not a Dask protocol (tcp or tls); {usage}"
        )
    if rest.startswith("["):  # an IPv6 address
        host, bracket, tail = rest[1:].partition("]")
        if not bracket or not host:
            raise ExecutorError(f"--dask {shown}: an unclosed [ in the host; {usage}")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ExecutorError(f"--dask {shown}: {host!r} is not an IPv6 address") from None
        if tail and not tail.startswith(":"):
            raise ExecutorError(f"--dask {shown}: expected :PORT after the host; {usage}")
        port_text = tail[1:] if tail else ""
    else:
        host, colon, port_text = rest.partition(":")
        if not host or not _HOST_NAME.match(host):
            what = "no host" if not host else f"{host!r} is not a host name or address"
            raise ExecutorError(f"--dask {shown}: {what}; {usage}")
        if colon and not port_text:
            raise ExecutorError(f"--dask {shown}: the port is missing after ':'; {usage}")
    port = DASK_DEFAULT_PORT
    if port_text:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise ExecutorError(
                f"--dask {shown}: the port must be an integer in 1..65535, got {port_text!r}"
            )
        port = int(port_text)
    return scheme, host, port


def _reachable(text: str, scheme: str, host: str, port: int, timeout: float) -> None:
    """A quick TCP connection to the scheduler's host and port (before Dask's client, which
    can wait for ever on a peer that accepts and stays silent): ExecutorError naming the
    address when the host is unknown, nothing listens there, or (tcp) what listens does not
    greet us within `timeout` as a Dask scheduler does (it speaks first)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as err:
        raise ExecutorError(f"--dask {text}: unknown host {host!r} ({err})") from None
    last: OSError | None = None
    for family, kind, proto, _, address in infos:
        try:
            with socket.socket(family, kind, proto) as probe:
                probe.settimeout(timeout)
                probe.connect(address)
                if scheme == "tcp":
                    _greeted(probe, text, timeout)
            return
        except OSError as err:
            last = err
    why = (
        "timed out"
        if isinstance(last, TimeoutError)
        else (last.strerror or str(last))
        if last
        else "?"
    )
    raise ExecutorError(f"--dask {text}: cannot connect to {host} port {port} ({why})")


def _greeted(probe: socket.socket, text: str, timeout: float) -> None:
    try:
        first = probe.recv(1)
    except TimeoutError:
        first = None
    if not first:
        what = "closed the connection" if first == b"" else "said nothing"
        raise ExecutorError(
            f"--dask {text}: no Dask scheduler answered within {timeout:g} s (the port is open "
            f"but {what})"
        )


class DaskExecutor(_Base):
    """Jobs on a Dask distributed cluster: `address` is a scheduler ("tcp://host:8786" or
    "host:8786"), or "local" to start a `LocalCluster` of `workers` processes (default: one
    per core) on the loopback interface, closed again by `close()`.

    Raises ExecutorError (one line, starting "--dask") when Dask is not installed, nothing
    answers at the address within `connect_seconds`, or the cluster has no workers. Workers
    need optplay's engine importable (the same version as here)."""

    kind = "dask"

    def __init__(
        self,
        address: str,
        workers: int | None = None,
        connect_seconds: float | None = None,
        chunk_seconds: float = 0.3,
    ) -> None:
        remote = None if address == "local" else dask_address(address)  # before anything else
        try:
            import distributed
        except ImportError:
            raise ExecutorError(f"--dask needs Dask: {DASK_INSTALL}") from None
        self.address = address
        self.chunk_seconds = chunk_seconds
        self._cluster: Any = None
        timeout = DASK_CONNECT_SECONDS if connect_seconds is None else connect_seconds
        if address == "local":
            import dask

            n = workers or machine_workers()
            # Dask's workers get one BLAS thread (kept) and MALLOC_TRIM_THRESHOLD_ (dropped: it
            # turns off glibc's adaptive mmap threshold, so every large temporary array is
            # mapped and unmapped again; a run then costs ~30% more CPU).
            environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
            environ.pop("MALLOC_TRIM_THRESHOLD_", None)
            environ.setdefault("NUMBA_NUM_THREADS", "1")  # one thread per worker, as BLAS
            with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
                self._cluster = distributed.LocalCluster(
                    n_workers=n,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                    silence_logs=50,  # logging.CRITICAL: the command's output stays readable
                )
            self.client = distributed.Client(self._cluster, set_as_default=False)
        else:
            assert remote is not None
            scheme, host, port = remote
            _reachable(address, scheme, host, port, timeout)
            where = f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"
            try:
                self.client = distributed.Client(where, timeout=f"{timeout}s", set_as_default=False)
            except Exception as err:  # whatever Dask raises, one line (e.g. tls without keys)
                why = str(err).splitlines()[0] if str(err) else type(err).__name__
                raise ExecutorError(
                    f"--dask {address}: no Dask scheduler answered within {timeout:g} s ({why})"
                ) from None
            try:
                self.client.wait_for_workers(1, timeout=timeout)
            except Exception as err:
                self.client.close()
                raise ExecutorError(
                    f"--dask {address}: the scheduler has no workers ({type(err).__name__})"
                ) from None

    @property
    def workers(self) -> int:
        threads = self.client.nthreads()
        return max(1, sum(threads.values()))

    def describe(self) -> str:
        where = "local cluster" if self._cluster is not None else self.address
        n = self.workers
        return f"dask ({where}), {n} worker thread{'s' if n != 1 else ''}"

    def map_unordered(
        self,
        fn: Callable[[Any], Any],
        jobs: Sequence[Any],
        cancel: threading.Event | None = None,
    ) -> Iterator[tuple[int, Any]]:
        cancel = cancel or threading.Event()
        workers = self.workers
        queue: deque[tuple[int, Any]] = deque(enumerate(jobs))
        chunker = _Chunker(workers, self.chunk_seconds)
        running: set[Any] = set()
        finished: Queue[Any] = Queue()  # futures, put there by the client's thread when done
        try:
            while queue or running:
                if cancel.is_set():
                    break
                while queue and len(running) < 2 * workers:
                    chunk = _take(queue, chunker.size(len(queue)))
                    future = self.client.submit(_run_chunk, fn, chunk, pure=False)
                    future.add_done_callback(finished.put)
                    running.add(future)
                try:
                    future = finished.get(timeout=POLL_SECONDS)
                except Empty:
                    continue
                running.discard(future)
                try:
                    outcome = future.result()
                except Exception as err:  # e.g. KilledWorker: its chunk killed 3 workers
                    why = f"{type(err).__name__}: {err}".splitlines()[0]
                    lost = f"--dask {self.address}: a chunk of jobs was lost ({why})"
                    raise ExecutorError(lost) from None
                chunker.observe(outcome)
                yield from outcome.results
                _raise_failure(outcome.failure)
        finally:
            if running:
                self.client.cancel(list(running))

    def close(self) -> None:
        client, cluster = getattr(self, "client", None), self._cluster
        self._cluster = None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
