"""The models side by side: the Pareto front, the accuracy-against-cost figure and the
report page ``models.md``, from hand-made models tables."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from test_summarize import make_record

from jetprof.cli import main
from jetprof.report.models import COLUMNS, models_markdown, paper_row
from jetprof.report.pareto import accuracy_vs_cost, pareto_front

#: model -> (FLOPs per jet, latency at batch 1 [ms], max throughput [jets/s], accuracy, AUC), as measured
MEASURED = {
    "PFN": (9.0e6, 0.6, 9000.0, 0.31, 0.80),
    "PCNN": (30e6, 1.1, 5200.0, 0.34, 0.82),
    "ParticleNet": (1.08e9, 7.5, 260.0, 0.39, 0.835),  # slower and worse than ParT_plain: dominated
    "ParT_plain": (0.52e9, 5.1, 280.0, 0.40, 0.84),
    "ParT_full": (0.68e9, 6.2, 199.0, 0.41, 0.842),
}


@pytest.fixture(autouse=True)
def _close_figures() -> Any:
    yield
    plt.close("all")


def models(trained: tuple[str, ...] = tuple(MEASURED), devices: tuple[str, ...] = ("cpu",),
           names: tuple[str, ...] = tuple(MEASURED)) -> pd.DataFrame:
    """A models.csv as jetprof summarize writes it: accuracy only for the ``trained`` models."""
    rows = []
    for device in devices:
        faster = 1.0 if device == "cpu" else 10.0
        for name in names:
            flops, latency, throughput, accuracy, auc = MEASURED[name]
            rows.append({"model": name, "device": device, "params": 1000, "flops_per_jet": flops,
                         "macs_per_jet": flops / 2, "flops_particles": 128,
                         "accuracy": accuracy if name in trained else math.nan,
                         "auc_macro": auc if name in trained else math.nan,
                         "latency_ms_p50_bs1": latency / faster,
                         "throughput_jets_per_s_max": throughput * faster, "throughput_batch_size": 64,
                         "peak_memory_bytes_per_jet": 4096.0, **paper_row(name)})
    return pd.DataFrame(rows, columns=COLUMNS)


# ---------------------------------------------------------------------------- the front


def test_a_dominated_point_is_not_on_the_front() -> None:
    costs = [1.0, 2.0, 3.0, 4.0]
    scores = [0.5, 0.7, 0.6, 0.9]  # the third costs more than the second and scores less
    assert pareto_front(costs, scores).tolist() == [True, True, False, True]


def test_throughput_reverses_the_direction() -> None:
    rates = [100.0, 50.0, 40.0, 10.0]
    scores = [0.5, 0.7, 0.6, 0.9]
    # more jets/s is better: the 40 jets/s point is beaten by the 50 jets/s one
    assert pareto_front(rates, scores, higher_cost_is_better=True).tolist() == [True, True, False, True]
    # read as a cost, 10 would beat everything
    assert pareto_front(rates, scores).tolist() == [False, False, False, True]


def test_front_ignores_missing_values_and_keeps_ties() -> None:
    assert pareto_front([1.0, math.nan, 2.0], [0.5, 0.99, math.nan]).tolist() == [True, False, False]
    assert pareto_front([1.0, 1.0], [0.5, 0.5]).tolist() == [True, True]
    assert pareto_front([], []).tolist() == []


# ---------------------------------------------------------------------------- the figure


def _rows(data: pd.DataFrame, **match: Any) -> pd.DataFrame:
    for column, value in match.items():
        data = data[data[column] == value]
    return data


def _front_lines(plot: Any) -> list[Any]:
    return [line for ax in plot.figure.axes for line in ax.lines if line.get_drawstyle().startswith("steps")]


def test_measured_only_draws_the_measured_front() -> None:
    table = models()
    table[["paper_accuracy", "paper_auc"]] = math.nan  # as for models the paper does not list
    plot = accuracy_vs_cost(table)
    data = plot.data
    assert set(data.source) == {"measured"} and set(data.device) == {"cpu"}
    assert len(data) == 5 * 3 * 2  # 5 models x 3 costs x 2 scores
    latency = _rows(data, cost="latency_ms_p50_bs1", score="accuracy").set_index("model")
    assert latency.loc["ParT_full", "x"] == 6.2 and latency.loc["ParT_full", "y"] == 0.41
    assert not latency.loc["ParticleNet", "on_front"]
    assert latency.on_front.sum() == 4
    throughput = _rows(data, cost="throughput_jets_per_s_max", score="accuracy").set_index("model")
    # on throughput, ParT_full (199 jets/s) is beaten by nothing that scores as high, PCNN neither
    assert throughput.on_front.to_dict() == {"PFN": True, "PCNN": True, "ParticleNet": False,
                                             "ParT_plain": True, "ParT_full": True}
    flops = _rows(data, cost="flops_per_jet", score="accuracy").set_index("model")
    assert flops.loc["PFN", "x"] == pytest.approx(9.0)  # drawn in MFLOP
    lines = _front_lines(plot)
    assert len(lines) == 6 and {line.get_linestyle() for line in lines} == {"-"}
    # the throughput front is drawn as the best score at that rate or more
    assert {line.get_drawstyle() for line in lines} == {"steps-post", "steps-pre"}
    assert len(plot.figure.axes) == 6


def test_paper_only_shows_every_model_hollow_and_no_measured_front() -> None:
    plot = accuracy_vs_cost(models(trained=()))
    data = plot.data
    assert set(data.source) == {"paper"} and set(data.model) == set(MEASURED)
    row = _rows(data, model="ParT_full", cost="latency_ms_p50_bs1", score="paper_accuracy")
    assert row.y.iloc[0] == 0.861 and row.x.iloc[0] == 6.2  # the paper's score at the cost measured here
    assert {line.get_linestyle() for line in _front_lines(plot)} == {"--"}
    markers = [line for ax in plot.figure.axes for line in ax.lines if line.get_marker() not in ("None", None)]
    assert markers and all(line.get_markerfacecolor() == "none" for line in markers)


def test_mixed_keeps_untrained_models_as_paper_points_out_of_the_measured_front() -> None:
    # PFN scores 0.772 in the paper, far above anything trained here, at the lowest cost
    table = models(trained=("PCNN", "ParT_full"), devices=("cpu", "cuda:0"))
    plot = accuracy_vs_cost(table)
    data = plot.data
    measured = _rows(data, source="measured")
    assert set(measured.model) == {"PCNN", "ParT_full"}
    assert set(_rows(data, source="paper").model) == set(MEASURED)
    assert set(data.device) == {"cpu", "cuda:0"}
    # had the paper's PFN joined the measured front, it would dominate both on FLOPs
    assert _rows(measured, device="cpu", cost="flops_per_jet", score="accuracy").on_front.all()
    cuda = _rows(measured, device="cuda:0", cost="latency_ms_p50_bs1", score="auc_macro").set_index("model")
    assert cuda.loc["ParT_full", "x"] == pytest.approx(0.62) and cuda.loc["ParT_full", "y"] == 0.842
    # separate panels (own y range) for the paper and this study: 4 rows x 3 costs per device
    assert len(plot.figure.axes) == 2 * 4 * 3
    paper_axes = [ax for ax in plot.figure.axes if ax.get_ylabel() == "accuracy\npaper"]
    study_axes = [ax for ax in plot.figure.axes if ax.get_ylabel() == "accuracy\nthis study"]
    assert paper_axes and study_axes
    assert max(ax.get_ylim()[1] for ax in study_axes) < min(ax.get_ylim()[0] for ax in paper_axes)
    legend = [t.get_text() for t in plot.figure.legends[0].get_texts()]
    assert any(t.startswith("paper") for t in legend) and "Pareto front, this study" in legend


def _texts(plot: Any) -> str:
    artists = [plot.figure, *plot.figure.subfigs, *plot.figure.axes]
    return "\n".join(t.get_text() for a in artists for t in a.texts)


def test_empty_table_and_one_model_say_what_is_missing() -> None:
    empty = accuracy_vs_cost(models().iloc[:0])
    assert empty.data.empty and "no models in the models table" in _texts(empty)
    one = accuracy_vs_cost(models(names=("ParT_full",)))
    assert len(one.data) == 2 * 3 * 2 and not _front_lines(one)
    assert "only ParT_full measured on cpu" in _texts(one)
    unknown = models(trained=(), names=("PFN",))
    unknown["model"] = "ParT_kin"  # neither trained here nor in the paper
    unknown[["paper_accuracy", "paper_auc"]] = math.nan
    plot = accuracy_vs_cost(unknown)
    assert plot.data.empty and "no accuracy (not trained here, not in the paper): ParT_kin" in _texts(plot)
    missing = models()
    missing.loc[missing.model == "PCNN", "latency_ms_p50_bs1"] = math.nan
    plot = accuracy_vs_cost(missing)
    assert "PCNN" not in set(_rows(plot.data, cost="latency_ms_p50_bs1").model)
    assert "cost not measured: PCNN" in _texts(plot)


def test_plot_command_draws_it_from_models_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "models.csv"
    models(trained=("ParT_full",), devices=("cpu", "cuda:0")).to_csv(csv, index=False)
    out = tmp_path / "accuracy_vs_cost.png"
    assert main(["plot", "accuracy_vs_cost", "--models", str(csv), "--device", "cpu", "--out", str(out)]) == 0
    assert out.stat().st_size > 10_000
    assert "(36 value(s) drawn)" in capsys.readouterr().out  # one device: (5 paper + 1 measured) x 3 x 2
    assert main(["plot", "accuracy_vs_cost", "--out", str(out)]) == 1
    assert "needs --models" in capsys.readouterr().err


# ---------------------------------------------------------------------------- models.md


def test_models_page_puts_the_paper_beside_the_measurements() -> None:
    table = models(trained=("ParT_full",), devices=("cpu", "cuda:0"))
    table.loc[table.model == "ParT_full", "params"] = 2143486
    text = models_markdown(table, {"cpu": "AMD EPYC 7763"})
    assert "## cpu (AMD EPYC 7763)" in text and "## cuda:0\n" in text
    header = next(line for line in text.splitlines() if line.startswith("| model |"))
    for column in ("paper params", "paper MACs", "paper accuracy", "paper AUC", "| params", "MACs per jet",
                   "| accuracy", "| AUC", "latency, batch 1 [ms]", "max throughput [jets/s] (batch)",
                   "peak memory per jet [KiB]"):
        assert column in header, column
    rows = [line.split(" | ") for line in text.splitlines() if line.startswith("| ParT_full |")]
    assert len(rows) == 2
    cpu = [cell.strip(" |") for cell in rows[0]]
    assert cpu[1:5] == ["2.14 M", "340 M", "0.861", "0.9877"]
    assert cpu[5:10] == ["2.14 M", "–", "340 M (128 particles)", "0.410", "0.8420"]  # no padded count given
    assert cpu[10:] == ["6.2", "199 (64)", "4.0"]
    table["macs_per_jet_padded"], table["padded_particles"] = 3.35e8, 128
    padded = next(line for line in models_markdown(table).splitlines() if line.startswith("| ParT_full |"))
    assert "| 335 M (128 slots) |" in padded
    pfn = next(line for line in text.splitlines() if line.startswith("| PFN |"))
    assert "| 0.772 | 0.9714 |" in pfn and "| – | – |" in pfn  # not trained here
    assert "FLOPs count the matrix products" in text and "small generated dataset" in text
    assert "No model was measured" in models_markdown(table.iloc[:0])


def test_summarize_writes_the_models_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "profile"
    folder.mkdir()
    for batch in (1, 8):
        (folder / f"bs{batch}.json").write_text(json.dumps(make_record(weights="trained", batch_size=batch)))
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"accuracy": 0.4083, "auc_ovr_macro": 0.8417}))
    page = tmp_path / "models.md"
    rc = main(["summarize", str(folder), "--out-csv", str(tmp_path / "p.csv"), "--models-md", str(page),
               "--metrics", f"ParT_full={metrics}"])
    assert rc == 0, capsys.readouterr().err
    line = next(line for line in page.read_text().splitlines() if line.startswith("| ParT_full |"))
    assert "| 0.861 | 0.9877 |" in line and "| 0.408 | 0.8417 |" in line
    assert np.isfinite(pd.read_csv(tmp_path / "p.csv").latency_ms_p50).all()


def test_every_model_has_its_own_colour_and_marker() -> None:
    from jetprof.report.pareto import _model_styles

    styles = _model_styles([f"M{i}" for i in range(20)])
    assert len(set(styles.values())) == 20  # the zoo's nine, and more, never drawn alike
