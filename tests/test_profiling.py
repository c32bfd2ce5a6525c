"""The forward-pass profiler, in-process: FLOPs, memory, inputs, backends, records, bad input.

These call the same code the child process runs (``measure_group``) without the
fork, to stay fast; tests/test_profiling_cli.py covers the child processes and
tests/test_compare.py the paired comparisons.
"""

from __future__ import annotations

import csv
import gzip
import json
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from faults import env as fault_env  # noqa: E402

from jetprof.cli import main as jetprof_main  # noqa: E402
from jetprof.contract import DEFAULT_DATA_CONFIG, DEFAULT_NETWORK_CONFIG  # noqa: E402
from jetprof.errors import JetprofError  # noqa: E402
from jetprof.model import inputs  # noqa: E402
from jetprof.model.build import build_model  # noqa: E402
from jetprof.model.flops import count_flops  # noqa: E402
from jetprof.profiling.measure import is_oom, measure_group  # noqa: E402
from jetprof.profiling.memory import cpu_peak_bytes  # noqa: E402
from jetprof.profiling.record import blank_record  # noqa: E402
from jetprof.profiling.spec import GroupSpec, VariantSpec  # noqa: E402
from jetprof.records import validate_record  # noqa: E402

WEAVER_MMAC_128 = 341.56e6  # weaver's log for ParT_full at 128 particles


@pytest.fixture(scope="module")
def built():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    b = build_model()
    b.model.eval().requires_grad_(False)
    return b


def _tensors(b, batch):
    return [torch.from_numpy(batch.arrays[n]) for n in b.input_names]


def _warm(model, xs, n=6):
    with torch.inference_mode():
        for _ in range(n):
            model(*xs)


def variant(weights="random", backend="eager", precision="fp32", checkpoint=None, replica=0,
            model="ParT_full", data_config=DEFAULT_DATA_CONFIG) -> VariantSpec:
    return VariantSpec(model, weights, backend, precision, network_config=str(DEFAULT_NETWORK_CONFIG),
                       data_config=str(data_config), checkpoint=checkpoint, replica=replica)


def _spec(tmp_path: Path, variants=None, **kw) -> GroupSpec:
    base = dict(device="cpu", batch_size=2, particles=32, variants=variants or [variant()], out=str(tmp_path),
                rounds=3, max_rounds=3, warmup=1, profiler_pass=False)
    base.update(kw)
    return GroupSpec(**base)


def measure_point(spec: GroupSpec) -> dict:
    """Measure a one-variant group; its record."""
    measure_group(spec)
    return json.loads(spec.record_path(spec.variants[0]).read_text())


def _record(tmp_path: Path, bs: int = 2, particles=32, weights="random", backend="eager-fp32") -> Path:
    return tmp_path / "profile" / "ParT_full" / weights / "cpu" / backend / f"p{particles}" / f"bs{bs}.json"


def test_flops_at_128_particles_agree_with_weaver(built):
    batch = inputs.synthetic_batch(built.data_config, 1, 128, seed=0)
    xs = _tensors(built, batch)
    _warm(built.model, xs)
    flops = count_flops(built.model, xs)
    assert flops == pytest.approx(2 * WEAVER_MMAC_128, rel=0.05)
    # fewer particles, fewer FLOPs (the trimmer cuts the padding after warm-up)
    small = count_flops(built.model, _tensors(built, inputs.synthetic_batch(built.data_config, 1, 16, 0)))
    assert small < flops / 5


def test_cpu_memory_grows_linearly_with_batch(built):
    peaks = {}
    for bs in (1, 2, 4):
        xs = _tensors(built, inputs.synthetic_batch(built.data_config, bs, 128, seed=0))
        _warm(built.model, xs)

        def fwd(xs=xs):
            with torch.inference_mode():
                return built.model(*xs)

        peaks[bs] = cpu_peak_bytes(fwd)
    assert 2 * 2**20 < peaks[1] < 20 * 2**20  # a few MiB per jet at 128 particles
    assert peaks[2] / peaks[1] == pytest.approx(2, rel=0.2)
    assert peaks[4] / peaks[1] == pytest.approx(4, rel=0.2)


