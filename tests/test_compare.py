"""Paired comparisons: the statistics, the pairs a group allows, the verdicts, the answer.

The measuring side is real (tests/test_profiling*.py); here the comparisons are
computed from rounds files, some measured for real (a positive control: the padded
ONNX graph against eager PyTorch on short jets is several times slower) and some
written with known ratios.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import write_group

from jetprof import stats
from jetprof.cli import main as jetprof_main
from jetprof.contract import Variant, compared_pairs
from jetprof.errors import JetprofError
from jetprof.report.answers import answer_markdown, weights_answer
from jetprof.report.compare import comparisons, load_groups, pooled


def test_ratio_is_the_median_of_per_round_ratios_with_a_deterministic_interval():
    rng = np.random.default_rng(1)
    drift = np.linspace(1.0, 1.5, 30)  # the machine slows by half over the rounds
    base = 10 * drift * rng.normal(1, 0.01, 30)
    var = 11 * drift * rng.normal(1, 0.01, 30)
    ratio, low, high = stats.ratio_ci(base, var, seed=3)
    assert ratio == pytest.approx(1.1, abs=0.01)
    assert low < ratio < high and high - low < 0.03  # drift cancels within rounds
    assert stats.ratio_ci(base, var, seed=3) == (ratio, low, high)
    # unpaired, the same drift makes the medians' ratio far less certain
    idx = rng.integers(0, 30, (2000, 30))
    idx2 = rng.integers(0, 30, (2000, 30))
    unpaired = np.quantile(np.median(var[idx], 1) / np.median(base[idx2], 1), [0.025, 0.975])
    assert unpaired[1] - unpaired[0] > 3 * (high - low)


@pytest.mark.parametrize(("low", "high", "verdict"), [
    (0.97, 1.03, "same"), (0.95, 1.05, "same"), (1.06, 1.2, "different"), (0.5, 0.94, "different"),
    (1.02, 1.08, "inconclusive"), (0.9, 1.1, "inconclusive")])
def test_verdicts(low, high, verdict):
    assert stats.verdict(low, high, 0.05) == verdict


def test_bad_statistics_input():
    with pytest.raises(ValueError, match="equal lengths"):
        stats.ratio_ci([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="at least 2"):
        stats.ratio_ci([1], [1])
    with pytest.raises(ValueError, match="must be > 0"):
        stats.verdict(0.9, 1.1, 0)


def test_pairs_differ_in_one_axis_and_hold_its_baseline():
    v = [Variant("P", "random", "eager", "fp32"), Variant("P", "random", "eager", "fp32", 1),
         Variant("P", "trained", "eager", "fp32"), Variant("P", "random", "onnxruntime", "fp32"),
         Variant("P", "trained", "onnxruntime", "fp32"), Variant("P", "random", "eager", "bf16"),
         Variant("K", "random", "eager", "fp32")]
    pairs = {(p.axis, p.baseline.label, p.variant.label) for p in compared_pairs(v)}
    assert pairs == {
        ("control", "P/random/eager-fp32", "P/random/eager-fp32#2"),
        ("weights", "P/random/eager-fp32", "P/trained/eager-fp32"),
        ("weights", "P/random/onnxruntime-fp32", "P/trained/onnxruntime-fp32"),
        ("backend", "P/random/eager-fp32", "P/random/onnxruntime-fp32"),
        ("backend", "P/trained/eager-fp32", "P/trained/onnxruntime-fp32"),
        ("precision", "P/random/eager-fp32", "P/random/eager-bf16"),
        ("model", "P/random/eager-fp32", "K/random/eager-fp32"),
    }  # trained-ONNX vs random-eager differ in two axes: never compared


def test_comparisons_and_the_weights_answer_from_known_rounds(tmp_path):
    rng = np.random.default_rng(0)
    base = list(20 * rng.normal(1, 0.02, 20))
    same = [x * rng.normal(1, 0.005) for x in base]
    slower = [x * 1.3 * rng.normal(1, 0.005) for x in base]
    g = write_group(tmp_path / "paired" / "g.json", {"P/random/eager-fp32": base, "P/random/eager-fp32#2": same,
                                                 "P/trained/eager-fp32": slower})
    table = comparisons(load_groups([tmp_path / "paired"]), 0.05)
    assert list(table["axis"]) == ["control", "weights"]
    control, weights = table.iloc[0], table.iloc[1]
    assert control["control"] and control["verdict"] == "same"
    assert weights["verdict"] == "different" and weights["ratio"] == pytest.approx(1.3, abs=0.01)
    assert weights["ci95_low"] > 1.25 and weights["memory_ratio"] == 1.0 and weights["flops_ratio"] == 1.0
    assert weights["group"] == str(g) and weights["rounds"] == 20
    answer = weights_answer(table)
    assert answer["verdict"] == "different" and answer["threshold"] == 0.05
    assert answer["comparisons"][0]["ci95"] == [weights["ci95_low"], weights["ci95_high"]]
    assert answer["control"][0]["verdict"] == "same" and answer["memory_identical"]
    cov = answer["aa_coverage"]  # the one A/A control's interval holds 1
    assert (cov["held"], cov["stated"], cov["pairs"]) == (1, 1, 1)
    assert cov["interval"][0] == pytest.approx(0.025) and cov["interval"][1] == 1.0
    assert "**A/A coverage**: 1 of the 1 A/A controls' 95 % intervals hold 1" in answer_markdown(answer)


PENALTY = {"ratio": 3.1, "ci95": [2.9, 3.3], "verdict": "different", "threshold": 0.05, "rounds": 30,
           "matrix_size": 256, "cpu": "Intel(R) Xeon(R) (GenuineIntel family 6 model 85)", "flushed": None}


@pytest.mark.parametrize(("subnormal", "penalty", "starts"), [
    ({"P/trained": {"weights": 0, "activations": 0}, "P/random": {"weights": 0, "activations": 0}}, PENALTY, "yes"),
    ({"P/trained": {"weights": 12, "activations": 0}}, {**PENALTY, "verdict": "same"}, "not necessarily"),
    ({"P/trained": {"weights": 12, "activations": 3}}, PENALTY, "no: the weight states hold 15"),
    ({"P/trained": {"weights": 12, "activations": 0}}, None, "unknown"),
])
def test_the_answer_says_whether_it_carries_over_to_another_cpu(tmp_path, subnormal, penalty, starts):
    from jetprof.report.answers import answer_markdown
    from jetprof.report.compare import cpu_context

    rng = np.random.default_rng(1)
    base = list(20 * rng.normal(1, 0.02, 12))
    write_group(tmp_path / "g.json", {"P/random/eager-fp32": base, "P/trained/eager-fp32": base})
    groups = load_groups([tmp_path / "g.json"])
    context = cpu_context(groups, [{"device": "cpu", "subnormal_penalty": penalty}] if penalty else [])
    answer = weights_answer(comparisons(groups, 0.05), subnormal, cpu=context)
    assert answer["cpu"]["carries_over"].startswith(starts)
    md = answer_markdown(answer)
    if penalty:
        assert "**3.100×** [2.900, 3.300]" in md and PENALTY["cpu"] in md


def test_the_answer_does_not_depend_on_the_order_of_the_group_files(tmp_path):
    """The same groups in config order, sorted and shuffled: byte-identical table and answer."""
    import json
    import random

    from jetprof.cli import main as jetprof_main

    rng = np.random.default_rng(3)
    paths = []
    for bs in (1, 4, 8, 32, 64):
        base = list(10 * bs ** 0.5 * rng.lognormal(0, 0.05, 12))
        path = write_group(tmp_path / "paired" / f"bs{bs}.json", {
            "P/random/eager-fp32": base, "P/random/eager-fp32#2": [x * rng.lognormal(0, 0.03) for x in base],
            "P/trained/eager-fp32": [x * rng.lognormal(0, 0.04) for x in base]})
        doc = json.loads(path.read_text())
        doc["batch_size"] = bs
        path.write_text(json.dumps(doc))
        paths.append(str(path))
    outputs = []
    orders = [paths, sorted(paths, reverse=True), random.Random(5).sample(paths, len(paths))]
    for k, order in enumerate(orders):
        out = tmp_path / f"run{k}"
        out.mkdir()
        assert jetprof_main(["compare", "--out-csv", str(out / "c.csv"), "--answer-json", str(out / "a.json"),
                             "--answer-md", str(out / "a.md"), *order]) == 0
        outputs.append([(out / n).read_bytes() for n in ("c.csv", "a.json", "a.md")])
    assert outputs[0] == outputs[1] == outputs[2]
    assert json.loads(outputs[0][1])["pooled"][0]["points"] == 5


def test_a_noisy_control_makes_the_answer_inconclusive(tmp_path):
    rng = np.random.default_rng(2)
    base = list(20 * rng.normal(1, 0.01, 12))
    write_group(tmp_path / "g.json", {"P/random/eager-fp32": base,
                                  "P/random/eager-fp32#2": [x * rng.normal(1.0, 0.3) for x in base],
                                  "P/trained/eager-fp32": [x * rng.normal(1, 0.004) for x in base]})
    groups = load_groups([tmp_path / "g.json"])
    table = comparisons(groups, 0.05)
    answer = weights_answer(table, pooled=pooled(groups, 0.05))
    assert table.iloc[1]["verdict"] == "same" and table.iloc[0]["verdict"] != "same"
    assert answer["verdict"] == "inconclusive" and "too noisy" in " ".join(answer["reasons"])


def test_compare_cli_writes_csv_json_and_markdown(tmp_path, capsys):
    rng = np.random.default_rng(4)
    base = list(5 * rng.normal(1, 0.01, 10))
    write_group(tmp_path / "paired" / "cpu" / "preal" / "bs8.json",
           {"P/random/eager-fp32": base, "P/random/eager-fp32#2": [x * rng.normal(1, 0.004) for x in base],
            "P/trained/eager-fp32": [x * rng.normal(1, 0.004) for x in base]})
    out = tmp_path / "summary"
    argv = ["compare", str(tmp_path / "paired"), "--out-csv", str(out / "comparisons.csv"),
            "--answer-json", str(out / "weights_answer.json"), "--answer-md", str(out / "weights_answer.md")]
    assert jetprof_main(argv) == 0
    table = pd.read_csv(out / "comparisons.csv")
    assert {"baseline", "variant", "axis", "device", "backend", "precision", "batch_size", "particles",
            "ratio", "ci95", "rounds", "verdict", "memory_ratio", "control"} <= set(table.columns)
    answer = json.loads((out / "weights_answer.json").read_text())
    assert answer["verdict"] == "same" and answer["threshold"] == 0.05
    assert {"baseline", "variant", "axis", "ratio", "ci95", "verdict", "control"} <= set(answer["comparisons"][0])
    md = (out / "weights_answer.md").read_text()
    assert "**No**" in md and f"{answer['comparisons'][0]['ratio']:.3f}" in md
    assert (out / "comparisons.csv").stat().st_mode & 0o044  # readable by collaborators


@pytest.mark.parametrize(("argv", "message"), [
    (["--threshold", "0"], "must be > 0"),
    (["--threshold", "-0.1"], "must be > 0"),
])
def test_compare_bad_input_is_one_line(tmp_path, capsys, argv, message):
    g = write_group(tmp_path / "g.json", {"P/random/eager-fp32": [1.0, 1.1], "P/trained/eager-fp32": [1.0, 1.1]})
    assert jetprof_main(["compare", str(g), "--out-csv", str(tmp_path / "c.csv"), *argv]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not (tmp_path / "c.csv").exists()


def test_not_a_group_file_is_named(tmp_path, capsys):
    bad = tmp_path / "x.json"
    bad.write_text('{"schema_version": 1}')
    assert jetprof_main(["compare", str(bad), "--out-csv", str(tmp_path / "c.csv")]) == 1
    assert f"{bad}: not a jetprof paired group file" in capsys.readouterr().err


@pytest.mark.slow  # a real measurement, 10 s
def test_a_measured_positive_control_and_a_measured_aa_pair(tmp_path):
    """Real measurement: at 16 particles the padded ONNX graph computes 128 slots, the
    eager model 16: the comparison must say ``different``; the A/A pair ``same`` or at
    worst ``inconclusive`` on a busy machine, never ``different``."""
    out = tmp_path / "r"
    argv = ["profile", "--device", "cpu", "--particles", "16", "--batch-sizes", "4", "--process", "spawn",
            "--backends", "eager-fp32,onnxruntime_padded-fp32", "--rounds", "10", "--max-rounds", "20",
            "--no-profiler-pass", "--out", str(out)]
    assert jetprof_main(argv) == 0
    table = comparisons(load_groups([out / "paired"]), 0.05)
    by_axis = {row.axis: row for row in table.itertuples()}
    assert by_axis["backend"].verdict == "different" and by_axis["backend"].ratio > 2
    assert by_axis["control"].verdict != "different"


def test_a_group_whose_variants_read_different_jets_is_refused(tmp_path, monkeypatch):
    from jetprof.errors import BadInputError
    from jetprof.profiling import measure
    from jetprof.profiling.spec import GroupSpec, VariantSpec

    class FakeBatch:
        def __init__(self, source):
            self.source = source

    from jetprof.profiling.record import blank_record

    variants = [VariantSpec("P", "random", "eager", "fp32", "n", "d"),
                VariantSpec("K", "random", "eager", "fp32", "n", "e")]
    spec = GroupSpec("cpu", "real", 2, variants, out=str(tmp_path))
    slots = [measure.Slot(v, blank_record(spec, v)) for v in variants]
    slots[0].batch, slots[1].batch = FakeBatch({"files": ["a.root"]}), FakeBatch({"files": ["b.root"]})
    spec = GroupSpec("cpu", "real", 2, [s.spec for s in slots], out=str(tmp_path))
    with pytest.raises(BadInputError, match="do not share inputs"):
        measure._check_same_jets(spec, slots)
    assert isinstance(BadInputError("x"), JetprofError)


def test_the_deployment_ladder_names_the_fastest_variant_within_the_auc_budget(tmp_path):
    from jetprof.report.deployment import fastest, ladder

    rng = np.random.default_rng(5)
    base = list(10 * rng.normal(1, 0.01, 12))
    write_group(tmp_path / "g.json", {
        "P/trained/eager-fp32": base,
        "P/trained/onnxruntime-fp32": [x / 2.0 * rng.normal(1, 0.004) for x in base],
        "P/trained/onnxruntime-int8": [x / 3.0 * rng.normal(1, 0.004) for x in base],
        "P/trained/eager-bf16": [x * 1.2 * rng.normal(1, 0.004) for x in base]})
    table = comparisons(load_groups([tmp_path / "g.json"]), 0.05)
    assert set(table["axis"]) == {"backend", "precision", "deployment"}
    points = pd.DataFrame([
        {"model": "P", "weights": "trained", "device": "cpu", "backend": b, "precision": p, "particles": "real",
         "batch_size": 8, "quality_auc_macro": auc, "quality_auc_macro_reference": 0.93}
        for b, p, auc in (("onnxruntime", "fp32", 0.93), ("onnxruntime", "int8", 0.925), ("eager", "bf16", 0.93))])
    rungs = ladder(table, points, auc_loss=0.001)
    by = rungs.set_index("variant")
    assert by.loc["onnxruntime-int8", "speedup"] == pytest.approx(3.0, rel=0.02)
    assert not by.loc["onnxruntime-int8", "within"]  # 0.005 of AUC lost: over the budget
    assert by.loc["onnxruntime-fp32", "within"] and by.loc["eager-bf16", "within"]
    best = fastest(rungs)
    assert best == [{"model": "P", "device": "cpu", "particles": "real", "batch_size": 8, "variant": "onnxruntime-fp32",
                     "weights": "trained",
                     "speedup": pytest.approx(2.0, rel=0.02), "speedup_ci95": best[0]["speedup_ci95"],
                     "delta_auc": 0.0}]
    assert fastest(ladder(table, points, auc_loss=0.01))[0]["variant"] == "onnxruntime-int8"


def test_compare_cli_writes_the_deployment_ladder(tmp_path, capsys):
    rng = np.random.default_rng(6)
    base = list(10 * rng.normal(1, 0.01, 10))
    write_group(tmp_path / "paired" / "g.json", {"P/trained/eager-fp32": base,
                                             "P/trained/onnxruntime-fp32": [x / 2 for x in base]})
    points = tmp_path / "points.csv"
    pd.DataFrame([{"model": "P", "weights": "trained", "device": "cpu", "backend": "onnxruntime",
                   "precision": "fp32", "particles": "real", "batch_size": 8, "quality_auc_macro": 0.9,
                   "quality_auc_macro_reference": 0.9}]).to_csv(points, index=False)
    out = tmp_path / "s"
    argv = ["compare", str(tmp_path / "paired"), "--out-csv", str(out / "c.csv"), "--points", str(points),
            "--deployment-json", str(out / "d.json"), "--deployment-md", str(out / "d.md")]
    assert jetprof_main(argv) == 0, capsys.readouterr().err
    doc = json.loads((out / "d.json").read_text())
    assert doc["fastest"][0]["variant"] == "onnxruntime-fp32" and doc["auc_loss"] == 0.001
    assert "`onnxruntime-fp32`**, 2.00× faster" in (out / "d.md").read_text()
    assert jetprof_main(["plot", "deployment", "--deployment", str(out / "d.json"),
                         "--out", str(out / "d.png")]) == 0
    assert jetprof_main(["compare", str(tmp_path / "paired"), "--out-csv", str(out / "c2.csv"),
                         "--deployment-json", str(out / "d2.json")]) == 1
    assert "need --points" in capsys.readouterr().err


def test_pooling_decides_what_single_noisy_points_cannot(tmp_path):
    """Six noisy points of a true null: each alone is often undecided at ±5 %; pooled
    they say 'same'. A real 8 % slowdown, undecided point by point, is 'different' pooled."""
    rng = np.random.default_rng(11)
    for true_ratio, expected in ((1.0, "same"), (1.08, "different")):
        folder = tmp_path / f"r{true_ratio}"
        for i in range(6):
            base = list(10 * rng.normal(1, 0.08, 16))
            write_group(folder / f"g{i}.json", {
                "P/random/eager-fp32": base,
                "P/random/eager-fp32#2": [x * rng.normal(1, 0.08) for x in base],
                "P/trained/eager-fp32": [x * true_ratio * rng.normal(1, 0.08) for x in base]})
        groups = load_groups([folder])
        table = comparisons(groups, 0.05)
        answer = weights_answer(table, pooled=pooled(groups, 0.05))
        states = [p for p in answer["pooled"] if not p["control"]]
        assert states[0]["points"] == 6 and states[0]["verdict"] == expected, states
        assert answer["verdict"] == expected, answer["reasons"]
        assert "inconclusive" in set(table[table.axis == "weights"].verdict)  # alone, some points can't tell


def test_a_bias_that_holds_per_process_is_inside_the_stated_interval(tmp_path):
    """Four processes, each with its own 3 % placement bias on the trained variant (true ratio 1):
    the within-process rounds are tight, so only the spread between processes can cover the truth."""
    rng = np.random.default_rng(4)
    base, trained, process = [], [], []
    for k, bias in enumerate((1.03, 0.97, 1.02, 0.99)):
        b = list(10 * rng.normal(1, 0.02, 10))
        base += b
        trained += [x * bias * rng.normal(1, 0.002) for x in b]
        process += [k] * 10
    write_group(tmp_path / "paired" / "g.json", {"P/random/eager-fp32": base, "P/trained/eager-fp32": trained},
                process=process)
    row = comparisons(load_groups([tmp_path / "paired"]), 0.05).iloc[0]
    assert row["method"] == "processes-t" and row["processes"] == 4 and row["rounds"] == 40
    assert row["ci95_low"] <= 1.0 <= row["ci95_high"] and row["between_share"] > 0.9
    assert row["half_width"] == pytest.approx((row["ci95_high"] - row["ci95_low"]) / 2)
    one = stats.exact_ratio_ci(base[:10], trained[:10])  # process 0 alone: sure, and wrong
    assert one[1] > 1.0


def test_older_group_files_compare_and_say_which_method_they_used(tmp_path):
    rng = np.random.default_rng(2)
    base = list(10 * rng.normal(1, 0.02, 12))
    write_group(tmp_path / "old" / "g.json", {"P/random/eager-fp32": base,
                                              "P/trained/eager-fp32": [x * 1.2 for x in base]})
    write_group(tmp_path / "few" / "g.json", {"P/random/eager-fp32": base[:4],
                                              "P/trained/eager-fp32": [x * 1.2 for x in base[:4]]})
    old = comparisons(load_groups([tmp_path / "old"]), 0.05).iloc[0]
    assert old["method"] == "order-statistic" and old["processes"] == 1 and old["verdict"] == "different"
    assert old["clock"] == "wall" and old["between_share"] is None
    few = comparisons(load_groups([tmp_path / "few"]), 0.05).iloc[0]
    # four rounds hold no distribution-free 95 % interval: none is stated, and nothing is decided
    assert few["verdict"] == "inconclusive" and np.isnan(few["ci95_low"]) and few["half_width"] is None
    from jetprof.records import ComparisonRow

    written_before = {k: v for k, v in old.to_dict().items()
                      if k not in ("method", "half_width", "processes", "between_share", "clock")}
    assert ComparisonRow.from_json(written_before).method == "bootstrap"


def test_an_a_a_control_same_at_each_of_its_two_points_settles_it_though_its_pool_is_wide(tmp_path):
    """Two points pooled with random effects give a t interval with one degree of freedom (12.7 × the
    standard error); each point's own interval over four processes says 'same', which settles it."""
    rng = np.random.default_rng(8)
    process = [k for k in range(4) for _ in range(8)]
    for i, offset in enumerate((1.012, 0.988)):  # the two points' A/A ratios sit apart: no common truth
        base = list(10 * rng.normal(1, 0.01, 32))
        write_group(tmp_path / "p" / f"g{i}.json", {
            "P/random/eager-fp32": base,
            "P/random/eager-fp32#2": [x * offset * rng.normal(1, 0.002) for x in base],
            "P/trained/eager-fp32": [x * rng.normal(1, 0.002) for x in base]}, process=process)
    groups = load_groups([tmp_path / "p"])
    table = comparisons(groups, 0.05)
    assert set(table[table.axis == "control"].verdict) == {"same"}
    pools = pooled(groups, 0.05)
    control = next(p for p in pools if p["control"])
    assert control["verdict"] != "same" and control["half_width"] > 0.05  # wide: t with 1 degree of freedom
    answer = weights_answer(table, pooled=pools)
    assert answer["verdict"] == "same", answer["reasons"]
