"""theorems.scheduler's task functions, run in a Dask worker: a worker started with several
threads runs them one at a time (they set the process's thread counts and settings), tested
in-process with two threads and no dask."""

from __future__ import annotations

import threading
import time

from theorems import registry, scheduler
from theorems.base import Measurement

HOLD_S = 0.2  # how long each task stays inside; long enough for two threads to overlap


class _Recorder:
    """Records when each call enters and leaves, as a fake claim's measure or a training."""

    def __init__(self):
        self.spans, self._lock = [], threading.Lock()

    def __call__(self, seed):
        start = time.perf_counter()
        time.sleep(HOLD_S)
        with self._lock:
            self.spans.append((start, time.perf_counter()))
        return Measurement({"err": float(seed)})

    def overlapped(self) -> bool:
        spans = sorted(self.spans)
        return any(b[0] < a[1] for a, b in zip(spans, spans[1:]))


def _both(target, *args_per_thread):
    threads = [threading.Thread(target=target, args=a) for a in args_per_thread]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_two_measurements_on_one_worker_run_one_after_the_other(monkeypatch):
    rec = _Recorder()

    class Toy:
        measure = staticmethod(rec)

    monkeypatch.setattr(registry, "get_claim", lambda cid: Toy())
    results = {}

    def task(seed):
        results[seed] = scheduler.measure("toy.claim", seed, {}, 1, None)

    _both(task, (0,), (1,))
    assert len(rec.spans) == 2 and not rec.overlapped(), rec.spans
    assert {s: m.values["err"] for s, m in results.items()} == {0: 0.0, 1: 1.0}


def test_two_trainings_on_one_worker_run_one_after_the_other():
    rec = _Recorder()
    _both(lambda s: scheduler._background(rec, {}, s), (0,), (1,))
    assert len(rec.spans) == 2 and not rec.overlapped(), rec.spans
