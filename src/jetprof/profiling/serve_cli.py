"""``jetprof serve``: one rung of the ladder served through MLPerf LoadGen in one scenario.

The rung is built as the profile builds it (:mod:`jetprof.profiling.backends`: eager,
ONNX Runtime, int8, ...) with its weights, over a library of labelled test jets. First
LoadGen's accuracy mode serves every jet once; its accuracy log is scored against the
labels and against eager fp32 on the same jets, and a rung whose outputs differ from eager
fp32 beyond the profile's stated tolerance is not served (the record says why). Then the
performance run: SingleStream (latency per jet), Offline (jets/s) or Server (the highest
target QPS LoadGen calls VALID with p99 within the bound: :func:`search_server`).

Everything lands in ``--out``: LoadGen's logs of the performance run (the accuracy run's
beside them in ``accuracy/``, the Server probes' in ``search/``) and ``record.json``.
LoadGen runs with ``--out`` as the working directory and its audit file set to /dev/null,
so a stray ``audit.config`` cannot change a run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import numpy as np

from jetprof.errors import JetprofError
from jetprof.profiling import loadgen_logs as logs
from jetprof.profiling.serving import (
    SCENARIOS,
    Library,
    Predictor,
    RunSettings,
    jets_per_s,
    loadgen,
    loadgen_version,
    serve,
)
from jetprof.records import PointRecord
from jetprof.serving_records import (
    NOT_SERVED,
    ServedAccuracy,
    ServerProbe,
    ServingRecord,
    ServingSettings,
    validate_serving_record,
)

_MORE = re.compile(r"Processed (\d+) queries.*?at least (\d+) more queries")


class _Notes:
    """What the backends' factories write about a runner (quantisation, ONNX facts): kept
    nowhere, the serving record does not carry them."""

    quantization: object = None
    onnx: object = None
    openvino: object = None


def build(args: argparse.Namespace) -> tuple[Predictor, Predictor, Library]:
    """(the rung, eager fp32 on the same weights, the library of test jets)."""
    import torch

    from jetprof.contract import ONNX_BACKENDS
    from jetprof.model.build import build_model, load_weights
    from jetprof.model.inputs import expand_data_glob, labelled_jets, min_particles
    from jetprof.profiling import backends

    torch.set_num_threads(args.threads)
    with contextlib.suppress(RuntimeError):  # already set in this process
        torch.set_num_interop_threads(1)
    torch.manual_seed(args.seed)
    onnx = args.backend in ONNX_BACKENDS
    built = build_model(args.network_config, args.data_config, for_inference=onnx)
    if args.checkpoint:
        load_weights(built, args.checkpoint)
    model = built.model.eval().requires_grad_(False)
    batch, labels = labelled_jets(expand_data_glob(args.data), built.data_config, args.jets)
    library = Library(batch.arrays, batch.n_particles, labels, batch.source)
    names = built.input_names
    device = torch.device(args.device)
    notes = cast(PointRecord, _Notes())
    reference = backends.TorchRunner(model, [], device, "fp32", softmaxed=onnx, names=names)
    first = {k: v[: args.max_batch] for k, v in batch.arrays.items()}
    if onnx:
        backends.check_exported_device(args.backend, device)
        floor = min_particles(model)
        rung: Predictor = backends.exported_runner(args.backend, args.precision, args.onnx, device, args.threads,
                                                   first, True, args.cache_dir, notes, floor)
    else:
        model.to(device)
        tensors = [torch.from_numpy(first[n]).to(device) for n in names]
        rung = backends.torch_runner(model, args.backend, args.precision, tensors, device, names, notes)
    return rung, reference, library


def predict_all(predictor: Predictor, library: Library, batch: int) -> np.ndarray:
    n = len(library)
    return np.concatenate([predictor.predict(*library.rows(np.arange(s, min(s + batch, n))))
                           for s in range(0, n, batch)])


def check_accuracy(rung: Predictor, reference: Predictor, library: Library, base: RunSettings, out: Path,
                   tolerance: float) -> ServedAccuracy:
    """Every jet served once (LoadGen's accuracy mode), scored from the accuracy log."""
    acc_dir = out / "accuracy"
    settings = replace(base, accuracy=True)
    if base.scenario == "Server":  # arrivals at the rung's own pace, not LoadGen's default 1 QPS
        settings = replace(settings, target_qps=jets_per_s(rung, library, base.max_batch) / 2)
    serve(rung, library, settings, acc_dir)
    ref = predict_all(reference, library, base.max_batch)
    served = logs.read_accuracy_log(acc_dir / logs.ACCURACY, ref.shape[1])
    return logs.score(served, library.labels, ref, str(acc_dir / logs.ACCURACY), tolerance)


def _keep(src: Path, out: Path) -> None:
    """A run's summary and detail as the scenario's own (``out``)."""
    for name in (logs.SUMMARY, logs.DETAIL):
        shutil.copyfile(src / name, out / name)


def search_server(rung: Predictor, library: Library, base: RunSettings, out: Path, steps: int,
                  ) -> tuple[logs.Summary, float, list[ServerProbe]]:
    """The highest target QPS whose Server run LoadGen calls VALID (p99 within the bound).

    Probes first at a quarter of the rung's throughput at ``max_batch``: INVALID there
    means no rate meets the bound (max QPS 0, LoadGen's reason). Then ``steps`` halvings of
    [that rate, 1.2 x the throughput]. A probe INVALID only because LoadGen's early stopping
    wants more queries is run again once with as many as it asks for. The scenario's logs
    are the best VALID probe's (else the first's); every probe's stay in ``search/``.
    """
    cap = jets_per_s(rung, library, base.max_batch)
    queries = base.min_query_count
    if queries is not None:  # as many as LoadGen's p99 early stopping needs with none over the bound
        queries = max(queries, early_stopping_floor(0.99, 0.99))
    probes: list[ServerProbe] = []
    runs: list[tuple[Path, logs.Summary]] = []

    def probe(qps: float) -> logs.Summary:
        nonlocal queries
        for _ in range(2):
            where = out / "search" / f"{len(runs):02d}"
            serve(rung, library, replace(base, target_qps=qps, min_query_count=queries), where)
            s = logs.parse_summary(where / logs.SUMMARY)
            runs.append((where, s))
            probes.append(ServerProbe(target_qps=qps, result=s.result, reason=s.reason,
                                      achieved_qps=s.achieved_qps, p99_ms=s.latency_ms.get("p99"),
                                      queries=queries or 0))
            more = _MORE.search(s.reason or "")
            if s.valid or not more or "Performance constraints satisfied: NO" in (s.reason or ""):
                return s
            queries = int(more[1]) + int(more[2]) + 16
        return s

    low = cap / 4
    first = probe(low)
    if not first.valid:
        _keep(runs[0][0], out)
        why = (f"no rate meets p99 <= {base.latency_bound_ms} ms: at {low:.1f} QPS (a quarter of the rung's "
               f"{cap:.0f} jets/s) LoadGen says INVALID ({first.reason})")
        return replace(first, reason=why), 0.0, probes
    best, best_dir, lo, hi = first, runs[-1][0], low, 1.2 * cap
    for _ in range(steps):
        mid = (lo + hi) / 2
        s = probe(mid)
        if s.valid:
            best, best_dir, lo = s, runs[-1][0], mid
        else:
            hi = mid
    _keep(best_dir, out)
    return best, best.target_qps or lo, probes  # the rate as LoadGen's summary states it


def early_stopping_floor(percentile: float, confidence: float) -> int:
    """The fewest queries, none over the bound, for which LoadGen's early stopping can state
    the ``percentile`` latency with ``confidence``: the least n with percentile**n <= 1 - confidence
    (459 for p99 at 99 %, what LoadGen's summary asks for)."""
    import math

    return math.ceil(math.log(1 - confidence) / math.log(percentile))


def tolerance_for(backend: str, precision: str, device: str) -> float:
    from jetprof.profiling.backends import TOLERANCES, tolerance

    kind = device.split(":")[0]
    return tolerance(backend, precision, kind) or TOLERANCES[("*", "fp32", kind)]


def run_serving(args: argparse.Namespace) -> ServingRecord:
    loadgen()
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    t0 = time.perf_counter()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    batcher = args.scenario != "SingleStream"
    base = RunSettings(scenario=args.scenario, min_duration_s=args.min_duration_s,
                       min_query_count=args.min_query_count, latency_bound_ms=args.latency_bound_ms,
                       max_batch=args.max_batch if batcher else 1,
                       max_queue_delay_ms=args.max_queue_delay_ms if batcher else 0.0, seed=args.seed)
    cwd = os.getcwd()
    os.chdir(out)  # LoadGen's working directory: the run's own folder
    try:
        rung, reference, library = build(args)
        accuracy = check_accuracy(rung, reference, library, base, out, tolerance_for(
            args.backend, args.precision, args.device))
        search: list[ServerProbe] = []
        max_qps = None
        batches: list[int] = []
        if not accuracy.passed:
            _keep(out / "accuracy", out)
            summary = logs.Summary(args.scenario, "AccuracyOnly", NOT_SERVED,
                                   f"not served: its outputs differ from eager fp32 by {accuracy.max_abs_diff:.3g} "
                                   f"(> the stated tolerance {accuracy.tolerance:g}) on {accuracy.jets} test jets",
                                   None, None, {})
        elif args.scenario == "Server":
            summary, max_qps, search = search_server(rung, library, base, out, args.server_steps)
        else:
            settings = base
            # LoadGen sizes its queries from the expected rate (Offline: one query of
            # 1.1 x min_duration x rate; SingleStream: min_duration / expected latency)
            # where the rung is faster than expected the run ends before min_duration: INVALID
            if args.scenario == "Offline":
                settings = replace(base, target_qps=1.5 * jets_per_s(rung, library, base.max_batch))
            else:
                settings = replace(base, target_qps=2 * jets_per_s(rung, library, 1))
            batches = serve(rung, library, settings, out)
            summary = logs.parse_summary(out / logs.SUMMARY)
        # the accuracy run's log is the scenario's (the performance run's holds no responses)
        shutil.copyfile(out / "accuracy" / logs.ACCURACY, out / logs.ACCURACY)
    finally:
        os.chdir(cwd)
    lat = summary.latency_ms
    rec = ServingRecord(
        model=args.model, weights=args.weights, device=args.device, backend=args.backend,
        precision=args.precision, scenario=args.scenario, result=summary.result,
        valid=summary.valid and (max_qps is None or max_qps > 0), reason=summary.reason,
        target_qps=summary.target_qps, achieved_qps=summary.achieved_qps, p50_ms=lat.get("p50"),
        p90_ms=lat.get("p90"), p99_ms=lat.get("p99"), mean_ms=lat.get("mean"),
        max_batch=base.max_batch if batcher else None, max_queue_delay_ms=base.max_queue_delay_ms if batcher else None,
        mean_batch=float(np.mean(batches)) if batches else None,
        latency_bound_ms=args.latency_bound_ms if args.scenario == "Server" else None, max_qps=max_qps,
        accuracy=accuracy, settings=ServingSettings(min_duration_s=args.min_duration_s,
                                                    min_query_count=args.min_query_count, jets=len(library),
                                                    threads=args.threads, seed=args.seed),
        loadgen_version=loadgen_version(),
        started_utc=started, duration_s=round(time.perf_counter() - t0, 3), server_search=search,
        logs=[n for n in logs.LOGS if (out / n).is_file()])
    return rec


def write(rec: ServingRecord, path: Path) -> None:
    import json

    from jetprof.io import atomic_write_text

    validate_serving_record(rec, str(path))
    atomic_write_text(path, json.dumps(rec.to_json(), indent=1) + "\n")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    a("--model", required=True, help="the model's name in the record")
    a("--weights", default="trained", help="the weight state the checkpoint holds")
    a("--network-config", required=True, help="the weaver network config the rung is built from")
    a("--data-config", required=True, help="the weaver data config (inputs, labels)")
    a("--checkpoint", default=None, help="the weights (none: random)")
    a("--onnx", default=None, help="the model's ONNX export (ONNX rungs)")
    a("--backend", required=True, help="the rung's backend (a name of the registry's backends)")
    a("--precision", required=True, help="the rung's precision (fp32, bf16, fp16, int8)")
    a("--device", default="cpu", help="where the rung runs (cpu, cuda:N, mps)")
    a("--scenario", required=True, choices=SCENARIOS, help="the LoadGen scenario")
    a("--data", nargs="+", required=True, help="the test split's files (globs): the sample library")
    a("--jets", type=int, required=True, help="test jets in the library")
    a("--threads", type=int, required=True, help="torch / ONNX Runtime threads of the inference thread")
    a("--max-batch", type=int, required=True, help="the dynamic batcher: a batch closes at this many jets")
    a("--max-queue-delay-ms", type=float, required=True,
      help="the dynamic batcher: or when its first jet has waited this long (ms)")
    a("--latency-bound-ms", type=float, required=True, help="the Server scenario's p99 latency bound (ms)")
    a("--min-duration-s", type=float, default=None, help="default: LoadGen's own")
    a("--min-query-count", type=int, default=None, help="default: LoadGen's own")
    a("--server-steps", type=int, required=True, help="halvings of the Server QPS search")
    a("--seed", type=int, default=0,
      help="seed of torch (random weights) and of LoadGen's sample and schedule generators")
    a("--out", type=Path, required=True, help="the scenario's folder (logs and record.json)")


def run(args: argparse.Namespace) -> int:
    args.out = args.out.resolve()
    # LoadGen runs in --out: every path given relative to here is made absolute first
    args.data = [os.path.abspath(p) for p in args.data]
    for name in ("network_config", "data_config", "checkpoint", "onnx"):
        if getattr(args, name):
            setattr(args, name, os.path.abspath(getattr(args, name)))
    if args.latency_bound_ms <= 0:
        raise JetprofError(f"--latency-bound-ms must be above 0, not {args.latency_bound_ms}")
    from jetprof.contract import ONNX_BACKENDS

    if args.backend in ONNX_BACKENDS and not args.onnx:
        raise JetprofError(f"{args.backend}-{args.precision}: --onnx (the model's export) is needed")
    with tempfile.TemporaryDirectory(prefix="jetprof-serve-") as cache:  # the int8 graph, made here
        args.cache_dir = cache
        rec = run_serving(args)
    write(rec, args.out / "record.json")
    print(f"jetprof serve: {rec.model} {rec.rung} {rec.scenario}: {rec.result}"
          + (f" ({rec.reason})" if rec.reason else ""))
    return 0
