"""``jetprof generate``: one JetClass-format ROOT file from Pythia 8 + FastJet.

The recipe follows the JetClass paper (arXiv:2202.03772): 13 TeV pp
collisions with ``PhaseSpace:pTHatMin = 450``; QCD as Z(->nunu)+jet, Higgs
bosons produced with a Z(->nunu), ttbar with hadronic or leptonic W decays,
W/Z+jet with hadronic bosons. Visible final-state particles go through a
small numpy detector (:mod:`jetprof.data.detector`: tracking efficiency and
momentum smearing for charged particles, ECAL/HCAL towers with energy smearing
for the rest, smeared straight-line impact parameters), then anti-kT R=0.8 jets with
500 < pT < 1000 GeV and |eta| < 2 are kept; for signal classes the jet must
contain every decay parton (quarks, gluons, charged leptons) within
DeltaR < 0.8. At most one jet per event is written.

Jets are written in chunks to a TTree ``tree`` (uproot ``mktree`` +
``extend``) in a temporary file beside the target, renamed at the end. The
same ``--seed``, process, split and index always give the same arrays.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import importlib
import importlib.util
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np

from jetprof.config import study_defaults
from jetprof.data import jetclass
from jetprof.data.detector import DetectorSettings, detector, wrap_phi
from jetprof.errors import JetprofError

# --------------------------------------------------------------------------
# settings


@dataclass(frozen=True)
class GeneratorSettings:
    """Everything that fixes the generated physics (recorded in the manifest).

    Attributes:
        ecm_gev: collision energy.
        pthat_min_gev: Pythia's ``PhaseSpace:pTHatMin``.
        tau0_max_mm: particles with c*tau0 above this are stable (K0S, Lambda stay).
        jet_r: anti-kT radius.
        jet_pt_min_gev, jet_pt_max_gev, jet_abs_eta_max: jet selection.
        match_dr: every decay parton within this DeltaR of the jet axis.
        softdrop_beta, softdrop_zcut: soft-drop grooming (C/A, R0 = jet_r).
        mpi: multi-parton interactions (the underlying event); they cost about
            80 % of Pythia's time and add a few soft particles per jet.
        events_per_batch: events clustered together in one FastJet call.
        detector: the numpy detector.
    """

    ecm_gev: float = 13000.0
    pthat_min_gev: float = 450.0
    tau0_max_mm: float = 10.0
    jet_r: float = 0.8
    jet_pt_min_gev: float = 500.0
    jet_pt_max_gev: float = 1000.0
    jet_abs_eta_max: float = 2.0
    match_dr: float = 0.8
    softdrop_beta: float = 0.0
    softdrop_zcut: float = 0.1
    mpi: bool = True
    events_per_batch: int = 50
    detector: DetectorSettings = dataclasses.field(default_factory=DetectorSettings)

    def as_dict(self) -> dict[str, object]:
        """Settings as plain JSON-able data."""
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------
# processes

_Z_TO_NUNU = ["23:onMode = off", "23:onIfAny = 12 14 16"]
_ZH = ["HiggsSM:ffbar2HZ = on", *_Z_TO_NUNU, "25:onMode = off"]
_W_HAD = ["24:onMode = off", "24:onIfAny = 1 2 3 4 5"]
_W_LEP = ["24:onMode = off", "24:onIfAny = 11 13 15"]
_V_JET = ["WeakBosonAndParton:qqbar2gmZg = on", "WeakBosonAndParton:qg2gmZq = on", "WeakZ0:gmZmode = 2"]
_W_JET = ["WeakBosonAndParton:qqbar2Wg = on", "WeakBosonAndParton:qg2Wq = on"]
_TT = ["Top:gg2ttbar = on", "Top:qqbar2ttbar = on"]

# short name -> (Pythia settings, pid of the decaying resonance (0: QCD), wanted
# decay partons as (n quarks, n gluons, n charged leptons) or None for any).
_CARDS: dict[str, tuple[list[str], int, tuple[int, int, int] | None]] = {
    "QCD": ([*_V_JET, *_Z_TO_NUNU], 0, None),
    "Hbb": ([*_ZH, "25:onIfMatch = 5 -5"], 25, (2, 0, 0)),
    "Hcc": ([*_ZH, "25:onIfMatch = 4 -4"], 25, (2, 0, 0)),
    "Hgg": ([*_ZH, "25:onIfMatch = 21 21"], 25, (0, 2, 0)),
    "H4q": ([*_ZH, "25:onIfMatch = 24 -24", *_W_HAD], 25, (4, 0, 0)),
    # one W hadronic, the other leptonic: two Pythia instances, W+ -> qq' in
    # one and W- -> qq' in the other, used for alternate events (no charge bias)
    "Hqql": ([*_ZH, "25:onIfMatch = 24 -24", "24:onMode = off"], 25, (2, 0, 1)),
    "Zqq": ([*_V_JET, "23:onMode = off", "23:onIfAny = 1 2 3 4 5"], 23, (2, 0, 0)),
    "Wqq": ([*_W_JET, *_W_HAD], 24, (2, 0, 0)),
    "Tbqq": ([*_TT, *_W_HAD], 6, (3, 0, 0)),
    "Tbl": ([*_TT, *_W_LEP], 6, (1, 0, 1)),
}
_RESONANCES = (6, 23, 24, 25)
# extra settings per Pythia instance; events are taken from the instances in turn
_VARIANTS: dict[str, list[list[str]]] = {
    "Hqql": [["24:onPosIfAny = 1 2 3 4 5", "24:onNegIfAny = 11 13 15"],
             ["24:onPosIfAny = 11 13 15", "24:onNegIfAny = 1 2 3 4 5"]],
}


def pythia_seed(seed: int, process: str, split: str, index: int) -> int:
    """Pythia's ``Random:seed`` for one file: distinct per (seed, process, split, index).

    Returns:
        an integer in [1, 900000000] (Pythia's allowed range).
    """
    key = f"{seed}:{process}:{split}:{index}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "little") % 900_000_000 + 1


# --------------------------------------------------------------------------
# event record -> arrays


def _decay_partons(ev: Any, i: int, out: list[tuple[int, float, float]]) -> None:
    """Collect (pid, eta, phi) of the decay partons below resonance entry ``i``."""
    bot = ev[ev[i].iBotCopyId()]
    for d in bot.daughterList():
        part = ev[d]
        aid = part.idAbs()
        if aid in _RESONANCES:
            _decay_partons(ev, d, out)
        elif aid in (12, 14, 16):
            continue
        else:
            out.append((aid, part.eta(), part.phi()))


#: one truth candidate: (its aux_genpart pT, eta, phi, pid), the (eta, phi) of the partons a jet must contain
Truth: TypeAlias = tuple[tuple[float, float, float, float], list[tuple[float, float]]]


def _truth(pythia: Any, short: str) -> list[Truth]:
    """Candidates (aux_genpart, partons to contain) of one event, in record order
    (``pythia``: a ``pythia8.Pythia``, untyped).

    For QCD, the outgoing hard parton with no partons to contain; for signal
    classes, each wanted resonance whose decay partons have the wanted
    composition.
    """
    ev = pythia.event
    proc = pythia.process
    _, res_pid, wanted = _CARDS[short]
    found: list[Truth] = []
    for i in range(1, proc.size()):
        p = proc[i]
        if p.statusAbs() not in (22, 23):
            continue
        aid = p.idAbs()
        if res_pid == 0:
            if p.isParton():
                q = ev[ev[i].iBotCopyId()]
                found.append(((q.pT(), q.eta(), q.phi(), float(q.id())), []))
            continue
        if aid != res_pid:
            continue
        parts: list[tuple[int, float, float]] = []
        _decay_partons(ev, i, parts)
        nq = sum(1 for pid, _, _ in parts if 1 <= pid <= 6)
        ng = sum(1 for pid, _, _ in parts if pid == 21)
        nl = sum(1 for pid, _, _ in parts if pid in (11, 13, 15))
        if wanted is not None and (nq, ng, nl) != wanted:
            continue
        bot = ev[ev[i].iBotCopyId()]
        found.append(((bot.pT(), bot.eta(), bot.phi(), float(bot.id())), [(e, f) for _, e, f in parts]))
    return found


def _spread(partons: list[tuple[float, float]]) -> float:
    """Largest DeltaR between two of the partons (0 for fewer than two)."""
    worst = 0.0
    for i, (e1, f1) in enumerate(partons):
        for e2, f2 in partons[i + 1:]:
            worst = max(worst, math.hypot(e1 - e2, (f1 - f2 + math.pi) % (2 * math.pi) - math.pi))
    return worst


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send C-level stdout (FastJet's banner) to stderr while inside."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _final_state(pythia: Any) -> np.ndarray:
    """Visible final-state particles as an (n, 9) array:
    px, py, pz, e, pid, charge, x, y, z (mm)."""
    rows = [
        (q.px(), q.py(), q.pz(), q.e(), q.id(), q.charge(), q.xProd(), q.yProd(), q.zProd())
        for q in pythia.event
        if q.isFinal() and q.isVisible()
    ]
    return np.asarray(rows, dtype=np.float64).reshape(-1, 9)


# --------------------------------------------------------------------------
# the generator


#: the Python modules that provide Pythia 8: PyPI's wheel (pythia8mc) and conda-forge's build (pythia8)
PYTHIA_MODULES = ("pythia8mc", "pythia8")

#: what to do on a machine without Pythia 8, in one line
NO_GENERATOR = (
    "Pythia 8 is not installed in this Python (pip has pythia8mc wheels for Linux x86_64 and macOS arm64 only, "
    "none for Linux aarch64). Get jets another way: `dataset.source: example` (JetClass's 100k-jet example file) "
    "or `zenodo` (JetClass); `snakemake --sdm conda` (the data rules' env takes conda-forge's pythia8); "
    "results/dataset/ copied from a machine that generated it; or pip install 'jetprof[generate]' "
    "(compiles Pythia 8, over an hour)"
)


def pythia_module_name() -> str | None:
    """The importable Pythia 8 module's name, found without importing it, or None."""
    for name in PYTHIA_MODULES:
        if importlib.util.find_spec(name) is not None:
            return name
    return None


def import_pythia() -> Any:
    """The Pythia 8 module (either build: the same Python API), or a one-line JetprofError."""
    name = pythia_module_name()
    if name is None:
        raise JetprofError(NO_GENERATOR)
    return importlib.import_module(name)


@dataclass
class Columns:
    """Accepted jets, column by column.

    Attributes:
        part: each particle feature, flat (the jets' particles one jet after another).
        counts: particles per jet.
        jets: the per-jet branches (labels, ``jet_*``, ``aux_*``), one value per jet.
    """

    part: dict[str, np.ndarray]
    counts: np.ndarray
    jets: dict[str, np.ndarray]


class Generator:
    """Generates accepted JetClass jets of one process, batch by batch.

    Args:
        process: short name or file prefix (``Hbb`` or ``HToBB``).
        split: ``train``, ``val`` or ``test`` (enters the seed only).
        index: file index (enters the seed only).
        seed: the study's seed.
        settings: physics and detector settings.
    """

    def __init__(self, process: str, split: str, index: int, seed: int,
                 settings: GeneratorSettings | None = None) -> None:
        pythia8 = import_pythia()

        try:
            self.process = jetclass.process(process)
        except KeyError as exc:
            raise JetprofError(str(exc.args[0])) from None
        if split not in jetclass.SPLITS:
            raise JetprofError(f"unknown split {split!r}; known: {', '.join(jetclass.SPLITS)}")
        self.settings = settings or GeneratorSettings()
        self.seed = pythia_seed(seed, self.process.file_prefix, split, index)
        self.rng = np.random.default_rng(self.seed)
        self.events_tried = 0
        s = self.settings
        base = [
            "Print:quiet = on",
            "Next:numberCount = 0",
            f"Beams:eCM = {s.ecm_gev}",
            f"PhaseSpace:pTHatMin = {s.pthat_min_gev}",
            "Random:setSeed = on",
            "ParticleDecays:limitTau0 = on",
            f"ParticleDecays:tau0Max = {s.tau0_max_mm}",
            f"PartonLevel:MPI = {'on' if s.mpi else 'off'}",
            *_CARDS[self.process.short][0],
        ]
        self.pythias = []
        for k, extra in enumerate(_VARIANTS.get(self.process.short, [[]])):
            pythia = pythia8.Pythia("", False)
            for line in [*base, f"Random:seed = {(self.seed + k - 1) % 900_000_000 + 1}", *extra]:
                if not pythia.readString(line):
                    raise JetprofError(f"Pythia rejected setting {line!r}")
            if not pythia.init():
                raise JetprofError(f"Pythia failed to initialise for process {self.process.short}")
            self.pythias.append(pythia)

    def _events(self, n: int) -> tuple[list[np.ndarray], list[list[Truth]]]:
        """``n`` events that may hold an accepted jet: final states and truth."""
        particles: list[np.ndarray] = []
        truths: list[list[Truth]] = []
        while len(particles) < n:
            pythia = self.pythias[self.events_tried % len(self.pythias)]
            self.events_tried += 1
            if not pythia.next():
                continue
            truth = _truth(pythia, self.process.short)
            if self.process.short != "QCD":
                # necessary for a match: partons within 2R of each other, inside eta reach
                reach = self.settings.jet_abs_eta_max + self.settings.match_dr
                truth = [(ref, ps) for ref, ps in truth
                         if _spread(ps) < 2 * self.settings.match_dr and all(abs(e) < reach for e, _ in ps)]
                if not truth:
                    continue
            particles.append(_final_state(pythia))
            truths.append(truth)
        return particles, truths

    def batches(self) -> Iterator[Columns]:
        """Yield the accepted jets of successive event batches."""
        while True:
            batch = self._batch()
            if batch is not None:
                yield batch

    def _batch(self) -> Columns | None:
        import awkward as ak
        import fastjet

        s = self.settings
        particles, truths = self._events(s.events_per_batch)
        event = np.concatenate([np.full(len(p), i) for i, p in enumerate(particles)])
        cand = detector(np.concatenate(particles), event, s.detector, self.rng)
        counts = np.bincount(cand["event"], minlength=len(particles))
        four = ak.unflatten(ak.zip({"px": cand["px"], "py": cand["py"], "pz": cand["pz"], "E": cand["e"]}), counts)
        with _stdout_to_stderr():
            cs = fastjet.ClusterSequence(four, fastjet.JetDefinition(fastjet.antikt_algorithm, s.jet_r))
        jets = cs.inclusive_jets(min_pt=s.jet_pt_min_gev)
        idx = cs.constituent_index(min_pt=s.jet_pt_min_gev)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])

        chosen: list[tuple[int, np.ndarray, tuple[float, ...], bool]] = []
        for iev in range(len(particles)):
            jpx, jpy = np.asarray(jets.px[iev]), np.asarray(jets.py[iev])
            jpz = np.asarray(jets.pz[iev])
            jpt = np.hypot(jpx, jpy)
            jeta = np.arcsinh(jpz / np.maximum(jpt, 1e-9))
            jphi = np.arctan2(jpy, jpx)
            for j in np.argsort(-jpt, kind="stable"):
                if not (jpt[j] < s.jet_pt_max_gev and abs(jeta[j]) < s.jet_abs_eta_max):
                    continue
                pick = self._match(truths[iev], jeta[j], jphi[j])
                if pick is None:
                    continue
                cons = starts[iev] + np.asarray(idx[iev][j], dtype=np.int64)
                chosen.append((iev, cons, pick[0], pick[1]))
                break
        if not chosen:
            return None
        return self._columns(cand, chosen)

    def _match(self, truth: list[Truth], eta: float, phi: float) -> tuple[tuple[float, ...], bool] | None:
        """The truth candidate this jet belongs to, with its truth-match flag."""
        dr = self.settings.match_dr

        def near(e: float, f: float) -> bool:
            return math.hypot(e - eta, (f - phi + math.pi) % (2 * math.pi) - math.pi) < dr

        if self.process.short == "QCD":
            for ref, _ in truth:
                if near(ref[1], ref[2]):
                    return ref, True
            ref = truth[0][0] if truth else (0.0, 0.0, 0.0, 0.0)
            return ref, False
        for ref, partons in truth:
            if partons and all(near(e, f) for e, f in partons):
                return ref, True
        return None

    def _columns(self, cand: dict[str, np.ndarray],
                 chosen: list[tuple[int, np.ndarray, tuple[float, ...], bool]]) -> Columns:
        import awkward as ak
        import fastjet

        s = self.settings
        # constituents sorted by pT, jet four-momentum = sum of constituents
        order = [c[np.argsort(-np.hypot(cand["px"][c], cand["py"][c]), kind="stable")] for _, c, _, _ in chosen]
        flat = np.concatenate(order)
        n = np.array([len(o) for o in order])
        jet_of = np.repeat(np.arange(len(order)), n)
        px, py, pz, e = (cand[k][flat] for k in ("px", "py", "pz", "e"))
        jpx, jpy, jpz, je = (np.bincount(jet_of, weights=w, minlength=len(order)) for w in (px, py, pz, e))
        jpt = np.hypot(jpx, jpy)
        jeta = np.arcsinh(jpz / jpt)
        jphi = np.arctan2(jpy, jpx)
        ppt = np.hypot(px, py)
        peta = np.arcsinh(pz / np.maximum(ppt, 1e-9))
        pphi = np.arctan2(py, px)
        deta = np.sign(jeta)[jet_of] * (peta - jeta[jet_of])
        dphi = wrap_phi(pphi - jphi[jet_of])

        four = ak.unflatten(ak.zip({"px": px, "py": py, "pz": pz, "E": e}), n)
        cs = fastjet.ClusterSequence(four, fastjet.JetDefinition(fastjet.cambridge_algorithm, s.jet_r))
        sd = cs.exclusive_jets_softdrop_grooming(njets=1, beta=s.softdrop_beta, symmetry_cut=s.softdrop_zcut,
                                                 R0=s.jet_r)
        sdmass = np.nan_to_num(np.maximum(np.asarray(sd.msoftdrop, dtype=np.float64), 0.0))
        tau = np.asarray(ak.to_numpy(cs.njettiness(njets=[1, 2, 3, 4], beta=1.0, R0=s.jet_r)), dtype=np.float64)
        tau = np.nan_to_num(tau.reshape(len(order), 4))

        part: dict[str, np.ndarray] = {
            "px": px, "py": py, "pz": pz, "energy": e, "deta": deta, "dphi": dphi,
        }
        for k in ("d0val", "d0err", "dzval", "dzerr", "charge", "isChargedHadron", "isNeutralHadron",
                  "isPhoton", "isElectron", "isMuon"):
            part[k] = cand[k][flat]
        jets: dict[str, np.ndarray] = {}
        nj = len(order)
        for b in jetclass.BRANCHES:
            if b.name in jetclass.LABEL_DTYPES:
                jets[b.name] = np.full(nj, b.name == self.process.label).astype(b.dtype)
        refs = np.array([c[2] for c in chosen], dtype=np.float64).reshape(nj, 4)
        jet_values = {
            "jet_pt": jpt, "jet_eta": jeta, "jet_phi": jphi, "jet_energy": je,
            "jet_nparticles": n, "jet_sdmass": sdmass,
            "jet_tau1": tau[:, 0], "jet_tau2": tau[:, 1], "jet_tau3": tau[:, 2], "jet_tau4": tau[:, 3],
            "aux_genpart_pt": refs[:, 0], "aux_genpart_eta": refs[:, 1], "aux_genpart_phi": refs[:, 2],
            "aux_genpart_pid": refs[:, 3], "aux_truth_match": np.array([c[3] for c in chosen]),
        }
        for name, v in jet_values.items():
            jets[name] = np.asarray(v).astype(np.float32)
        return Columns({k: part[k].astype(np.float32) for k in jetclass.PARTICLE_FEATURES}, n, jets)


