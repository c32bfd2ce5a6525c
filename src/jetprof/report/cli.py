"""``jetprof plot``: draw one of the study's figures from stored records.

``jetprof plot FIGURE --table results/summary/points.csv [--records-dir DIR]
[--peak PEAK.json ...] [--metrics metrics.json] [--weights W] [--particles P]
[--batch-size N] --out results/figures/FIGURE.png``

The figure functions (:mod:`jetprof.report.curves`, :mod:`~jetprof.report.ops`,
:mod:`~jetprof.report.training`, :mod:`~jetprof.report.paired`) draw exactly what
they are told; this command decides what that is. What the command line does not
say, it takes from the measurements only where they leave one choice:

- ``--model``: the model measured with trained weights, else the only model measured;
- ``--particles``: ``real`` if measured, else the only particle count measured;
- ``--weights``: ``trained`` if measured there, else the only weight state measured there;
- ``--batch-size`` (the multiplicity curve): the only batch size of its weight state's
  fixed-multiplicity points.

Where several were measured and no rule picks one (say a main grid of fixed particle
counts beside the multiplicity curve), it stops with a one-line error naming the option
and the config key to pass, instead of guessing. Missing or unreadable inputs are
one-line errors too.

``accuracy_vs_cost`` draws the models side by side (``--models
results/summary/models.csv`` from ``jetprof summarize --models-csv``).

``weights_comparison`` and ``comparisons`` draw the paired comparisons
(``--comparisons results/summary/comparisons.csv`` from ``jetprof compare``): every
ratio, interval and verdict comes from that file. The weights answer itself is written
by ``jetprof compare``.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from jetprof.contract import FIGURES
from jetprof.errors import JetprofError
from jetprof.io import atomic_write
from jetprof.registry import FIGURES as FIGURE_ENTRIES
from jetprof.report.paired import load_comparisons
from jetprof.report.style import STYLE, Plot, apply_filters
from jetprof.report.summarize import KEY_FIELDS, load_records, read_table


def figure_function(name: str) -> Any:
    """The function the registry names for figure ``name`` (``"module:function"``), imported now."""
    import importlib

    module, _, function = FIGURE_ENTRIES[name].function.partition(":")
    return getattr(importlib.import_module(module), function)


def _kind(name: str) -> str:
    return FIGURE_ENTRIES[name].kind


# ----------------------------------------------------------------------------
# inputs


def load_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read the summary CSV written by ``jetprof summarize``."""
    return read_table(path, "summary table", (*KEY_FIELDS, "status"), " (run jetprof summarize first)")


