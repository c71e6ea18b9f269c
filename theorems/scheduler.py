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
sees. ``Claim.prepare`` is not called (workers train on demand).

A worker that dies while measuring is retried once (``distributed.scheduler.allowed-failures``
is 1 on the ``local`` cluster; an existing scheduler uses its own setting); a second death
makes the claim an ERROR row. A measurement that raises is not retried: it is an ERROR row,
as in a serial run.

``dask[distributed]`` is an optional dependency (``pip install -e ".[dask]"``), imported
only when ``--scheduler`` is given.
"""

from __future__ import annotations

import os
import sys
import time

ALLOWED_FAILURES = 1  # worker deaths a task survives (it is retried once)
FORWARDED_ENV = ("REPRESENTATION_THEOREMS_",)  # settings that change results, sent to workers


def settings() -> dict:
    """The controller's settings that the workers must share (scale, theorem packages, the
    cache folder for trained runs)."""
    return {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV)
            and k != "REPRESENTATION_THEOREMS_RUN_SHARE"}


def measure(claim_id: str, seed: int, env: dict, threads: int):
    """Run on a worker: the Measurement of one seed of the registered claim ``claim_id``."""
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
        self.threads, self.cluster, self.futures = threads, None, {}
        if address == "local":
            # workers may start processes of their own (the CPU trainings' loky pool)
            dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
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
        self.address = address

    def submit(self, claim_id: str, seeds: tuple[int, ...]) -> None:
        """Submit one task per seed of the claim (once)."""
        if (claim_id, seeds) in self.futures:
            return
        env = settings()
        self.futures[(claim_id, seeds)] = (time.perf_counter(), [
            self.client.submit(measure, claim_id, s, env, self.threads, pure=False,
                               key=f"measure-{claim_id}-{s}-{os.getpid()}-{id(self)}")
            for s in seeds])

    def submitted(self, claim_id: str, seeds: tuple[int, ...]) -> bool:
        return (claim_id, seeds) in self.futures

    def gather(self, claim_id: str, seeds: tuple[int, ...]):
        """(the seeds' Measurements, when measuring began); raises what a seed raised, or
        RuntimeError naming the seed when its worker died twice."""
        from distributed import KilledWorker
        start, futures = self.futures.pop((claim_id, seeds))
        out = []
        for seed, fut in zip(seeds, futures):
            try:
                out.append(fut.result())
            except KilledWorker as exc:
                raise RuntimeError(f"the worker running claim {claim_id} seed {seed} died "
                                   f"(retried once; dask: {exc})") from None
        return tuple(out), start

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
