"""Claims measured on a Dask cluster: ``pytest paper_checks/ --scheduler local|tcp://HOST:PORT``.

The controller (the pytest process) submits one task per (claim id, seed) that the run must
measure (claims whose evidence the cache holds are not submitted); a worker resolves the
claim by id through the registry, measures that seed on ``threads`` math-library threads
(the plugin's ``MATH_THREADS``, as in a serial run) and returns the
:class:`~theorems.base.Measurement`. Only ids, seeds, the settings that change results and
the measurements cross the wire; the controller aggregates them with the claim's statistic
(:meth:`~theorems.base.Claim.judge`), draws the figures and writes the report, so verdicts
and values are the serial run's.

Trained runs are shared between workers through the claim cache (:mod:`theorems.runshare`):
the first worker that needs a run trains it (holding the entry's lock) and the others load
it, so on a multi-machine cluster the cache folder must be on a file system every worker
sees. The trainings are tasks of their own: the controller calls ``Claim.prepare((seed,))``
for each seed it submits, a prepare that goes through :func:`background` submits its
trainings (once per key across the run), and the seed's measurement task waits for them,
so no worker holds a task while it waits for another worker's training. A training task
that fails leaves nothing behind: the measurement trains the run itself and reports the
failure. A prepare that does not use :func:`background` starts nothing on the controller
(its runs are trained on demand, by the workers that need them).

A worker that dies while measuring is retried once; a second death makes the claim an ERROR
row. A measurement that raises is not retried: it is an ERROR row, as in a serial run. Dask
charges a worker's death to every task the scheduler had sent to it, not only to the one it
was running, so on the ``local`` cluster the controller counts the deaths itself: each
measurement leaves a marker file when it starts, dask retries nothing
(``distributed.scheduler.allowed-failures`` 0), and a seed whose worker died is submitted
again; the death counts against it only if its marker shows that it was the task running.
A claim that waited behind a dying one is never charged with its death. An existing
scheduler (``tcp://``) uses its own ``allowed-failures`` and dask's count.

``dask[distributed]`` is an optional dependency (``pip install -e ".[dask]"``), imported
only when ``--scheduler`` is given.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import threading
import time

ALLOWED_FAILURES = 1  # worker deaths a task survives (it is retried once)
# Submissions of one seed at most on the local cluster: its own deaths, and those of workers
# it only waited on (or of a training it waited for), each answered by a resubmission.
MAX_SUBMISSIONS = 2 * (ALLOWED_FAILURES + 1) + 2
FORWARDED_ENV = ("REPRESENTATION_THEOREMS_",)  # settings that change results, sent to workers

# What at_close registered in this process, to call when it ends.
_AT_CLOSE: list = []
# A worker process runs the measurement and training tasks one at a time, however many
# threads it was started with: each sets process-wide state (the math libraries' thread
# counts, through sim.threads, and the controller's settings in the environment), which two
# tasks running at once would change under each other.
_TASKS = threading.Lock()


def at_close(fn) -> None:
    """Call ``fn()`` when this process ends: at interpreter exit or, in a Dask worker, when
    the worker closes (its process may then be terminated by its nanny, and a terminated
    process runs no ``atexit`` handlers). For what must not outlive the process, such as
    the worker processes it started. ``fn`` may be called twice (at close, then at exit)."""
    atexit.register(fn)
    _AT_CLOSE.append(fn)


def _run_at_close() -> None:
    while _AT_CLOSE:
        _AT_CLOSE.pop()()


def _at_close_plugin():
    """A Dask worker plugin whose teardown (the worker closing) runs :func:`at_close`'s
    functions."""
    from distributed import WorkerPlugin

    class AtClose(WorkerPlugin):
        name = "representation-theorems-at-close"

        def teardown(self, worker):
            _run_at_close()

    return AtClose()


# While the controller calls a claim's prepare for one seed: (the scheduler, the futures that
# seed's measurement must wait for). None otherwise.
_COLLECTING: tuple["Scheduler", list] | None = None


def collecting() -> bool:
    """Whether the scheduler is collecting the background tasks of a claim's prepare."""
    return _COLLECTING is not None


def background(key: str, fn, *args) -> bool:
    """Submit ``fn(*args)`` as a task of the run's scheduler, once per ``key`` (a later call
    with the same key reuses the task); the measurement of the seed being prepared waits
    for it. Returns False, submitting nothing, outside a prepare the scheduler called: the
    caller then does the work its own way. ``fn`` must be importable on the workers (a
    module-level function) and return nothing; what it raises is not re-raised (the
    measurement that needs the result computes it itself and reports the error)."""
    if _COLLECTING is None:
        return False
    scheduler, after = _COLLECTING
    if key not in scheduler.background_tasks:
        scheduler.background_tasks[key] = scheduler.client.submit(
            _background, fn, settings(), *args, pure=False,
            key=f"background-{key}-{os.getpid()}-{id(scheduler)}")
    after.append(scheduler.background_tasks[key])
    return True


def _background(fn, env: dict, *args) -> str | None:
    """Run on a worker: ``fn(*args)`` under the controller's settings; None, or what it
    raised as text (a training task's failure must not fail the measurements after it)."""
    with _TASKS:
        os.environ.update(env)
        try:
            fn(*args)
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        return None


