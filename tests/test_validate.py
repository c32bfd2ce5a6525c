"""Tests of ``jetprof validate`` on small JetClass-format files made here, good and broken."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

from jetprof.cli import main
from jetprof.data import jetclass
from jetprof.data.dataconfig import needs_of, read_data_config_needs
from jetprof.data.validate import histograms, plot_features, validate

REPO = Path(__file__).resolve().parents[1]
FULL = REPO / "workflow" / "weaver" / "JetClass_full.yaml"

# the JetClass branch table; the flags are written as int here (any numeric type is usable)
PART_INT = [f for f in jetclass.PARTICLE_FEATURES if f.startswith("is")]
PART_FLOAT = [f for f in jetclass.PARTICLE_FEATURES if not f.startswith("is")]
JET = [f.removeprefix("jet_") for f in jetclass.JET_FEATURES]
LABEL_DTYPES = {lab: np.dtype(dt).type for lab, dt in jetclass.LABEL_DTYPES.items()}


def make_jetclass_file(
    path: Path,
    labels: list[int] | int,
    n_jets: int = 50,
    seed: int = 0,
    *,
    drop: str | None = None,
    nan_in: str | None = None,
    two_labels_at: int | None = None,
    ragged: str | None = None,
) -> Path:
    """Write a tiny JetClass-format ROOT file (TTree ``tree``, mktree + extend).

    Args:
        path: output file.
        labels: class index per jet, or one index for all jets.
        n_jets: number of jets (0 writes an empty tree).
        seed: random seed.
        drop: leave this branch out.
        nan_in: put a NaN into this branch (jet 1).
        two_labels_at: set a second label on this jet.
        ragged: write this part_* branch on its own counter with one extra particle in jet 0.
    """
    rng = np.random.default_rng(seed)
    counts = rng.integers(3, 25, size=n_jets)
    total = int(counts.sum())
    jet_pt = rng.uniform(500, 1000, n_jets).astype(np.float32)
    parts: dict[str, np.ndarray] = {}
    frac = rng.dirichlet(np.ones(3), size=total)  # positive fractions for momenta
    pt = (rng.uniform(0.01, 0.3, total) * np.repeat(jet_pt, counts)).astype(np.float32)
    phi = rng.uniform(-np.pi, np.pi, total)
    parts["px"] = (pt * np.cos(phi)).astype(np.float32)
    parts["py"] = (pt * np.sin(phi)).astype(np.float32)
    parts["pz"] = (pt * rng.normal(0, 1, total)).astype(np.float32)
    parts["energy"] = np.sqrt(
        pt.astype(np.float64) ** 2 + parts["pz"].astype(np.float64) ** 2 + 0.01
    ).astype(np.float32)
    for name in ["deta", "dphi"]:
        parts[name] = rng.normal(0, 0.2, total).astype(np.float32)
    for name in ["d0val", "dzval"]:
        parts[name] = rng.normal(0, 0.05, total).astype(np.float32)
    for name in ["d0err", "dzerr"]:
        parts[name] = (0.01 + frac[:, 0] * 0.05).astype(np.float32)
    parts["charge"] = rng.integers(-1, 2, total).astype(np.float32)
    kind = rng.integers(0, 5, total)
    for i, name in enumerate(PART_INT):
        parts[name] = (kind == i).astype(np.int32)
    cls = np.full(n_jets, labels) if isinstance(labels, int) else np.asarray(labels)
    data: dict[str, Any] = {}
    for i, lab in enumerate(jetclass.LABELS):
        col = (cls == i).astype(np.int64)
        if two_labels_at is not None and i == (cls[two_labels_at] + 1) % 10:
            col[two_labels_at] = 1
        data[lab] = col.astype(LABEL_DTYPES[lab])
    jets = {
        "pt": jet_pt,
        "eta": rng.uniform(-2, 2, n_jets),
        "phi": rng.uniform(-np.pi, np.pi, n_jets),
        "energy": jet_pt * 1.3,
        "nparticles": counts,
        "sdmass": rng.uniform(10, 200, n_jets),
        "tau1": rng.uniform(0, 1, n_jets),
        "tau2": rng.uniform(0, 1, n_jets),
        "tau3": rng.uniform(0, 1, n_jets),
        "tau4": rng.uniform(0, 1, n_jets),
    }
    for name, v in jets.items():
        data[f"jet_{name}"] = np.asarray(v, dtype=np.float32)
    if nan_in is not None:
        key = nan_in.removeprefix("part_")
        if key in parts:
            parts[key][counts[0] + 0] = np.nan  # first particle of jet 1
        else:
            data[nan_in][1] = np.nan
    zipped = {
        k: ak.unflatten(v, counts) for k, v in parts.items() if f"part_{k}" not in (drop, ragged)
    }
    data["part"] = ak.zip(zipped)
    if ragged is not None:
        key = ragged.removeprefix("part_")
        extra = counts.copy()
        extra[0] += 1
        values = np.concatenate([parts[key][: counts[0]], [0.5], parts[key][counts[0] :]]).astype(
            parts[key].dtype
        )
        data[ragged] = ak.unflatten(values, extra)
    if drop is not None and drop in data:
        del data[drop]
    path.parent.mkdir(parents=True, exist_ok=True)
    with uproot.recreate(path) as f:
        types = {k: (v.type if isinstance(v, ak.Array) else v.dtype) for k, v in data.items()}
        f.mktree("tree", types)
        if n_jets:
            f["tree"].extend(data)
    return path


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    d = tmp_path_factory.mktemp("good")
    return [
        make_jetclass_file(d / "HToBB_000.root", 1, n_jets=40, seed=1),
        make_jetclass_file(d / "mixed_000.root", [i % 10 for i in range(60)], n_jets=60, seed=2),
    ]


def test_needs_derived_from_config() -> None:
    needs = read_data_config_needs(FULL)
    # derived variables resolve to the ROOT branches their expressions read
    assert "part_pt_log" not in needs.branches and "part_mask" not in needs.branches
    for b in [
        "part_px",
        "part_py",
        "part_energy",
        "jet_pt",
        "jet_energy",
        "part_d0val",
        "part_dzval",
        "jet_tau4",
    ]:
        assert b in needs.branches
    assert needs.labels == list(jetclass.LABELS)
    assert needs.features[:2] == ["part_deta", "part_dphi"] and "part_pt_log" in needs.features
    # no module names or builtins
    assert not {"np", "ak", "hypot", "log"} & set(needs.branches)


def test_needs_follow_a_custom_config() -> None:
    cfg = {
        "selection": "(jet_sdmass > 20) & (jet_pt < 900)",
        "new_variables": {"a": "np.log(b)", "b": "x_raw * 2", "m": "ak.ones_like(y_raw)"},
        "inputs": {"g": {"length": 4, "vars": [["a", None], ["m", None], "z_raw"]}},
        "labels": {"type": "custom", "value": {"target": "np.where(lab_raw > 0, 1, 0)"}},
        "observers": ["obs"],
    }
    needs = needs_of(cfg)
    assert needs.branches == sorted(
        ["jet_sdmass", "jet_pt", "x_raw", "y_raw", "z_raw", "lab_raw", "obs"]
    )
    assert needs.features == ["a", "m", "z_raw"]


def test_good_files_report(
    good: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "out" / "report.json"
    plots = tmp_path / "out" / "features.png"
    rc = main(
        [
            "validate",
            "--data-config",
            str(FULL),
            "--report",
            str(report),
            "--plots",
            str(plots),
            *map(str, good),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 0, err
    data = json.loads(report.read_text())
    assert data["entries"] == 100
    assert [f["entries"] for f in data["files"]] == [40, 60]
    assert data["files"][0]["class_counts"]["label_Hbb"] == 40
    assert sum(data["files"][0]["class_counts"].values()) == 40
    assert data["class_counts"]["label_Hbb"] == 40 + 6 and data["class_counts"]["label_QCD"] == 6
    assert data["class_counts_short"]["Hbb"] == 46
    fs = data["feature_summary"]
    assert set(fs) == set(read_data_config_needs(FULL).features)
    # part_mask is 1 for every particle; particle counts agree with the file
    with uproot.open(good[0]) as f:
        n0 = int(ak.sum(ak.num(f["tree"]["part_px"].array())))
    with uproot.open(good[1]) as f:
        n1 = int(ak.sum(ak.num(f["tree"]["part_px"].array())))
    assert fs["part_mask"]["values"] == n0 + n1 and fs["part_mask"]["mean"] == 1.0
    assert fs["part_deltaR"]["min"] >= 0 and fs["part_pt_log"]["non_finite"] == 0
    assert plots.stat().st_size > 10_000 and plots.read_bytes()[:4] == b"\x89PNG"
    assert "100 jets ok" in err


def test_histograms_and_figure_content(good: list[Path], tmp_path: Path) -> None:
    needs = read_data_config_needs(FULL)
    results, _ = validate(good, needs)
    hists = histograms(results, needs.features, bins=20)
    assert set(hists) == set(needs.features)
    h = hists["part_isPhoton"]
    assert len(h["edges"]) == 21 and set(h["counts"]) == {lab for lab in jetclass.LABELS}
    for counts in h["counts"].values():  # densities integrate to one
        assert np.sum(counts * np.diff(h["edges"])) == pytest.approx(1.0)
    fig = plot_features(hists, tmp_path / "f.png")
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == len(needs.features)
    xlabels = {ax.get_xlabel() for ax in visible}
    assert r"particle $p_x$ [GeV]" in xlabels and r"$\Delta\phi$(particle, jet) [rad]" in xlabels
    assert all(len(ax.patches) == 10 for ax in visible)  # ten classes overlaid


def _run_broken(path: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> list[str]:
    report = tmp_path / "rep.json"
    rc = main(["validate", "--data-config", str(FULL), "--report", str(report), str(path)])
    err = capfd.readouterr().err
    assert rc == 1
    assert not report.exists()
    assert "Traceback" not in err
    return err.strip().splitlines()


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"drop": "part_dzval"}, "branch part_dzval: missing"),
        ({"drop": "label_Tbl"}, "branch label_Tbl: missing"),
        ({"nan_in": "part_d0err"}, "branch part_d0err: 1 NaN and 0 inf values"),
        ({"nan_in": "jet_pt"}, "branch jet_pt: 1 NaN and 0 inf values"),
        (
            {"two_labels_at": 3},
            "labels not one-hot in 1 of 30 jets (2 labels set in 1; first: entry 3)",
        ),
        ({"ragged": "part_charge"}, "branch part_charge: particle count differs from"),
        ({"n_jets": 0}, "tree has no entries"),
    ],
)
def test_broken_content(
    kwargs: dict[str, Any], expected: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    kw = {"n_jets": 30, **kwargs}
    path = make_jetclass_file(tmp_path / "TTBar_007.root", 8, **kw)
    lines = _run_broken(path, tmp_path, capfd)
    assert any(line.startswith(f"{path}: ") and expected in line for line in lines), lines
    assert lines[-1].startswith("jetprof validate: error: ")


def test_not_root_truncated_and_no_tree(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "notroot.root"
    text.write_text("this is not a ROOT file\n" * 10)
    good_file = make_jetclass_file(tmp_path / "src.root", 0, n_jets=200)
    truncated = tmp_path / "truncated.root"
    raw = good_file.read_bytes()
    truncated.write_bytes(raw[: len(raw) // 2])
    other = tmp_path / "other.root"
    with uproot.recreate(other) as f:
        f.mktree("events", {"x": np.float32})
        f["events"].extend({"x": np.ones(3, dtype=np.float32)})
    lines = _run_broken(text, tmp_path, capfd)
    assert lines[0] == f"{text}: not a ROOT file (no 'root' signature at the start)"
    lines = _run_broken(truncated, tmp_path, capfd)
    assert lines[0].startswith(f"{truncated}: ") and (
        "truncated" in lines[0] or "not a readable" in lines[0]
    )
    lines = _run_broken(other, tmp_path, capfd)
    assert lines[0] == f"{other}: no TTree 'tree'"
    # several files: every problem is listed, good files don't appear
    report = tmp_path / "rep.json"
    rc = main(
        [
            "validate",
            "--data-config",
            str(FULL),
            "--report",
            str(report),
            str(text),
            str(good_file),
            str(other),
        ]
    )
    err = capfd.readouterr().err.splitlines()
    assert rc == 1 and not report.exists()
    assert len(err) == 3 and not any(str(good_file) in e for e in err[:2])
    assert "2 problem(s) in 2 of 3 file(s)" in err[-1]


def test_unusable_branch_type(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    path = make_jetclass_file(tmp_path / "a.root", 2, n_jets=10)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(
        "inputs:\n  g:\n    length: 4\n    vars:\n      - [name_str, null]\n"
        "labels:\n  type: simple\n  value: [label_Hcc]\n"
    )
    strfile = tmp_path / "s.root"
    with uproot.recreate(strfile) as f:
        f.mktree("tree", {"name_str": np.dtype((np.float32, (3,))), "label_Hcc": np.int32})
        f["tree"].extend(
            {"name_str": np.ones((2, 3), dtype=np.float32), "label_Hcc": np.ones(2, dtype=np.int32)}
        )
    report = tmp_path / "r.json"
    rc = main(["validate", "--data-config", str(cfg), "--report", str(report), str(strfile)])
    err = capfd.readouterr().err
    assert rc == 1 and f"{strfile}: branch name_str: unusable type" in err
    del path


def test_cli_subprocess_one_line_errors(tmp_path: Path) -> None:
    """The real command: bad config and missing files give lines, not tracebacks."""
    bad_cfg = tmp_path / "bad.yaml"
    bad_cfg.write_text("new_variables:\n  x: np.log(\ninputs: {}\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "jetprof.cli",
            "validate",
            "--data-config",
            str(bad_cfg),
            "--report",
            str(tmp_path / "r.json"),
            "x.root",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(
        f"jetprof validate: error: {bad_cfg}: new_variables.x: cannot parse expression"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "jetprof.cli",
            "validate",
            "--data-config",
            str(FULL),
            "--report",
            str(tmp_path / "r.json"),
            str(tmp_path / "nope.root"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (
        proc.returncode == 1
        and proc.stderr.splitlines()[0] == f"{tmp_path / 'nope.root'}: no such file"
    )


def test_findings_on_the_terminal_without_report(
    good: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`jetprof validate FILE...`: a user checking files by hand sees each file's verdict."""
    rc = main(["validate", "--data-config", str(FULL), *map(str, good)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert out.splitlines() == [
        f"{good[0]}: 40 jets ok (Hbb 40)",
        f"{good[1]}: 60 jets ok (QCD 6, Hbb 6, Hcc 6, Hgg 6, H4q 6, Hqql 6, Zqq 6, Wqq 6, Tbqq 6, Tbl 6)",
    ]
    assert err.strip().splitlines()[-1].startswith("jetprof validate: 2 file(s), 100 jets ok")
    assert list(tmp_path.iterdir()) == []  # nothing written
    # a bad file among good ones: the good ones are still listed, the problem named
    bad = tmp_path / "bad.root"
    bad.write_text("not ROOT\n")
    assert main(["validate", "--data-config", str(FULL), str(good[0]), str(bad)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"{good[0]}: 40 jets ok (Hbb 40)"]
    lines = err.strip().splitlines()
    assert lines[0] == f"{bad}: not a ROOT file (no 'root' signature at the start)"
    assert lines[-1] == f"jetprof validate: error: 1 problem(s) in 1 of 2 file(s); first: {lines[0]}"


def test_report_and_figure_are_readable_by_others(good: list[Path], tmp_path: Path) -> None:
    import os

    old = os.umask(0o022)
    try:
        report, plots = tmp_path / "report.json", tmp_path / "features.png"
        argv = ["validate", "--data-config", str(FULL), "--report", str(report)]
        assert main([*argv, "--plots", str(plots), str(good[0])]) == 0
    finally:
        os.umask(old)
    assert report.stat().st_mode & 0o777 == 0o644
    assert plots.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["features.png", "report.json"]
