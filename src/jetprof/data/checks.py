"""The checks of one JetClass-format ROOT file against a weaver data config (``jetprof validate``).

Each file is opened once and every branch the data config needs
(:mod:`jetprof.data.dataconfig`) is read in one ``uproot`` call; the checks are
vectorised with awkward/numpy:

* readable ROOT file with a TTree ``tree`` and at least one entry;
* every needed branch present, numeric (bool/int/float, flat or one jagged level);
* no NaN or inf;
* the jagged (per-particle) branches have the same length per jet;
* labels one-hot: exactly one label set per jet.

A file that passes also yields its class counts, the moments of every input feature
(derived ones evaluated from the config's expressions) and samples of them for the plots.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from jetprof.data import jetclass
from jetprof.data.dataconfig import DataConfigNeeds, names_in
from jetprof.data.formats import header_problem

_SAMPLE_PER_CLASS = 4000  # values kept per feature, class and file for the plots


@dataclass
class FileResult:
    """Outcome of one file's checks."""

    path: str
    problems: list[str] = field(default_factory=list)
    entries: int = 0
    class_counts: dict[str, int] = field(default_factory=dict)
    samples: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    moments: dict[str, list[float]] = field(default_factory=dict)


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
    except Exception as exc:  # uproot raises many types for non-ROOT input
        problem(
            f"not a readable ROOT file ({type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:160]})"
        )
        return res
    with rootfile:
        try:
            tree = rootfile[jetclass.TREE_NAME]
        except Exception as exc:  # uproot raises many types
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
        except Exception as exc:  # truncated/corrupt baskets
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
        for d in sorted(names_in(expr, name))
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
        )  # eval: the user's own data config, as weaver does
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
                    idx = idx[:: math.ceil(idx.size / _SAMPLE_PER_CLASS)]
                picks[per_particle].append(idx)
    for feat in needs.features:
        try:
            values, per_particle = _evaluate(feat, flat, jagged, counts, needs.new_variables, cache)
        except Exception as exc:  # an expression that fails on this file
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
