"""The input batches of a point: real JetClass jets or synthetic fixed-multiplicity jets.

Both kinds go through weaver's own preprocessing (``weaver.utils.dataset._preprocess``:
the data config's ``new_variables``, standardisation, clipping, padding to 128 and
stacking), so the arrays the model sees are the ones ``weaver --predict`` would feed.

* ``real``: the first ``batch_size`` jets of the sorted ``--data`` files (the same
  jets for every point of a batch size; repeated in order if the files hold fewer).
* ``N``: ``batch_size`` synthetic jets with exactly ``N`` particles each (seeded),
  padded to the config's length with mask 0 beyond ``N``: for the multiplicity curve.
"""

from __future__ import annotations

import glob
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NotRequired, Protocol, TypedDict

import numpy as np

from jetprof.errors import JetprofError

PID_BRANCHES = (
    "part_isChargedHadron", "part_isNeutralHadron", "part_isPhoton", "part_isElectron", "part_isMuon",
)


class DataConfigView(Protocol):
    """What jetprof reads of weaver's ``DataConfig`` (weaver is untyped: any config matches)."""

    @property
    def input_names(self) -> Sequence[str]: ...
    @property
    def input_shapes(self) -> Mapping[str, Sequence[int]]: ...
    @property
    def test_load_branches(self) -> Collection[str]: ...
    @property
    def treename(self) -> str | None: ...
    @property
    def label_value(self) -> Sequence[str]: ...
    @property
    def input_dicts(self) -> Mapping[str, Sequence[str]]: ...


class RealSource(TypedDict):
    """Where a batch of real jets came from (a :class:`Batch`'s ``source``)."""

    kind: str
    files: list[str]
    repeated: bool
    distinct_jets: int
    selection: NotRequired[str]


@dataclass
class Batch:
    """Model inputs (float32 arrays keyed by the data config's input names) and facts about them."""

    arrays: dict[str, np.ndarray]
    n_particles: np.ndarray  # real particles per jet
    source: dict[str, object] = field(default_factory=dict)

    @property
    def particles_mean(self) -> float:
        return float(np.mean(self.n_particles))


def expand_data_glob(patterns: list[str]) -> list[str]:
    """Sorted files matching the glob patterns; JetprofError when none match."""
    files: list[str] = []
    for pat in patterns:
        hits = sorted(glob.glob(pat))
        if not hits and Path(pat).is_file():
            hits = [pat]
        files += hits
    if not files:
        raise JetprofError(f"{' '.join(patterns)}: no data files match")
    return sorted(dict.fromkeys(files))


def synthetic_raw_jets(n_jets: int, n_particles: int | np.ndarray, branches: list[str], seed: int) -> dict[str, Any]:
    """Plausible JetClass-format raw branches (awkward or numpy arrays) for ``n_jets`` jets.

    Massless particles spread around a jet axis (|Δη|, |Δφ| ≲ 0.8), pT fractions
    from an exponential, PID one-hots consistent with the charge. Branches the
    generator does not know are filled with zeros (jagged for ``part_*``).
    Labels: every jet is QCD. Also used by the tests to write small ROOT files.
    """
    import awkward as ak

    rng = np.random.default_rng(seed)
    counts = np.broadcast_to(np.asarray(n_particles, dtype=np.int64), (n_jets,)).copy()
    tot = int(counts.sum())
    jet_idx = np.repeat(np.arange(n_jets), counts)
    jet_pt = rng.uniform(500.0, 1000.0, n_jets)
    jet_eta = rng.uniform(-2.0, 2.0, n_jets)
    jet_phi = rng.uniform(-math.pi, math.pi, n_jets)
    w = rng.exponential(1.0, tot) ** 2 + 1e-3
    wsum = np.bincount(jet_idx, weights=w, minlength=n_jets)
    pt = jet_pt[jet_idx] * w / wsum[jet_idx]
    deta = np.clip(rng.normal(0.0, 0.15, tot), -0.8, 0.8)
    dphi = np.clip(rng.normal(0.0, 0.15, tot), -0.8, 0.8)
    eta, phi = jet_eta[jet_idx] + deta, jet_phi[jet_idx] + dphi
    flat: dict[str, np.ndarray] = {
        "part_px": pt * np.cos(phi), "part_py": pt * np.sin(phi),
        "part_pz": pt * np.sinh(eta), "part_energy": pt * np.cosh(eta),
        "part_deta": deta, "part_dphi": dphi,
    }
    charge = rng.choice([-1.0, 0.0, 1.0], tot, p=[0.3, 0.4, 0.3])
    charged = charge != 0
    kind = rng.random(tot)
    flat["part_charge"] = charge
    flat["part_isChargedHadron"] = (charged & (kind < 0.9)).astype(float)
    flat["part_isElectron"] = (charged & (kind >= 0.9) & (kind < 0.95)).astype(float)
    flat["part_isMuon"] = (charged & (kind >= 0.95)).astype(float)
    flat["part_isPhoton"] = (~charged & (kind < 0.6)).astype(float)
    flat["part_isNeutralHadron"] = (~charged & (kind >= 0.6)).astype(float)
    for name in ("d0", "dz"):
        flat[f"part_{name}val"] = np.where(charged, rng.normal(0.0, 0.05, tot), 0.0)
        flat[f"part_{name}err"] = np.where(charged, rng.uniform(0.01, 0.1, tot), 0.0)
    energy_sum = np.bincount(jet_idx, weights=flat["part_energy"], minlength=n_jets)
    jets: dict[str, np.ndarray] = {
        "jet_pt": jet_pt, "jet_eta": jet_eta, "jet_phi": jet_phi, "jet_energy": energy_sum,
        "jet_nparticles": counts.astype(float), "jet_sdmass": rng.uniform(10.0, 200.0, n_jets),
    }
    out: dict[str, Any] = {}
    for b in branches:
        if b in flat:
            out[b] = ak.unflatten(flat[b].astype(np.float32), counts)
        elif b.startswith("part_"):
            out[b] = ak.unflatten(np.zeros(tot, np.float32), counts)
        elif b in jets:
            out[b] = jets[b].astype(np.float32)
        elif b.startswith("label_"):
            out[b] = np.full(n_jets, b == "label_QCD", dtype=bool)
        else:
            out[b] = np.ones(n_jets, np.float32)
    return out