def _take(cols: Columns, start: int, stop: int) -> Columns:
    """Jets [start, stop) of a column set."""
    offs = np.concatenate([[0], np.cumsum(cols.counts)])
    a, b = offs[start], offs[stop]
    return Columns({f: x[a:b] for f, x in cols.part.items()}, cols.counts[start:stop],
                   {k: v[start:stop] for k, v in cols.jets.items()})


def _concat(parts: list[Columns]) -> Columns:
    return Columns({f: np.concatenate([p.part[f] for p in parts]) for f in parts[0].part},
                   np.concatenate([p.counts for p in parts]),
                   {k: np.concatenate([p.jets[k] for p in parts]) for k in parts[0].jets})


def generate_chunks(gen: Generator, n_jets: int, chunk_size: int) -> Iterator[Columns]:
    """Yield column sets of exactly ``chunk_size`` jets (the last may be shorter)."""
    pending: list[Columns] = []
    have = 0
    done = 0
    for batch in gen.batches():
        pending.append(batch)
        have += len(batch.counts)
        while have >= chunk_size or (done + have >= n_jets and have > 0):
            want = min(chunk_size, n_jets - done)
            cols = _concat(pending)
            yield _take(cols, 0, want)
            done += want
            rest = _take(cols, want, len(cols.counts))
            pending = [rest] if len(rest.counts) else []
            have = len(rest.counts)
            if done >= n_jets:
                return


