"""``jetprof validate``: check JetClass-format ROOT files before training.

The branches to check come from the weaver data config: every ROOT branch that
its ``selection``, ``new_variables`` expressions, ``inputs``, ``labels``,
``observers``, ``monitor_variables`` and ``weights`` use. Each file is opened
once and all of them are read in one ``uproot`` call; the checks are vectorised
with awkward/numpy:

* readable ROOT file with a TTree ``tree`` and at least one entry;
* every needed branch present, numeric (bool/int/float, flat or one jagged level);
* no NaN or inf;
* the jagged (per-particle) branches have the same length per jet;
* labels one-hot: exactly one label set per jet.

Problems are printed as ``FILE: branch BRANCH: what is wrong`` and the command
exits 1 without writing a report. Otherwise the JSON report holds per-file
entries, class counts and summaries of every input feature (derived ones
evaluated from the config's expressions), and ``--plots`` draws them.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from jetprof.contract import DEFAULT_DATA_CONFIG
from jetprof.data import jetclass
from jetprof.data.formats import header_problem
from jetprof.errors import JetprofError

_MODULES = {"np", "numpy", "ak", "awkward", "math"}
_SAMPLE_PER_CLASS = 4000  # values kept per feature, class and file for the plots

# axis labels (with units) for the JetClass variables
UNITS: dict[str, str] = {
    "part_px": r"particle $p_x$ [GeV]",
    "part_py": r"particle $p_y$ [GeV]",
    "part_pz": r"particle $p_z$ [GeV]",
    "part_energy": r"particle $E$ [GeV]",
    "part_deta": r"$\Delta\eta$(particle, jet)",
    "part_dphi": r"$\Delta\phi$(particle, jet) [rad]",
    "part_d0val": r"$d_0$ [mm]",
    "part_d0err": r"$\sigma(d_0)$ [mm]",
    "part_dzval": r"$d_z$ [mm]",
    "part_dzerr": r"$\sigma(d_z)$ [mm]",
    "part_charge": "particle charge [e]",
    "part_isChargedHadron": "is charged hadron",
    "part_isNeutralHadron": "is neutral hadron",
    "part_isPhoton": "is photon",
    "part_isElectron": "is electron",
    "part_isMuon": "is muon",
    "part_mask": "particle mask",
    "part_pt": r"particle $p_T$ [GeV]",
    "part_pt_log": r"$\ln(p_T$ / GeV)",
    "part_e_log": r"$\ln(E$ / GeV)",
    "part_logptrel": r"$\ln(p_T / p_T^{jet})$",
    "part_logerel": r"$\ln(E / E^{jet})$",
    "part_deltaR": r"$\Delta R$(particle, jet)",
    "part_d0": r"$\tanh(d_0$ / mm)",
    "part_dz": r"$\tanh(d_z$ / mm)",
    "jet_pt": r"jet $p_T$ [GeV]",
    "jet_eta": r"jet $\eta$",
    "jet_phi": r"jet $\phi$ [rad]",
    "jet_energy": r"jet $E$ [GeV]",
    "jet_sdmass": r"jet soft-drop mass [GeV]",
    "jet_nparticles": "particles per jet",
}


@dataclass
class DataConfigNeeds:
    """What a weaver data config reads from the ROOT files.

    Attributes:
        branches: raw ROOT branches, sorted.
        labels: one-hot label branches (``labels.type: simple``), in order.
        features: input variables (raw or derived), first-seen order.
        new_variables: derived variable -> expression.
    """

    branches: list[str]
    labels: list[str]
    features: list[str]
    new_variables: dict[str, str]


@dataclass
class FileResult:
    """Outcome of one file's checks."""

    path: str
    problems: list[str] = field(default_factory=list)
    entries: int = 0
    class_counts: dict[str, int] = field(default_factory=dict)
    samples: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    moments: dict[str, list[float]] = field(default_factory=dict)


def _names_in(expr: str, where: str) -> set[str]:
    """Identifiers an expression reads, without module names and builtins."""
    try:
        tree = ast.parse(str(expr), mode="eval")
    except SyntaxError as exc:
        raise JetprofError(f"{where}: cannot parse expression {expr!r}: {exc.msg}") from None
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return {
        n
        for n in names
        if n not in _MODULES and n not in dir(__builtins__) and n not in ("True", "False", "None")
    }


