"""The tagger zoo: five weaver network configs × three feature sets.

Parameter counts are pinned to those of the particle_transformer repository's
configurations (``networks/example_*.py`` at commit 2925bdb, built with
weaver-core 0.5.3; ParT-plain = its ParT config with ``pair_input_dim=0``),
counted there and written down here; they agree with the paper's Table 2
(PFN 86.1k, P-CNN 354k, ParticleNet 370k, ParT-plain 2.13M, ParT 2.14M).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from jetprof.model import zoo
from jetprof.model.build import build_model, import_network_config, load_data_config
from jetprof.model.inputs import synthetic_batch

REPO = Path(__file__).resolve().parents[1]
WEAVER = REPO / "workflow" / "weaver"
MODELS = ("ParT", "ParT_plain", "ParticleNet", "PFN", "PCNN")
FEATURE_SETS = ("full", "kinpid", "kin")

REFERENCE_PARAMS = {
    "ParT": {"full": 2_143_486, "kinpid": 2_142_958, "kin": 2_142_166},
    "ParT_plain": {"full": 2_133_918, "kinpid": 2_133_390, "kin": 2_132_598},
    "ParticleNet": {"full": 370_156, "kinpid": 369_380, "kin": 368_216},
    "PFN": {"full": 86_154, "kinpid": 85_642, "kin": 84_874},
    "PCNN": {"full": 354_540, "kinpid": 354_148, "kin": 353_560},
}
#: inputs each model's exported graph keeps (the others are unused and dropped)
ONNX_INPUTS = {
    "ParT": ["pf_features", "pf_vectors", "pf_mask"],
    "ParT_plain": ["pf_features", "pf_mask"],
    "ParticleNet": ["pf_points", "pf_features", "pf_mask"],
    "PFN": ["pf_features", "pf_mask"],
    "PCNN": ["pf_features", "pf_mask"],
}


@pytest.fixture(autouse=True, scope="module")
def _quiet() -> None:
    logging.getLogger("weaver").setLevel(logging.WARNING)


def _net(model: str) -> Path:
    return WEAVER / f"{model}.py"


def _dc(feature_set: str) -> Path:
    return WEAVER / f"JetClass_{feature_set}.yaml"


def _tensors(built, batch_size: int, particles: int, seed: int = 0) -> list[torch.Tensor]:
    batch = synthetic_batch(built.data_config, batch_size, particles, seed=seed)
    return [torch.from_numpy(batch.arrays[n]) for n in built.input_names]


def test_every_model_is_shipped_and_linked() -> None:
    assert tuple(zoo.MODELS)[: len(MODELS)] == MODELS
    # the workflow's weaver folder is the package's: a new config needs no link of its own
    assert WEAVER.is_symlink() and str(WEAVER.readlink()) == "../src/jetprof/model/weaver"
    for name, entry in zoo.MODELS.items():
        link = _net(name)
        assert link.resolve() == entry.network_config.resolve()
        module = import_network_config(link)
        assert callable(module.get_model) and callable(module.get_loss)


@pytest.mark.parametrize("feature_set", FEATURE_SETS)
@pytest.mark.parametrize("model", MODELS)
def test_parameter_count_matches_reference(model: str, feature_set: str) -> None:
    built = build_model(_net(model), _dc(feature_set))
    assert built.num_params == REFERENCE_PARAMS[model][feature_set]
    state = built.model.state_dict()
    # the state dict says which model and which feature set it is for
    assert zoo.identify(state) == model
    n, _key = zoo.feature_count(state)
    assert n == zoo.FEATURE_SETS[feature_set] == len(built.data_config.input_dicts["pf_features"])
    assert built.model_info["input_names"] == ["pf_points", "pf_features", "pf_vectors", "pf_mask"]
    assert isinstance(import_network_config(_net(model)).get_loss(built.data_config), torch.nn.CrossEntropyLoss)


@pytest.mark.parametrize("feature_set", FEATURE_SETS)
@pytest.mark.parametrize("model", MODELS)
def test_forward_on_synthetic_batch(model: str, feature_set: str) -> None:
    torch.manual_seed(0)
    built = build_model(_net(model), _dc(feature_set))
    x = _tensors(built, batch_size=3, particles=30)
    with torch.no_grad():
        for _ in range(7):  # past the trimmers' 5 untrimmed warm-up calls
            out = built.model(*x)
    assert out.shape == (3, 10) and torch.isfinite(out).all()
    # training mode runs backward (weaver's training step)
    built.model.train()
    loss = torch.nn.functional.cross_entropy(built.model(*x), torch.zeros(3, dtype=torch.long))
    loss.backward()
    assert all(p.grad is not None for p in built.model.parameters() if p.requires_grad and p.dim() > 1)


def _export(built, x: list[torch.Tensor], path: Path) -> None:
    info = built.model_info
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about weaver's shape asserts
        torch.onnx.export(
            built.model, tuple(x), str(path), input_names=info["input_names"],
            output_names=info["output_names"], dynamic_axes=info["dynamic_axes"],
            opset_version=17, dynamo=False,
        )


@pytest.mark.parametrize("model", MODELS)
def test_onnx_export_matches_eager(model: str, tmp_path: Path) -> None:
    """``torch.onnx.export(dynamo=False)`` with get_model's model_info; ONNX Runtime
    agrees with eager at other batch sizes and particle counts than the traced ones."""
    import onnxruntime as ort

    torch.manual_seed(0)
    built = build_model(_net(model), _dc("full"), for_inference=True)
    _export(built, _tensors(built, 2, 128, seed=1), tmp_path / f"{model}.onnx")
    session = ort.InferenceSession(str(tmp_path / f"{model}.onnx"), providers=["CPUExecutionProvider"])
    kept = [i.name for i in session.get_inputs()]
    assert kept == ONNX_INPUTS[model]
    assert [o.name for o in session.get_outputs()] == ["softmax"]
    for batch_size, length in ((3, 128), (5, 48)):
        batch = synthetic_batch(built.data_config, batch_size, 40, seed=2)
        arrays = {k: np.ascontiguousarray(v[..., :length]) for k, v in batch.arrays.items()}
        got = session.run(None, {k: arrays[k] for k in kept})[0]
        with torch.no_grad():
            want = built.model(*[torch.from_numpy(arrays[k]) for k in built.input_names]).numpy()
        assert got.shape == (batch_size, 10)
        np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-5)  # for_inference: softmax
        assert np.abs(got - want).max() <= 1e-5


def test_particlenet_short_batches_after_warmup() -> None:
    """weaver 0.5.3 trims an eval batch to its longest jet, then asks for k+1 = 17 neighbours:
    jets of <= 16 particles failed from the 6th call on. The guarded trimmer keeps 17 slots
    and gives the untrimmed result."""
    torch.manual_seed(0)
    built = build_model(_net("ParticleNet"), _dc("full"))
    torch.manual_seed(0)
    untrimmed = build_model(_net("ParticleNet"), _dc("full"), trim=False)
    untrimmed.model.load_state_dict(built.model.state_dict())
    seen: list[int] = []
    trimmer = built.model.mod.trimmer
    assert type(trimmer).__name__ == "SequenceTrimmer"  # jetprof's profiler finds it by name
    trimmer.register_forward_hook(lambda _m, _i, out: seen.append(out[0].shape[-1]))
    for n in (16, 5, 1):
        x = _tensors(built, 2, n, seed=n)
        with torch.no_grad():
            for _ in range(7):
                out = built.model(*x)
            want = untrimmed.model(*x)
        assert seen[-1] == 17
        torch.testing.assert_close(out, want, rtol=1e-5, atol=1e-5)
    x = _tensors(built, 2, 40)
    with torch.no_grad():
        built.model(*x)
    assert seen[-1] == 40  # longer jets are trimmed to the longest one, as before


def test_particlenet_runs_under_fp16_autocast() -> None:
    """weaver's 1e9 shift of padded slots overflows fp16; the wrapper uses weaver's amp shift."""
    torch.manual_seed(0)
    built = build_model(_net("ParticleNet"), _dc("kin"))
    x = [t[..., :24] for t in _tensors(built, 2, 20)]  # short: CPU fp16 kernels are slow
    with torch.no_grad():
        ref = torch.softmax(built.model(*x), dim=1)
        with torch.autocast("cpu", dtype=torch.float16):
            half = torch.softmax(built.model(*x).float(), dim=1)
        again = torch.softmax(built.model(*x), dim=1)
    assert (half - ref).abs().max() < 0.05
    torch.testing.assert_close(again, ref, rtol=0, atol=0)  # fp32 is back to the 1e9 shift
    assert built.model.mod.coord_shift == 1e9


def test_pfn_is_a_sum_over_real_particles() -> None:
    """Deep Sets: the output ignores particle order and whatever fills the padded slots."""
    torch.manual_seed(0)
    built = build_model(_net("PFN"), _dc("full"))
    points, features, vectors, mask = _tensors(built, 2, 20)
    perm = torch.cat([torch.randperm(20), torch.arange(20, 128)])
    noise = features.clone()
    noise[..., 20:] = torch.randn_like(noise[..., 20:])
    with torch.no_grad():
        ref = built.model(points, features, vectors, mask)
        torch.testing.assert_close(built.model(points, features[..., perm], vectors, mask[..., perm]), ref)
        torch.testing.assert_close(built.model(points, noise, vectors, mask), ref)
        torch.testing.assert_close(
            built.model(points[..., :20], features[..., :20], vectors[..., :20], mask[..., :20]), ref
        )


def test_pcnn_halves_the_sequence_per_stage() -> None:
    built = build_model(_net("PCNN"), _dc("kin"))
    lengths: list[int] = []
    for unit in built.model.stages:
        unit.register_forward_hook(lambda _m, _i, out: lengths.append(out.shape[-1]))
    with torch.no_grad():
        built.model(*_tensors(built, 1, 50))
    assert lengths == [128, 128, 64, 64, 32, 32]


def test_identify_and_feature_count_of_other_state_dicts() -> None:
    assert zoo.identify({"fc.weight": torch.zeros(2, 2)}) is None
    assert zoo.feature_count({"fc.weight": torch.zeros(2, 2)}) is None
    # a bare (unwrapped) weaver ParT state dict is still ParT
    from weaver.nn.model.ParticleTransformer import ParticleTransformer

    bare = ParticleTransformer(7, 3, embed_dims=[16, 16], pair_embed_dims=[8], num_heads=2, num_layers=1).state_dict()
    assert zoo.identify(bare) == "ParT" and zoo.feature_count(bare) == (7, "embed.input_bn.weight")
    assert zoo.feature_set_name(13) == "kinpid" and zoo.feature_set_name(5) == "5 features"
    dc = load_data_config(_dc("kinpid"))
    assert zoo.sizes(dc) == {"input_dim": 13, "num_classes": 10}


def test_particlenext_builds_and_runs_a_forward_pass_on_tiny_inputs() -> None:
    """weaver-core's ParticleNeXt from its one network config: it builds on every feature set,
    its state dict is recognised, and it runs eval and training forwards on three short jets
    (never trimmed below its k = 32 neighbours)."""
    from jetprof.model.inputs import min_particles

    torch.manual_seed(0)
    for feature_set in FEATURE_SETS:
        built = build_model(_net("ParticleNeXt"), _dc(feature_set))
        state = built.model.state_dict()
        assert zoo.identify(state) == "ParticleNeXt"
        assert zoo.feature_count(state)[0] == zoo.FEATURE_SETS[feature_set]
    assert built.num_params > 0 and min_particles(built.model) == 32
    x = _tensors(built, batch_size=3, particles=40)
    with torch.no_grad():
        for _ in range(7):  # past its trimmer's 5 untrimmed calls
            out = built.model.eval()(*x)
    assert out.shape == (3, 10) and torch.isfinite(out).all()
    built.model.train()
    loss = torch.nn.functional.cross_entropy(built.model(*x), torch.zeros(3, dtype=torch.long))
    loss.backward()
    assert torch.isfinite(loss)
