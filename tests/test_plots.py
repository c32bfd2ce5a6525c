"""Tests of ``jetprof plot``: the plotted values are the records' values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from conftest import write_group
from test_summarize import make_record, record_path, write_study

from jetprof.cli import main
from jetprof.errors import JetprofError
from jetprof.records import load_record
from jetprof.report import cli as plot_cli
from jetprof.report import curves, ops, paired, style, training
from jetprof.report.summarize import build_table, load_records, summarize

CLASSES = ["QCD", "Hbb", "Hcc", "Hgg", "H4q", "Hqql", "Zqq", "Wqq", "Tbqq", "Tbl"]


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("study")
    records = write_study(root / "profile")
    table = summarize([root / "profile"], root / "points.csv")
    return {"root": root, "records": records, "table": plot_cli.load_table(root / "points.csv"),
            "raw_table": table}


@pytest.fixture(autouse=True)
def _close_figures() -> Any:
    yield
    plt.close("all")


def _rec(records: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    found = [r for r in records if all(r[k] == v for k, v in match.items())]
    assert len(found) == 1, match
    return found[0]


def _metrics() -> dict[str, Any]:
    """Metrics in the format jetprof evaluate writes (its own compute_metrics)."""
    from jetprof.data.jetclass import PROCESSES
    from jetprof.train.evaluate import compute_metrics

    rng = np.random.default_rng(5)
    truth = np.repeat(np.arange(10), 40)
    logits = rng.normal(size=(400, 10))
    logits[np.arange(400), truth] += 2.0
    scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    metrics = compute_metrics([p.label for p in PROCESSES], truth, scores, roc_points=50)
    metrics["training"] = {"epochs": [0, 1], "train_loss": [2.2, 1.9], "train_acc": [0.15, 0.3],
                           "val_loss": [2.1, 1.95], "val_acc": [0.2, None], "best_epoch": 0,
                           "best_val_acc": 0.2}
    return metrics


def test_latency_vs_batch_plots_the_records(study: dict[str, Any]) -> None:
    plot = curves.latency_vs_batch(study["table"], weights="trained", particles="real")
    data = plot.data
    # default selection: trained weights, real jets; 2 backends x 4 batch sizes
    assert len(data) == 8
    for backend in ("eager", "onnxruntime"):
        for batch in (1, 8, 32):
            rec = _rec(study["records"], weights="trained", backend=backend, batch_size=batch,
                       particles="real")
            row = data[(data.backend == backend) & (data.x == batch)].iloc[0]
            assert row.y == pytest.approx(rec["latency_ms_p50"])
            assert row.y_low == pytest.approx(rec["latency_ms_p5"])
            assert row.y_high == pytest.approx(rec["latency_ms_p95"])
    # the OOM point: marked, not on the curve
    oom = data[data.status == "oom"]
    assert list(zip(oom.backend, oom.x)) == [("eager", 64.0)]
    ax = plot.figure.axes[0]
    eager = next(line for line in ax.lines if line.get_label() == "cpu · eager fp32")
    assert list(eager.get_xdata()) == [1, 8, 32]
    np.testing.assert_allclose(eager.get_ydata(), [
        _rec(study["records"], weights="trained", backend="eager", batch_size=b,
             particles="real")["latency_ms_p50"] for b in (1, 8, 32)])
    assert eager.get_color() == style.DEVICE_COLOURS["cpu"]
    assert eager.get_linestyle() == "-"
    ort = next(line for line in ax.lines if line.get_label() == "cpu · onnxruntime fp32")
    assert ort.get_linestyle() == "--" and ort.get_color() == style.DEVICE_COLOURS["cpu"]
    assert "OOM" in [t.get_text() for t in ax.texts]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    footer = plot.figure.texts[-1].get_text()
    assert "Test CPU @ 2.0GHz" in footer and "torch 2.13.0+cpu" in footer and "threads 1" in footer


def test_weights_selection(study: dict[str, Any]) -> None:
    data = curves.latency_vs_batch(study["table"], weights="random", particles="real").data
    rec = _rec(study["records"], weights="random", backend="eager", batch_size=8, particles="real")
    assert data[(data.backend == "eager") & (data.x == 8)].y.iloc[0] == \
        pytest.approx(rec["latency_ms_p50"])


def test_throughput_and_memory(study: dict[str, Any]) -> None:
    thr = curves.throughput_vs_batch(study["table"], weights="trained", particles="real").data
    rec = _rec(study["records"], weights="trained", backend="eager", batch_size=32, particles="real")
    row = thr[(thr.backend == "eager") & (thr.x == 32)].iloc[0]
    assert row.y == pytest.approx(rec["throughput_jets_per_s"])
    assert row.y_low == pytest.approx(32e3 / rec["latency_ms_p95"])
    mem = curves.memory_vs_batch(study["table"], weights="trained", particles="real")
    # onnxruntime has no memory figure: not drawn, and said so
    assert set(mem.data.backend) == {"eager"}
    assert any("onnxruntime fp32: memory not measured" in n for n in mem.notes)
    row = mem.data[mem.data.x == 32].iloc[0]
    assert row.y == pytest.approx(rec["peak_memory_bytes"] / 2**20)
    labels = [t.get_text() for t in mem.figure.axes[0].get_legend().get_texts()]
    assert any("torch.profiler" in label for label in labels)  # what the number means


def test_multiplicity_curves_cross(study: dict[str, Any]) -> None:
    data = curves.latency_vs_multiplicity(study["table"], weights="trained", batch_size=8).data
    assert sorted(set(data.x)) == [16, 32, 64, 128]
    eager = data[data.backend == "eager"].set_index("x").y
    ort = data[data.backend == "onnxruntime"].set_index("x").y
    assert eager[16] < ort[16] and eager[128] > ort[128]
    rec = _rec(study["records"], backend="onnxruntime", particles=64)
    assert ort[64] == pytest.approx(rec["latency_ms_p50"])



def _numeric_main_grid(root: Path) -> list[dict[str, Any]]:
    """A study whose main grid is fixed particle counts (16 and 128) at batch sizes 1 and 32
    with three backends, beside a multiplicity curve (16..128 particles) at batch size 8
    with eager only: batch 8 has the fewest numeric points, so "the most measured batch
    size" is not the curve's."""
    records = []
    for weights_ in ("random", "trained"):
        for backend in ("eager", "onnxruntime", "compile"):
            for n in (16, 128):
                for batch in (1, 32):
                    records.append(make_record(weights=weights_, backend=backend, particles=n,
                                               batch_size=batch))
    for n in (16, 32, 64, 128):
        records.append(make_record(weights="trained", backend="eager", particles=n, batch_size=8,
                                   latency_ms=0.5 * n))
    for rec in records:
        path = record_path(root, rec)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(rec))
    return records