def _to_awkward(cols: Columns) -> dict[str, Any]:
    """The branches to write: ``part`` as one jagged awkward record array, the per-jet ones as numpy."""
    import awkward as ak

    part = ak.unflatten(ak.zip(cols.part), cols.counts)
    out: dict[str, Any] = {"part": part}
    for b in jetclass.BRANCHES:
        if not b.jagged:
            out[b.name] = cols.jets[b.name]
    return out


def write_file(out: Path, gen: Generator, n_jets: int, chunk_size: int,
               progress: Callable[[int], None] | None = None) -> int:
    """Generate ``n_jets`` jets into ``out`` (via a temporary file and rename).

    Returns:
        the number of jets written.
    """
    import uproot

    from jetprof.io import atomic_write

    written = 0

    def write(tmp: str) -> None:
        nonlocal written
        with uproot.recreate(tmp) as f:
            tree = None
            for cols in generate_chunks(gen, n_jets, chunk_size):
                data = _to_awkward(cols)
                if tree is None:
                    types = {k: (v.type.content if k == "part" else v.dtype) for k, v in data.items()}
                    tree = f.mktree(jetclass.TREE_NAME, types)
                tree.extend(data)
                written += len(cols.counts)
                if progress is not None:
                    progress(written)

    atomic_write(out, write)
    return written


