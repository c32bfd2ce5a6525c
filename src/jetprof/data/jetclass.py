"""JetClass facts shared by the generator, the downloader and the validator.

Names follow the JetClass dataset (Zenodo record 6619768): one ROOT file per
process and split, named ``<Process>_<NNN>.root``, TTree ``tree``.
"""

from __future__ import annotations

from dataclasses import dataclass

from jetprof.study_config import Split


@dataclass(frozen=True)
class JetClassProcess:
    """One of JetClass's ten jet classes.

    Attributes:
        file_prefix: file name stem, e.g. ``HToBB`` in ``HToBB_000.root``.
        label: the one-hot label branch that is 1 for this class.
        short: short name used in config files and figure legends.
        latex: legend text.
    """

    file_prefix: str
    label: str
    short: str
    latex: str


PROCESSES: tuple[JetClassProcess, ...] = (
    JetClassProcess("ZJetsToNuNu", "label_QCD", "QCD", r"$q/g$"),
    JetClassProcess("HToBB", "label_Hbb", "Hbb", r"$H\to b\bar{b}$"),
    JetClassProcess("HToCC", "label_Hcc", "Hcc", r"$H\to c\bar{c}$"),
    JetClassProcess("HToGG", "label_Hgg", "Hgg", r"$H\to gg$"),
    JetClassProcess("HToWW4Q", "label_H4q", "H4q", r"$H\to 4q$"),
    JetClassProcess("HToWW2Q1L", "label_Hqql", "Hqql", r"$H\to \ell\nu qq'$"),
    JetClassProcess("ZToQQ", "label_Zqq", "Zqq", r"$Z\to q\bar{q}$"),
    JetClassProcess("WToQQ", "label_Wqq", "Wqq", r"$W\to qq'$"),
    JetClassProcess("TTBar", "label_Tbqq", "Tbqq", r"$t\to bqq'$"),
    JetClassProcess("TTBarLep", "label_Tbl", "Tbl", r"$t\to b\ell\nu$"),
)

BY_SHORT = {p.short: p for p in PROCESSES}
BY_PREFIX = {p.file_prefix: p for p in PROCESSES}
LABELS: tuple[str, ...] = tuple(p.label for p in PROCESSES)
SPLITS: tuple[Split, ...] = ("train", "val", "test")
TREE_NAME = "tree"


def process(name: str) -> JetClassProcess:
    """Look a process up by short name (``Hbb``) or file prefix (``HToBB``).

    Raises:
        KeyError: with the known names, when ``name`` is neither.
    """
    if name in BY_SHORT:
        return BY_SHORT[name]
    if name in BY_PREFIX:
        return BY_PREFIX[name]
    known = ", ".join(p.short for p in PROCESSES)
    raise KeyError(f"unknown JetClass process {name!r}; known: {known}")


@dataclass(frozen=True)
class Branch:
    """One branch of a JetClass TTree.

    Attributes:
        name: branch name, e.g. ``part_px``.
        dtype: numpy dtype name of the values (``float32``, ``bool``, ``int32``).
        jagged: True for per-particle arrays (one value per jet constituent).
    """

    name: str
    dtype: str
    jagged: bool


PARTICLE_FEATURES: tuple[str, ...] = (
    "px",
    "py",
    "pz",
    "energy",
    "deta",
    "dphi",
    "d0val",
    "d0err",
    "dzval",
    "dzerr",
    "charge",
    "isChargedHadron",
    "isNeutralHadron",
    "isPhoton",
    "isElectron",
    "isMuon",
)
"""Per-particle features; the branches are ``part_<feature>``."""

# JetClass stores label_QCD as float, the Higgs labels as bool and the
# Z/W/top labels as int32 (the original files mix producers' types).
LABEL_DTYPES: dict[str, str] = {
    "label_QCD": "float32",
    "label_Hbb": "bool",
    "label_Hcc": "bool",
    "label_Hgg": "bool",
    "label_H4q": "bool",
    "label_Hqql": "bool",
    "label_Zqq": "int32",
    "label_Wqq": "int32",
    "label_Tbqq": "int32",
    "label_Tbl": "int32",
}

JET_FEATURES: tuple[str, ...] = (
    "jet_pt",
    "jet_eta",
    "jet_phi",
    "jet_energy",
    "jet_nparticles",
    "jet_sdmass",
    "jet_tau1",
    "jet_tau2",
    "jet_tau3",
    "jet_tau4",
)
AUX_FEATURES: tuple[str, ...] = (
    "aux_genpart_eta",
    "aux_genpart_phi",
    "aux_genpart_pid",
    "aux_genpart_pt",
    "aux_truth_match",
)

BRANCHES: tuple[Branch, ...] = (
    tuple(Branch(f"part_{f}", "float32", True) for f in PARTICLE_FEATURES)
    + tuple(Branch(name, LABEL_DTYPES[name], False) for name in LABELS)
    + tuple(Branch(name, "float32", False) for name in JET_FEATURES + AUX_FEATURES)
)
"""Every JetClass branch in file order, with its dtype. Files written with
uproot's ``mktree`` also carry a counter branch (``npart``) for the jagged ones."""

BRANCH_DTYPES: dict[str, str] = {b.name: b.dtype for b in BRANCHES}
