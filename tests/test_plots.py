"""Tests of ``jetprof plot``: the plotted values are the records' values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from test_summarize import make_record, record_path, write_study

from jetprof.report import plots
from jetprof.cli import main
from jetprof.errors import JetprofError
from jetprof.report.summarize import build_table, load_records, summarize

CLASSES = ["QCD", "Hbb", "Hcc", "Hgg", "H4q", "Hqql", "Zqq", "Wqq", "Tbqq", "Tbl"]


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("study")
    records = write_study(root / "profile")
    table = summarize([root / "profile"], root / "points.csv")
    return {"root": root, "records": records, "table": plots.load_table(root / "points.csv"),
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
    from jetprof.train.evaluate import compute_metrics
    from jetprof.data.jetclass import PROCESSES

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
    plot = plots.latency_vs_batch(study["table"])
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
    assert eager.get_color() == plots.DEVICE_COLOURS["cpu"]
    assert eager.get_linestyle() == "-"
    ort = next(line for line in ax.lines if line.get_label() == "cpu · onnxruntime fp32")
    assert ort.get_linestyle() == "--" and ort.get_color() == plots.DEVICE_COLOURS["cpu"]
    assert "OOM" in [t.get_text() for t in ax.texts]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    footer = plot.figure.texts[-1].get_text()
    assert "Test CPU @ 2.0GHz" in footer and "torch 2.13.0+cpu" in footer and "threads 1" in footer


def test_weights_selection(study: dict[str, Any]) -> None:
    data = plots.latency_vs_batch(study["table"], weights="random").data
    rec = _rec(study["records"], weights="random", backend="eager", batch_size=8, particles="real")
    assert data[(data.backend == "eager") & (data.x == 8)].y.iloc[0] == \
        pytest.approx(rec["latency_ms_p50"])


def test_throughput_and_memory(study: dict[str, Any]) -> None:
    thr = plots.throughput_vs_batch(study["table"]).data
    rec = _rec(study["records"], weights="trained", backend="eager", batch_size=32, particles="real")
    row = thr[(thr.backend == "eager") & (thr.x == 32)].iloc[0]
    assert row.y == pytest.approx(rec["throughput_jets_per_s"])
    assert row.y_low == pytest.approx(32e3 / rec["latency_ms_p95"])
    mem = plots.memory_vs_batch(study["table"])
    # onnxruntime has no memory figure: not drawn, and said so
    assert set(mem.data.backend) == {"eager"}
    assert any("onnxruntime fp32: memory not measured" in n for n in mem.notes)
    row = mem.data[mem.data.x == 32].iloc[0]
    assert row.y == pytest.approx(rec["peak_memory_bytes"] / 2**20)
    labels = [t.get_text() for t in mem.figure.axes[0].get_legend().get_texts()]
    assert any("torch.profiler" in label for label in labels)  # what the number means


def test_multiplicity_curves_cross(study: dict[str, Any]) -> None:
    data = plots.latency_vs_multiplicity(study["table"]).data
    assert sorted(set(data.x)) == [16, 32, 64, 128]
    eager = data[data.backend == "eager"].set_index("x").y
    ort = data[data.backend == "onnxruntime"].set_index("x").y
    assert eager[16] < ort[16] and eager[128] > ort[128]
    rec = _rec(study["records"], backend="onnxruntime", particles=64)
    assert ort[64] == pytest.approx(rec["latency_ms_p50"])


def test_roofline_uses_peak(study: dict[str, Any]) -> None:
    peaks = plots.load_peaks([study["root"] / "profile" / "peak" / "cpu.json"])
    plot = plots.roofline(study["table"], peaks)
    peak = plot.data[plot.data.status == "peak"]
    assert peak.y.tolist() == [pytest.approx(90.0)]
    rec = _rec(study["records"], weights="trained", backend="eager", batch_size=8, particles="real")
    row = plot.data[(plot.data.backend == "eager") & (plot.data.x == 8)].iloc[0]
    assert row.y == pytest.approx(rec["achieved_flops_per_s"] / 1e9)
    hlines = [line for line in plot.figure.axes[0].lines if "ceiling" in str(line.get_label())]
    assert len(hlines) == 1 and hlines[0].get_ydata()[0] == pytest.approx(90.0)


def test_weights_comparison_values_and_ratios(study: dict[str, Any]) -> None:
    data = plots.weights_comparison(study["table"]).data
    lat = data[data.quantity == "latency"]
    assert set(lat.weights) == {"random", "trained"}
    assert sorted(set(lat.batch_size)) == [1, 8, 32]  # the OOM batch is left out
    r = _rec(study["records"], weights="random", backend="eager", batch_size=8, particles="real")
    t = _rec(study["records"], weights="trained", backend="eager", batch_size=8, particles="real")
    row = lat[(lat.weights == "trained") & (lat.batch_size == 8)].iloc[0]
    assert row.y == pytest.approx(t["latency_ms_p50"])
    assert row.y_low == pytest.approx(t["latency_ms_p5"])
    assert row.ratio == pytest.approx(t["latency_ms_p50"] / r["latency_ms_p50"])
    mem = data[data.quantity == "memory"]
    assert (mem.ratio == 1.0).all()


def test_op_breakdown_from_records(study: dict[str, Any]) -> None:
    records = load_records([study["root"] / "profile"])
    data = plots.op_breakdown(records).data
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
    data = plots.op_breakdown(load_records([tmp_path])).data
    shares = data.set_index("op").share_percent
    assert shares["aten::addmm"] == pytest.approx(75.0)
    assert shares["other"] == 0.0


def test_metrics_figures() -> None:
    metrics = _metrics()
    curves = plots.training_curves(metrics).data
    val = curves[(curves.quantity == "acc") & (curves.split == "val")]
    assert val.y.tolist() == [0.2]  # the epoch without a value is not drawn
    train = curves[(curves.quantity == "loss") & (curves.split == "train")]
    assert train.epoch.tolist() == [0, 1] and train.y.tolist() == [2.2, 1.9]
    plot = plots.roc(metrics)
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
    cm = plots.confusion_matrix(metrics).data.set_index(["true", "predicted"])
    counts = metrics["confusion"]["counts"]
    assert cm.loc[("Hbb", "Hcc"), "count"] == counts[1][2]
    assert cm.loc["Hbb"].percent.sum() == pytest.approx(100.0)
    np.testing.assert_allclose(cm.loc["QCD"].percent,
                               100 * np.asarray(metrics["confusion"]["normalized"][0]))
    # no training curves in the metrics: a "no data" figure, not a crash
    assert plots.training_curves({**metrics, "training": None}).data.empty


def test_bad_metrics_are_one_line_errors() -> None:
    with pytest.raises(JetprofError, match="metrics have no 'roc' entry"):
        plots.roc({"classes": CLASSES})
    with pytest.raises(JetprofError, match="square matrix"):
        plots.confusion_matrix({"confusion": [[1, 2, 3]]})
    with pytest.raises(JetprofError, match="2 classes but a 3×3"):
        plots.confusion_matrix({"classes": ["a", "b"], "confusion": np.eye(3).tolist()})
    with pytest.raises(JetprofError, match="unequal length"):
        plots.training_curves({"training": {"epochs": [0, 1], "train_loss": [1.0]}})


def test_no_data_figures_do_not_crash() -> None:
    table = build_table([(Path("r.json"), make_record(weights="trained"))])
    # one weight state only: weights_comparison says so
    plot = plots.weights_comparison(table)
    assert plot.data.empty
    assert any("no data" in t.get_text() for t in plot.figure.axes[0].texts)
    plot = plots.latency_vs_multiplicity(table)
    assert plot.data.empty
    text, ratios = plots.weights_answer(table)
    assert ratios.empty and "Not answerable" in text


def test_weights_answer_quotes_ratios_and_flags_noise(study: dict[str, Any]) -> None:
    text, ratios = plots.weights_answer(study["table"])
    assert text.startswith("# Does the weight state change")
    assert "No measurable difference" in text
    lat = ratios.latency_ratio
    assert f"{lat.min():.3f} to {lat.max():.3f}" in text
    assert "identical bytes at 3 of 3 points" in text
    # a real 30 % slowdown of trained weights must be flagged
    table = study["table"].copy()
    sel = (table.weights == "trained") & (table.backend == "eager") & (table.batch_size == 8) \
        & (table.particles == "real")
    for col in ("latency_ms_p5", "latency_ms_p50", "latency_ms_p95"):
        table.loc[sel, col] *= 1.3
    text, ratios = plots.weights_answer(table, fmt="rst")
    assert "Differences beyond run-to-run noise" in text
    assert "at 1 of 7 points the latency ranges" in text
    assert "**beyond noise**" in text and "``random``" in text


def test_cli_writes_figures_and_answer(study: dict[str, Any], tmp_path: Path,
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
    answer = tmp_path / "answer.md"
    assert main(["plot", "weights_answer", "--table", str(root / "points.csv"),
                 "--out", str(answer)]) == 0
    assert "No measurable difference" in answer.read_text()


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
    build_table([(Path("r.json"), make_record())]).to_csv(table, index=False)
    rc = main(["plot", "roofline", "--table", str(table), "--peak", str(peak), "--out", str(out)])
    assert rc == 1 and "peak.json: not a peak record" in capsys.readouterr().err
    assert not out.exists()


REPORT_DIR = Path(__file__).resolve().parents[1] / "workflow" / "report"


def test_every_figure_has_a_caption() -> None:
    names = {p.stem for p in REPORT_DIR.glob("*.rst")}
    expected = set(plots.FIGURES) | {"workflow", "summary_table", "validation", "model_card"}
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
    table = plots.load_table(tmp_path / "points.csv")

    plot = plots.models_comparison(table)
    data = plot.data
    assert set(data.model) == {"ParT_full", "ParT_kin"} and len(data) == 16
    for rec in extra:
        row = data[(data.model == "ParT_kin") & (data.backend == rec["backend"]) & (data.x == rec["batch_size"])]
        assert row.y.iloc[0] == pytest.approx(rec["latency_ms_p50"])
    labels = {line.get_label() for line in plot.figure.axes[0].lines}
    assert "ParT_kin · cpu · eager fp32" in labels and "ParT_full · cpu · onnxruntime fp32" in labels
    # the trained model is the default of one-model figures, even when only random weights are asked for
    assert plots.default_model(table) == "ParT_full"
    out = tmp_path / "lat.png"
    args = ["plot", "latency_vs_batch", "--table", str(tmp_path / "points.csv"), "--weights", "random",
            "--out", str(out)]
    assert main(args) == 0
    args = _plot_args("latency_vs_batch", "--table", str(tmp_path / "points.csv"), "--weights", "random")
    drawn = plots.make_plot("latency_vs_batch", args).data
    full = [r for r in records if r["weights"] == "random" and r["particles"] == "real"]
    assert len(drawn) == len(full) == 8  # ParT_full's 8 points, not ParT_kin's on the same curves
    # a one-model study says so on the models figure instead of pretending to compare
    single = plots.models_comparison(table[table.model == "ParT_full"])
    assert "one model measured" in single.figure.axes[0].get_legend().get_title().get_text()


def _plot_args(figure: str, *options: str) -> Any:
    import argparse

    parser = argparse.ArgumentParser()
    plots.add_arguments(parser)
    return parser.parse_args([figure, *options, "--out", "x.png"])