def needs_of(config: dict[str, Any], where: str = "data config") -> DataConfigNeeds:
    """Work out the raw branches, labels and features a weaver data config uses.

    Args:
        config: the parsed YAML.
        where: name for error messages (the config's path).

    Raises:
        JetprofError: an unparsable expression or a malformed section.
    """
    new_vars = {str(k): str(v) for k, v in (config.get("new_variables") or {}).items()}
    for name, expr in new_vars.items():  # every expression must parse, used or not
        _names_in(expr, f"{where}: new_variables.{name}")
    wanted: set[str] = set()
    features: list[str] = []
    for sel_key in ("selection", "test_time_selection"):
        if config.get(sel_key):
            wanted |= _names_in(config[sel_key], f"{where}: {sel_key}")
    for group, spec in (config.get("inputs") or {}).items():
        if not isinstance(spec, dict) or "vars" not in spec:
            raise JetprofError(f"{where}: inputs.{group}: no 'vars' list")
        for var in spec["vars"]:
            name = str(var[0] if isinstance(var, (list, tuple)) else var)
            wanted.add(name)
            if name not in features:
                features.append(name)
    labels_cfg = config.get("labels") or {}
    labels: list[str] = []
    if labels_cfg.get("type", "simple") == "simple":
        labels = [str(v) for v in labels_cfg.get("value") or []]
        wanted |= set(labels)
    else:  # custom labels: expressions
        for name, expr in (labels_cfg.get("value") or {}).items():
            wanted |= _names_in(str(expr), f"{where}: labels.{name}")
    for key in ("observers", "monitor_variables"):
        wanted |= {str(v) for v in config.get(key) or []}
    weights = config.get("weights") or {}
    if isinstance(weights, dict):
        wanted |= {str(v) for v in weights.get("reweight_vars", {}) or {}}
        wanted |= {str(v) for v in weights.get("reweight_classes", []) or []}
        if weights.get("use_precomputed_weights") and weights.get("weight_branch"):
            wanted.add(str(weights["weight_branch"]))
    # resolve derived variables down to ROOT branches
    raw: set[str] = set()
    seen: set[str] = set()
    stack = sorted(wanted)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in new_vars:
            stack.extend(
                sorted(_names_in(new_vars[name], f"{where}: new_variables.{name}") - {name})
            )
        else:
            raw.add(name)
    return DataConfigNeeds(sorted(raw), labels, features, new_vars)


