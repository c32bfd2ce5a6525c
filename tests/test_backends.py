"""The deployment ladder: int8 and OpenVINO variants, the output check against eager fp32,
the quality score on labelled test jets, and the contract's new axis values.

Groups are measured in-process (``measure_group``) on short synthetic jets, like
tests/test_profiling.py; the CLI's refusals go through ``jetprof profile``.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

torch = pytest.importorskip("torch")

from jetprof.cli import main as jetprof_main  # noqa: E402
from jetprof.contract import (  # noqa: E402
    BACKENDS,
    CONFIG_SCHEMA,
    DEFAULT_DATA_CONFIG,
    DEFAULT_NETWORK_CONFIG,
    PRECISIONS,
    RECORD_SCHEMA,
    WEAVER_CONFIGS,
    Variant,
    compared_pairs,
    pair_problem,
)
from jetprof.errors import JetprofError  # noqa: E402
from jetprof.model import inputs  # noqa: E402
from jetprof.model.build import build_model, load_data_config  # noqa: E402
from jetprof.profiling import backends, quality  # noqa: E402
from jetprof.profiling.measure import measure_group  # noqa: E402
from jetprof.profiling.spec import GroupSpec, VariantSpec  # noqa: E402
from jetprof.records import validate_record  # noqa: E402
from jetprof.registry import fill_schema  # noqa: E402
from jetprof.report.compare import comparisons, load_groups  # noqa: E402

HAVE_OPENVINO = importlib.util.find_spec("openvino") is not None
needs_openvino = pytest.mark.skipif(not HAVE_OPENVINO,
                                    reason="openvino not installed (pip install 'jetprof[openvino]')")


def variant(weights="random", backend="eager", precision="fp32", checkpoint=None) -> VariantSpec:
    return VariantSpec("ParT_full", weights, backend, precision, network_config=str(DEFAULT_NETWORK_CONFIG),
                       data_config=str(DEFAULT_DATA_CONFIG), checkpoint=checkpoint)


def _spec(tmp_path: Path, variants, **kw) -> GroupSpec:
    base = dict(device="cpu", batch_size=2, particles=24, variants=variants, out=str(tmp_path),
                rounds=2, max_rounds=2, warmup=1, profiler_pass=False, cache_dir=str(tmp_path))
    base.update(kw)
    return GroupSpec(**base)


def _records(spec: GroupSpec) -> dict[str, dict]:
    out = {}
    for v in spec.variants:
        rec = json.loads(spec.record_path(v).read_text())
        validate_record(rec, str(spec.record_path(v)))
        out[f"{v.weights}/{v.backend}-{v.precision}"] = rec
    return out


# -- the contract ---------------------------------------------------------------------------


@pytest.mark.parametrize(("backend", "precision", "device", "message"), [
    ("openvino", "fp32", "cpu", None),
    ("openvino", "fp32", "cuda:0", "cpu only"),
    ("openvino", "int8", "cpu", "fp32 ONNX export only"),
    ("onnxruntime", "int8", "cpu", None),
    ("onnxruntime_padded", "int8", "cpu", None),
    ("eager", "int8", "cpu", None),
    ("eager", "int8", "cuda:0", "cpu only"),
    ("onnxruntime", "int8", "cuda:0", "cpu only"),
    ("compile", "int8", "cpu", "eager-int8 or onnxruntime-int8"),
    ("onnxruntime", "bf16", "cpu", "fp32 only"),
    ("eager_bucketed", "bf16", "cpu", None),
    ("eager_bucketed", "int8", "cpu", None),
    ("eager_bucketed", "fp16", "cuda:0", None),
    ("eager_bucketed", "fp16", "cpu", "cuda and mps only"),
    ("eager_bucketed", "int8", "cuda:0", "cpu only"),
    ("onnxruntime_bucketed", "int8", "cpu", None),
    ("onnxruntime_bucketed", "bf16", "cpu", "fp32 only"),
    ("onnxruntime_bucketed", "fp32", "mps", "does not run on mps"),
])
def test_pair_problems_of_the_new_pairs(backend, precision, device, message):
    problem = pair_problem(backend, precision, device)
    assert (problem is None) if message is None else (message in problem and problem.startswith(backend))


def test_the_schemas_take_their_backends_and_precisions_from_the_contract():
    record = fill_schema(json.loads(RECORD_SCHEMA.read_text()))
    assert record["$defs"]["backend"]["enum"] == list(BACKENDS)
    assert record["$defs"]["precision"]["enum"] == list(PRECISIONS)
    assert record["properties"]["backend"] == {"$ref": "#/$defs/backend"}
    config = fill_schema(yaml.safe_load(CONFIG_SCHEMA.read_text()))
    prof = config["properties"]["profile"]["properties"]
    for items in (prof["backends"]["items"], prof["multiplicity"]["properties"]["backends"]["items"],
                  prof["models"]["items"]["properties"]["backends"]["items"]):
        assert items == {"$ref": "#/$defs/pair"}
        pattern = re.compile(config["$defs"]["pair"]["pattern"])
        assert all(pattern.match(f"{b}-{p}") for b in BACKENDS for p in PRECISIONS)
        assert not pattern.match("openvino-int4") and not pattern.match("tensorrt-fp32")


def test_a_rung_that_changes_backend_and_precision_is_compared_with_eager_fp32():
    v = [Variant("P", "trained", "eager", "fp32"), Variant("P", "trained", "onnxruntime", "fp32"),
         Variant("P", "trained", "onnxruntime", "int8"), Variant("P", "trained", "eager", "int8"),
         Variant("P", "random", "onnxruntime", "int8")]
    pairs = {(p.axis, p.baseline.label, p.variant.label) for p in compared_pairs(v)}
    assert pairs == {
        ("backend", "P/trained/eager-fp32", "P/trained/onnxruntime-fp32"),
        ("precision", "P/trained/eager-fp32", "P/trained/eager-int8"),
        ("precision", "P/trained/onnxruntime-fp32", "P/trained/onnxruntime-int8"),
        ("backend", "P/trained/eager-int8", "P/trained/onnxruntime-int8"),
        ("deployment", "P/trained/eager-fp32", "P/trained/onnxruntime-int8"),
        ("weights", "P/random/onnxruntime-int8", "P/trained/onnxruntime-int8"),
    }  # random onnxruntime-int8 against trained eager-fp32 changes three axes: never compared


def test_every_pair_that_can_run_has_a_stated_tolerance():
    for b in BACKENDS:
        for p in PRECISIONS:
            for device in ("cpu", "cuda:0", "mps"):
                if pair_problem(b, p, device) is None:
                    tol = backends.tolerance(b, p, device.split(":")[0])
                    assert (tol is None) == (b == "eager" and p == "fp32")


# -- the new backends as variants of one group ----------------------------------------------


def test_int8_and_openvino_run_as_variants_of_one_group(tmp_path):
    vs = [variant(), variant(precision="int8"), variant(backend="onnxruntime", precision="int8")]
    if HAVE_OPENVINO:
        vs.append(variant(backend="openvino"))
    spec = _spec(tmp_path, vs, profiler_pass=True)
    measure_group(spec)
    recs = _records(spec)
    assert all(r["status"] == "ok" for r in recs.values()), {k: r["error"] for k, r in recs.items()}
    assert recs["random/eager-fp32"].get("output_check") is None  # the reference itself
    for key, rec in recs.items():
        if key == "random/eager-fp32":
            continue
        check = rec["output_check"]
        assert check["passed"] and check["max_abs_diff"] <= check["tolerance"] and check["jets"] == 2
        assert rec["particles_padded"] == 24 and rec["latency_ms_p50"] > 0
    eager8, ort8 = recs["random/eager-int8"], recs["random/onnxruntime-int8"]
    assert "quantize_dynamic" in eager8["quantization"]["tool"] and eager8["memory_method"] == "profiler_memory_events"
    assert any(op["name"] == "quantized::linear_dynamic" for op in eager8["top_ops"])
    # eager-int8's fp32 original (the reference) was warmed with its copy: FLOPs at the trimmed length
    assert eager8["flops_particles"] == 24 and eager8["model_warmup_calls"] == 5
    assert "onnxruntime.quantization" in ort8["quantization"]["tool"] and ort8["onnx"]["trimmed"]
    assert any("DynamicQuantize" in op["name"] or "Integer" in op["name"] for op in ort8["top_ops"])
    if HAVE_OPENVINO:
        ov = recs["random/openvino-fp32"]
        assert ov["openvino"]["INFERENCE_PRECISION_HINT"] == "f32" and ov["openvino"]["INFERENCE_NUM_THREADS"] == 1
        assert ov["onnx"]["trimmed"] and ov["onnx"]["max_abs_diff_vs_eager"] < 1e-4
        assert ov["profiler"]["tool"] == "openvino" and ov["top_ops"] and ov["memory_method"] == "not_measured"
    table = comparisons(load_groups([tmp_path / "paired"]), 0.05)
    axes = {(row.axis, row.variant.split("/")[-1]) for row in table.itertuples()}
    assert {("precision", "eager-int8"), ("deployment", "onnxruntime-int8")} <= axes
    if HAVE_OPENVINO:
        assert ("backend", "openvino-fp32") in axes


def test_an_output_beyond_the_stated_tolerance_fails_the_point(tmp_path, monkeypatch):
    monkeypatch.setitem(backends.TOLERANCES, ("*", "int8", "cpu"), 1e-9)
    spec = _spec(tmp_path, [variant(), variant(precision="int8")])
    measure_group(spec)
    recs = _records(spec)
    assert recs["random/eager-fp32"]["status"] == "ok"
    bad = recs["random/eager-int8"]
    assert bad["status"] == "error" and "eager-int8: output differs from eager by" in bad["error"]
    assert "1e-09, the stated tolerance of eager-int8 on cpu" in bad["error"]
    assert bad["output_check"]["passed"] is False and bad["output_check"]["max_abs_diff"] > 1e-9


# -- a missing package ----------------------------------------------------------------------


def test_a_missing_openvino_is_a_one_line_error_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # as if not installed: import fails
    out = tmp_path / "out"
    argv = ["profile", "--device", "cpu", "--particles", "8", "--backends", "eager-fp32,openvino-fp32",
            "--out", str(out)]
    assert jetprof_main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("jetprof profile: error: --backends openvino-fp32:")
    assert "pip install 'jetprof[openvino]'" in err and not out.exists()
    with pytest.raises(JetprofError,
                       match=r"the openvino package is not installed \(pip install 'jetprof\[openvino\]'\)"):
        backends.require("openvino", "openvino")


@pytest.mark.parametrize(("extra", "message"), [
    (["--backends", "openvino-bf16"], "fp32 ONNX export only"),
    (["--backends", "compile-int8"], "eager-int8 or onnxruntime-int8"),
    (["--backends", "onnxruntime_bucketed-bf16"], "the ONNX export is fp32 only"),
    (["--backends", "eager_bucketed-fp16"], "autocast fp16 runs on cuda and mps only"),
    (["--quality-jets", "0"], "--quality-jets 0: must be at least 1"),
    (["--quality-data", "/nonexistent/*.root"], "no data files"),
])
def test_bad_ladder_input_is_one_line(tmp_path, capsys, extra, message):
    out = tmp_path / "out"
    assert jetprof_main(["profile", "--device", "cpu", "--particles", "8", "--out", str(out), *extra]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and not out.exists()


# -- quality on labelled test jets ----------------------------------------------------------


def _write_labelled(path: Path, label: str, n: int, seed: int, particles: tuple[int, int] = (5, 30)) -> None:
    """A JetClass-like test file of ``n`` jets, all of class ``label``, with a number of
    particles drawn from ``particles`` (low inclusive, high exclusive)."""
    uproot = pytest.importorskip("uproot")
    dc = load_data_config(DEFAULT_DATA_CONFIG)
    rng = np.random.default_rng(seed)
    raw = inputs.synthetic_raw_jets(n, rng.integers(*particles, n), sorted(dc.test_load_branches), seed)
    for b in raw:
        if b.startswith("label_"):
            raw[b] = np.full(n, b == label, dtype=bool)
    with uproot.recreate(path) as f:
        f.mktree("tree", {k: v.type.content if hasattr(v, "layout") else v.dtype for k, v in raw.items()})
        f["tree"].extend(raw)


@pytest.fixture(scope="module")
def test_jets(tmp_path_factory) -> list[str]:
    d = tmp_path_factory.mktemp("test_split")
    for i, label in enumerate(("label_QCD", "label_Hbb", "label_Tbqq")):
        _write_labelled(d / f"{label[6:]}_000.root", label, 6, seed=i)
    return sorted(str(p) for p in d.glob("*.root"))


def test_labelled_jets_take_every_file_in_equal_shares(test_jets):
    dc = load_data_config(DEFAULT_DATA_CONFIG)
    batch, truth = inputs.labelled_jets(test_jets, dc, 7)
    # files sorted Hbb, QCD, Tbqq; 3 jets from each, 7 kept; classes in the data config's order
    assert list(truth) == [1, 1, 1, 0, 0, 0, 8] and len(batch.n_particles) == 7
    assert batch.source["distinct_jets"] == 7 and len(batch.source["files"]) == 3
    _, truth = inputs.labelled_jets(test_jets, dc, 500)  # fewer jets than asked: each once
    assert len(truth) == 18 and sorted(set(truth)) == [0, 1, 8]


def test_quality_block_on_labelled_test_jets(tmp_path, test_jets):
    torch.manual_seed(3)
    ckpt = tmp_path / "trained.pt"
    torch.save(build_model().model.state_dict(), ckpt)
    vs = [variant("random"), variant("trained", checkpoint=str(ckpt)),
          variant("trained", precision="int8", checkpoint=str(ckpt))]
    spec = _spec(tmp_path, vs, batch_size=5, quality_data=test_jets, quality_jets=16)
    measure_group(spec)
    recs = _records(spec)
    assert all(r["status"] == "ok" for r in recs.values()), {k: r["error"] for k, r in recs.items()}
    # FLOPs with all 128 slots filled, the paper's convention (README: 669.5 MFLOP per jet), on eager fp32 only
    assert recs["trained/eager-fp32"]["flops_per_jet_padded"] == pytest.approx(669.5e6, rel=0.01)
    assert recs["trained/eager-fp32"]["flops_padded_particles"] == 128
    assert "flops_per_jet_padded" not in recs["trained/eager-int8"]
    ref, int8, rnd = (recs[k]["quality"] for k in ("trained/eager-fp32", "trained/eager-int8", "random/eager-fp32"))
    for q in (ref, int8, rnd):
        assert q["jets"] == 16 and q["classes"] == 3
    # int8 scored at the point's batch size (5+5+5+1 jets, 4 calls); eager fp32, the reference,
    # in multiplicity-sorted calls of REFERENCE_BATCH; random eager fp32 computed nothing
    assert int8["batch_size"] == 5 and ref["batch_size"] == quality.REFERENCE_BATCH and "batch_size" not in rnd
    assert ref["top1_agreement"] == 1.0 and ref["max_abs_diff"] == 0.0 and ref["auc_note"] is None
    assert ref["auc_macro"] == ref["auc_macro_reference"] and 0 < ref["auc_macro"] < 1
    assert int8["auc_macro_reference"] == ref["auc_macro"] and int8["auc_note"] is None
    assert 0 < int8["max_abs_diff"] <= int8["tolerance"] and 0 <= int8["top1_agreement"] <= 1
    assert abs(int8["auc_macro"] - ref["auc_macro"]) < 0.2
    assert rnd["auc_macro"] is None and "random weights" in rnd["auc_note"]
    # the reference AUC, computed here directly on all 16 jets at once
    from jetprof.metrics import macro_auc
    from jetprof.model.build import load_weights

    built = build_model()
    load_weights(built, ckpt)
    batch, truth = inputs.labelled_jets(test_jets, built.data_config, 16)
    with torch.inference_mode():
        logits = built.model.eval()(*[torch.from_numpy(batch.arrays[n]) for n in built.input_names])
    assert macro_auc(truth, torch.softmax(logits, 1).numpy()) == pytest.approx(ref["auc_macro"], abs=1e-6)


def test_the_reference_runs_in_sorted_batches_and_a_later_group_reads_it_back(tmp_path, test_jets):
    """Eager fp32's outputs on the test jets in multiplicity-sorted calls are, jet by jet, those of
    one call per jet (rounding aside), in the jets' own order; a second group of the job (empty
    in-memory cache, same scratch directory) reads them back instead of running the model."""
    from types import SimpleNamespace

    torch.manual_seed(5)
    built = build_model()
    built.model.eval()
    batch, _ = inputs.labelled_jets(test_jets, built.data_config, 18)
    assert np.any(np.diff(batch.n_particles) < 0)  # not already sorted: the order must be restored
    runner = backends.TorchRunner(built.model, [], torch.device("cpu"), "fp32", names=built.input_names)
    one_by_one = quality._predict(runner, batch, 1)
    assert np.abs(quality._sorted_predict(runner, batch, 4) - one_by_one).max() < 1e-5
    spec = _spec(tmp_path, [variant()], quality_data=test_jets, quality_jets=18, cache_dir=str(tmp_path / "scratch"))
    Path(spec.cache_dir).mkdir()
    slot = SimpleNamespace(spec=variant(), model=built.model, built=built)
    first = quality._reference(spec, slot, batch, {})
    assert np.abs(first - one_by_one).max() < 1e-5 and len(list(Path(spec.cache_dir).glob("reference-*.npy"))) == 1

    class Unrunnable(torch.nn.Module):
        def forward(self, *xs):
            raise AssertionError("the reference was computed again")

    slot.model = Unrunnable()
    assert np.array_equal(quality._reference(spec, slot, batch, {}), first)
    # other weights are another reference: computed, not read
    with pytest.raises(AssertionError, match="computed again"):
        quality._reference(spec, SimpleNamespace(spec=variant("trained", checkpoint="x.pt"), model=slot.model,
                                                 built=built), batch, {})


def test_a_variant_beyond_tolerance_on_the_test_jets_fails_the_point(tmp_path, test_jets, monkeypatch):
    real_predict = backends.TorchRunner.predict

    def bf16_off(self, arrays, n):  # only the bf16 variant's scoring is off (not its timed output)
        out = real_predict(self, arrays, n)
        return out + 0.5 if self.dtype is not None else out

    monkeypatch.setattr(backends.TorchRunner, "predict", bf16_off)
    spec = _spec(tmp_path, [variant(), variant(precision="bf16")], quality_data=test_jets, quality_jets=6)
    measure_group(spec)
    recs = _records(spec)
    assert recs["random/eager-fp32"]["status"] == "ok"
    bad = recs["random/eager-bf16"]
    assert bad["status"] == "error" and re.search(r"differs from eager by 0\.5\d* on the 6 test jets", bad["error"])
    assert bad["output_check"]["passed"] and bad["quality"]["max_abs_diff"] == pytest.approx(0.5, abs=0.05)


# -- torch.compile: the compile time apart from the forwards --------------------------------


@pytest.mark.slow
def test_compile_time_is_recorded_apart_from_the_forwards(tmp_path):
    """torch.compile of ParT on CPU takes minutes (slow): compile_s is the first call,
    warmup_call_s every untimed call (the recompilation at the trimmed length included),
    and the timed forwards are far shorter."""
    spec = _spec(tmp_path, [variant(), variant(backend="compile")], batch_size=1, particles=8)
    measure_group(spec)
    rec = _records(spec)["random/compile-fp32"]
    assert rec["status"] == "ok", rec["error"]
    assert rec["compile_s"] == rec["warmup_call_s"][0] and len(rec["warmup_call_s"]) == rec["warmup_calls"]
    assert rec["compile_s"] > 10 * rec["latency_ms_p50"] / 1e3
    assert rec["output_check"]["passed"]


# -- a model's minimum particle count -------------------------------------------------------


def test_the_fewest_particle_slots_are_read_from_the_model():
    particlenet = WEAVER_CONFIGS / "ParticleNet.py"
    assert inputs.min_particles(build_model(particlenet).model) == 17  # k = 16 neighbours + itself
    fewer = [(8, (16, 16, 16)), (12, (16, 16, 16))]  # another k: read from the model, not a name
    assert inputs.min_particles(build_model(particlenet, conv_params=fewer).model) == 13
    assert inputs.min_particles(build_model(particlenet, for_inference=True).model) == 17
    assert inputs.min_particles(build_model().model) == 1  # ParT: any length
    arrays = {"x": np.zeros((2, 3, 128), np.float32)}
    assert inputs.trim_to_longest(arrays, np.array([5, 9]), 17)["x"].shape == (2, 3, 17)
    assert inputs.trim_to_longest(arrays, np.array([5, 40]), 17)["x"].shape == (2, 3, 40)
    assert inputs.trim_to_longest({"x": arrays["x"][..., :12]}, np.array([5, 9]), 17)["x"].shape == (2, 3, 12)


def test_particlenet_runs_exported_on_real_jets_shorter_than_its_k_plus_one(tmp_path):
    """ParticleNet asks every particle for its k = 16 nearest neighbours and itself: fed a
    batch trimmed to a longest jet of fewer than 17 particles, the exported graph's TopK
    failed. The trimming keeps the model's 17 slots (padded slots sit far away, carry no
    features), so ONNX Runtime agrees with eager fp32 on the timed batch and the test jets."""
    files = []
    for i, label in enumerate(("label_QCD", "label_Hbb")):
        files.append(tmp_path / f"{label[6:]}_000.root")
        _write_labelled(files[-1], label, 6, seed=10 + i, particles=(3, 17))
    data = [str(f) for f in files]
    vs = [VariantSpec("ParticleNet_full", "random", backend, "fp32",
                      network_config=str(WEAVER_CONFIGS / "ParticleNet.py"), data_config=str(DEFAULT_DATA_CONFIG))
          for backend in ("eager", "onnxruntime", "onnxruntime_bucketed", "eager_bucketed")]
    spec = _spec(tmp_path, vs, particles="real", data=data, batch_size=4, quality_data=data, quality_jets=12)
    measure_group(spec)
    recs = _records(spec)
    assert all(r["status"] == "ok" for r in recs.values()), {k: r["error"] for k, r in recs.items()}
    for backend in ("onnxruntime", "onnxruntime_bucketed", "eager_bucketed"):
        rec = recs[f"random/{backend}-fp32"]
        assert rec["inputs"]["particles_max"] < 17 and rec["particles_padded"] == 17
        assert rec["output_check"]["passed"] and rec["quality"]["jets"] == 12
        assert rec["quality"]["max_abs_diff"] <= rec["quality"]["tolerance"]
    # every jet is shorter than 17: one sub-batch, at the model's 17 slots
    assert recs["random/onnxruntime_bucketed-fp32"]["bucketing"]["sub_batches"] == [[4, 17]]


# -- sub-batching by multiplicity -----------------------------------------------------------


def test_the_plan_is_the_cheapest_contiguous_cut_of_the_sorted_jets():
    import itertools

    from jetprof.profiling import bucketing

    def cost(parts):
        return sum(bucketing.OVERHEAD_SLOTS + (b - a) * (n + n * n / bucketing.QUADRATIC_SCALE) for a, b, n in parts)

    rng = np.random.default_rng(0)
    for trial in range(30):
        counts = rng.integers(1, 128, int(rng.integers(1, 10)))
        floor = 17 if trial % 3 == 0 else 1
        order, parts = bucketing.plan(counts, floor)
        lengths = np.maximum(counts[order], floor)
        assert sorted(order) == list(range(len(counts))) and list(lengths) == sorted(lengths)
        assert parts[0][0] == 0 and parts[-1][1] == len(counts)
        assert all(a < b and n == lengths[b - 1] for a, b, n in parts)
        assert all(p[1] == q[0] for p, q in itertools.pairwise(parts))
        best = min(cost([(a, b, int(lengths[b - 1])) for a, b in zip((0, *cuts), (*cuts, len(counts)), strict=True)])
                   for k in range(len(counts)) for cuts in itertools.combinations(range(1, len(counts)), k))
        assert cost(parts) == pytest.approx(best)
    assert bucketing.plan(np.array([5, 80, 6, 81]))[1] == [(0, 2, 6), (2, 4, 81)]  # two groups, two calls
    assert bucketing.plan(np.array([40] * 8))[1] == [(0, 8, 40)]  # equal jets: one call
    order = np.array([2, 0, 3, 1])
    assert list(np.array([10, 11, 12, 13])[order][bucketing.inverse(order)]) == [10, 11, 12, 13]


def test_bucketed_variants_put_every_jet_back_in_its_place(tmp_path, test_jets):
    """Real-like jets of 5 to 29 particles, in the files' order (not sorted): each bucketed
    variant is cut into sub-batches and agrees with eager fp32 jet by jet, on the timed batch
    (the output check) and on the test jets (quality), within eager fp32's own tolerance."""
    vs = [variant(), variant(backend="eager_bucketed"), variant(backend="onnxruntime_bucketed"),
          variant(backend="eager_bucketed", precision="bf16")]
    spec = _spec(tmp_path, vs, particles="real", data=test_jets, batch_size=12, quality_data=test_jets,
                 quality_jets=18, profiler_pass=True)
    measure_group(spec)
    recs = _records(spec)
    assert all(r["status"] == "ok" for r in recs.values()), {k: r["error"] for k, r in recs.items()}
    longest = recs["random/eager-fp32"]["inputs"]["particles_max"]
    for key in ("random/eager_bucketed-fp32", "random/onnxruntime_bucketed-fp32", "random/eager_bucketed-bf16"):
        rec = recs[key]
        cut = rec["bucketing"]
        assert sum(n for n, _ in cut["sub_batches"]) == 12 and len(cut["sub_batches"]) >= 2
        assert [n for _, n in cut["sub_batches"]] == sorted(n for _, n in cut["sub_batches"])
        assert cut["slots"] < cut["slots_trimmed"] == 12 * longest and rec["particles_padded"] == longest
        assert rec["output_check"]["passed"] and rec["output_check"]["top1_agreement"] == 1.0
        assert rec["quality"]["jets"] == 18 and rec["quality"]["max_abs_diff"] <= rec["quality"]["tolerance"]
        assert 0 < rec["flops_per_jet"] < recs["random/eager-fp32"]["flops_per_jet"]  # less padding
    assert recs["random/eager_bucketed-fp32"]["output_check"]["tolerance"] == 1e-2
    assert recs["random/onnxruntime_bucketed-fp32"]["onnx"]["trimmed"]
    assert recs["random/onnxruntime_bucketed-fp32"]["profiler"]["tool"] == "onnxruntime"
    table = comparisons(load_groups([tmp_path / "paired"]), 0.05)
    axes = {(row.axis, row.variant.split("/")[-1]) for row in table.itertuples()
            if row.baseline.endswith("eager-fp32")}
    assert {("backend", "eager_bucketed-fp32"), ("backend", "onnxruntime_bucketed-fp32"),
            ("deployment", "eager_bucketed-bf16")} <= axes