def _preprocess(table: Any, data_config: DataConfigView) -> dict[str, np.ndarray]:
    """weaver's own test-mode preprocessing of one table → {input name: float32 array}."""
    from weaver.utils.dataset import _preprocess as weaver_preprocess

    options = {"mode": "test", "training": False, "reweight": False, "shuffle": False,
               "up_sample": False, "weight_scale": 1, "max_resample": 10, "batch_size": 1}
    out, _ = weaver_preprocess(table, data_config, options)
    return {name: np.ascontiguousarray(out["_" + name], dtype=np.float32)
            for name in data_config.input_names}


def _load_branches(data_config: DataConfigView) -> list[str]:
    return sorted(data_config.test_load_branches)


def synthetic_batch(data_config: DataConfigView, batch_size: int, n_particles: int, seed: int) -> Batch:
    """``batch_size`` synthetic jets of exactly ``n_particles`` real particles each."""
    import awkward as ak

    length = _input_length(data_config)
    if not 1 <= n_particles <= length:
        raise JetprofError(f"--particles {n_particles}: must be between 1 and {length}")
    raw = synthetic_raw_jets(batch_size, n_particles, _load_branches(data_config), seed)
    arrays = _preprocess(ak.Array(raw), data_config)
    return Batch(arrays, np.full(batch_size, n_particles), {"kind": "synthetic", "seed": seed})


def _input_length(data_config: DataConfigView) -> int:
    first = data_config.input_names[0]
    return int(data_config.input_shapes[first][-1])


def read_real_jets(files: list[str], data_config: DataConfigView, n_jets: int) -> tuple[Any, RealSource]:
    """The first ``n_jets`` jets of ``files`` (in order), raw branches as one awkward table."""
    import awkward as ak
    import uproot

    branches = _load_branches(data_config)
    parts, have, used = [], 0, []
    for path in files:
        try:
            with uproot.open(path) as f:
                treename = data_config.treename or "tree"
                if treename not in f:
                    raise JetprofError(f"{path}: no TTree {treename!r}")
                tree = f[treename]
                missing = [b for b in branches if b not in tree.keys()]
                if missing:
                    raise JetprofError(f"{path}: missing branch(es) {', '.join(missing[:5])}")
                arr = tree.arrays(branches, entry_stop=n_jets - have)
        except JetprofError:
            raise
        except Exception as exc:
            raise JetprofError(f"{path}: cannot read ({type(exc).__name__}: {exc})") from None
        if len(arr):
            parts.append(arr)
            used.append(f"{path}:0-{len(arr)}")
            have += len(arr)
        if have >= n_jets:
            break
    if have == 0:
        raise JetprofError(f"{files[0]}: the data files hold no jets")
    table = ak.concatenate(parts) if len(parts) > 1 else parts[0]
    repeated = have < n_jets
    if repeated:
        table = table[np.arange(n_jets) % have]
    return table, {"kind": "real", "files": used, "repeated": repeated, "distinct_jets": have}