def load_json(path: str | os.PathLike[str], what: str) -> Any:
    """Read a JSON input, with a one-line error naming the file."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise JetprofError(f"{path}: no such {what} file") from None
    except json.JSONDecodeError as exc:
        raise JetprofError(
            f"{path}: {what} is not valid JSON ({exc.msg}, line {exc.lineno})") from None
    except OSError as exc:
        raise JetprofError(f"{path}: cannot read {what} ({exc.strerror})") from None


def load_peaks(paths: Iterable[str | os.PathLike[str]]) -> list[dict[str, Any]]:
    """Read peak records (``results/profile/peak/{device}.json``)."""
    peaks = []
    for path in paths:
        doc = load_json(path, "peak record")
        if not isinstance(doc, dict) or "device" not in doc or "matmul_flops_per_s" not in doc:
            raise JetprofError(
                f"{path}: not a peak record (needs 'device' and 'matmul_flops_per_s')")
        peaks.append(doc)
    return peaks


# ----------------------------------------------------------------------------
# what a figure shows when the command line does not say


def _natural(value: str) -> tuple[int, int, str]:
    return (0, int(value), "") if value.isdigit() else (1, 0, value)


def pick(values: Iterable[Any], option: str, what: str, prefer: str | None = None) -> str:
    """The one value the measurements leave for ``option``.

    Args:
        values: the values measured.
        option: the command-line option (and config key) that would say it.
        what: what the values are, for the message.
        prefer: taken whenever it was measured.

    Returns:
        ``prefer`` if measured, else the only value measured; ``""`` if none was (the
        figure then says "no data").

    Raises:
        JetprofError: several values were measured and none is preferred.
    """
    found = sorted({str(v) for v in values if not pd.isna(v)}, key=_natural)
    if prefer is not None and prefer in found:
        return prefer
    if len(found) <= 1:
        return found[0] if found else ""
    raise JetprofError(f"several {what} measured ({', '.join(found)}): choose one with {option}")


def default_model(table: pd.DataFrame) -> str | None:
    """The model one-model figures show: the one with trained weights, else the only one."""
    if table.empty or "model" not in table.columns:
        return None
    trained = table[table["weights"] == "trained"]["model"]
    pool = trained if not trained.empty else table["model"]
    return pick(pool, "--model (weaver.model_name)", "models") or None


def _grid_selection(rows: pd.DataFrame, args: argparse.Namespace) -> tuple[str, str]:
    """(weights, particles) of the main grid that a one-weight figure shows."""
    particles = args.particles or pick(rows["particles"], "--particles (profile.particles)",
                                       "particle settings", prefer="real")
    at = rows[rows["particles"].astype(str) == particles]
    weights = args.weights or pick(at["weights"], "--weights", "weight states", prefer="trained")
    return weights, particles


def _multiplicity_selection(table: pd.DataFrame, args: argparse.Namespace) -> tuple[str, int]:
    """(weights, batch size) of the multiplicity curve."""
    numeric = table[pd.to_numeric(table["particles"], errors="coerce").notna()]
    weights = args.weights or pick(numeric["weights"], "--weights (profile.multiplicity.weights)",
                                   "weight states of fixed-multiplicity points",
                                   prefer="trained")
    if args.batch_size is not None:
        return weights, int(args.batch_size)
    sizes = [int(b) for b in numeric[numeric["weights"] == weights]["batch_size"]]
    batch = pick(sizes, "--batch-size (profile.multiplicity.batch_size)",
                 "batch sizes of fixed-multiplicity points")
    return weights, int(batch or 0)


# ----------------------------------------------------------------------------
# drawing


def make_plot(name: str, args: argparse.Namespace) -> Plot:
    """Draw figure ``name`` from the inputs its kind (:data:`jetprof.registry.FIGURE_KINDS`) reads."""
    kind, draw = _kind(name), figure_function(name)
    if kind == "metrics":
        if not args.metrics:
            raise JetprofError(f"figure {name} needs --metrics (results/evaluate/ParT_full/metrics.json)")
        metrics = load_json(args.metrics, "metrics")
        if not isinstance(metrics, dict):
            raise JetprofError(f"{args.metrics}: metrics must be a JSON object")
        return draw(metrics, source=str(args.metrics))
    if kind == "records":
        return _op_breakdown(args, draw)
    if kind == "deployment":
        if not args.deployment:
            raise JetprofError(f"figure {name} needs --deployment (results/summary/deployment.json)")
        return draw(load_json(args.deployment, "deployment ladder"))
    if kind == "comparisons":
        if not args.comparisons:
            raise JetprofError(f"figure {name} needs --comparisons (results/summary/comparisons.csv)")
        return draw(load_comparisons(args.comparisons))
    if kind == "serving":
        from jetprof.report.serving import read_serving_table

        if not args.serving:
            raise JetprofError(f"figure {name} needs --serving (results/summary/serving.csv)")
        return draw(read_serving_table(args.serving))
    if kind == "models":
        if not args.models:
            raise JetprofError(f"figure {name} needs --models (results/summary/models.csv)")
        models = read_table(args.models, "models table", ("model", "device"),
                            " (run jetprof summarize --models-csv first)")
        return draw(apply_filters(models, device=args.device))
    if kind == "node":
        if not args.node:
            raise JetprofError(f"figure {name} needs --node (results/summary/node.csv)")
        from jetprof.report.cost import read_node_table

        return draw(read_node_table(args.node))
    if not args.table:
        raise JetprofError(f"figure {name} needs --table (results/summary/points.csv)")
    table = load_table(args.table)
    if kind == "models_table":
        table = apply_filters(table, device=args.device, backend=args.backend,
                              precision=args.precision)
        random = table[table["weights"] == "random"]
        particles = args.particles or pick(random["particles"], "--particles (profile.particles)",
                                           "particle settings", prefer="real")
        return draw(table, particles=particles)
    # the other figures show one model: the one asked for, else the trained one
    table = apply_filters(table, model=args.model or default_model(table))
    table = apply_filters(table, device=args.device, backend=args.backend,
                          precision=args.precision)
    if kind == "multiplicity":
        weights, batch_size = _multiplicity_selection(table, args)
        return draw(table, weights=weights, batch_size=batch_size)
    weights, particles = _grid_selection(table, args)
    if kind == "roofline":
        return draw(table, load_peaks(args.peak or []), weights=weights, particles=particles)
    if kind == "batch":
        return draw(table, weights=weights, particles=particles)
    raise JetprofError(f"figure {name}: unknown kind {kind!r}")  # pragma: no cover - the registry's test


def _op_breakdown(args: argparse.Namespace, draw: Any) -> Plot:
    if args.records_dir:
        records = load_records([args.records_dir])
    elif args.table:
        table = load_table(args.table)
        if "record_path" not in table.columns:
            raise JetprofError(f"{args.table}: no record_path column; give --records-dir")
        records = load_records([p for p in table["record_path"].dropna() if Path(p).is_file()])
    else:
        raise JetprofError("figure op_breakdown needs --records-dir (or --table)")
    model = args.model or default_model(pd.DataFrame([{"model": r.model, "weights": r.weights} for _, r in records]))
    records = [(path, r) for path, r in records if model is None or r.model == model]
    measured = pd.DataFrame([{"weights": r.weights, "particles": str(r.particles)}
                             for _, r in records], columns=["weights", "particles"])
    weights, particles = _grid_selection(measured, args)
    return draw(records, weights=weights, particles=particles)


def save_figure(plot: Plot, out: str | os.PathLike[str]) -> None:
    """Write the figure atomically; the format follows the file's extension."""
    suffix = Path(out).suffix.lower().lstrip(".")
    if suffix not in ("png", "pdf", "svg"):
        raise JetprofError(f"{out}: figure output must end in .png, .pdf or .svg")
    with plt.style.context(STYLE):
        atomic_write(out, lambda tmp: plot.figure.savefig(tmp, format=suffix, dpi=110))
    plt.close(plot.figure)


