"""``jetprof manifest``: content hashes, counts, settings, and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from jetprof.cli import main
from jetprof.data.generate import Generator, GeneratorSettings, write_file
from jetprof.data.manifest import content_sha256


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """results/dataset-like tree: the same file twice (two runs), another index."""
    root = tmp_path_factory.mktemp("dataset")
    write_file(root / "train" / "HToBB_000.root", Generator("Hbb", "train", 0, seed=2), 6, chunk_size=4)
    write_file(root / "again" / "train" / "HToBB_000.root", Generator("Hbb", "train", 0, seed=2), 6, chunk_size=6)
    write_file(root / "val" / "HToBB_001.root", Generator("Hbb", "val", 1, seed=2), 5, chunk_size=10)
    return root


def test_content_hash_ignores_file_bytes_but_not_arrays(dataset: Path) -> None:
    a, b = dataset / "train" / "HToBB_000.root", dataset / "again" / "train" / "HToBB_000.root"
    assert a.read_bytes() != b.read_bytes()  # ROOT UUIDs / timestamps differ
    assert content_sha256(a) == content_sha256(b)
    assert content_sha256(a)[1] == 6
    assert content_sha256(a)[0] != content_sha256(dataset / "val" / "HToBB_001.root")[0]


def test_manifest_content(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = dataset / "manifest.json"
    files = [dataset / "val" / "HToBB_001.root", dataset / "train" / "HToBB_000.root"]
    assert main(["manifest", "--out", str(out), *map(str, files)]) == 0
    m = json.loads(out.read_text())
    assert [e["split"] for e in m["files"]] == ["train", "val"]  # sorted by path
    first = m["files"][0]
    assert first["process"] == "HToBB" and first["label"] == "label_Hbb" and first["index"] == 0
    assert first["n_jets"] == 6
    assert first["content_sha256"] == content_sha256(files[1])[0]
    assert first["size_bytes"] == files[1].stat().st_size
    assert m["n_jets"] == {"train": {"HToBB": 6}, "val": {"HToBB": 5}}
    assert m["generator_settings"] == json.loads(json.dumps(GeneratorSettings().as_dict()))
    assert m["versions"]["pythia8"].startswith(("pythia8mc ", "pythia8 "))  # PyPI's or conda-forge's build
    assert m["versions"]["fastjet"] and m["versions"]["jetprof"]
    assert "2 files, 11 jets" in capsys.readouterr().out


def test_settings_json_recorded(dataset: Path) -> None:
    out = dataset / "m_settings.json"
    f = dataset / "train" / "HToBB_000.root"
    assert main(["manifest", "--out", str(out), "--settings-json", '{"jets_per_file": 6}', str(f)]) == 0
    assert json.loads(out.read_text())["generator_settings"] == {"jets_per_file": 6}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: (d / "train" / "HToBB_000.root").write_bytes(b"not a root file"), "cannot read"),
        (lambda d: (d / "train" / "HToXX_000.root").write_bytes(b""), "name is not"),
        (lambda d: (d / "foo" / "HToBB_000.root").write_bytes(b""), "parent folder must be a split"),
    ],
)
def test_bad_input_one_line_error_no_output(make, message: str, tmp_path: Path, dataset: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    for split in ("train", "foo"):
        (tmp_path / split).mkdir()
    make(tmp_path)
    bad = next(p for p in tmp_path.rglob("*.root"))
    good = tmp_path / "val" / "HToBB_001.root"
    good.parent.mkdir()
    shutil.copy(dataset / "val" / "HToBB_001.root", good)
    out = tmp_path / "manifest.json"
    assert main(["manifest", "--out", str(out), str(good), str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("jetprof manifest: error:")
    assert str(bad) in err and message in err
    assert not out.exists()
    assert not list(tmp_path.glob(".manifest.json*"))
