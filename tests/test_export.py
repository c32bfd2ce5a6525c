"""``jetprof export``: ONNX parity with eager PyTorch, dynamic axes, model card, bad checkpoints."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from jetprof.cli import main
from jetprof.contract import DEFAULT_DATA_CONFIG, DEFAULT_NETWORK_CONFIG, WEAVER_CONFIGS
from jetprof.io import sha256_file

# inline JSON longer than a file name may be (the workflow passes the whole train config)
LONG_TRAINING_JSON = json.dumps({"num_epochs": 1, "seed": 7, **{f"key_{i}": "x" * 20 for i in range(20)}})

_spec = importlib.util.spec_from_file_location("_jetprof_test_train", Path(__file__).with_name("test_train.py"))
assert _spec and _spec.loader
_tt = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_tt)
write_fake_jetclass = _tt.write_fake_jetclass


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import torch

    from jetprof.model.build import build_model

    root = tmp_path_factory.mktemp("export")
    write_fake_jetclass(root / "val" / "Fake_000.root", 4, seed=5)
    torch.manual_seed(3)
    ckpt = root / "net_state.pt"
    torch.save(build_model(DEFAULT_NETWORK_CONFIG, DEFAULT_DATA_CONFIG).model.state_dict(), ckpt)
    return {"root": root, "ckpt": ckpt}


def _export(setup: dict[str, Path], ckpt: Path, name: str) -> tuple[int, dict[str, Path]]:
    out = {"onnx": setup["root"] / name / "ParT_full.onnx", "card": setup["root"] / name / "card.json",
           "md": setup["root"] / name / "card.md"}
    rc = main(["export", "--checkpoint", str(ckpt), "--data-config", str(DEFAULT_DATA_CONFIG),
               "--network-config", str(DEFAULT_NETWORK_CONFIG), "--data", str(setup["root"] / "val" / "*.root"),
               "--onnx", str(out["onnx"]), "--card", str(out["card"]), "--card-md", str(out["md"]),
               "--training-config", LONG_TRAINING_JSON, "--batches", "2", "--batch-size", "8"])
    return rc, out


def test_export_parity_and_card(setup: dict[str, Path]) -> None:
    import onnxruntime as ort
    import torch

    from jetprof.model.build import build_model, load_weights
    from jetprof.model.inputs import real_batch, synthetic_batch

    rc, out = _export(setup, setup["ckpt"], "ok")
    assert rc == 0
    card = json.loads(out["card"].read_text())
    assert card["params"] == 2_143_486 and card["flops_particles"] == 128
    assert 5e8 < card["flops_per_jet"] < 8e8  # ~670 MFLOP at 128 particles
    assert card["parity"]["passed"] and card["parity"]["max_abs_diff_softmax"] <= 1e-4
    assert card["parity"]["jets"] == 16 and {c["kind"] for c in card["parity"]["checks"]} == {"padded", "trimmed"}
    assert card["onnx_inputs"] == ["pf_features", "pf_vectors", "pf_mask"]
    assert card["unused_inputs_dropped"] == ["pf_points"] and card["output_names"] == ["softmax"]
    assert card["files"]["onnx"]["sha256"] == sha256_file(out["onnx"])
    assert card["files"]["checkpoint"]["sha256"] == sha256_file(setup["ckpt"])
    assert card["training_config"] == json.loads(LONG_TRAINING_JSON) and card["versions"]["onnxruntime"]
    md = out["md"].read_text()
    assert "2,143,486" in md and "passed" in md and card["files"]["onnx"]["sha256"] in md
    assert not list(out["onnx"].parent.glob(".*tmp*"))

    # dynamic axes: two batch sizes x two particle lengths, ONNX Runtime vs eager
    built = build_model(DEFAULT_NETWORK_CONFIG, DEFAULT_DATA_CONFIG, for_inference=True)
    load_weights(built, setup["ckpt"])
    sess = ort.InferenceSession(str(out["onnx"]), providers=["CPUExecutionProvider"])
    feed = [i.name for i in sess.get_inputs()]
    real = real_batch([str(setup["root"] / "val" / "Fake_000.root")], built.data_config, 5).arrays
    synth = synthetic_batch(built.data_config, 3, 40, seed=1).arrays
    for arrays, length in ((real, 128), (real, 20), (synth, 128), (synth, 40)):
        batch = {k: np.ascontiguousarray(v[..., :length]) for k, v in arrays.items()}
        with torch.no_grad():
            eager = built.model(*[torch.from_numpy(batch[k]) for k in built.input_names]).numpy()
        got = sess.run(None, {k: batch[k] for k in feed})[0]
        assert got.shape == (len(batch["pf_mask"]), 10)
        np.testing.assert_allclose(got.sum(axis=1), 1, atol=1e-5)
        assert np.max(np.abs(got - eager)) < 1e-4


def test_truncated_checkpoint(setup: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    bad = setup["root"] / "truncated_state.pt"
    data = setup["ckpt"].read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    rc, out = _export(setup, bad, "truncated")
    err = capsys.readouterr().err
    assert rc == 1 and str(bad) in err and "truncated" in err and "Traceback" not in err
    assert not any(p.exists() for p in out.values())


def test_mismatched_checkpoint(setup: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    from jetprof.model.build import build_model

    kin = build_model(DEFAULT_NETWORK_CONFIG, WEAVER_CONFIGS / "JetClass_kin.yaml").model
    bad = setup["root"] / "kin_state.pt"
    torch.save(kin.state_dict(), bad)
    rc, out = _export(setup, bad, "mismatch")
    err = capsys.readouterr().err
    assert rc == 1 and str(bad) in err and "shape mismatch" in err and "feature set" in err
    assert not any(p.exists() for p in out.values())
