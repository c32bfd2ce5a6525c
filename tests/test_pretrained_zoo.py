"""``jetprof fetch-weights`` for the zoo: ParticleNet checkpoints, model selection, and
one-line refusals of weights made for another model or feature set.

Checkpoints are made here with the shipped network configs and served by a local
HTTP server this test starts; the official files are stood in for by patching the
table of official blob ids with the generated files' ids.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import json
import logging
import threading
from pathlib import Path
from typing import Any

import pytest
import torch

from jetprof import cli
from jetprof.model import pretrained
from jetprof.model.build import build_model
from jetprof.model.inputs import synthetic_batch

REPO = Path(__file__).resolve().parents[1]
WEAVER = REPO / "workflow" / "weaver"
FULL_DC, KIN_DC = WEAVER / "JetClass_full.yaml", WEAVER / "JetClass_kin.yaml"
OFFICIAL_PATH = "jet-universe/particle_transformer/raw/main/models"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    """PN_full.pt / PN_kin.pt (ParticleNet) and PFN_full.pt, on 127.0.0.1."""
    logging.getLogger("weaver").setLevel(logging.WARNING)
    root = tmp_path_factory.mktemp("served")
    official = root / OFFICIAL_PATH
    official.mkdir(parents=True)
    for name, net, dc in (("PN_full", "ParticleNet", FULL_DC), ("PN_kin", "ParticleNet", KIN_DC),
                          ("PFN_full", "PFN", FULL_DC)):
        torch.manual_seed(len(name))
        model = build_model(WEAVER / f"{net}.py", dc).model
        for m in model.modules():  # trained-looking BN statistics, so eval outputs depend on them
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
        torch.save(model.state_dict(), root / f"{name}.pt")
    # stand-ins for the official files, under the official URL paths
    (official / "ParticleNet_kin.pt").write_bytes((root / "PN_kin.pt").read_bytes())
    (official / "ParticleNet_full.pt").write_bytes((root / "PN_full.pt").read_bytes())
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"root": root, "url": f"http://127.0.0.1:{server.server_address[1]}"}
    server.shutdown()
    server.server_close()


@pytest.fixture
def fake_official(served: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The official ParticleNet entries, with the blob ids of the served stand-ins."""
    root = served["root"] / OFFICIAL_PATH
    table = tuple(
        dataclasses.replace(c, git_blob_sha1=pretrained.git_blob_sha1(root / Path(c.repo_path).name))
        if c.name in ("ParticleNet_full", "ParticleNet_kin") else c
        for c in pretrained.OFFICIAL_CHECKPOINTS
    )
    monkeypatch.setattr(pretrained, "OFFICIAL_CHECKPOINTS", table)


def _fetch(out: Path, *args: str) -> int:
    return cli.main(["fetch-weights", "--out", str(out), *args])


def _error_line(capsys: pytest.CaptureFixture[str], out: Path) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("jetprof fetch-weights: error: ") and "\n" not in err, err
    assert not out.exists() and (not out.parent.exists() or not list(out.parent.iterdir()))
    return err


def test_official_table_has_particlenet() -> None:
    by_name = {c.name: c for c in pretrained.OFFICIAL_CHECKPOINTS}
    for fs in ("full", "kin", "kinpid"):
        part, pn = by_name[f"ParT_{fs}"], by_name[f"ParticleNet_{fs}"]
        assert (part.model, part.layout, part.feature_set) == ("ParT", "0.4", fs)
        assert (pn.model, pn.layout, pn.feature_set) == ("ParticleNet", None, fs)
        assert pn.repo_path == f"models/ParticleNet_{fs}.pt"
        for c in (part, pn):
            assert (WEAVER / c.network_config).is_file() and (WEAVER / c.data_config).is_file()
            assert pretrained.official_by_source(c.url) == c
            assert pretrained.official_by_blob(c.git_blob_sha1) == c
    assert len({c.git_blob_sha1 for c in pretrained.OFFICIAL_CHECKPOINTS}) == 6


