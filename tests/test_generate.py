"""The Pythia 8 + FastJet mini-JetClass generator: format, reproducibility, physics."""

from __future__ import annotations

import shutil
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from jetprof.cli import main
from jetprof.data import jetclass
from jetprof.data.generate import Generator, pythia_seed, write_file
from jetprof.errors import JetprofError

REPO = Path(__file__).resolve().parents[1]
N_PHYSICS = 80  # jets per class for the physics checks
N_SMALL = 15


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Files shared by the tests in this module (generated once)."""
    d = tmp_path_factory.mktemp("generated")
    files: dict[str, Path] = {}
    for short in ("Hbb", "Tbqq", "QCD"):
        out = d / "train" / f"{jetclass.process(short).file_prefix}_000.root"
        write_file(out, Generator(short, "train", 0, seed=7), N_PHYSICS, chunk_size=30)
        files[short] = out
    # same seed written with other chunk sizes; another file index
    for key, index, chunk in (("a", 0, 4), ("b", 0, 200), ("c", 1, 200)):
        out = d / key / "HToCC_000.root"
        write_file(out, Generator("Hcc", "val", index, seed=3), N_SMALL, chunk_size=chunk)
        files[key] = out
    return files


def _arrays(path: Path) -> ak.Array:
    return uproot.open(path)[jetclass.TREE_NAME].arrays(library="ak")


def test_branches_and_dtypes(generated: dict[str, Path]) -> None:
    tree = uproot.open(generated["Hbb"])[jetclass.TREE_NAME]
    assert tree.classname == "TTree"
    assert tree.num_entries == N_PHYSICS
    names = set(tree.keys())
    assert {b.name for b in jetclass.BRANCHES} <= names
    assert names - {b.name for b in jetclass.BRANCHES} == {"npart"}
    for b in jetclass.BRANCHES:
        interp = tree[b.name].interpretation
        if b.jagged:
            assert isinstance(interp, uproot.AsJagged), b.name
            dtype = interp.content.to_dtype
        else:
            assert isinstance(interp, uproot.AsDtype), b.name
            dtype = interp.to_dtype
        assert dtype == np.dtype(b.dtype), (b.name, dtype, b.dtype)
    # the label table matches JetClass's mixed types
    assert tree["label_QCD"].typename == "float"
    assert tree["label_Hbb"].typename == "bool"
    assert tree["label_Tbqq"].typename == "int32_t"


def test_labels_one_hot_and_content_sane(generated: dict[str, Path]) -> None:
    for short, path in (("Hbb", generated["Hbb"]), ("QCD", generated["QCD"])):
        a = _arrays(path)
        labels = np.stack([ak.to_numpy(a[name]).astype(int) for name in jetclass.LABELS], axis=1)
        assert (labels.sum(axis=1) == 1).all()
        assert (labels[:, jetclass.LABELS.index(jetclass.process(short).label)] == 1).all()
        assert ak.all((a.jet_pt > 500) & (a.jet_pt < 1000))
        assert ak.all(abs(a.jet_eta) < 2)
        assert ak.all(a.jet_nparticles == ak.num(a.part_px))
        pt = np.hypot(a.part_px, a.part_py)
        assert ak.all(pt[:, :-1] >= pt[:, 1:])  # sorted by pT
        dr = np.hypot(a.part_deta, a.part_dphi)
        # anti-kT clusters in rapidity; deta uses pseudorapidity (soft massive tracks differ)
        assert ak.max(dr) < 1.5 and np.mean(ak.to_numpy(ak.flatten(dr)) < 0.8) > 0.97
        # jet four-momentum is the sum of its constituents
        assert np.allclose(ak.sum(a.part_energy, axis=1), a.jet_energy, rtol=1e-4)
        # neutrals carry no impact parameter; charged ones have a positive error
        charged = a.part_charge != 0
        assert ak.all(a.part_d0err[~charged] == 0) and ak.all(a.part_d0err[charged] > 0)
        ids = a.part_isChargedHadron + a.part_isNeutralHadron + a.part_isPhoton + a.part_isElectron + a.part_isMuon
        assert ak.all(ids == 1)
        for name in ("jet_tau1", "jet_tau2", "jet_tau3", "jet_tau4", "jet_sdmass"):
            v = ak.to_numpy(a[name])
            assert np.isfinite(v).all() and (v >= 0).all(), name
        assert ak.all(a.jet_tau2 <= a.jet_tau1 + 1e-6)


def test_same_seed_same_arrays_regardless_of_chunking(generated: dict[str, Path]) -> None:
    a, b = _arrays(generated["a"]), _arrays(generated["b"])
    assert len(a) == len(b) == N_SMALL
    for field in a.fields:
        assert ak.all(a[field] == b[field]), field


def test_different_index_different_arrays(generated: dict[str, Path]) -> None:
    a, c = _arrays(generated["a"]), _arrays(generated["c"])
    assert not np.array_equal(ak.to_numpy(a.jet_pt), ak.to_numpy(c.jet_pt))
    seeds = {pythia_seed(1, p, s, i) for p in ("HToBB", "TTBar") for s in jetclass.SPLITS for i in range(3)}
    assert len(seeds) == 18


def test_physics(generated: dict[str, Path]) -> None:
    hbb, top, qcd = (_arrays(generated[k]) for k in ("Hbb", "Tbqq", "QCD"))
    assert 110 < np.median(ak.to_numpy(hbb.jet_sdmass)) < 140
    assert 150 < np.median(ak.to_numpy(top.jet_sdmass)) < 195
    assert np.mean(ak.to_numpy(qcd.jet_sdmass) < 50) > 0.5
    for a in (hbb, top, qcd):
        assert 20 < np.mean(ak.to_numpy(a.jet_nparticles)) < 90
        assert ak.all(a.aux_truth_match[a.label_QCD == 0] == 1)
    # top jets are three-pronged: tau3/tau2 lower than for QCD (ratio guarded)
    def ratio(x: ak.Array) -> float:
        t2 = ak.to_numpy(x.jet_tau2)
        return float(np.median(ak.to_numpy(x.jet_tau3)[t2 > 0] / t2[t2 > 0]))
    assert ratio(top) < ratio(qcd)
    # b hadrons fly: displaced tracks are more frequent in H->bb than in QCD
    def displaced(x: ak.Array) -> float:
        ch = x.part_charge != 0
        sig = ak.flatten(abs(x.part_d0val[ch]) / x.part_d0err[ch])
        return float(np.mean(ak.to_numpy(sig) > 3))
    assert displaced(hbb) > 2 * displaced(qcd)
    assert ak.all(hbb.aux_genpart_pid == 25) and ak.all(abs(top.aux_genpart_pid) == 6)


def test_weaver_reads_file_with_unchanged_data_config(generated: dict[str, Path], tmp_path: Path) -> None:
    from weaver.utils.dataset import SimpleIterDataset

    config = tmp_path / "JetClass_full.yaml"  # a copy: weaver may write beside it
    shutil.copy(REPO / "workflow" / "weaver" / "JetClass_full.yaml", config)
    ds = SimpleIterDataset(
        {"hbb": [str(generated["Hbb"])], "qcd": [str(generated["QCD"])]},
        str(config),
        for_training=True,
        load_range_and_fraction=((0, 1), 1, 1),
        fetch_by_files=True,
        fetch_step=2,
        infinity_mode=False,
        in_memory=False,
        name="test",
    )
    samples = list(ds)
    assert len(samples) == 2 * N_PHYSICS
    X, _, _ = samples[0]
    assert X["pf_features"].shape == (17, 128)
    assert X["pf_vectors"].shape == (4, 128)
    assert np.isfinite(X["pf_features"]).all()
    labels = np.array([s[1]["_label_"] for s in samples])
    assert set(labels.tolist()) == {0, 1}  # QCD and Hbb indices in the label list
    assert (labels == 1).sum() == N_PHYSICS


def test_cli_writes_file_and_reports_progress(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "dataset" / "test" / "WToQQ_002.root"
    rc = main(["generate", "--process", "WToQQ", "--split", "test", "--index", "2", "--jets", "6",
               "--seed", "5", "--out", str(out), "--chunk-size", "4", "--no-progress"])
    assert rc == 0
    err = capsys.readouterr().err
    assert "WToQQ: 4/6 jets" in err and "WToQQ: 6/6 jets" in err
    a = _arrays(out)
    assert len(a) == 6 and ak.all(a.label_Wqq == 1)
    assert 40 < np.median(ak.to_numpy(a.jet_sdmass)) < 120
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temporary left


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--process", "Hxx", "--split", "train"], "unknown JetClass process 'Hxx'"),
        (["--process", "Hbb", "--split", "train", "--jets", "0"], "--jets must be positive"),
    ],
)
def test_cli_bad_input_one_line_error(argv: list[str], message: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x" / "HToBB_000.root"
    base = {"--jets": "3", "--seed": "1", "--out": str(out)}
    for key, value in base.items():
        if key not in argv:
            argv = [*argv, key, value]
    rc = main(["generate", *argv])
    err = capsys.readouterr().err
    assert rc == 1
    assert err.count("\n") == 1 and err.startswith("jetprof generate: error:") and message in err
    assert not out.exists()


def test_failed_write_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "HToBB_000.root"

    class Boom(Exception):
        pass

    def progress(done: int) -> None:
        raise Boom

    with pytest.raises(Boom):
        write_file(out, Generator("Hbb", "train", 0, seed=1), 8, chunk_size=4, progress=progress)
    assert list(tmp_path.iterdir()) == []


def test_unknown_split_is_user_error() -> None:
    with pytest.raises(JetprofError, match="unknown split"):
        Generator("Hbb", "training", 0, seed=1)
