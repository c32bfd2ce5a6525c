"""A rung of the ladder served through MLPerf LoadGen: the system under test and its batcher.

LoadGen (``mlcommons-loadgen``, imported as ``mlperf_loadgen``) is the harness: it decides
when each query arrives (SingleStream: one jet after the last one finished; Server: Poisson
arrivals at a target rate; Offline: every jet at once), times them and writes its own logs.
jetprof supplies the system under test (:class:`ServedModel`): a query sample library of
the study's test jets (real jets, real labels) and a model that answers queries.

Threading, and why. LoadGen calls the SUT's issue callback from its own thread and holds
the GIL around it, and its completion call, ``QuerySamplesComplete``, must come from the
process that runs LoadGen (called from another process, LoadGen never learns that the
query finished and hangs). So the SUT owns one inference thread in this process: the
issue callback only puts the samples on a queue and returns (it never computes while
LoadGen holds the GIL), and the inference thread takes them off, batches them, runs the
forward (torch and ONNX Runtime release the GIL while they compute, so LoadGen's own
threads keep issuing and timing) and completes them. One inference thread, not several:
the rung runs with ``threads`` intra-op threads as the profile measures it, and a second
forward at once would share those cores and measure contention instead.

The batcher (Server and Offline): a batch closes when it holds ``max_batch`` jets or when
its first jet has waited ``max_queue_delay_ms``, whichever comes first (Offline's single
query fills every batch at once; SingleStream never waits: one jet per query). Whatever
the forward raises is kept and re-raised after LoadGen returns, its queries completed
empty so that LoadGen does not wait for them forever.
"""

from __future__ import annotations

import os
import queue
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from jetprof.errors import JetprofError

#: LoadGen's scenarios jetprof serves, in the order a study runs them
SCENARIOS = ("SingleStream", "Offline", "Server")
#: LoadGen's message where it is missing (Linux aarch64: no wheel of any release)
NO_LOADGEN = ("MLPerf LoadGen (mlcommons-loadgen) is not installed: pip install 'mlcommons-loadgen==6.0.17' "
              "(no release has Linux aarch64 wheels: serving.scenarios must stay empty there)")


class Predictor(Protocol):
    """A rung's runner (:mod:`jetprof.profiling.backends`): softmax outputs of a padded batch."""

    def predict(self, arrays: dict[str, np.ndarray], n_particles: np.ndarray) -> np.ndarray: ...


class Sample(Protocol):
    """A LoadGen query sample: its response id and its index in the library."""

    id: int
    index: int