def test_particlenet_loads_as_it_is(served: dict[str, Any], tmp_path: Path, capsys) -> None:
    src, out, record = served["root"] / "PN_kin.pt", tmp_path / "PN.pt", tmp_path / "PN.json"
    rc = _fetch(out, "--url", f"{served['url']}/PN_kin.pt", "--sha256", _sha(src),
                "--model", "ParticleNet", "--data-config", str(KIN_DC), "--record", str(record))
    assert rc == 0, capsys.readouterr().err
    assert "ParticleNet (kin), loaded as it is" in capsys.readouterr().out
    a, b = torch.load(src, weights_only=True), torch.load(out, weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    info = json.loads(record.read_text())
    assert info["model"] == "ParticleNet" and info["feature_set"] == "kin"
    assert info["converted_from_04"] is False and info["layout_detected"] is None
    assert info["params"] == 368_216 and Path(info["network_config"]).name == "ParticleNet.py"


def test_official_particlenet_picks_its_model_and_data_config(
    served: dict[str, Any], fake_official: None, tmp_path: Path, capsys
) -> None:
    """No --sha256, --model or --data-config: the official entry says ParticleNet, kin.
    --layout 0.4 (the study config's default) concerns ParT's attention only."""
    out = tmp_path / "ParticleNet_kin.pt"
    rc = _fetch(out, "--url", f"{served['url']}/{OFFICIAL_PATH}/ParticleNet_kin.pt", "--layout", "0.4")
    assert rc == 0, capsys.readouterr().err
    assert "official ParticleNet_kin, ParticleNet (kin), loaded as it is" in capsys.readouterr().out
    built = build_model(WEAVER / "ParticleNet.py", KIN_DC)
    built.model.load_state_dict(torch.load(out, weights_only=True), strict=True)
    batch = synthetic_batch(built.data_config, 2, 30, seed=0)
    with torch.no_grad():
        assert torch.isfinite(built.model(*[torch.from_numpy(batch.arrays[n]) for n in built.input_names])).all()


def test_official_particlenet_into_part_refused_before_download(
    served: dict[str, Any], tmp_path: Path, capsys
) -> None:
    out = tmp_path / "p" / "ParT.pt"
    url = f"{served['url']}/{OFFICIAL_PATH}/ParticleNet_full.pt"
    assert _fetch(out, "--url", url, "--model", "ParT") == 1
    err = _error_line(capsys, out)
    assert "ParticleNet_full.pt" in err and "a ParticleNet model, not ParT" in err
    assert "--model ParticleNet" in err


def test_official_kin_with_full_data_config_refused_before_download(
    served: dict[str, Any], tmp_path: Path, capsys
) -> None:
    out = tmp_path / "p" / "PN.pt"
    url = f"{served['url']}/{OFFICIAL_PATH}/ParticleNet_kin.pt"
    assert _fetch(out, "--url", url, "--data-config", str(FULL_DC)) == 1
    err = _error_line(capsys, out)
    assert "ParticleNet_kin.pt" in err and "kin feature set (7 particle features)" in err
    assert "JetClass_full.yaml has 17 (full)" in err and "use JetClass_kin.yaml" in err


def test_particlenet_weights_into_part_refused(served: dict[str, Any], tmp_path: Path, capsys) -> None:
    """Without --model a non-official file is built as ParT: the message names what it is."""
    src, out = served["root"] / "PN_full.pt", tmp_path / "p" / "ParT.pt"
    assert _fetch(out, "--url", f"{served['url']}/PN_full.pt", "--sha256", _sha(src)) == 1
    err = _error_line(capsys, out)
    assert "PN_full.pt: is a ParticleNet checkpoint" in err and "ParT.py builds ParT" in err


def test_pfn_weights_into_particlenet_refused(served: dict[str, Any], tmp_path: Path, capsys) -> None:
    src, out = served["root"] / "PFN_full.pt", tmp_path / "p" / "PN.pt"
    assert _fetch(out, "--url", str(src), "--sha256", _sha(src), "--model", "ParticleNet") == 1
    assert "is a PFN checkpoint" in _error_line(capsys, out)


def test_kin_weights_with_full_data_config_refused(served: dict[str, Any], tmp_path: Path, capsys) -> None:
    src, out = served["root"] / "PN_kin.pt", tmp_path / "p" / "PN.pt"
    rc = _fetch(out, "--url", f"{served['url']}/PN_kin.pt", "--sha256", _sha(src),
                "--model", "ParticleNet", "--data-config", str(FULL_DC))
    assert rc == 1
    err = _error_line(capsys, out)
    assert "PN_kin.pt" in err and "7 particle features (kin" in err and "mod.bn_fts.weight" in err
    assert "JetClass_full.yaml gives 17 (full)" in err and "feature set mismatch" in err


def test_model_and_network_config_exclude_each_other(tmp_path: Path, capsys) -> None:
    out = tmp_path / "x.pt"
    assert _fetch(out, "--url", "x.pt", "--model", "PFN", "--network-config", str(WEAVER / "PFN.py")) == 2
    assert "not allowed with" in capsys.readouterr().err
    with pytest.raises(Exception, match="not both"):
        pretrained.fetch_weights("x.pt", out, "0" * 64, model="PFN", network_config=WEAVER / "PFN.py")
