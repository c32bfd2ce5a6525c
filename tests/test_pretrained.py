"""Official-checkpoint handling: weaver 0.4 → 0.5 layout conversion and ``jetprof fetch-weights``.

The reference outputs come from weaver-core 0.4.17 itself (tests/data/weaver04,
made by scripts/make_weaver04_fixture.py in a separate venv); the live test
regenerates them when that venv exists.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import logging
import os
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
import torch

from jetprof import cli
from jetprof.errors import JetprofError
from jetprof.model import layout, pretrained

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "data" / "weaver04"
STATE_04 = FIXTURE / "ParT_small_04_state.pt"
IO_04 = FIXTURE / "ParT_small_04_io.pt"
FULL_DC = REPO / "workflow" / "weaver" / "JetClass_full.yaml"
KIN_DC = REPO / "workflow" / "weaver" / "JetClass_kin.yaml"
SCRIPT = REPO / "scripts" / "make_weaver04_fixture.py"
TOL = 1e-5


def _weaver04_python() -> Path | None:
    env = os.environ.get("JETPROF_WEAVER04_PYTHON")
    candidate = Path(env) if env else Path("/work/venvs/weaver04/bin/python")
    return candidate if candidate.is_file() and os.access(candidate, os.X_OK) else None


def _load(path: Path) -> Any:
    return torch.load(path, map_location="cpu", weights_only=True)


def _small_model(kwargs: dict[str, Any]):
    from weaver.nn.model.ParticleTransformer import ParticleTransformer

    logging.getLogger("weaver").setLevel(logging.WARNING)
    torch.manual_seed(0)
    return ParticleTransformer(**kwargs).eval()


def _softmax(model, io: dict[str, Any], state: dict[str, Any]) -> torch.Tensor:
    model.load_state_dict(state, strict=True)
    model.eval()
    with torch.no_grad():
        return torch.softmax(model(io["features"], v=io["vectors"], mask=io["mask"]), dim=1)


@pytest.fixture(scope="module")
def io04() -> dict[str, Any]:
    io = _load(IO_04)
    assert io["weaver_version"].startswith("0.4"), io["weaver_version"]
    return io


@pytest.fixture(scope="module")
def state04() -> dict[str, Any]:
    return _load(STATE_04)


# ----------------------------------------------------------------- the mapping


def test_permutation_reproduces_weaver04_einsum() -> None:
    """perm[c'] is the channel that 0.4's einsum('tbhd,h->tbdh') put at c'."""
    heads, dim = 8, 64
    x = torch.randn(5, 3, dim)
    scale = torch.rand(heads) + 0.5
    old = torch.einsum("tbhd,h->tbdh", x.view(5, 3, heads, dim // heads), scale).reshape(5, 3, dim)
    perm = layout.head_order_permutation(heads, dim)
    head_of = perm // (dim // heads)
    assert sorted(perm.tolist()) == list(range(dim))
    torch.testing.assert_close(old, x[..., perm] * scale[head_of], rtol=0, atol=1e-6)
    assert not torch.allclose(old, x * scale.repeat_interleave(dim // heads))  # 0.5's broadcast


def test_detect_layout(state04: dict[str, Any], io04: dict[str, Any]) -> None:
    assert layout.detect_layout(state04) == "0.4"
    assert any(k.endswith("attn.in_proj_weight") for k in state04)
    model = _small_model(io04["kwargs"])
    assert layout.detect_layout(model.state_dict()) == "0.5"
    assert layout.detect_layout({"fc.weight": torch.zeros(2, 2)}) is None


def test_converted_fixture_matches_weaver04(state04: dict[str, Any], io04: dict[str, Any]) -> None:
    model = _small_model(io04["kwargs"])
    converted, legacy = layout.to_current_layout(state04, model)
    assert legacy is True
    got = _softmax(model, io04, converted)
    assert (got - io04["softmax"]).abs().max().item() <= TOL
    logits = model(io04["features"], v=io04["vectors"], mask=io04["mask"]).detach()
    assert (logits - io04["logits"]).abs().max().item() <= 1e-4
    # head scales are folded into out_proj, nothing else changed
    assert all(
        torch.equal(v, torch.ones_like(v)) for k, v in converted.items() if k.endswith("c_attn")
    )
    assert not all(
        torch.equal(v, torch.ones_like(v)) for k, v in state04.items() if k.endswith("c_attn")
    )
    for k, v in converted.items():
        if "out_proj" not in k and not k.endswith("c_attn"):
            torch.testing.assert_close(
                v,
                state04[
                    k.replace("in_proj.weight", "in_proj_weight").replace(
                        "in_proj.bias", "in_proj_bias"
                    )
                ],
                rtol=0,
                atol=0,
            )


def test_unconverted_fixture_is_silently_wrong(
    state04: dict[str, Any], io04: dict[str, Any]
) -> None:
    """The trap: 0.5.3 loads a 0.4 state dict strictly, and computes something else."""
    model = _small_model(io04["kwargs"])
    got = _softmax(model, io04, dict(state04))  # strict=True succeeds
    assert (got - io04["softmax"]).abs().max().item() > 0.05


def test_convert_leaves_input_alone_and_marks_output(
    state04: dict[str, Any], tmp_path: Path
) -> None:
    before = {k: v.clone() for k, v in state04.items()}
    converted = layout.convert_04_to_05(state04)
    assert all(torch.equal(before[k], state04[k]) for k in before)
    assert layout.detect_layout(converted) == "0.5"
    # the marker survives torch.save / torch.load(weights_only=True): no double conversion
    torch.save(converted, tmp_path / "c.pt")
    again = _load(tmp_path / "c.pt")
    assert layout.detect_layout(again) == "0.5"
    with pytest.raises(JetprofError, match="already converted"):
        layout.convert_04_to_05(again)
    with pytest.raises(JetprofError, match="no ParT attention blocks"):
        layout.convert_04_to_05({"fc.weight": torch.zeros(2, 2)})


def test_current_layout_state_passes_unchanged(io04: dict[str, Any]) -> None:
    model = _small_model(io04["kwargs"])
    state = model.state_dict()
    out, legacy = layout.to_current_layout(state, model)
    assert legacy is False and out is state
    with pytest.raises(JetprofError, match="unknown checkpoint layout"):
        layout.to_current_layout(state, model, layout="0.3")


def test_explicit_layout_for_ambiguous_main_branch_snapshot(
    state04: dict[str, Any], io04: dict[str, Any]
) -> None:
    """0.5-style key names with 0.4 channel order cannot be told apart: --layout 0.4 fixes them."""
    renamed = {
        k.replace("in_proj_weight", "in_proj.weight").replace("in_proj_bias", "in_proj.bias"): v
        for k, v in state04.items()
    }
    model = _small_model(io04["kwargs"])
    auto, legacy = layout.to_current_layout(renamed, model)
    assert legacy is False
    assert (_softmax(model, io04, auto) - io04["softmax"]).abs().max().item() > 0.05
    forced, legacy = layout.to_current_layout(renamed, model, layout="0.4")
    assert legacy is True
    assert (_softmax(model, io04, forced) - io04["softmax"]).abs().max().item() <= TOL


def test_git_blob_id_and_official_lookup(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(os.urandom(3000))
    expected = subprocess.run(
        ["git", "hash-object", str(path)], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert pretrained.git_blob_sha1(path) == expected
    url = "https://github.com/jet-universe/particle_transformer/raw/main/models/ParT_kin.pt"
    assert pretrained.official_by_source(url).name == "ParT_kin"
    raw = "https://raw.githubusercontent.com/jet-universe/particle_transformer/main/models/ParT_full.pt"
    assert pretrained.official_by_source(raw).name == "ParT_full"
    assert pretrained.official_by_source("https://example.org/models/ParT_full.pt") is None
    full = pretrained.official_by_blob("cf510276bb5616caf87adace4e05eafab4b6c762")
    assert full is not None and full.name == "ParT_full" and full.layout == "0.4"
    for official in pretrained.OFFICIAL_CHECKPOINTS:
        assert (REPO / "workflow" / "weaver" / official.data_config).is_file()
        assert pretrained.official_by_source(official.url) == official


# ----------------------------------------------------------------- fetch-weights


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; ``/lying/<name>`` announces the full size but sends half."""

    def do_GET(self) -> None:
        if self.path.startswith("/lying/"):
            data = (Path(self.directory) / self.path.removeprefix("/lying/")).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, state04: dict[str, Any], io04: dict[str, Any]):
    """Checkpoints this test makes, served on 127.0.0.1 by a server this test starts."""
    root = tmp_path_factory.mktemp("served")
    kwargs = {k: v for k, v in io04["kwargs"].items() if k not in ("input_dim", "num_classes")}
    net = root / "small_net.py"
    net.write_text(
        "from weaver.nn.model.ParticleTransformer import ParticleTransformer\n\n"
        "def get_model(data_config, **kw):\n"
        f"    cfg = dict({kwargs!r}, input_dim=len(data_config.input_dicts['pf_features']),\n"
        "               num_classes=len(data_config.label_value))\n"
        "    cfg.update(kw)\n"
        "    return ParticleTransformer(**cfg), {}\n"
    )
    (root / "v04.pt").write_bytes(STATE_04.read_bytes())
    torch.manual_seed(7)
    from jetprof.model.build import build_model

    torch.save(build_model(net, FULL_DC).model.state_dict(), root / "v05.pt")
    torch.save(build_model(net, KIN_DC).model.state_dict(), root / "kin.pt")
    data = (root / "v05.pt").read_bytes()
    (root / "truncated.pt").write_bytes(data[: len(data) // 3])
    handler = functools.partial(_Handler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"root": root, "net": net, "url": f"http://127.0.0.1:{server.server_address[1]}"}
    server.shutdown()
    server.server_close()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fetch(served: dict[str, Any], out: Path, *args: str) -> int:
    return cli.main(
        ["fetch-weights", "--out", str(out), "--network-config", str(served["net"]), *args]
    )


def _only_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert (
        err.startswith("jetprof fetch-weights: error: ")
        and "\n" not in err
        and "Traceback" not in err
    ), err
    return err


def _nothing_left(out: Path) -> None:
    """Neither the target nor a temporary file beside it."""
    assert not out.exists()
    if out.parent.exists():
        assert [p.name for p in out.parent.iterdir()] == []


def test_fetch_04_checkpoint_over_http_converts(
    served: dict[str, Any], io04: dict[str, Any], tmp_path: Path, capsys
) -> None:
    out, record = (
        tmp_path / "pretrained" / "ParT_small.pt",
        tmp_path / "pretrained" / "ParT_small.json",
    )
    src = served["root"] / "v04.pt"
    rc = _fetch(
        served,
        out,
        "--url",
        f"{served['url']}/v04.pt",
        "--sha256",
        _sha(src),
        "--data-config",
        str(FULL_DC),
        "--record",
        str(record),
    )
    assert rc == 0, capsys.readouterr().err
    assert "converted from weaver 0.4 layout" in capsys.readouterr().out
    state = _load(out)
    assert layout.detect_layout(state) == "0.5" and not any(
        k.endswith("in_proj_weight") for k in state
    )
    model = _small_model(io04["kwargs"])
    assert (_softmax(model, io04, state) - io04["softmax"]).abs().max().item() <= TOL
    info = json.loads(record.read_text())
    assert (
        info["sha256"] == _sha(src)
        and info["converted_from_04"] is True
        and info["layout_detected"] == "0.4"
    )
    assert info["out_sha256"] == _sha(out) and info["official"] is None and info["params"] == 173862
    assert sorted(p.name for p in out.parent.iterdir()) == ["ParT_small.json", "ParT_small.pt"]


def test_fetch_05_checkpoint_from_local_path_unchanged(
    served: dict[str, Any], tmp_path: Path, capsys
) -> None:
    src, out = served["root"] / "v05.pt", tmp_path / "ParT.pt"
    assert (
        _fetch(
            served,
            out,
            "--url",
            str(src),
            "--sha256",
            _sha(src).upper(),
            "--data-config",
            str(FULL_DC),
        )
        == 0
    )
    assert "already in weaver 0.5 layout" in capsys.readouterr().out
    a, b = _load(src), _load(out)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_two_fetches_of_one_checkpoint_write_the_same_bytes(
    served: dict[str, Any], tmp_path: Path, capsys
) -> None:
    """The converted file's sha256 depends on the checkpoint only, not on the run or the name.

    (torch.save to a path names the archive's inner folder after the file, here the atomic
    write's random temporary name.)
    """
    src = served["root"] / "v04.pt"
    outs = [tmp_path / "a" / "ParT.pt", tmp_path / "b" / "other_name.pt"]
    for out in outs:
        assert _fetch(served, out, "--url", f"{served['url']}/v04.pt", "--sha256", _sha(src),
                      "--data-config", str(FULL_DC)) == 0, capsys.readouterr().err
    first, second = (out.read_bytes() for out in outs)
    assert first == second and first != src.read_bytes()
    printed = [line.rsplit("sha256 ", 1)[1] for line in capsys.readouterr().out.splitlines()]
    assert printed == [_sha(outs[0])[:12]] * 2


def _refused(served: dict[str, Any], out: Path, capsys, url_path: str, sha256: str) -> str:
    """Fetch ``url_path`` with ``sha256``: one error line, nothing left behind; the line."""
    code = _fetch(served, out, "--url", f"{served['url']}/{url_path}", "--sha256", sha256,
                  "--data-config", str(FULL_DC))
    assert code == 1
    err = _only_error_line(capsys)
    _nothing_left(out)
    return err


def test_fetch_wrong_sha256(served: dict[str, Any], tmp_path: Path, capsys) -> None:
    err = _refused(served, tmp_path / "p" / "ParT.pt", capsys, "v05.pt", "0" * 64)
    assert "sha256 mismatch" in err and "v05.pt" in err and _sha(served["root"] / "v05.pt") in err


def test_a_local_file_that_fails_its_sha256_is_named_and_left_as_it_was(served, tmp_path: Path, capsys) -> None:
    src, out = served["root"] / "v05.pt", tmp_path / "p" / "ParT.pt"
    before = src.read_bytes()
    assert _fetch(served, out, "--url", str(src), "--sha256", "0" * 64, "--data-config", str(FULL_DC)) == 1
    err = _only_error_line(capsys)
    assert f"{src}: sha256 mismatch" in err and f"{src} itself is unchanged" in err and "file removed" not in err
    assert src.read_bytes() == before
    _nothing_left(out)


def test_an_unsafe_pickle_is_refused_under_its_own_name_without_the_unsafe_advice(
        served: dict[str, Any], tmp_path: Path, capsys) -> None:
    import os

    class RunsCode:
        def __reduce__(self):
            return (os.mkdir, (str(tmp_path / "code-ran"),))

    evil = served["root"] / "evil.pt"
    torch.save({"w": RunsCode()}, evil)
    err = _refused(served, tmp_path / "p" / "ParT.pt", capsys, "evil.pt", _sha(evil))
    assert err.startswith(f"jetprof fetch-weights: error: {served['url']}/evil.pt: refused")
    assert "weights_only" not in err and "False" not in err and ".part" not in err
    assert not (tmp_path / "code-ran").exists()


def test_fetch_truncated_file(served: dict[str, Any], tmp_path: Path, capsys) -> None:
    err = _refused(served, tmp_path / "p" / "ParT.pt", capsys, "truncated.pt", _sha(served["root"] / "truncated.pt"))
    assert "cannot read checkpoint" in err and "truncated" in err


def test_fetch_connection_breaks_off(served: dict[str, Any], tmp_path: Path, capsys) -> None:
    # the server sends fewer bytes than it announced
    err = _refused(served, tmp_path / "p" / "ParT.pt", capsys, "lying/v05.pt", _sha(served["root"] / "v05.pt"))
    assert "/lying/v05.pt: download" in err


def test_fetch_http_404_and_missing_sha(served: dict[str, Any], tmp_path: Path, capsys) -> None:
    out = tmp_path / "p" / "ParT.pt"
    assert _fetch(served, out, "--url", f"{served['url']}/nope.pt", "--sha256", "a" * 64) == 1
    assert "HTTP 404" in _only_error_line(capsys)
    assert _fetch(served, out, "--url", f"{served['url']}/v05.pt") == 1
    line = _only_error_line(capsys)
    assert "give its sha256" in line and "pretrained.sha256" in line
    _nothing_left(out)


def test_fetch_wrong_feature_set(served: dict[str, Any], tmp_path: Path, capsys) -> None:
    src, out = served["root"] / "kin.pt", tmp_path / "p" / "ParT.pt"
    assert (
        _fetch(
            served,
            out,
            "--url",
            f"{served['url']}/kin.pt",
            "--sha256",
            _sha(src),
            "--data-config",
            str(FULL_DC),
        )
        == 1
    )
    err = _only_error_line(capsys)
    assert (
        "kin.pt" in err
        and "JetClass_full.yaml" in err
        and "feature set" in err
        and "embed.input_bn.weight" in err
    )
    _nothing_left(out)


def test_fetch_official_url_checks_git_blob_id(
    served: dict[str, Any], tmp_path: Path, capsys
) -> None:
    """Without --sha256, an official URL must deliver the official bytes (known git blob id)."""
    fake = served["root"] / "jet-universe" / "particle_transformer" / "raw" / "main" / "models"
    fake.mkdir(parents=True, exist_ok=True)
    (fake / "ParT_full.pt").write_bytes((served["root"] / "v05.pt").read_bytes())
    url = f"{served['url']}/jet-universe/particle_transformer/raw/main/models/ParT_full.pt"
    out = tmp_path / "p" / "ParT_full.pt"
    assert _fetch(served, out, "--url", url, "--data-config", str(FULL_DC)) == 1
    err = _only_error_line(capsys)
    assert "not the official models/ParT_full.pt" in err
    assert "cf510276bb5616caf87adace4e05eafab4b6c762" in err
    assert pretrained.git_blob_sha1(fake / "ParT_full.pt") in err
    _nothing_left(out)


def test_load_weights_accepts_04_checkpoint(served: dict[str, Any], io04: dict[str, Any]) -> None:
    from jetprof.model.build import build_model, load_weights

    built = build_model(served["net"], FULL_DC)
    info = load_weights(built, STATE_04)
    assert info["legacy_04"] is True
    with torch.no_grad():
        got = torch.softmax(
            built.model(io04["features"], v=io04["vectors"], mask=io04["mask"]), dim=1
        )
    assert (got - io04["softmax"]).abs().max().item() <= TOL


# ----------------------------------------------------------------- live weaver 0.4.17


def test_live_weaver04_checkpoint(tmp_path: Path) -> None:
    """Make a fresh checkpoint + outputs with weaver-core 0.4.17 and check the conversion on it."""
    python = _weaver04_python()
    if python is None:
        pytest.skip(
            "no weaver-core 0.4.17 venv (set JETPROF_WEAVER04_PYTHON or build "
            "/work/venvs/weaver04; see tests/data/weaver04/README.md)"
        )
    proc = subprocess.run(
        [
            str(python),
            str(SCRIPT),
            "--out-dir",
            str(tmp_path),
            "--seed",
            "12345",
            "--batch",
            "8",
            "--particles",
            "40",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    state, io = _load(tmp_path / "ParT_small_04_state.pt"), _load(tmp_path / "ParT_small_04_io.pt")
    assert io["weaver_version"] == "0.4.17"
    model = _small_model(io["kwargs"])
    assert (_softmax(model, io, dict(state)) - io["softmax"]).abs().max().item() > 0.05
    converted, legacy = layout.to_current_layout(state, model)
    assert legacy is True
    assert (_softmax(model, io, converted) - io["softmax"]).abs().max().item() <= TOL
