"""What a variant's speed costs in accuracy: its outputs against eager fp32.

Two checks, both outside the timed calls:

* :func:`check_outputs` (every point other than eager fp32, in ``_finish``): the
  variant's softmax outputs on the timed batch against eager fp32 with the same weights
  on the same jets (record field ``output_check``). Beyond the backend's stated
  tolerance (:data:`jetprof.profiling.backends.TOLERANCES`) the point is an ``error``:
  a broken export or quantisation never becomes a latency figure.
* :func:`score` (when the group has labelled test jets, ``GroupSpec.quality_data``),
  after every variant's timed rounds: the variant on up to ``quality_jets`` test jets, in
  batches of the point's batch size (the last one filled up with repeated jets, whose
  outputs are dropped), against eager fp32 on the same jets (in multiplicity-sorted
  batches of :data:`REFERENCE_BATCH`, computed once per job and weights): top-1
  agreement, max |Δ softmax|, and the macro one-vs-rest AUC of each against the true
  labels (record field ``quality``; its ``batch_size`` is the batching the scored
  outputs were computed in). The same tolerance applies to the test jets. An eager fp32
  point is its own reference (agreement 1, difference 0); its AUC is the reference AUC.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from jetprof.errors import JetprofError
from jetprof.profiling.backends import TorchRunner, probabilities, tolerance
from jetprof.records import JetSource, OutputCheck, PointRecord, Quality

if TYPE_CHECKING:
    from jetprof.model.inputs import Batch
    from jetprof.profiling.backends import Runner
    from jetprof.profiling.spec import GroupSpec, VariantSpec

#: a variant of :mod:`jetprof.profiling.measure` (its ``Slot``): measure imports this module, so
#: importing ``Slot`` here, even for the type checker, would make an import cycle
Slot = Any

REFERENCE = "eager fp32, same weights, same jets"
RANDOM_NOTE = ("random weights: the model was never trained, so its AUC measures nothing (about 0.5); "
               "agreement and max_abs_diff still compare the variant with eager fp32")


def agreement(probs: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """(max |Δ|, fraction of jets with the same top class) of two jets × classes arrays."""
    return float(np.max(np.abs(probs - ref))), float(np.mean(probs.argmax(axis=1) == ref.argmax(axis=1)))


def _beyond(spec: VariantSpec, diff: float, tol: float, device_kind: str, where: str) -> JetprofError:
    return JetprofError(f"{spec.backend}-{spec.precision}: output differs from eager by {diff:.3g} on {where} "
                        f"(> {tol:g}, the stated tolerance of {spec.backend}-{spec.precision} on {device_kind}): "
                        "the measured model does not compute what eager fp32 computes")


def check_outputs(spec: VariantSpec, rec: PointRecord, out: Any, ref_out: Any, idx: np.ndarray,
                  device_kind: str, softmaxed: bool) -> None:
    """Compare a variant's output on the timed batch (rows ``idx``) with eager fp32's.

    Args:
        out: the variant's last warm-up output (whole batch).
        ref_out: eager fp32's output on rows ``idx`` (logits, or softmax if ``softmaxed``).
        softmaxed: both outputs are softmax already (the ONNX export's), else logits.

    Raises:
        JetprofError: the difference exceeds the stated tolerance.
    """
    tol = tolerance(spec.backend, spec.precision, device_kind)
    if tol is None:  # eager fp32 is the reference: measure.py never checks it against itself
        raise JetprofError(f"{spec.backend}-{spec.precision}: the reference has no output check")
    probs = probabilities(out, softmaxed)[idx]
    ref = probabilities(ref_out, softmaxed)
    diff, top1 = agreement(probs, ref)
    rec.output_check = OutputCheck(reference=REFERENCE, jets=len(idx), max_abs_diff=diff,
                                   top1_agreement=top1, tolerance=tol, passed=bool(diff <= tol))
    if rec.onnx is not None:
        rec.onnx.max_abs_diff_vs_eager = diff
    if not diff <= tol:
        raise _beyond(spec, diff, tol, device_kind, "the timed batch")


def _predict(runner: Runner, batch: Batch, batch_size: int) -> np.ndarray:
    """Softmax outputs on every jet of ``batch``, ``batch_size`` jets per call (the last
    call filled up with the first jets again, whose outputs are dropped)."""
    n = len(batch.n_particles)
    out = []
    for start in range(0, n, batch_size):
        rows = np.arange(start, start + batch_size) % n
        arrays = {k: np.ascontiguousarray(v[rows]) for k, v in batch.arrays.items()}
        out.append(runner.predict(arrays, batch.n_particles[rows])[: min(batch_size, n - start)])
    return np.concatenate(out)


def _test_jets(spec: GroupSpec, slot: Slot, cache: dict[Any, Any]) -> tuple[Any, np.ndarray]:
    from jetprof.model.inputs import labelled_jets

    key = ("jets", slot.spec.data_config)
    if key not in cache:
        cache[key] = labelled_jets(spec.quality_data, slot.built.data_config, spec.quality_jets)
    return cache[key]


#: the reference's calls: this many test jets each, sorted by multiplicity so that each call is
#: cut to a length close to its own jets' (eager fp32's outputs do not depend on the batch a jet is
#: in, beyond rounding: the trimmer and the masks see to it); at batch 1, 200 single-jet calls
#: per weight state made the reference most of the quality score's time
REFERENCE_BATCH = 32


def _sorted_predict(runner: Runner, batch: Batch, batch_size: int) -> np.ndarray:
    """Softmax outputs on every jet of ``batch`` in the jets' original order, computed in calls of
    ``batch_size`` jets sorted by multiplicity (the last call shorter)."""
    order = np.argsort(batch.n_particles, kind="stable")
    parts = []
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        arrays = {k: np.ascontiguousarray(v[rows]) for k, v in batch.arrays.items()}
        parts.append(runner.predict(arrays, batch.n_particles[rows]))
    out = np.empty_like(np.concatenate(parts))
    out[order] = np.concatenate(parts)
    return out


def _reference(spec: GroupSpec, slot: Slot, batch: Batch, cache: dict[Any, Any]) -> np.ndarray:
    """Eager fp32's softmax outputs on the test jets: the slot's own fp32 module (the
    eager model, or the for-inference one the export was made from), same weights, in
    multiplicity-sorted calls of :data:`REFERENCE_BATCH` jets. Kept in the job's scratch
    directory (``spec.cache_dir``), so that a job's later groups (other batch sizes, the
    same test jets) read it instead of computing it again."""
    import torch

    v = slot.spec
    key = ("reference", v.model, v.weights, v.checkpoint, v.network_config, v.data_config)
    if key in cache:
        return cache[key]
    digest = hashlib.sha256(json.dumps([*key, spec.seed, spec.device, sorted(spec.quality_data),
                                        spec.quality_jets, REFERENCE_BATCH]).encode()).hexdigest()[:16]
    stored = Path(spec.cache_dir) / f"reference-{digest}.npy" if spec.cache_dir else None
    if stored is not None and stored.is_file():
        cache[key] = np.load(stored)
        return cache[key]
    runner = TorchRunner(slot.model, [], torch.device(spec.device), "fp32",
                         softmaxed=bool(slot.built.options.get("for_inference")),
                         names=slot.built.input_names)
    cache[key] = _sorted_predict(runner, batch, REFERENCE_BATCH)
    if stored is not None:  # written whole or not at all: a process killed here leaves no part of it
        tmp = stored.with_name(f".{stored.name}.{os.getpid()}.tmp")
        try:
            with tmp.open("wb") as f:
                np.save(f, cache[key])
            os.replace(tmp, stored)
        finally:
            tmp.unlink(missing_ok=True)
    return cache[key]


def score(spec: GroupSpec, slot: Slot, cache: dict[Any, Any]) -> None:
    """The point's ``quality`` block on the group's test jets (see the module docstring).

    Raises:
        JetprofError: the test jets cannot be read, or the variant differs from eager fp32
            beyond its stated tolerance.
    """
    from jetprof.metrics import macro_auc

    batch, truth = _test_jets(spec, slot, cache)
    v = slot.spec
    device_kind = spec.device.split(":")[0]
    tol = tolerance(v.backend, v.precision, device_kind)
    if tol is None and v.weights == "random":  # eager fp32 against itself, and no AUC to give:
        diff, top1 = 0.0, 1.0  # nothing to compute (a ParticleNet pass over the jets saved)
    else:
        ref = _reference(spec, slot, batch, cache)
        probs = ref if tol is None else _predict(slot.forward, batch, spec.batch_size)
        diff, top1 = agreement(probs, ref)
    classes = len(np.unique(truth))
    # the batching of the scored outputs: the point's own, or the reference's (nothing computed for
    # random-weight eager fp32)
    scored_at = spec.batch_size if tol is not None else None if v.weights == "random" else REFERENCE_BATCH
    note = None
    if v.weights == "random":
        note = RANDOM_NOTE
    elif classes < 2:
        note = f"the test jets hold {classes} class: no one-vs-rest AUC"
    auc, auc_ref = (None, None) if note else (macro_auc(truth, probs), macro_auc(truth, ref))
    slot.rec.quality = Quality(
        jets=len(truth), top1_agreement=top1, max_abs_diff=diff,
        auc_macro=auc, auc_macro_reference=auc_ref, auc_note=note, tolerance=tol,
        classes=classes, batch_size=scored_at,
        reference="itself (eager fp32)" if tol is None else REFERENCE, source=JetSource(**batch.source),
    )
    if tol is not None and not diff <= tol:
        raise _beyond(v, diff, tol, device_kind, f"the {len(truth)} test jets")
