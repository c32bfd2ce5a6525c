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

    def add_problem(self, msg: str, branch: str | None = None) -> None:
        """Record one problem, prefixed with the file (and the branch, if one)."""
        self.problems.append(f"{self.path}: branch {branch}: {msg}" if branch else f"{self.path}: {msg}")


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
    res = FileResult(str(path))
    arrays = _read_branches(path, needs, res)
    if arrays is None:
        return res
    cols = _Columns.of(arrays, needs.branches)
    _check_finite(res, cols)
    counts = _check_particle_counts(res, cols)
    label_matrix = _check_labels(res, needs, cols)
    if res.problems:
        return res
    cls = _count_classes(res, needs.labels, label_matrix)
    _summarise(res, cols.values, cols.sums, set(cols.jagged), counts, needs, cls, sample)
    return res


# --------------------------------------------------------------------------- reading


def _read_branches(path: Path, needs: DataConfigNeeds, res: FileResult) -> dict[str, Any] | None:
    """Every needed branch as an awkward array, or None with the problems in ``res``.

    The file is opened once and closed before returning; ``res.entries`` is set
    once the tree is found.
    """
    header = header_problem(path)
    if header:
        res.add_problem(header)
        return None
    rootfile = _open_root(path, res)
    if rootfile is None:
        return None
    with rootfile:
        tree = _find_tree(rootfile, res)
        if tree is None or not _check_branch_types(tree, needs.branches, res):
            return None
        try:
            arrays: dict[str, Any] = tree.arrays(needs.branches, library="ak", how=dict)
            return arrays
        except Exception as exc:  # truncated/corrupt baskets
            res.add_problem(
                f"cannot read branches (file truncated or corrupt?): {type(exc).__name__}: "
                f"{_first_line(exc)}"
            )
            return None


def _first_line(exc: Exception) -> str:
    """The first line of an exception's message, at most 160 characters."""
    return (str(exc).splitlines() or [""])[0][:160]


def _open_root(path: Path, res: FileResult) -> Any:
    """The open ROOT file, or None with the problem in ``res``."""
    import uproot

    try:
        return uproot.open(path)
    except Exception as exc:  # uproot raises many types for non-ROOT input
        res.add_problem(f"not a readable ROOT file ({type(exc).__name__}: {_first_line(exc)})")
        return None


def _find_tree(rootfile: Any, res: FileResult) -> Any:
    """The file's TTree ``tree`` holding at least one entry, or None with the problem in ``res``."""
    import uproot

    try:
        tree = rootfile[jetclass.TREE_NAME]
    except Exception as exc:  # uproot raises many types
        res.add_problem(
            "no TTree 'tree'"
            if isinstance(exc, KeyError)
            else f"cannot read TTree 'tree' ({type(exc).__name__})"
        )
        return None
    if not isinstance(tree, uproot.behaviors.TTree.TTree):
        res.add_problem(f"'tree' is a {type(tree).__name__}, not a TTree")
        return None
    res.entries = int(tree.num_entries)
    if res.entries < 1:
        res.add_problem("tree has no entries")
        return None
    return tree


def _check_branch_types(tree: Any, branches: list[str], res: FileResult) -> bool:
    """Whether every branch is present and numeric, flat or one jagged level (else problems)."""
    present = set(tree.keys())
    ok = True
    for name in branches:
        if name not in present:
            res.add_problem("missing", name)
            ok = False
            continue
        dtype, depth = _leaf_dtype(tree[name].interpretation)
        if dtype is None or depth > 1:
            res.add_problem(
                f"unusable type {tree[name].typename!r} (need numbers, at most one jagged level)",
                name,
            )
            ok = False
    return ok


@dataclass
class _Columns:
    """Flat numpy views of the branches read: per-jet values, or the particles' content + counts."""

    values: dict[str, np.ndarray]
    #: per-jet particle counts of the jagged (per-particle) branches
    counts: dict[str, np.ndarray]
    #: float64 sum of every branch: finite exactly when every value is
    sums: dict[str, float]

    @classmethod
    def of(cls, arrays: dict[str, Any], branches: list[str]) -> _Columns:
        cols = cls({}, {}, {})
        for name in branches:
            values, counts = _flat(arrays[name])
            cols.values[name] = values
            if counts is not None:
                cols.counts[name] = counts
            cols.sums[name] = float(np.sum(values, dtype=np.float64))  # no allocation
        return cols

    @property
    def jagged(self) -> list[str]:
        """The per-particle branches, in branch order."""
        return [n for n in self.values if n in self.counts]


# --------------------------------------------------------------------------- value checks


def _check_finite(res: FileResult, cols: _Columns) -> None:
    """No NaN or inf in any float branch."""
    for name, values in cols.values.items():
        if values.dtype.kind == "f" and not math.isfinite(cols.sums[name]):
            nnan = int(np.isnan(values).sum())
            ninf = int(np.isinf(values).sum())
            res.add_problem(f"{nnan} NaN and {ninf} inf values", name)


def _check_particle_counts(res: FileResult, cols: _Columns) -> np.ndarray | None:
    """The per-jet particle counts most jagged branches agree on; a problem per other branch.

    None when there is no jagged branch.
    """
    jagged = cols.jagged
    if not jagged:
        return None
    groups: dict[bytes, list[str]] = {}
    for n in jagged:
        groups.setdefault(cols.counts[n].tobytes(), []).append(n)
    majority = max(groups.values(), key=len)
    ref, counts = majority[0], cols.counts[majority[0]]
    for name in jagged:
        if name in majority:
            continue
        diff = np.flatnonzero(cols.counts[name] != counts)
        res.add_problem(
            f"particle count differs from {ref} in {diff.size} jets (first: entry {int(diff[0])}, "
            f"{int(cols.counts[name][diff[0]])} vs {int(counts[diff[0]])})",
            name,
        )
    return counts


def _check_labels(res: FileResult, needs: DataConfigNeeds, cols: _Columns) -> np.ndarray | None:
    """The (jets x labels) matrix when the labels are per jet; problems unless one-hot 0/1."""
    if not needs.labels:
        return None
    for n in needs.labels:
        if n in cols.counts:
            res.add_problem("label branch is jagged; expected one value per jet", n)
    if not all(n in cols.values and n not in cols.counts for n in needs.labels):
        return None
    label_matrix = np.stack([cols.values[n].astype(np.float64) for n in needs.labels], axis=1)
    not01 = ~np.isin(label_matrix, (0.0, 1.0))
    for j in np.flatnonzero(not01.any(axis=0)):
        res.add_problem(
            f"label values other than 0/1 in {int(not01[:, j].sum())} jets", needs.labels[j]
        )
    nset = (label_matrix == 1.0).sum(axis=1)
    bad = np.flatnonzero(nset != 1)
    if bad.size:
        nbad = np.bincount(nset[bad].astype(np.int64))
        what = ", ".join(f"{k} labels set in {int(c)}" for k, c in enumerate(nbad) if c)
        res.add_problem(
            f"labels not one-hot in {bad.size} of {res.entries} jets ({what}; first: entry {int(bad[0])})"
        )
    return label_matrix


def _count_classes(
    res: FileResult, labels: list[str], label_matrix: np.ndarray | None
) -> np.ndarray | None:
    """Each jet's class index (None without labels); the totals go to ``res.class_counts``."""
    if label_matrix is None:
        return None
    cls: np.ndarray = np.argmax(label_matrix, axis=1)
    totals = np.bincount(cls, minlength=len(labels))
    res.class_counts = {n: int(c) for n, c in zip(labels, totals)}
    return cls


# --------------------------------------------------------------------------- summaries


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