def test_record_of_one_point(tmp_path):
    rec = measure_point(_spec(tmp_path, profiler_pass=True))
    path = _record(tmp_path)
    on_disk = json.loads(path.read_text())
    assert on_disk == json.loads(json.dumps(rec))
    validate_record(on_disk)
    tmp_path = path.parent
    assert on_disk["status"] == "ok" and on_disk["error"] is None
    assert len(on_disk["latency_ms_samples"]) == on_disk["repeats"] == 3 == on_disk["paired"]["rounds"]
    assert on_disk["paired"]["round_latency_ms"] == on_disk["latency_ms_samples"]
    assert on_disk["paired"]["group"] == "paired/cpu/p32/bs2.json"
    assert on_disk["subnormal"]["weights"] == 0 and on_disk["subnormal"]["weight_values"] > 2143486
    assert on_disk["flush_denormal"] is False
    assert all(x > 0 for x in on_disk["latency_ms_samples"])
    assert 0 < on_disk["latency_ms_p5"] <= on_disk["latency_ms_p50"] <= on_disk["latency_ms_p95"]
    assert on_disk["throughput_jets_per_s"] == pytest.approx(2e3 / on_disk["latency_ms_p50"])
    # the trimmer cut 128 → 32 after warm-up; FLOPs are counted at that length
    assert on_disk["particles_padded"] == 32 and on_disk["particles_mean"] == 32
    assert on_disk["flops_particles"] == 32 and on_disk["params"] == 2143486
    assert on_disk["achieved_flops_per_s"] == pytest.approx(
        on_disk["flops_per_jet"] * on_disk["throughput_jets_per_s"])
    assert on_disk["memory_method"] == "profiler_memory_events" and on_disk["peak_memory_bytes"] > 0
    assert on_disk["wall_over_cpu"] > 0 and on_disk["env"]["threads"] == 1
    # ParT's trimmer leaves 5 calls untrimmed: they run first, then the 1 configured warm-up call
    assert on_disk["model_warmup_calls"] == 5 and on_disk["warmup_calls"] == 6
    assert "at::get_num_threads() : 1" in on_disk["env"]["parallel_info"]
    assert on_disk["env"]["weaver"] == "0.5.3" and on_disk["env"]["cpu_model"]
    # the separate profiler pass: per-op table and a gzipped Chrome trace
    with open(tmp_path / on_disk["ops_table"]) as f:
        rows = {r["name"]: r for r in csv.DictReader(f)}
    assert float(rows["aten::addmm"]["self_cpu_ms"]) > 0 and float(rows["aten::addmm"]["calls"]) >= 1
    trace = json.loads(gzip.open(tmp_path / on_disk["trace"]).read())
    assert any(e.get("name") == "aten::addmm" for e in trace["traceEvents"])
    assert on_disk["top_ops"][0]["self_ms"] >= on_disk["top_ops"][-1]["self_ms"]


def test_latency_grows_with_multiplicity(tmp_path):
    p50 = {}
    for n in (16, 128):
        rec = measure_point(_spec(tmp_path / f"p{n}", particles=n, batch_size=4, rounds=4, max_rounds=4))
        assert rec["status"] == "ok" and rec["particles_padded"] == n
        p50[n] = rec["latency_ms_p50"]
    assert p50[128] > p50[16]


def _write_root(path: Path, counts: list[int], data_config) -> None:
    uproot = pytest.importorskip("uproot")
    raw = inputs.synthetic_raw_jets(len(counts), np.array(counts), sorted(data_config.test_load_branches), 7)
    raw = {k: (v.astype(np.float32) if isinstance(v, np.ndarray) else v) for k, v in raw.items()}
    with uproot.recreate(path) as f:
        f.mktree("tree", {k: v.type.content if hasattr(v, "layout") else v.dtype for k, v in raw.items()})
        f["tree"].extend(raw)


def test_real_jets_same_every_time_and_trimmed(tmp_path, built):
    counts = [12, 40, 25, 7, 33]
    _write_root(tmp_path / "val_000.root", counts, built.data_config)
    files = inputs.expand_data_glob([str(tmp_path / "*.root")])
    b1 = inputs.real_batch(files, built.data_config, 8)
    b2 = inputs.real_batch(files, built.data_config, 8)
    assert b1.source["repeated"] and b1.source["distinct_jets"] == 5
    assert list(b1.n_particles) == [12, 40, 25, 7, 33, 12, 40, 25]
    for k in b1.arrays:
        np.testing.assert_array_equal(b1.arrays[k], b2.arrays[k])
    rec = measure_point(_spec(tmp_path / "out", particles="real", data=files, batch_size=3))
    assert rec["status"] == "ok"
    assert rec["particles_padded"] == 40 and rec["particles_mean"] == pytest.approx(77 / 3)


