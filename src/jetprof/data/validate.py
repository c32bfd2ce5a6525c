"""``jetprof validate``: check JetClass-format ROOT files before training.

The branches to check come from the weaver data config
(:mod:`jetprof.data.dataconfig`); every file goes through the checks of
:mod:`jetprof.data.checks` (readable tree, every needed branch present and numeric,
no NaN or inf, equal particle counts, one-hot labels).

Problems are printed as ``FILE: branch BRANCH: what is wrong`` and the command
exits 1 without writing a report. Otherwise the JSON report holds per-file
entries, class counts and summaries of every input feature (derived ones
evaluated from the config's expressions), and ``--plots`` draws them.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NotRequired, TypedDict

import numpy as np

from jetprof.contract import DEFAULT_DATA_CONFIG
from jetprof.data import jetclass
from jetprof.data.checks import FileResult, check_file
from jetprof.data.dataconfig import DataConfigNeeds, read_data_config_needs
from jetprof.errors import JetprofError

if TYPE_CHECKING:
    from matplotlib.figure import Figure


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


class FeatureHistogram(TypedDict):
    """One feature's histograms: shared bin edges, a density per class."""

    edges: np.ndarray
    counts: dict[str, np.ndarray]


def histograms(
    results: list[FileResult], features: list[str], bins: int = 40
) -> dict[str, FeatureHistogram]:
    """Normalised per-class histograms of each input feature from the kept samples.

    The range is the 0.5-99.5 % quantile range over all classes.

    Returns:
        feature -> {"edges": [...], "counts": {class: [...]}} (densities).
    """
    out: dict[str, FeatureHistogram] = {}
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


def plot_features(hists: dict[str, FeatureHistogram], out: Path) -> Figure:
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


class FileSummary(TypedDict):
    """One file in the validation report."""

    path: str
    entries: int
    class_counts: dict[str, int]
    ok: bool


class ValidationReport(TypedDict):
    """The validation report (``jetprof validate --report``)."""

    schema_version: int
    tree: str
    branches: list[str]
    labels: list[str]
    features: list[str]
    files: list[FileSummary]
    entries: int
    class_counts: dict[str, int]
    class_counts_short: dict[str, int]
    feature_summary: dict[str, dict[str, float | int | None]]
    data_config: NotRequired[str]
    plots: NotRequired[str]


def validate(
    files: list[Path], needs: DataConfigNeeds, *, sample: bool = True
) -> tuple[list[FileResult], ValidationReport]:
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
    report: ValidationReport = {
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
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="JetClass ROOT files to check")


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
