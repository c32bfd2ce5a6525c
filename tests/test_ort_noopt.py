"""``onnxruntime_noopt``: ONNX Runtime with graph optimisation off, a rung below ``onnxruntime``.

The runner's session really runs at ``ORT_DISABLE_ALL`` (read back from the session),
computes what the optimised session computes, and a group with the rung writes valid
records that say the level, compared with eager and with ``onnxruntime``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from jetprof.contract import DEFAULT_DATA_CONFIG, DEFAULT_NETWORK_CONFIG, pair_problem  # noqa: E402
from jetprof.model import inputs  # noqa: E402
from jetprof.model.build import build_model  # noqa: E402
from jetprof.profiling import backends, ort_noopt  # noqa: E402
from jetprof.profiling.measure import measure_group  # noqa: E402
from jetprof.profiling.spec import GroupSpec, VariantSpec  # noqa: E402
from jetprof.records import OnnxBlock, PointRecord, validate_record  # noqa: E402
from jetprof.report.compare import comparisons, load_groups  # noqa: E402


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """A random-weight ParT exported as the ONNX backends run it, and a batch of 3 jets."""
    from jetprof.model.export import export_onnx

    built = build_model(str(DEFAULT_NETWORK_CONFIG), str(DEFAULT_DATA_CONFIG), for_inference=True)
    batch = inputs.synthetic_batch(built.data_config, 3, 20, seed=1)
    path = tmp_path_factory.mktemp("noopt") / "part.onnx"
    model = built.model.eval().requires_grad_(False)
    export_onnx(model, built.model_info, [torch.from_numpy(batch.arrays[n]) for n in built.input_names], str(path))
    return str(path), inputs.trim_to_longest(batch.arrays, batch.n_particles), batch


def _record(backend):
    rec = PointRecord.blank(model="ParT", weights="random", device="cpu", backend=backend, precision="fp32",
                            batch_size=3, particles=20, seed=1, threads=1, warmup_calls=1)
    rec.onnx = OnnxBlock()
    return rec


def _make(factory, path, arrays, tmp_path):
    rec = _record("onnxruntime_noopt")
    made = factory("x", "fp32", path, torch.device("cpu"), 1, arrays, True, str(tmp_path), rec, 1)
    return made, rec


def test_the_session_runs_unoptimised_and_says_so(export, tmp_path):
    path, arrays, _ = export
    made, rec = _make(ort_noopt.runner, path, arrays, tmp_path)
    level = made.session.get_session_options().graph_optimization_level
    assert level == ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    assert rec.onnx.graph_optimization_level == "ORT_DISABLE_ALL"
    optimised, rec_on = _make(backends.ort_runner, path, arrays, tmp_path)
    assert optimised.session.get_session_options().graph_optimization_level == \
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert rec_on.onnx.graph_optimization_level == "ORT_ENABLE_ALL"
    # the same graph, node by node: the same softmax up to rounding
    np.testing.assert_allclose(made()[0], optimised()[0], atol=1e-5)


def test_the_registry_makes_it_through_the_exported_dispatch(export, tmp_path):
    path, arrays, _ = export
    rec = _record("onnxruntime_noopt")
    made = backends.exported_runner("onnxruntime_noopt", "fp32", path, torch.device("cpu"), 1, arrays, True,
                                    str(tmp_path), rec, 1)
    assert isinstance(made, ort_noopt.NoOptOrtRunner) and rec.onnx.graph_optimization_level == "ORT_DISABLE_ALL"


def test_it_runs_where_onnxruntime_runs():
    for device in ("cpu", "cuda:0", "mps"):
        for precision in ("fp32", "bf16", "fp16", "int8"):
            assert pair_problem("onnxruntime_noopt", precision, device) == (
                None if pair_problem("onnxruntime", precision, device) is None
                else pair_problem("onnxruntime", precision, device).replace("onnxruntime-", "onnxruntime_noopt-", 1))


def test_a_group_with_the_rung_writes_valid_records_and_a_comparison(tmp_path: Path):
    def v(backend: str) -> VariantSpec:
        return VariantSpec("ParT_full", "random", backend, "fp32", network_config=str(DEFAULT_NETWORK_CONFIG),
                           data_config=str(DEFAULT_DATA_CONFIG))

    spec = GroupSpec(device="cpu", batch_size=2, particles=24, out=str(tmp_path), rounds=2, max_rounds=2, warmup=1,
                     profiler_pass=False, cache_dir=str(tmp_path),
                     variants=[v("eager"), v("onnxruntime"), v("onnxruntime_noopt")])
    measure_group(spec)
    recs = {}
    for variant in spec.variants:
        rec = json.loads(spec.record_path(variant).read_text())
        validate_record(rec, str(spec.record_path(variant)))
        recs[variant.backend] = rec
    noopt = recs["onnxruntime_noopt"]
    assert noopt["status"] == "ok", noopt["error"]
    assert noopt["onnx"]["graph_optimization_level"] == "ORT_DISABLE_ALL" and noopt["onnx"]["trimmed"]
    assert noopt["output_check"]["passed"] and noopt["latency_ms_p50"] > 0
    assert recs["onnxruntime"]["onnx"]["graph_optimization_level"] == "ORT_ENABLE_ALL"
    table = comparisons(load_groups([tmp_path / "paired"]), 0.05)
    assert ("backend", "ParT_full/random/onnxruntime_noopt-fp32") in {(r.axis, r.variant) for r in table.itertuples()}