def test_onnxruntime_matches_eager_and_runs_as_a_point(tmp_path):
    from jetprof.model.export import export_onnx
    from jetprof.profiling.backends import OrtRunner

    torch.manual_seed(1)
    b = build_model(for_inference=True)
    m = b.model.eval().requires_grad_(False)
    batch = inputs.synthetic_batch(b.data_config, 3, 50, seed=3)
    xs = _tensors(b, batch)
    export_onnx(m, b.model_info, xs, str(tmp_path / "m.onnx"))
    ort_out = OrtRunner(str(tmp_path / "m.onnx"), torch.device("cpu"), 1, batch.arrays)()[0]
    with torch.inference_mode():
        eager = m(*xs).numpy()
    assert ort_out.shape == (3, 10)
    np.testing.assert_allclose(ort_out, eager, atol=1e-5)
    rec = measure_point(_spec(tmp_path / "ort", [variant(backend="onnxruntime_padded")], profiler_pass=True))
    assert rec["status"] == "ok", rec["error"]
    assert rec["particles_padded"] == 128 and rec["flops_particles"] == 128  # no trimming in the export
    assert rec["onnx"]["trimmed"] is False
    assert rec["memory_method"] == "not_measured" and rec["peak_memory_bytes"] is None
    assert rec["profiler"]["tool"] == "onnxruntime"
    assert any(op["name"] in ("MatMul", "Gemm", "FusedMatMul") for op in rec["top_ops"])


def test_onnxruntime_output_that_differs_from_eager_fails_the_point(tmp_path, monkeypatch):
    from jetprof.profiling import backends

    real_call = backends.OrtRunner.__call__

    def off_by_a_bit(self):  # beyond fp32's 1e-2: a broken export, not rounding
        out = real_call(self)
        return [out[0] + 0.03, *out[1:]]

    monkeypatch.setattr(backends.OrtRunner, "__call__", off_by_a_bit)
    rec = measure_point(_spec(tmp_path, [variant(backend="onnxruntime")]))
    assert rec["status"] == "error" and "differs from eager by 0.03" in rec["error"]
    assert rec["onnx"]["max_abs_diff_vs_eager"] == pytest.approx(0.03, rel=1e-3)


def test_oom_is_recorded_not_raised(tmp_path, monkeypatch):
    # the test's hook raises torch.OutOfMemoryError in the first timed turn (exercises the handling only)
    for name, value in fault_env("oom@2").items():
        monkeypatch.setenv(name, value)
    rec = measure_point(_spec(tmp_path))
    validate_record(json.loads(_record(tmp_path).read_text()))
    assert rec["status"] == "oom" and "OutOfMemoryError" in rec["error"]