def real_batch(files: list[str], data_config: DataConfigView, batch_size: int) -> Batch:
    """The same ``batch_size`` real jets for every point, taken in turn from the sorted
    files: the first jet of each file, then the second of each, and so on. JetClass files
    hold one class each, so a batch of 8 from 10 files holds 8 classes (the first jets of
    the first file would all be H→bb, whose multiplicity is not the sample's)."""
    if len(files) == 1:
        table, source = read_real_jets(files, data_config, batch_size)
        return _batch_of(table, data_config, source)
    import awkward as ak

    share = -(-batch_size // len(files))
    parts, used = [], []
    for path in files:
        part, src = read_real_jets([path], data_config, share)
        parts.append(part[: src["distinct_jets"]])
        used += src["files"]
    # jet i of file f goes to position i * len(files) + f: round-robin over the files
    order = sorted(((i, f) for f, part in enumerate(parts) for i in range(len(part))))
    offsets = np.cumsum([0] + [len(part) for part in parts])
    table = ak.concatenate(parts)[np.array([offsets[f] + i for i, f in order])]
    have = len(table)
    repeated = have < batch_size
    table = table[np.arange(batch_size) % have]
    source = {"kind": "real", "files": used, "repeated": repeated, "distinct_jets": min(have, batch_size),
              "selection": f"jets taken in turn from {len(files)} files"}
    return _batch_of(table, data_config, source)


def mask_input(names: list[str]) -> str:
    """The mask among a data config's input names (the first with ``mask`` in it)."""
    found = next((n for n in names if "mask" in n), None)
    if found is None:
        raise JetprofError("data config has no *mask input: cannot count real particles")
    return found


def _batch_of(table: Any, data_config: DataConfigView, source: Mapping[str, object]) -> Batch:
    arrays = _preprocess(table, data_config)
    mask_name = mask_input(list(data_config.input_names))
    n = arrays[mask_name].reshape(len(table), -1).sum(axis=1).astype(np.int64)
    return Batch(arrays, n, dict(source))


def labelled_jets(files: list[str], data_config: DataConfigView, n_jets: int) -> tuple[Batch, np.ndarray]:
    """Up to ``n_jets`` distinct jets, the first of each file in equal shares (JetClass
    files hold one class each: the first jets of the sorted files would be one or two
    classes), and their true class (index into the data config's ``label_value``, the
    model's output order).

    Raises:
        JetprofError: a label branch is missing, or a jet has not exactly one true label.
    """
    import awkward as ak

    share = -(-n_jets // len(files))
    parts, used = [], []
    for path in files:
        table, source = read_real_jets([path], data_config, share)
        table = table[: source["distinct_jets"]]
        parts.append(table)
        used += source["files"]
    table = ak.concatenate(parts) if len(parts) > 1 else parts[0]
    # packed: weaver's padding reads the jagged arrays' buffers, which a slice leaves whole
    table = ak.to_packed(table[:n_jets])
    source = {"kind": "real", "files": used, "repeated": False, "distinct_jets": len(table),
              "selection": f"the first {share} jets of each file, {len(table)} in all"}
    labels = list(data_config.label_value)
    missing = [lab for lab in labels if lab not in table.fields]
    if missing:
        raise JetprofError(f"{files[0]}: no label branch(es) {', '.join(missing[:3])}")
    onehot = np.stack([np.asarray(table[lab], dtype=np.float64) != 0 for lab in labels], axis=1)
    per_jet = onehot.sum(axis=1)
    if np.any(per_jet != 1):
        bad = int(np.argmax(per_jet != 1))
        raise JetprofError(f"{' '.join(files)}: test jet {bad} has {int(per_jet[bad])} true labels "
                           "(need exactly one)")
    return _batch_of(table, data_config, source), onehot.argmax(axis=1)


def min_particles(model: object) -> int:
    """The fewest particle slots ``model`` can run on: the largest ``min_length`` any of
    its modules states (jetprof's ``SequenceTrimmer`` floor: ParticleNet's k + 1, 17 for
    k = 16 nearest neighbours), else 1. Read from the module (the exported graph's too,
    built ``for_inference``), so a model with another k needs no change here."""
    floors = [getattr(m, "min_length", 1) for m in model.modules()] if hasattr(model, "modules") else []
    return max([1, *(int(f) for f in floors if isinstance(f, int))])


def trim_to_longest(arrays: dict[str, np.ndarray], n_particles: np.ndarray,
                    min_length: int = 1) -> dict[str, np.ndarray]:
    """The batch cut along the particle axis to its longest real jet, but never below
    ``min_length`` slots (see :func:`min_particles`) nor beyond the padded length.

    Real particles come first and padding after (the mask is 0 there), so this is what
    ParT's SequenceTrimmer does inside eager PyTorch; the exported graph, which has no
    trimmer, computes on the same length when fed the trimmed batch.
    """
    longest = max(int(np.max(n_particles)), int(min_length), 1)
    return {k: np.ascontiguousarray(v[..., :longest]) for k, v in arrays.items()}