# --------------------------------------------------------------------------
# command line

#: the study's dataset.generate defaults (the config schema's), for the options that mirror them
GENERATE_DEFAULTS = study_defaults()["dataset"]["generate"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``jetprof generate``."""
    parser.add_argument("--process", required=True,
                        help="JetClass process, short name or file prefix (Hbb or HToBB)")
    parser.add_argument("--split", required=True, choices=jetclass.SPLITS,
                        help="the split the file belongs to (enters the seed)")
    parser.add_argument("--index", type=int, default=0, help="file index within the split (enters the seed)")
    parser.add_argument("--jets", type=int, required=True, help="number of jets to write")
    parser.add_argument("--seed", type=int, required=True, help="the study's seed")
    parser.add_argument("--out", type=Path, required=True, help="output ROOT file")
    parser.add_argument("--chunk-size", type=int, default=GENERATE_DEFAULTS["chunk_size"],
                        help="jets per write (bounds memory)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--mpi",
        action=argparse.BooleanOptionalAction,
        default=GENERATE_DEFAULTS["mpi"],
        help="multi-parton interactions (underlying event); --no-mpi is about 3x faster",
    )


def run(args: argparse.Namespace) -> int:
    """Generate one file; print a one-line summary."""
    if args.jets <= 0:
        raise JetprofError(f"--jets must be positive, got {args.jets}")
    if args.chunk_size <= 0:
        raise JetprofError(f"--chunk-size must be positive, got {args.chunk_size}")
    if args.index < 0 or args.seed < 0:
        raise JetprofError("--index and --seed must not be negative")
    if args.out.suffix != ".root":
        raise JetprofError(f"{args.out}: output must end in .root")
    settings = dataclasses.replace(GeneratorSettings(), mpi=args.mpi)
    gen = Generator(args.process, args.split, args.index, args.seed, settings)
    name = gen.process.file_prefix
    t0, c0 = time.perf_counter(), time.process_time()
    bar = None
    if not args.no_progress and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=args.jets, unit="jet", desc=name, file=sys.stderr)

    def progress(done: int) -> None:
        if bar is not None:
            bar.update(done - bar.n)
        else:
            print(f"{name}: {done}/{args.jets} jets ({gen.events_tried} events)", file=sys.stderr, flush=True)

    try:
        n = write_file(args.out, gen, args.jets, args.chunk_size, progress)
    finally:
        if bar is not None:
            bar.close()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"{args.out}: {n} {name} jets from {gen.events_tried} events "
          f"(seed {gen.seed}) in {wall:.1f} s, {n / max(cpu, 1e-9):.1f} jets/CPU-s")
    return 0