@dataclass
class Library:
    """The query sample library: the test jets (padded input arrays), their real particle
    counts and true classes (index into the model's outputs)."""

    arrays: dict[str, np.ndarray]
    n_particles: np.ndarray
    labels: np.ndarray
    source: dict[str, object]

    def __len__(self) -> int:
        return len(self.labels)

    def rows(self, idx: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        return {k: np.ascontiguousarray(v[idx]) for k, v in self.arrays.items()}, self.n_particles[idx]


@dataclass(frozen=True)
class RunSettings:
    """What one LoadGen run is told: every setting set here, none left to a config file.

    ``min_duration_s`` / ``min_query_count`` None: LoadGen's own defaults for the scenario.
    """

    scenario: str
    accuracy: bool = False
    min_duration_s: float | None = None
    min_query_count: int | None = None
    target_qps: float | None = None
    latency_bound_ms: float | None = None
    max_batch: int = 1
    max_queue_delay_ms: float = 0.0
    seed: int = 0


def loadgen() -> object:
    """The ``mlperf_loadgen`` module; JetprofError in one line where it is not installed."""
    import importlib

    try:
        return importlib.import_module("mlperf_loadgen")
    except ImportError:
        raise JetprofError(NO_LOADGEN) from None


def loadgen_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mlcommons-loadgen")
    except PackageNotFoundError:
        return "unknown"


_STOP = (-1, -1, 0.0)


class ServedModel:
    """The SUT: the library and the predictor behind LoadGen's callbacks, with one
    inference thread of its own (see the module docstring)."""

    def __init__(self, predictor: Predictor, library: Library, max_batch: int, max_queue_delay_ms: float) -> None:
        if max_batch < 1:
            raise JetprofError(f"serving.max_batch must be at least 1, not {max_batch}")
        self.predictor, self.library = predictor, library
        self.max_batch, self.delay_s = max_batch, max_queue_delay_ms / 1e3
        self.queue: queue.SimpleQueue[tuple[int, int, float]] = queue.SimpleQueue()
        self.error: BaseException | None = None
        self.batches: list[int] = []
        import mlperf_loadgen as lg

        self.lg = lg
        self.thread = threading.Thread(target=self._serve, name="jetprof-sut", daemon=True)

    # LoadGen's callbacks: on LoadGen's thread, GIL held; they only queue
    def issue(self, samples: list[Sample]) -> None:
        now = time.perf_counter()
        for s in samples:
            self.queue.put((int(s.id), int(s.index), now))

    def flush(self) -> None:
        """Nothing is held back: a partial batch closes on its own deadline."""

    def _next_batch(self) -> list[tuple[int, int, float]]:
        first = self.queue.get()
        if first == _STOP:
            return []
        batch = [first]
        deadline = first[2] + self.delay_s
        while len(batch) < self.max_batch:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                wait = deadline - time.perf_counter()
                if wait <= 0:
                    break
                try:
                    item = self.queue.get(timeout=wait)
                except queue.Empty:
                    break
            if item == _STOP:
                self.queue.put(_STOP)  # seen again by the loop, after this batch
                break
            batch.append(item)
        return batch

    def _serve(self) -> None:
        lg = self.lg
        while True:
            batch = self._next_batch()
            if not batch:
                return
            ids = [b[0] for b in batch]
            idx = np.array([b[1] for b in batch], dtype=np.int64)
            if self.error is None:
                try:
                    arrays, n = self.library.rows(idx)
                    out = np.ascontiguousarray(self.predictor.predict(arrays, n), dtype=np.float32)
                    if out.shape[0] != len(ids):
                        raise JetprofError(f"the rung answered {out.shape[0]} jets for a batch of {len(ids)}")
                    responses = [lg.QuerySampleResponse(i, out[k].ctypes.data, out[k].nbytes)
                                 for k, i in enumerate(ids)]
                    self.batches.append(len(ids))
                    lg.QuerySamplesComplete(responses)  # LoadGen copies the data in this call
                    continue
                except BaseException as exc:  # kept, re-raised after LoadGen returns
                    self.error = exc
            lg.QuerySamplesComplete([lg.QuerySampleResponse(i, 0, 0) for i in ids])

    def run(self, settings: RunSettings, outdir: Path) -> None:
        """One LoadGen run writing its logs into ``outdir``; the forward's error, if any."""
        lg = self.lg
        outdir.mkdir(parents=True, exist_ok=True)
        sut = lg.ConstructSUT(self.issue, self.flush)
        n = len(self.library)
        qsl = lg.ConstructQSL(n, n, _noop, _noop)
        self.thread.start()
        try:
            log_out = lg.LogOutputSettings()
            log_out.outdir = str(outdir)
            log_out.copy_summary_to_stdout = False
            log = lg.LogSettings()
            log.log_output = log_out
            log.enable_trace = False
            # LoadGen would read ./audit.config (compliance overrides of any setting) from the
            # working directory: it is pointed at a file that cannot exist, in a fresh folder
            with tempfile.TemporaryDirectory(prefix="jetprof-no-audit-") as empty:
                lg.StartTestWithLogSettings(sut, qsl, test_settings(settings, n), log,
                                            os.path.join(empty, "audit.config"))
        finally:
            self.queue.put(_STOP)
            self.thread.join()
            lg.DestroyQSL(qsl)
            lg.DestroySUT(sut)
            (outdir / "mlperf_log_trace.json").unlink(missing_ok=True)  # empty: tracing is off
        if self.error is not None:
            raise JetprofError(f"the rung failed while serving ({type(self.error).__name__}: {self.error})")


def _noop(samples: list[int]) -> None:
    """The library is in memory: nothing to load or unload."""


def test_settings(s: RunSettings, library_size: int) -> object:
    """LoadGen's TestSettings for ``s``: scenario, mode, durations and targets all set here."""
    import mlperf_loadgen as lg

    ts = lg.TestSettings()
    ts.scenario = getattr(lg.TestScenario, s.scenario)
    ts.mode = lg.TestMode.AccuracyOnly if s.accuracy else lg.TestMode.PerformanceOnly
    if s.min_duration_s is not None:
        ts.min_duration_ms = round(s.min_duration_s * 1e3)
    if s.min_query_count is not None:
        ts.min_query_count = int(s.min_query_count)
    for name in ("qsl_rng_seed", "sample_index_rng_seed", "schedule_rng_seed"):
        setattr(ts, name, int(s.seed))
    if s.scenario == "Server":
        ts.server_target_qps = float(s.target_qps or 1.0)
        ts.server_target_latency_ns = round((s.latency_bound_ms or 0.0) * 1e6)
        ts.server_target_latency_percentile = 0.99
    if s.scenario == "SingleStream" and s.target_qps:  # LoadGen pre-generates min_duration / latency
        ts.single_stream_expected_latency_ns = max(1, round(1e9 / s.target_qps))
    if s.scenario == "Offline" and s.target_qps:
        ts.offline_expected_qps = float(s.target_qps)
    if s.accuracy:  # every jet once
        ts.accuracy_sample_count_override = library_size
    return ts


def serve(predictor: Predictor, library: Library, settings: RunSettings, outdir: Path) -> list[int]:
    """Run LoadGen once over a fresh SUT; the batch sizes the SUT ran."""
    loadgen()
    batch = 1 if settings.scenario == "SingleStream" else settings.max_batch
    delay = 0.0 if settings.scenario == "SingleStream" else settings.max_queue_delay_ms
    sut = ServedModel(predictor, library, batch, delay)
    sut.run(settings, outdir)
    return sut.batches


def jets_per_s(predictor: Predictor, library: Library, batch: int, calls: int = 3) -> float:
    """A quick estimate of the rung's throughput at ``batch`` (Offline's expected QPS and the
    top of the Server search): the best of ``calls`` forwards after one untimed."""
    idx = np.arange(batch) % len(library)
    arrays, n = library.rows(idx)
    predictor.predict(arrays, n)
    best = float("inf")
    for _ in range(calls):
        t0 = time.perf_counter()
        predictor.predict(arrays, n)
        best = min(best, time.perf_counter() - t0)
    return batch / max(best, 1e-9)