def settings() -> dict:
    """The controller's settings that the workers must share (scale, theorem packages, the
    cache folder for trained runs)."""
    return {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV)
            and k != "REPRESENTATION_THEOREMS_RUN_SHARE"}


def measure(claim_id: str, seed: int, env: dict, threads: int, marker: str | None, *after):
    """Run on a worker: the Measurement of one seed of the registered claim ``claim_id``
    (``marker``: a file to create, durably, before measuring, that tells the controller this
    attempt started; ``after``: the outcomes of the background tasks it waited for, unused).
    One task at a time per process (``_TASKS``), so a worker with several threads runs its
    tasks one after another."""
    with _TASKS:
        if marker is not None:
            fd = os.open(marker, os.O_CREAT | os.O_WRONLY, 0o644)
            os.fsync(fd)
            os.close(fd)
        from theorems import registry
        changed = any(os.environ.get(k) != v for k, v in env.items())
        os.environ.update(env)
        if changed:
            registry.refresh()
        from sim.threads import fixed_threads
        claim = registry.get_claim(claim_id)
        with fixed_threads(threads):
            return claim.measure(seed)


class Scheduler:
    """A Dask client for the run (and the local cluster it started, if any)."""

    def __init__(self, address: str, threads: int):
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise RuntimeError("--scheduler needs dask[distributed]: pip install -e \".[dask]\" "
                               f"({exc})") from None
        self.threads, self.cluster, self.futures, self.background_tasks = threads, None, {}, {}
        if address == "local":
            # workers may start processes of their own (the CPU trainings' loky pool)
            # the controller counts the deaths (module docstring): dask retries nothing
            dask.config.set({"distributed.scheduler.allowed-failures": 0,
                             "distributed.worker.daemon": False})
            before = os.environ.get("PYTHONPATH")
            # the workers are fresh interpreters: they import what the controller imports
            os.environ["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
            try:
                n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
                self.cluster = LocalCluster(n_workers=n or 1, threads_per_worker=1,
                                            processes=True, dashboard_address=None)
            finally:
                if before is None:
                    os.environ.pop("PYTHONPATH", None)
                else:
                    os.environ["PYTHONPATH"] = before
            self.client = Client(self.cluster)
        else:
            self.client = Client(address)
        self.client.register_plugin(_at_close_plugin())
        self.address = address
        # where the local cluster's measurements mark their start (the workers share this
        # machine's file system); None on an existing scheduler, which counts for itself
        self.markers = (tempfile.mkdtemp(prefix="representation-theorems-starts-")
                        if self.cluster is not None else None)
        self.submissions = 0

    def submit(self, claim_id: str, seeds: tuple[int, ...], prepare=None) -> None:
        """Submit one task per seed of the claim (once), each after the background tasks
        that ``prepare((seed,))`` (the claim's ``prepare``, if any) submits through
        :func:`background`."""
        global _COLLECTING
        if (claim_id, seeds) in self.futures:
            return
        env = settings()
        futures = []
        for s in seeds:
            after: list = []
            if prepare is not None:
                _COLLECTING = (self, after)
                try:
                    prepare((s,))
                finally:
                    _COLLECTING = None
            futures.append(self._submit(claim_id, s, env, after))
        self.futures[(claim_id, seeds)] = (time.perf_counter(), futures)

    def _submit(self, claim_id: str, seed: int, env: dict, after: list):
        """(the future, its marker file, the settings and background tasks it was submitted
        with) of one seed."""
        self.submissions += 1
        key = f"measure-{claim_id}-{seed}-{os.getpid()}-{id(self)}-{self.submissions}"
        marker = None if self.markers is None else os.path.join(self.markers, key)
        fut = self.client.submit(measure, claim_id, seed, env, self.threads, marker, *after,
                                 pure=False, key=key)
        return fut, marker, env, after

    def submitted(self, claim_id: str, seeds: tuple[int, ...]) -> bool:
        return (claim_id, seeds) in self.futures

    def gather(self, claim_id: str, seeds: tuple[int, ...]):
        """(the seeds' Measurements, when measuring began); raises what a seed raised, or
        RuntimeError naming the seed when its worker died twice."""
        from distributed import KilledWorker
        start, futures = self.futures.pop((claim_id, seeds))
        out = []
        for seed, (fut, marker, env, after) in zip(seeds, futures):
            deaths, submissions = 0, 1
            while True:
                try:
                    out.append(fut.result())
                    break
                except KilledWorker as exc:
                    if marker is None:  # an existing scheduler: dask counted the deaths
                        raise RuntimeError(f"the worker running claim {claim_id} seed {seed} "
                                           f"died (dask: {exc})") from None
                    deaths += os.path.exists(marker)  # it was the task running
                    if deaths > ALLOWED_FAILURES or submissions == MAX_SUBMISSIONS:
                        raise RuntimeError(
                            f"the worker running claim {claim_id} seed {seed} died {deaths} "
                            f"time(s) while measuring it, and the seed was submitted "
                            f"{submissions} time(s) (dask: {exc})") from None
                    # again, without the trainings that died with a worker: the measurement
                    # trains what it needs itself (as after a failed training task)
                    fut, marker, env, after = self._submit(
                        claim_id, seed, env, [f for f in after if f.status != "error"])
                    submissions += 1
        return tuple(out), start

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        if self.markers is not None:
            shutil.rmtree(self.markers)