# ----------------------------------------------------------------------------
# command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``jetprof plot``."""
    parser.add_argument("figure", choices=FIGURES, help="which figure")
    parser.add_argument("--table", help="summary table from jetprof summarize (CSV)")
    parser.add_argument("--records-dir", help="profile records (for op_breakdown)")
    parser.add_argument("--peak", action="append", default=[],
                        help="peak record(s) results/profile/peak/{device}.json (roofline)")
    parser.add_argument("--metrics", help="metrics JSON from jetprof evaluate")
    parser.add_argument("--comparisons", help="paired comparisons from jetprof compare (CSV)")
    parser.add_argument("--deployment", help="the deployment ladder from jetprof compare (JSON)")
    parser.add_argument("--models", help="the models side by side from jetprof summarize --models-csv (CSV)")
    parser.add_argument("--node", help="the full-node runs from jetprof cost --out-node (CSV)")
    parser.add_argument("--serving", help="the serving runs from jetprof serving-summary (CSV)")
    parser.add_argument("--out", required=True, help="output .png, .pdf or .svg")
    selection = parser.add_argument_group(
        "selection (default: the one value measured, see `pydoc jetprof.report.cli`)")
    selection.add_argument("--model", help="only this model (default: the trained one)")
    selection.add_argument("--device", help="only this device")
    selection.add_argument("--backend", help="only this backend")
    selection.add_argument("--precision", help="only this precision")
    selection.add_argument("--weights", help="weight state shown (default: trained if measured)")
    selection.add_argument("--particles",
                           help="'real' or N: the main grid's inputs (default: real if measured)")
    selection.add_argument("--batch-size", type=int,
                           help="batch size of the multiplicity curve "
                                "(profile.multiplicity.batch_size; default: the only one measured)")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``jetprof plot``."""
    plot = make_plot(args.figure, args)
    save_figure(plot, args.out)
    drawn = 0 if plot.data.empty else len(plot.data)
    print(f"jetprof plot: {args.figure} ({drawn} value(s) drawn) -> {args.out}")
    return 0
