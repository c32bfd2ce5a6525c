"""``jetprof evaluate`` on a hand-made prediction file whose metrics are known."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from jetprof.cli import main
from jetprof.metrics import auc, rejection_at, roc_curve
from jetprof.train.evaluate import parse_weaver_log

# (true class, scores for QCD, Hbb, Tbl)
JETS = [
    ("QCD", 0.7, 0.2, 0.1), ("QCD", 0.6, 0.3, 0.1), ("QCD", 0.1, 0.85, 0.05), ("QCD", 0.8, 0.1, 0.1),
    ("Hbb", 0.1, 0.8, 0.1), ("Hbb", 0.2, 0.7, 0.1), ("Hbb", 0.3, 0.6, 0.1), ("Hbb", 0.6, 0.3, 0.1),
    ("Tbl", 0.1, 0.1, 0.8), ("Tbl", 0.5, 0.2, 0.3),
]
LABELS = {"QCD": "label_QCD", "Hbb": "label_Hbb", "Tbl": "label_Tbl"}


def write_pred(path: Path, jets: list[tuple], extra_label: bool = False) -> None:
    import uproot

    data: dict[str, np.ndarray] = {}
    for i, (short, label) in enumerate(LABELS.items()):
        data[label] = np.array([j[0] == short or (extra_label and short == "Tbl") for j in jets])
        data["score_" + label] = np.array([j[1 + i] for j in jets], dtype=np.float32)
    data["_label_"] = np.array([list(LABELS).index(j[0]) for j in jets], dtype=np.int64)
    with uproot.recreate(path) as f:
        f.mktree("Events", {k: v.dtype for k, v in data.items()})
        f["Events"].extend(data)


LOG = """\
[2026-01-01 00:00:00,000] INFO: Epoch #0 training
[2026-01-01 00:00:01,000] INFO: Processed 64 entries in total (avg. speed 12.5 entries/s)
[2026-01-01 00:00:01,000] INFO: Train AvgLoss: 2.50000, AvgAcc: 0.12500
[2026-01-01 00:00:01,000] INFO: jetprof: epoch 0 lr first=1.000000e-03 min=1.000000e-03 max=1.000000e-03 last=1.000000e-03 steps=4
[2026-01-01 00:00:02,000] INFO: Epoch #0 validating
[2026-01-01 00:00:02,000] INFO: Processed 32 entries in total (avg. speed 90.0 entries/s)
[2026-01-01 00:00:02,000] INFO: Eval AvgLoss: 2.40000, AvgAcc: 0.20000
[2026-01-01 00:00:02,000] INFO: Epoch #0: Current validation metric: 0.20000 (best: 0.20000)
[2026-01-01 00:00:03,000] INFO: Epoch #1 training
[2026-01-01 00:00:04,000] INFO: Processed 64 entries in total (avg. speed 14.0 entries/s)
[2026-01-01 00:00:04,000] INFO: Train AvgLoss: 2.00000, AvgAcc: 0.30000
[2026-01-01 00:00:04,000] INFO: Epoch #1 validating
[2026-01-01 00:00:04,000] INFO: Eval AvgLoss: 2.10000, AvgAcc: 0.15000
[2026-01-01 00:00:04,000] INFO: Epoch #1: Current validation metric: 0.15000 (best: 0.20000)
"""  # noqa: E501 (a real weaver log line)


def test_known_metrics(tmp_path: Path) -> None:
    write_pred(tmp_path / "pred.root", JETS)
    (tmp_path / "weaver.log").write_text(LOG)
    out = tmp_path / "m" / "metrics.json"
    assert main(["evaluate", "--pred", str(tmp_path / "pred.root"), "--weaver-log", str(tmp_path / "weaver.log"),
                 "--out", str(out)]) == 0
    m = json.loads(out.read_text())
    assert m["classes"] == ["QCD", "Hbb", "Tbl"] and m["n_jets"] == 10
    assert m["accuracy"] == pytest.approx(0.7)
    assert m["confusion"]["counts"] == [[3, 1, 0], [1, 3, 0], [1, 0, 1]]
    assert m["confusion"]["normalized"][2] == [0.5, 0.0, 0.5]
    # Hbb one-vs-rest: 19.5 of 24 signal/background pairs ordered right (one tie)
    assert m["auc_ovr"]["Hbb"] == pytest.approx(19.5 / 24)
    # Hbb vs QCD at 50 %: the 2nd-best Hbb jet (0.778) lets one QCD jet (0.895) of 4 through
    rej = m["rejection"]["Hbb"]
    assert rej["signal_efficiency"] == 0.5 and rej["fpr"] == pytest.approx(0.25) and rej["rejection"] == 4.0
    # t->blv at the paper's 99.5 %: no QCD jet passes the loosest cut needed -> infinite, stored as null
    assert m["rejection"]["Tbl"]["signal_efficiency"] == 0.995
    assert m["rejection"]["Tbl"]["fpr"] == 0.0 and m["rejection"]["Tbl"]["rejection"] is None
    roc = m["roc"]["Hbb"]
    assert roc["tpr"][0] == 0 and roc["tpr"][-1] == 1 and roc["fpr"][-1] == 1
    assert np.all(np.diff(roc["tpr"]) >= 0) and np.all(np.diff(roc["fpr"]) >= 0)
    t = m["training"]
    assert t["epochs"] == [0, 1] and t["train_loss"] == [2.5, 2.0] and t["val_acc"] == [0.2, 0.15]
    assert t["lr_first"] == [1e-3, None] and t["train_jets_per_s"] == [12.5, 14.0]
    assert t["best_epoch"] == 0 and t["best_val_acc"] == 0.2


def test_auc_and_rejection_match_sklearn() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    sig, bkg = rng.normal(1, 1, 500).round(1), rng.normal(0, 1, 700).round(1)  # rounded: many ties
    y = np.r_[np.ones(500), np.zeros(700)]
    assert auc(sig, bkg) == pytest.approx(roc_auc_score(y, np.r_[sig, bkg]), abs=1e-12)
    tpr, fpr, _ = roc_curve(sig, bkg)
    f, rej = rejection_at(tpr, fpr, 0.5)
    cut = np.max([c for c in np.unique(sig) if (sig >= c).mean() >= 0.5])
    assert f == pytest.approx((bkg >= cut).mean()) and rej == pytest.approx(1 / f)


def test_roc_downsampled(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    jets = ([("QCD", *rng.dirichlet([1, 1, 1])) for _ in range(400)]
            + [("Hbb", *rng.dirichlet([1, 3, 1])) for _ in range(400)])
    write_pred(tmp_path / "pred.root", jets)
    out = tmp_path / "metrics.json"
    assert main(["evaluate", "--pred", str(tmp_path / "pred.root"), "--roc-points", "50", "--out", str(out)]) == 0
    m = json.loads(out.read_text())
    assert 10 <= len(m["roc"]["Hbb"]["tpr"]) <= 52 and m["training"] is None
    assert m["rejection"]["Tbl"]["rejection"] is None and "Tbl" not in m["roc"]  # no Tbl jets


def test_bad_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_pred(tmp_path / "two.root", JETS, extra_label=True)
    out = tmp_path / "metrics.json"
    assert main(["evaluate", "--pred", str(tmp_path / "two.root"), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "two.root" in err and "true labels" in err and "Traceback" not in err and not out.exists()
    (tmp_path / "junk.root").write_bytes(b"not root")
    assert main(["evaluate", "--pred", str(tmp_path / "junk.root"), "--out", str(out)]) == 1
    assert "junk.root: cannot read TTree 'Events'" in capsys.readouterr().err
    (tmp_path / "empty.log").write_text("hello\n")
    with pytest.raises(Exception, match="not a weaver training log"):
        parse_weaver_log(tmp_path / "empty.log")