def read_data_config_needs(path: Path) -> DataConfigNeeds:
    """Read a weaver data config (YAML) and return what it needs."""
    import yaml

    try:
        config = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise JetprofError(f"{path}: cannot read data config: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise JetprofError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(config, dict):
        raise JetprofError(f"{path}: a weaver data config must be a YAML mapping")
    return needs_of(config, str(path))


def _leaf_dtype(interp: Any) -> tuple[np.dtype | None, int]:
    """(numeric dtype, jagged depth) of an uproot interpretation, or (None, 0)."""
    import uproot

    depth = 0
    while isinstance(interp, uproot.interpretation.jagged.AsJagged):
        depth += 1
        interp = interp.content
    if isinstance(interp, uproot.interpretation.numerical.AsDtype):
        dtype = np.dtype(interp.to_dtype)
        if dtype.kind in "biuf" and dtype.shape == ():
            return dtype, depth
    return None, depth


def check_file(path: Path, needs: DataConfigNeeds, *, sample: bool = True) -> FileResult:
    """Run every check on one file.

    Args:
        path: ROOT file.
        needs: what the data config reads.
        sample: keep feature samples for the plots.

    Returns:
        The result; ``problems`` lists one line per problem.
    """
    import uproot

    res = FileResult(str(path))

    def problem(msg: str, branch: str | None = None) -> None:
        res.problems.append(f"{path}: branch {branch}: {msg}" if branch else f"{path}: {msg}")

    header = header_problem(path)
    if header:
        problem(header)
        return res
    try:
        rootfile = uproot.open(path)
    except Exception as exc:  # noqa: BLE001 - uproot raises many types for non-ROOT input
        problem(
            f"not a readable ROOT file ({type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:160]})"
        )
        return res
    with rootfile:
        try:
            tree = rootfile[jetclass.TREE_NAME]
        except Exception as exc:  # noqa: BLE001
            msg = (
                "no TTree 'tree'"
                if isinstance(exc, KeyError)
                else f"cannot read TTree 'tree' ({type(exc).__name__})"
            )
            problem(msg)
            return res
        if not isinstance(tree, uproot.behaviors.TTree.TTree):
            problem(f"'tree' is a {type(tree).__name__}, not a TTree")
            return res
        res.entries = int(tree.num_entries)
        if res.entries < 1:
            problem("tree has no entries")
            return res
        present = set(tree.keys())
        depth: dict[str, int] = {}
        for name in needs.branches:
            if name not in present:
                problem("missing", name)
                continue
            dtype, d = _leaf_dtype(tree[name].interpretation)
            if dtype is None or d > 1:
                problem(
                    f"unusable type {tree[name].typename!r} (need numbers, at most one jagged level)",
                    name,
                )
                continue
            depth[name] = d
        if res.problems:
            return res
        try:
            arrays = tree.arrays(needs.branches, library="ak", how=dict)
        except Exception as exc:  # noqa: BLE001 - truncated/corrupt baskets
            detail = (str(exc).splitlines() or [""])[0][:160]
            problem(
                f"cannot read branches (file truncated or corrupt?): {type(exc).__name__}: {detail}"
            )
            return res

    # flat numpy views of every branch: per-jet values, or the particles' content + counts
    jagged = [n for n in needs.branches if depth[n] == 1]
    flat_values: dict[str, np.ndarray] = {}
    counts_of: dict[str, np.ndarray] = {}
    sums: dict[str, float] = {}
    for name in needs.branches:
        values, counts = _flat(arrays[name])
        flat_values[name] = values
        if counts is not None:
            counts_of[name] = counts
        # a float64 sum is finite exactly when every value is (no allocation on the good path)
        sums[name] = float(np.sum(values, dtype=np.float64))
        if values.dtype.kind == "f" and not math.isfinite(sums[name]):
            nnan = int(np.isnan(values).sum())
            ninf = int(np.isinf(values).sum())
            problem(f"{nnan} NaN and {ninf} inf values", name)
    # equal particle counts
    counts = None
    if jagged:
        # the particle counts most branches agree on are the reference
        groups: dict[bytes, list[str]] = {}
        for n in jagged:
            groups.setdefault(counts_of[n].tobytes(), []).append(n)
        majority = max(groups.values(), key=len)
        ref, counts = majority[0], counts_of[majority[0]]
        for name in jagged:
            if name in majority:
                continue
            diff = np.flatnonzero(counts_of[name] != counts)
            problem(
                f"particle count differs from {ref} in {diff.size} jets (first: entry {int(diff[0])}, "
                f"{int(counts_of[name][diff[0]])} vs {int(counts[diff[0]])})",
                name,
            )
    # one-hot labels
    label_matrix = None
    if needs.labels:
        for n in needs.labels:
            if depth.get(n) == 1:
                problem("label branch is jagged; expected one value per jet", n)
        if all(depth.get(n) == 0 for n in needs.labels):
            label_matrix = np.stack(
                [flat_values[n].astype(np.float64) for n in needs.labels], axis=1
            )
            not01 = ~np.isin(label_matrix, (0.0, 1.0))
            for j in np.flatnonzero(not01.any(axis=0)):
                problem(
                    f"label values other than 0/1 in {int(not01[:, j].sum())} jets", needs.labels[j]
                )
            nset = (label_matrix == 1.0).sum(axis=1)
            bad = np.flatnonzero(nset != 1)
            if bad.size:
                nbad = np.bincount(nset[bad].astype(np.int64))
                what = ", ".join(f"{k} labels set in {int(c)}" for k, c in enumerate(nbad) if c)
                problem(
                    f"labels not one-hot in {bad.size} of {res.entries} jets ({what}; first: entry {int(bad[0])})"
                )
    if res.problems:
        return res
    cls = None
    if label_matrix is not None:
        cls = np.argmax(label_matrix, axis=1)
        totals = np.bincount(cls, minlength=len(needs.labels))
        res.class_counts = {n: int(c) for n, c in zip(needs.labels, totals)}
    _summarise(res, flat_values, sums, set(jagged), counts, arrays, needs, cls, sample)
    return res


def _flat(arr: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """(values, per-jet counts or None) of a flat or singly jagged awkward array, without copies."""
    import awkward as ak

    layout = arr.layout
    if isinstance(layout, ak.contents.NumpyArray):
        return np.asarray(layout.data), None
    if isinstance(layout, ak.contents.ListOffsetArray) and isinstance(
        layout.content, ak.contents.NumpyArray
    ):
        offsets = np.asarray(layout.offsets.data)
        return np.asarray(layout.content.data)[offsets[0] : offsets[-1]], np.diff(offsets)
    if arr.ndim > 1:
        return ak.to_numpy(ak.flatten(arr)), ak.to_numpy(ak.num(arr, axis=1))
    return ak.to_numpy(arr), None


def _evaluate(
    name: str,
    flat: dict[str, np.ndarray],
    jagged: set[str],
    counts: np.ndarray | None,
    new_vars: dict[str, str],
    cache: dict[str, tuple[np.ndarray, bool]],
) -> tuple[np.ndarray, bool]:
    """Value of a raw branch or derived variable as a flat array, and whether it is per particle.

    Expressions are evaluated the way weaver does (numpy/awkward functions on
    the branches), but on the flat particle buffers: the particle branches share
    their counts (checked before), and per-jet values met in a per-particle
    expression are repeated per particle.
    """
    import awkward as ak

    if name in cache:
        return cache[name]
    if name in flat:
        return flat[name], name in jagged
    expr = new_vars[name]
    deps = {
        d: _evaluate(d, flat, jagged, counts, new_vars, cache)
        for d in sorted(_names_in(expr, name))
        if d in flat or d in new_vars
    }
    per_particle = any(p for _, p in deps.values())
    scope = {
        d: (np.repeat(v, counts) if per_particle and not p and counts is not None else v)
        for d, (v, p) in deps.items()
    }
    with np.errstate(all="ignore"):
        value = eval(
            compile(expr, f"<new_variables.{name}>", "eval"),
            {"np": np, "ak": ak, "math": math},
            scope,
        )  # noqa: S307 - the user's own data config, as weaver does
    if isinstance(value, ak.Array):
        value = ak.to_numpy(value)
    value = np.asarray(value)
    if value.ndim == 0:  # a constant: one per jet
        value = np.full(len(next(iter(flat.values()))), value)
    cache[name] = (value, per_particle)
    return cache[name]


def _summarise(
    res: FileResult,
    flat: dict[str, np.ndarray],
    sums: dict[str, float],
    jagged: set[str],
    counts: np.ndarray | None,
    arrays: dict[str, Any],
    needs: DataConfigNeeds,
    cls: np.ndarray | None,
    sample: bool,
) -> None:
    """Moments (count, sum, sum², min, max, non-finite) and plot samples per input feature."""
    cache: dict[str, tuple[np.ndarray, bool]] = {}
    scratch = np.empty(0, dtype=np.float64)  # reused for the squares
    n_classes = len(needs.labels) or 1
    # indices of the kept plot samples, per class, for per-jet and per-particle values
    picks: dict[bool, list[np.ndarray]] = {}
    if sample:
        jet_cls = cls if cls is not None else np.zeros(res.entries, dtype=np.int64)
        for per_particle, value_cls in (
            (False, jet_cls),
            (True, np.repeat(jet_cls, counts) if counts is not None else None),
        ):
            if value_cls is None:
                continue
            picks[per_particle] = []
            for c in range(n_classes):
                idx = np.flatnonzero(value_cls == c)
                if idx.size > _SAMPLE_PER_CLASS:
                    idx = idx[:: int(math.ceil(idx.size / _SAMPLE_PER_CLASS))]
                picks[per_particle].append(idx)
    for feat in needs.features:
        try:
            values, per_particle = _evaluate(feat, flat, jagged, counts, needs.new_variables, cache)
        except Exception as exc:  # noqa: BLE001 - an expression that fails on this file
            res.problems.append(
                f"{res.path}: variable {feat}: cannot evaluate {needs.new_variables.get(feat)!r}: {exc}"
            )
            continue
        total = sums[feat] if feat in sums else float(np.sum(values, dtype=np.float64))
        finite = None if math.isfinite(total) else np.isfinite(values)
        good = values if finite is None else values[finite]
        if finite is not None:
            total = float(np.sum(good, dtype=np.float64))
        if scratch.size < good.size:
            scratch = np.empty(good.size, dtype=np.float64)
        squares = np.square(good, out=scratch[: good.size], dtype=np.float64)
        res.moments[feat] = [
            float(good.size),
            total,
            float(squares.sum()),
            float(good.min()) if good.size else math.inf,
            float(good.max()) if good.size else -math.inf,
            float(values.size - good.size),
        ]
        if not sample:
            continue
        per_cls: dict[str, np.ndarray] = {}
        for c, idx in enumerate(picks.get(per_particle, [])):
            sel = values[idx]
            if finite is not None:
                sel = sel[np.isfinite(sel)]
            if sel.size:
                per_cls[needs.labels[c] if needs.labels else "all"] = sel.astype(np.float32)
        res.samples[feat] = per_cls
    del arrays


def _feature_summary(
    results: list[FileResult], features: list[str]
) -> dict[str, dict[str, float | int | None]]:
    out: dict[str, dict[str, float | int | None]] = {}
    for feat in features:
        rows = [r.moments[feat] for r in results if feat in r.moments]
        if not rows:
            continue
        n = sum(r[0] for r in rows)
        s = sum(r[1] for r in rows)
        s2 = sum(r[2] for r in rows)
        mean = s / n if n else None
        std = math.sqrt(max(s2 / n - mean * mean, 0.0)) if n and mean is not None else None
        out[feat] = {
            "values": int(n),
            "mean": mean,
            "std": std,
            "min": min(r[3] for r in rows) if n else None,
            "max": max(r[4] for r in rows) if n else None,
            "non_finite": int(sum(r[5] for r in rows)),
        }
    return out


def histograms(
    results: list[FileResult], features: list[str], bins: int = 40
) -> dict[str, dict[str, Any]]:
    """Normalised per-class histograms of each input feature from the kept samples.

    The range is the 0.5-99.5 % quantile range over all classes.

    Returns:
        feature -> {"edges": [...], "counts": {class: [...]}} (densities).
    """
    out: dict[str, dict[str, Any]] = {}
    for feat in features:
        per_cls: dict[str, list[np.ndarray]] = {}
        for r in results:
            for c, v in r.samples.get(feat, {}).items():
                per_cls.setdefault(c, []).append(v)
        if not per_cls:
            continue
        merged = {c: np.concatenate(v) for c, v in per_cls.items()}
        allv = np.concatenate(list(merged.values()))
        lo, hi = (float(x) for x in np.quantile(allv, [0.005, 0.995]))
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, bins + 1)
        counts = {
            c: np.histogram(np.clip(v, lo, hi), bins=edges, density=True)[0]
            for c, v in merged.items()
        }
        out[feat] = {"edges": edges, "counts": counts}
    return out


def plot_features(hists: dict[str, dict[str, Any]], out: Path) -> Any:
    """One panel per input feature, classes overlaid; written atomically to ``out``.

    Returns:
        The matplotlib Figure (closed after saving).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import LogLocator, MaxNLocator, NullLocator

    names = list(hists)
    ncols = min(5, max(1, len(names)))
    nrows = max(1, math.ceil(len(names) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 2.8 * nrows), squeeze=False)
    legend_names = {p.label: p.latex for p in jetclass.PROCESSES}
    for ax, feat in zip(axes.flat, names):
        h = hists[feat]
        for c, counts in h["counts"].items():
            ax.stairs(counts, h["edges"], label=legend_names.get(c, c))
        ax.set_xlabel(UNITS.get(feat, feat) + ("" if feat in UNITS else " [a.u.]"), fontsize=8)
        ax.set_ylabel("density", fontsize=8)
        ax.set_yscale("log")
        # few ticks: tick objects dominate the drawing time of a 20-panel figure
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.yaxis.set_major_locator(LogLocator(numticks=3))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    if names:
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.legend(
            handles,
            labels,
            loc="upper center",
            ncol=min(10, len(labels)),
            fontsize=8,
            frameon=False,
        )
    # fixed spacing: tight_layout costs seconds per figure with this many log axes
    fig.subplots_adjust(
        left=0.06, right=0.98, bottom=0.07, top=1 - 0.35 / nrows, hspace=0.5, wspace=0.3
    )
    from jetprof.io import atomic_write

    try:
        atomic_write(out, lambda tmp: fig.savefig(tmp, dpi=90))
    finally:
        plt.close(fig)
    return fig


def validate(
    files: list[Path], needs: DataConfigNeeds, *, sample: bool = True
) -> tuple[list[FileResult], dict[str, Any]]:
    """Check every file and build the report (not written).

    Returns:
        (per-file results, report dict). The report is only meaningful when no
        result has problems.
    """
    results = [check_file(f, needs, sample=sample) for f in files]
    overall: dict[str, int] = {n: 0 for n in needs.labels}
    for r in results:
        for k, v in r.class_counts.items():
            overall[k] += v
    short = {p.label: p.short for p in jetclass.PROCESSES}
    report = {
        "schema_version": 1,
        "tree": jetclass.TREE_NAME,
        "branches": needs.branches,
        "labels": needs.labels,
        "features": needs.features,
        "files": [
            {
                "path": r.path,
                "entries": r.entries,
                "class_counts": r.class_counts,
                "ok": not r.problems,
            }
            for r in results
        ],
        "entries": sum(r.entries for r in results),
        "class_counts": overall,
        "class_counts_short": {short.get(k, k): v for k, v in overall.items()},
        "feature_summary": _feature_summary(results, needs.features),
    }
    return results, report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``jetprof validate``."""
    parser.add_argument(
        "--data-config", type=Path, default=DEFAULT_DATA_CONFIG, help="weaver data config (YAML)"
    )
    parser.add_argument(
        "--report",
        type=Path,
        default=None,
        help="JSON report to write (without it, the findings are only printed)",
    )
    parser.add_argument(
        "--plots", type=Path, default=None, help="feature histogram figure (PNG/PDF)"
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")


def file_lines(results: list[FileResult]) -> list[str]:
    """One line per file that passed: ``FILE: N jets ok (QCD 6, Hbb 6, ...)``."""
    short = {p.label: p.short for p in jetclass.PROCESSES}
    lines = []
    for r in results:
        if r.problems:
            continue
        counts = ", ".join(f"{short.get(k, k)} {v}" for k, v in r.class_counts.items() if v)
        lines.append(f"{r.path}: {r.entries} jets ok" + (f" ({counts})" if counts else ""))
    return lines


def run(args: argparse.Namespace) -> int:
    """Run ``jetprof validate``: print the findings, and write the report if asked."""
    from jetprof.io import atomic_write_text

    needs = read_data_config_needs(args.data_config)
    results, report = validate(list(args.files), needs, sample=args.plots is not None)
    problems = [p for r in results for p in r.problems]
    if args.report is None:
        # a user checking files by hand: every file's verdict on the terminal
        for line in file_lines(results):
            print(line)
    if problems:
        for line in problems:
            print(line, file=sys.stderr)
        nbad = sum(1 for r in results if r.problems)
        # the one line a failed rule shows on the terminal names the first problem
        raise JetprofError(
            f"{len(problems)} problem(s) in {nbad} of {len(results)} file(s)"
            + ("; no report written" if args.report is not None else "")
            + f"; first: {problems[0]}"
        )
    for feat, summary in report["feature_summary"].items():
        if summary["non_finite"]:
            print(
                f"jetprof validate: warning: variable {feat}: {summary['non_finite']} non-finite values "
                f"from {needs.new_variables.get(feat, feat)!r} (left out of the summary)",
                file=sys.stderr,
            )
    report["data_config"] = str(args.data_config)
    if args.plots is not None:
        hists = histograms(results, needs.features)
        plot_features(hists, args.plots)
        report["plots"] = str(args.plots)
    if args.report is not None:
        atomic_write_text(args.report, json.dumps(report, indent=1, allow_nan=False) + "\n")
    counts = ", ".join(f"{k} {v}" for k, v in report["class_counts_short"].items())
    print(
        f"jetprof validate: {len(results)} file(s), {report['entries']} jets ok ({counts})",
        file=sys.stderr,
    )
    return 0