def test_multiplicity_curve_is_the_one_asked_for_with_numeric_main_grid(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = _numeric_main_grid(tmp_path / "profile")
    summarize([tmp_path / "profile"], tmp_path / "points.csv")
    table = plot_cli.load_table(tmp_path / "points.csv")
    data = curves.latency_vs_multiplicity(table, weights="trained", batch_size=8).data
    assert sorted(data.x) == [16, 32, 64, 128] and set(data.backend) == {"eager"}
    for rec in records:
        if rec["batch_size"] == 8:
            assert data.set_index("x").y[rec["particles"]] == pytest.approx(rec["latency_ms_p50"])
    # the figure takes its batch size; it does not guess one
    with pytest.raises(TypeError):
        curves.latency_vs_multiplicity(table, weights="trained")  # type: ignore[call-arg]
    # the command line refuses to guess between batch sizes 1, 8 and 32 ...
    out = tmp_path / "m.png"
    rc = main(["plot", "latency_vs_multiplicity", "--table", str(tmp_path / "points.csv"),
               "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 1 and not out.exists() and err.count("\n") == 1
    assert "batch sizes of fixed-multiplicity points measured (1, 8, 32)" in err
    assert "--batch-size (profile.multiplicity.batch_size)" in err
    # ... and draws the curve it is told
    args = _plot_args("latency_vs_multiplicity", "--table", str(tmp_path / "points.csv"),
                      "--batch-size", "8")
    drawn = plot_cli.make_plot("latency_vs_multiplicity", args).data
    assert drawn[["backend", "x", "y"]].equals(data[["backend", "x", "y"]])
    # the batch-size figures likewise need the particle count of the grid they show
    with pytest.raises(JetprofError, match=r"several particle settings measured \(16, 32, 64, "
                                           r"128\): choose one with --particles"):
        plot_cli.make_plot("latency_vs_batch", _plot_args(
            "latency_vs_batch", "--table", str(tmp_path / "points.csv")))
    grid = plot_cli.make_plot("latency_vs_batch", _plot_args(
        "latency_vs_batch", "--table", str(tmp_path / "points.csv"), "--particles", "128")).data
    # (the curve's 128-particle point at batch 8 belongs to that grid too)
    assert sorted(set(grid.x)) == [1, 8, 32]
    assert set(grid.backend) == {"eager", "onnxruntime", "compile"}


def test_selection_defaults_take_only_what_was_measured(study: dict[str, Any]) -> None:
    table = study["table"]
    assert plot_cli.pick(table["particles"], "--particles", "particle settings",
                         prefer="real") == "real"
    assert plot_cli.pick(table["weights"], "--weights", "weight states",
                         prefer="trained") == "trained"
    random = table[table.weights == "random"]["weights"]
    assert plot_cli.pick(random, "--weights", "weight states", prefer="trained") == "random"
    assert plot_cli.pick(["8", "8"], "--batch-size", "batch sizes") == "8"
    assert plot_cli.pick([], "--batch-size", "batch sizes") == ""
    with pytest.raises(JetprofError, match=r"several batch sizes measured \(2, 8, 16\)"):
        plot_cli.pick([16, 2, 8], "--batch-size", "batch sizes")
    # the default study: real jets in the main grid, one multiplicity batch size
    args = _plot_args("latency_vs_multiplicity", "--table", str(study["root"] / "points.csv"))
    assert sorted(plot_cli.make_plot("latency_vs_multiplicity", args).data.x.unique()) == [
        16, 32, 64, 128]

def test_roofline_uses_peak(study: dict[str, Any]) -> None:
    peaks = plot_cli.load_peaks([study["root"] / "profile" / "peak" / "cpu.json"])
    plot = curves.roofline(study["table"], peaks, weights="trained", particles="real")
    peak = plot.data[plot.data.status == "peak"]
    assert peak.y.tolist() == [pytest.approx(90.0)]
    rec = _rec(study["records"], weights="trained", backend="eager", batch_size=8, particles="real")
    row = plot.data[(plot.data.backend == "eager") & (plot.data.x == 8)].iloc[0]
    assert row.y == pytest.approx(rec["achieved_flops_per_s"] / 1e9)
    hlines = [line for line in plot.figure.axes[0].lines if "ceiling" in str(line.get_label())]
    assert len(hlines) == 1 and hlines[0].get_ydata()[0] == pytest.approx(90.0)


def test_op_breakdown_from_records(study: dict[str, Any]) -> None:
    records = load_records([study["root"] / "profile"])
    data = ops.op_breakdown(records, weights="trained", particles="real").data
    assert set(data.backend) == {"eager"}  # ORT ops are not in torch.profiler
    assert sorted(set(data.batch_size)) == [1, 8, 32]
    per_bar = data.groupby("batch_size").share_percent.sum()
    np.testing.assert_allclose(per_bar, 100.0)
    rec = _rec(study["records"], weights="trained", backend="eager", batch_size=8, particles="real")
    assert set(data.op) == {op["name"] for op in rec["top_ops"][:8]} | {"other"}
    total = sum(op["self_ms"] for op in rec["top_ops"])
    addmm = data[(data.batch_size == 8) & (data.op == "aten::addmm")].share_percent.iloc[0]
    assert addmm == pytest.approx(100 * rec["top_ops"][0]["self_ms"] / total)


def test_op_breakdown_prefers_ops_table(tmp_path: Path) -> None:
    rec = make_record(batch_size=4)
    path = record_path(tmp_path, rec)
    path.parent.mkdir(parents=True)
    rec["ops_table"] = "bs4.ops.csv"
    rec["profiler"] = {"calls": 2, "sorted_by": "self_device_ms", "tool": "torch.profiler"}
    pd.DataFrame({"name": ["aten::addmm", "aten::gelu"], "calls": [10, 5],
                  "self_cpu_ms": [1.0, 1.0], "cpu_total_ms": [2.0, 2.0],
                  "self_device_ms": [3.0, 1.0], "device_total_ms": [3.0, 1.0]}).to_csv(
        path.parent / "bs4.ops.csv", index=False)
    path.write_text(json.dumps(rec))
    data = ops.op_breakdown(load_records([tmp_path]), weights="trained", particles="real").data
    shares = data.set_index("op").share_percent
    assert shares["aten::addmm"] == pytest.approx(75.0)
    assert shares["other"] == 0.0


def test_metrics_figures() -> None:
    metrics = _metrics()
    curves = training.training_curves(metrics).data
    val = curves[(curves.quantity == "acc") & (curves.split == "val")]
    assert val.y.tolist() == [0.2]  # the epoch without a value is not drawn
    train = curves[(curves.quantity == "loss") & (curves.split == "train")]
    assert train.epoch.tolist() == [0, 1] and train.y.tolist() == [2.2, 1.9]
    plot = training.roc(metrics)
    roc = plot.data
    assert set(roc["class"]) == set(CLASSES[1:])
    hbb = roc[roc["class"] == "Hbb"]
    curve = metrics["roc"]["Hbb"]
    keep = [(t, 1 / f) for t, f in zip(curve["tpr"], curve["fpr"]) if f > 0 and t > 0]
    np.testing.assert_allclose(hbb.tpr, [k[0] for k in keep])
    np.testing.assert_allclose(hbb.rejection, [k[1] for k in keep])
    labels = [t.get_text() for t in plot.figure.axes[0].get_legend().get_texts()]
    rej = metrics["rejection"]["Hbb"]["rejection"]
    assert any(label.startswith("Hbb: ") and "at 50%" in label
               and (f"{rej:.0f}" in label if rej is not None else "no QCD jet passes" in label)
               for label in labels)
    cm = training.confusion_matrix(metrics).data.set_index(["true", "predicted"])
    counts = metrics["confusion"]["counts"]
    assert cm.loc[("Hbb", "Hcc"), "count"] == counts[1][2]
    assert cm.loc["Hbb"].percent.sum() == pytest.approx(100.0)
    np.testing.assert_allclose(cm.loc["QCD"].percent,
                               100 * np.asarray(metrics["confusion"]["normalized"][0]))
    # no training curves in the metrics: a "no data" figure, not a crash
    assert training.training_curves({**metrics, "training": None}).data.empty


def test_bad_metrics_are_one_line_errors() -> None:
    with pytest.raises(JetprofError, match="metrics have no 'roc' entry"):
        training.roc({"classes": CLASSES})
    with pytest.raises(JetprofError, match="square matrix"):
        training.confusion_matrix({"confusion": [[1, 2, 3]]})
    with pytest.raises(JetprofError, match="2 classes but a 3×3"):
        training.confusion_matrix({"classes": ["a", "b"], "confusion": np.eye(3).tolist()})
    with pytest.raises(JetprofError, match="unequal length"):
        training.training_curves({"training": {"epochs": [0, 1], "train_loss": [1.0]}})


def test_no_data_figures_do_not_crash() -> None:
    table = build_table([(Path("r.json"), load_record(make_record(weights="trained")))])
    plot = curves.latency_vs_multiplicity(table, weights="trained", batch_size=8)
    assert plot.data.empty
    # no comparison of a kind: the paired figure says so
    plot = paired.comparisons(pd.DataFrame(columns=["axis", "threshold"]))
    assert plot.data.empty
    assert any("no comparison" in t.get_text() for t in plot.figure.axes[0].texts)


def test_cli_writes_figures(study: dict[str, Any], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    root = study["root"]
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps(_metrics()))
    for figure in ("latency_vs_batch", "op_breakdown", "roofline", "roc"):
        out = tmp_path / "figures" / f"{figure}.png"
        rc = main(["plot", figure, "--table", str(root / "points.csv"), "--records-dir",
                   str(root / "profile"), "--peak", str(root / "profile" / "peak" / "cpu.json"),
                   "--metrics", str(metrics), "--out", str(out)])
        assert rc == 0, capsys.readouterr().err
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == [
        "latency_vs_batch.png", "op_breakdown.png", "roc.png", "roofline.png"]  # no temp files


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "f.png"
    rc = main(["plot", "latency_vs_batch", "--table", str(tmp_path / "nope.csv"), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and "nope.csv: no such summary table" in err
    rc = main(["plot", "roc", "--out", str(out)])
    assert rc == 1 and "needs --metrics" in capsys.readouterr().err
    bad = tmp_path / "metrics.json"
    bad.write_text("[1,")
    rc = main(["plot", "roc", "--metrics", str(bad), "--out", str(out)])
    assert rc == 1 and "metrics.json: metrics is not valid JSON" in capsys.readouterr().err
    peak = tmp_path / "peak.json"
    peak.write_text(json.dumps({"device": "cpu"}))
    table = tmp_path / "t.csv"
    build_table([(Path("r.json"), load_record(make_record()))]).to_csv(table, index=False)
    rc = main(["plot", "roofline", "--table", str(table), "--peak", str(peak), "--out", str(out)])
    assert rc == 1 and "peak.json: not a peak record" in capsys.readouterr().err
    assert not out.exists()


REPORT_DIR = Path(__file__).resolve().parents[1] / "workflow" / "report"


def test_every_figure_has_a_caption() -> None:
    names = {p.stem for p in REPORT_DIR.glob("*.rst")}
    expected = set(plot_cli.FIGURES) | {"workflow", "summary_table", "validation", "model_card"}
    assert expected <= names, sorted(expected - names)


@pytest.mark.parametrize("caption", sorted(p.name for p in REPORT_DIR.glob("*.rst")))
def test_captions_render_like_snakemake(caption: str) -> None:
    """Jinja (with snakemake.config, as Snakemake's report does) then docutils, strictly."""
    import types

    import yaml
    from docutils.core import publish_parts
    from jinja2 import Environment, StrictUndefined

    config = yaml.safe_load((REPORT_DIR.parents[1] / "config" / "config.yaml").read_text())
    env = Environment(trim_blocks=True, lstrip_blocks=True, undefined=StrictUndefined)
    text = env.from_string((REPORT_DIR / caption).read_text()).render(
        snakemake=types.SimpleNamespace(config=config))
    assert "{{" not in text and "{%" not in text
    html = publish_parts(text, writer="html",
                         settings_overrides={"halt_level": 2, "report_level": 2})["html_body"]
    assert len(html) > 200
    profile = config["profile"]
    if caption == "workflow.rst":
        assert ", ".join(str(b) for b in profile["batch_sizes"]) in html
        assert f"at least {profile['rounds']} rounds" in html
    if caption == "latency_vs_multiplicity.rst":
        assert ", ".join(str(n) for n in profile["multiplicity"]["particles"]) in html


def test_models_figure_compares_models_and_one_model_figures_do_not_mix_them(tmp_path: Path) -> None:
    root = tmp_path / "profile"
    records = write_study(root, oom_at=None)
    extra = []
    for backend in ("eager", "onnxruntime"):
        for batch in (1, 8, 32, 64):
            rec = make_record(weights="random", backend=backend, batch_size=batch, seed=11)
            rec["model"] = "ParT_kin"
            rec["latency_ms_p50"] *= 0.9  # a distinct value to find
            extra.append(rec)
    for rec in extra:
        path = record_path(root, rec)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(rec))
    summarize([root], tmp_path / "points.csv")
    table = plot_cli.load_table(tmp_path / "points.csv")

    plot = curves.models_comparison(table, particles="real")
    data = plot.data
    assert set(data.model) == {"ParT_full", "ParT_kin"} and len(data) == 16
    for rec in extra:
        row = data[(data.model == "ParT_kin") & (data.backend == rec["backend"]) & (data.x == rec["batch_size"])]
        assert row.y.iloc[0] == pytest.approx(rec["latency_ms_p50"])
    labels = {line.get_label() for line in plot.figure.axes[0].lines}
    assert "ParT_kin · cpu · eager fp32" in labels and "ParT_full · cpu · onnxruntime fp32" in labels
    # the trained model is the default of one-model figures, even when only random weights are asked for
    assert plot_cli.default_model(table) == "ParT_full"
    out = tmp_path / "lat.png"
    args = ["plot", "latency_vs_batch", "--table", str(tmp_path / "points.csv"), "--weights", "random",
            "--out", str(out)]
    assert main(args) == 0
    args = _plot_args("latency_vs_batch", "--table", str(tmp_path / "points.csv"), "--weights", "random")
    drawn = plot_cli.make_plot("latency_vs_batch", args).data
    full = [r for r in records if r["weights"] == "random" and r["particles"] == "real"]
    assert len(drawn) == len(full) == 8  # ParT_full's 8 points, not ParT_kin's on the same curves
    # a one-model study says so on the models figure instead of pretending to compare
    single = curves.models_comparison(table[table.model == "ParT_full"], particles="real")
    assert "one model measured" in single.figure.axes[0].get_legend().get_title().get_text()


def _plot_args(figure: str, *options: str) -> Any:
    import argparse

    parser = argparse.ArgumentParser()
    plot_cli.add_arguments(parser)
    return parser.parse_args([figure, *options, "--out", "x.png"])


def _comparisons_csv(tmp_path: Path) -> Path:
    """A comparisons table written by jetprof compare from two groups' rounds."""
    rng = np.random.default_rng(3)
    base = list(10 * rng.normal(1, 0.01, 16))
    for bs, slow in ((1, 1.0), (8, 1.4)):
        labels = (("ParT_full/random/eager-fp32", 1.0), ("ParT_full/random/eager-fp32#2", 1.0),
                  ("ParT_full/trained/eager-fp32", slow), ("ParT_full/random/onnxruntime-fp32", 0.5))
        rounds = {label: [x * factor * rng.normal(1, 0.003) for x in base] for label, factor in labels}
        write_group(tmp_path / "paired" / "cpu" / "preal" / f"bs{bs}.json", rounds,
                    memory=dict.fromkeys(rounds, 100), batch_size=bs)
    out = tmp_path / "comparisons.csv"
    assert main(["compare", str(tmp_path / "paired"), "--out-csv", str(out)]) == 0
    return out


def test_paired_figures_draw_the_comparisons_table(tmp_path: Path) -> None:
    csv_path = _comparisons_csv(tmp_path)
    table = paired.load_comparisons(csv_path)
    drawn = paired.weights_comparison(table).data
    rows = table[table.axis.isin(["weights", "control"])].reset_index(drop=True)
    assert len(drawn) == len(rows) == 4
    np.testing.assert_allclose(drawn.ratio, rows.ratio)
    np.testing.assert_allclose(drawn.ci95_low, rows.ci95_low)
    assert list(drawn.verdict) == list(rows.verdict)  # the figure computes no verdict of its own
    slower = drawn[drawn.label.str.contains("bs 8: trained ÷ random")].iloc[0]
    assert slower.verdict == "different" and slower.ratio == pytest.approx(1.4, abs=0.02)
    assert drawn[drawn.control].verdict.tolist() == ["same", "same"]
    others = paired.comparisons(table).data
    assert set(others.axis) == {"backend"} and (others.ratio < 0.6).all()


def test_cli_draws_the_paired_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_path = _comparisons_csv(tmp_path)
    for figure in ("weights_comparison", "comparisons"):
        out = tmp_path / f"{figure}.png"
        assert main(["plot", figure, "--comparisons", str(csv_path), "--out", str(out)]) == 0
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["plot", "comparisons", "--out", str(tmp_path / "x.png")]) == 1
    assert "needs --comparisons" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    assert main(["plot", "comparisons", "--comparisons", str(bad), "--out", str(tmp_path / "x.png")]) == 1
    assert "not a comparisons table" in capsys.readouterr().err


H100 = Path(__file__).resolve().parents[1] / "results" / "reference" / "h100" / "profile"


def test_the_h100_reference_records_summarise_and_draw(tmp_path: Path) -> None:
    """Real records from an H100 (results/reference/h100) as fixtures: they validate, the
    summary holds one row per record, and the batch curves draw exactly their figures."""
    table = summarize([H100], tmp_path / "points.csv")
    records = load_records([H100])
    assert len(table) == len(records) >= 20
    assert set(table.device) == {"cuda:0"} and (table.memory_method.dropna() != "").all()
    plot = curves.latency_vs_batch(table, weights="random", particles="128")
    fp32 = {r.batch_size: r for _, r in records
            if r.precision == "fp32" and r.status == "ok" and str(r.particles) == "128"}
    drawn = plot.data[(plot.data.precision == "fp32") & (plot.data.status == "ok")]
    assert sorted(drawn.x.astype(int)) == sorted(fp32)
    for row in drawn.itertuples():
        assert row.y == pytest.approx(fp32[int(row.x)].latency_ms_p50)
    memory = curves.memory_vs_batch(table, weights="random", particles="128").data
    big = memory[(memory.precision == "fp32") & (memory.x == 4096)].iloc[0]
    assert big.y == pytest.approx(fp32[4096].peak_memory_bytes / 2**20)


def test_speedup_vs_batch_draws_the_inverse_of_the_paired_ratios(tmp_path: Path) -> None:
    table = paired.load_comparisons(_comparisons_csv(tmp_path))
    drawn = paired.speedup_vs_batch(table).data
    rows = table[table.axis.isin(["backend", "precision", "deployment"])].sort_values("batch_size")
    assert list(drawn.x) == [1, 8] == list(rows.batch_size)  # onnxruntime over eager at both sizes
    np.testing.assert_allclose(drawn.y, 1 / rows.ratio.to_numpy())
    np.testing.assert_allclose(drawn.y_low, 1 / rows.ci95_high.to_numpy())
    np.testing.assert_allclose(drawn.y_high, 1 / rows.ci95_low.to_numpy())
    assert list(drawn.y) == pytest.approx([2.0, 2.0], abs=0.05) and list(drawn.verdict) == list(rows.verdict)
    assert set(drawn.variant) == {"ParT_full/random/onnxruntime-fp32"}  # weights and the control are not drawn
    out = tmp_path / "speedup_vs_batch.png"
    assert main(["plot", "speedup_vs_batch", "--comparisons", str(tmp_path / "comparisons.csv"),
                 "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paired.speedup_vs_batch(table[table.axis == "weights"]).data.empty