def test_oom_classification():
    assert is_oom(torch.OutOfMemoryError("CUDA out of memory"))
    assert is_oom(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 9 GB"))
    assert is_oom(MemoryError())
    assert not is_oom(RuntimeError("shape mismatch"))
    assert not is_oom(ValueError("out of memory"))


def test_schema_rejects_inconsistent_record(tmp_path):
    spec = _spec(tmp_path)
    rec = blank_record(spec, spec.variants[0])
    rec.status, rec.error, rec.env = "ok", None, {}
    with pytest.raises(JetprofError, match="invalid profile record"):
        validate_record(rec, "x.json")


def _not_a_state_dict(tmp_path: Path) -> str:
    path = tmp_path / "list.pt"
    torch.save([1, 2, 3], path)
    return str(path)


def _bad_checkpoint(tmp_path: Path) -> str:
    path = tmp_path / "bad.pt"
    torch.save({"mod.cls_token": torch.zeros(3)}, path)
    return str(path)


BAD_INPUTS = [
    (["--batch-sizes", "1,0"], "positive"),
    (["--backends", "eager-fp16"], "fp16"),
    (["--weights", "trained"], "--checkpoint"),
    (["--weights", "trained,pretrained", "--checkpoint", "x.pt"], "which weight state"),
    (["--weights", "banana"], "unknown weight state"),
    (["--backends", "eager-fp64"], "not a backend-precision pair"),
    (["--rounds", "1"], "at least 2"),
    (["--threshold", "0"], "must be > 0"),
    (["--particles", "real"], "--data"),
    (["--particles", "real", "--data", "/nonexistent/*.root"], "no data files"),
    (["--warmup", "0"], "at least 1"),
    (["--weights", "trained", "--checkpoint", "/nonexistent/x.pt"], "checkpoint not found"),
    (["--weights", "trained", "--checkpoint", "BAD"], "does not fit the model"),
    (["--particles", "300"], "between 1 and 128"),
    (["--backends", "onnxruntime-bf16"], "fp32 only"),
    (["--weights", "trained", "--checkpoint", "NOTSTATE"], "not a state dict"),
]
if not torch.cuda.is_available():
    BAD_INPUTS.append((["--device", "cuda"], "no CUDA device"))


@pytest.mark.parametrize(("extra", "message"), BAD_INPUTS)
def test_bad_input_is_one_line_error_before_any_work(tmp_path, capsys, extra, message):
    extra = [_bad_checkpoint(tmp_path) if x == "BAD" else _not_a_state_dict(tmp_path) if x == "NOTSTATE"
             else x for x in extra]
    out = tmp_path / "out"
    argv = ["profile", "--device", "cpu", "--particles", "8", "--out", str(out), *extra]
    assert jetprof_main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and err.startswith("jetprof profile: error:")
    assert not out.exists()


def test_peak_matmul(tmp_path, capsys):
    from jetprof.profiling.peak import matmul_flops_per_s

    r = matmul_flops_per_s(torch.device("cpu"), torch.float32, 256, min_time_s=0.1, rounds=2)
    assert r["matmul_flops_per_s"] > 1e8 and r["matrix_size"] == 256
    assert jetprof_main(["profile", "--peak", "--device", "cpu", "--out", str(tmp_path / "cpu.json")]) == 0
    peak = json.loads((tmp_path / "cpu.json").read_text())
    assert peak["device"] == "cpu" and peak["dtype"] == "fp32" and peak["matmul_flops_per_s"] > 1e8
    assert peak["env"]["cpu_model"] and peak["env"]["cpu"]["vendor"] and peak["env"]["cpu"]["flags"]
    # the CPU's subnormal penalty, measured beside the ceiling, paired
    pen = peak["subnormal_penalty"]
    assert pen["subnormal_fraction"] == 1.0 and 30 <= pen["rounds"] <= 120
    assert pen["cpu"].startswith(peak["env"]["cpu_model"])
    assert pen["ci95"][0] <= pen["ratio"] <= pen["ci95"][1] and pen["verdict"] in ("same", "different", "inconclusive")
    assert peak["tf32"] is None  # a CUDA setting


def test_paired_turns_see_a_known_difference_and_none_between_equals():
    """The penalty's pairing on work whose cost is known exactly: one matmul against two."""
    from jetprof import stats
    from jetprof.profiling.peak import _paired_turns

    # one thread, as the study measures: two threads on two busy cores wait on each other
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _known_and_equal_pairs(stats, _paired_turns)
    finally:
        torch.set_num_threads(threads)


def _known_and_equal_pairs(stats, _paired_turns):
    a = torch.randn(128, 128)
    one = lambda: torch.mm(a, a)  # noqa: E731
    two = lambda: (torch.mm(a, a), torch.mm(a, a))  # noqa: E731
    # each side's turn is ~20 ms of its own calls (the two-matmul side makes half as many)
    x, y = _paired_turns(one, two, rounds=20, min_turn_s=0.02)
    ratio, low, high = stats.ratio_ci(x, y)
    # the median is robust to a loaded machine; the interval's width is not, so only its
    # lower end is held: the known difference is seen (per call, not per turn: each side's
    # turn lasts the same ~20 ms, so a ratio of turns would be ~1)
    assert 1.8 < ratio < 2.2 and 1.5 < low <= ratio <= high, (ratio, low, high)
    x, y = _paired_turns(one, one, rounds=20, min_turn_s=0.02)
    ratio, low, high = stats.ratio_ci(x, y)
    assert 0.9 < ratio < 1.1 and low <= ratio <= high, (ratio, low, high)  # equal work: near 1
    # a side 30x slower than the other gets turns of its own length, not 30x longer ones
    def slow() -> None:
        for _ in range(30):
            torch.mm(a, a)

    t = time.perf_counter()
    x, y = _paired_turns(one, slow, rounds=10, min_turn_s=0.02)
    took = time.perf_counter() - t
    assert 24 < stats.ratio_ci(x, y)[0] < 36 and took < 10 * 2 * 0.02 * 4, took


CPUINFO_ZEN4 = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC
stepping\t: 1
flags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512_bf16 avx512_vnni

processor\t: 1
vendor_id\t: AuthenticAMD
"""
CPUINFO_GRACE = """processor\t: 0
BogoMIPS\t: 2000.00
Features\t: fp asimd evtstrm aes sha2 crc32 atomics fphp asimdhp asimddp sve sve2 i8mm bf16 svebf16
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x0
CPU part\t: 0xd4f
CPU revision\t: 0
"""


def test_cpu_info_names_the_chip_beyond_its_marketing_name():
    from jetprof.platforms import cpu_label
    from jetprof.profiling.env import cpu_info

    zen = cpu_info(CPUINFO_ZEN4, "Linux")
    assert zen["vendor"] == "AuthenticAMD" and (zen["family"], zen["model"]) == ("25", "17")
    assert zen["flags"] == ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16"]
    assert cpu_label(zen) == "AMD EPYC (AuthenticAMD family 25 model 17)"
    grace = cpu_info(CPUINFO_GRACE, "Linux")
    assert grace["model_name"] == "ARM Neoverse V2" and {"sve2", "bf16", "i8mm"} <= set(grace["flags"])
    assert cpu_label(None, "AMD EPYC") == "AMD EPYC"  # a record made before the cpu block
    assert cpu_label({"vendor": "Apple", "model_name": "Apple M3", "flags": []}) == "Apple M3"


def test_flops_subset_keeps_the_longest_jet():
    from jetprof.profiling.measure import FLOPS_JETS, _flops_subset

    n = np.full(200, 10)
    n[150] = 90
    idx = _flops_subset(n)
    assert len(idx) == FLOPS_JETS and 150 in idx and n[idx].max() == 90
    assert list(_flops_subset(np.array([3, 5]))) == [0, 1]


def test_flops_per_jet_on_the_subset_are_the_whole_trimmed_batch_s(built):
    """FLOPs are counted on FLOPS_JETS of a batch's jets, the longest among them: every jet of a
    trimmed batch is padded to the longest, so the subset's FLOPs per jet are the whole batch's,
    but for ParT's pair-embedding convolution, which weaver runs on a data-dependent number of
    pairs (measured: 6 % of that convolution, 0.2 % of the total, for these jets)."""
    from jetprof.model.flops import count_flops
    from jetprof.model.inputs import mask_input, trim_to_longest
    from jetprof.profiling.measure import FLOPS_JETS, _flops_subset

    names = built.input_names
    batch = inputs.synthetic_batch(built.data_config, 32, 40, seed=1)
    mask = batch.arrays[mask_input(names)]
    n = np.random.default_rng(2).integers(5, 40, size=32)
    n[20] = 40
    for i, k in enumerate(n):  # jets of 5 to 40 particles, the longest not among the first eight
        mask[i, :, k:] = 0
        for name in names:
            batch.arrays[name][i, ..., k:] = 0
    arrays = trim_to_longest(batch.arrays, n)
    whole = [torch.from_numpy(arrays[name]) for name in names]
    idx = _flops_subset(n)
    assert len(idx) == FLOPS_JETS < 32 and 20 in idx
    sub = [t[torch.as_tensor(idx)] for t in whole]
    assert count_flops(built.model, sub) / len(idx) == pytest.approx(count_flops(built.model, whole) / 32, rel=0.005)


def test_process_mode_forks_only_cpu_points_from_a_torch_free_parent():
    import subprocess
    import sys

    from jetprof.profiling.cli import process_mode

    # this test process has imported torch: it could no longer pin threads before it
    assert process_mode("auto", "cpu") == "spawn"
    assert process_mode("spawn", "cpu") == "spawn"
    assert process_mode("auto", "cuda:0") == "spawn"  # a forked child must never inherit CUDA state
    with pytest.raises(JetprofError, match="already imported"):
        process_mode("fork", "cpu")
    with pytest.raises(JetprofError, match="only CPU groups"):
        process_mode("fork", "cuda:0")
    code = "from jetprof.profiling.cli import process_mode; print(process_mode('auto', 'cpu', 'Linux'))"
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert fresh.stdout.strip() == "fork"


def test_process_mode_spawns_every_group_on_macos_even_from_a_torch_free_parent():
    import subprocess
    import sys

    from jetprof.profiling.cli import process_mode

    # the macOS policy, forced on Linux: fork after system frameworks have loaded is unsafe there
    code = ("from jetprof.profiling.cli import process_mode;"
            "print(process_mode('auto', 'cpu', 'Darwin'), process_mode('auto', 'mps', 'Darwin'))")
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert fresh.stdout.split() == ["spawn", "spawn"]
    with pytest.raises(JetprofError, match=r"not safe on Darwin.*--process spawn"):
        process_mode("fork", "cpu", "Darwin")
    assert process_mode("spawn", "cpu", "Darwin") == "spawn"


def test_maxrss_is_read_in_the_platforms_unit():
    from jetprof.profiling.runner import maxrss_bytes

    assert maxrss_bytes(2048, "linux") == 2048 * 1024  # Linux: kibibytes
    assert maxrss_bytes(2048, "darwin") == 2048  # macOS: bytes
