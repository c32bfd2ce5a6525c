"""``jetprof weaver``: seeded, reproducible weaver training on tiny JetClass-format files."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jetprof.contract import DEFAULT_DATA_CONFIG, DEFAULT_NETWORK_CONFIG
from jetprof.data.jetclass import LABELS
from jetprof.errors import JetprofError
from jetprof.train.launcher import weaver_predict_args, weaver_train_args

JET_BRANCHES = ("jet_pt", "jet_eta", "jet_phi", "jet_energy", "jet_nparticles", "jet_sdmass",
                "jet_tau1", "jet_tau2", "jet_tau3", "jet_tau4")
TREE = "tree"
PID = ("part_isChargedHadron", "part_isNeutralHadron", "part_isPhoton", "part_isElectron", "part_isMuon")


def write_fake_jetclass(path: Path, n_per_class: int, seed: int, classes: int = len(LABELS)) -> None:
    """Write a tiny JetClass-format TTree whose classes are easy to tell apart.

    Class k has 6 + k particles, a narrower cone and a larger photon share as k
    grows, and displaced tracks for the odd classes; jets are interleaved by class.
    """
    import awkward as ak
    import uproot

    rng = np.random.default_rng(seed)
    cls = np.tile(np.arange(classes), n_per_class)
    counts = 6 + cls
    n = int(counts.sum())
    jet_of = np.repeat(np.arange(len(cls)), counts)
    k = cls[jet_of].astype(np.float64)
    pt = rng.exponential(20.0, n) + 1.0
    deta = rng.normal(0, 0.3 / (1 + 0.3 * k), n)
    dphi = rng.normal(0, 0.3 / (1 + 0.3 * k), n)
    eta0 = rng.uniform(-1.5, 1.5, len(cls))[jet_of]
    phi0 = rng.uniform(-np.pi, np.pi, len(cls))[jet_of]
    eta, phi = eta0 + deta, phi0 + dphi
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    energy = np.sqrt(px**2 + py**2 + pz**2)
    kind = np.where(rng.uniform(size=n) < 0.08 * k, 2, rng.integers(0, 2, n))  # 2 = photon
    kind = np.where((cls[jet_of] == classes - 1) & (rng.uniform(size=n) < 0.3), 4, kind)  # muons
    charge = np.where(kind == 0, rng.choice([-1.0, 1.0], n), 0.0)
    displaced = (cls[jet_of] % 2 == 1) & (kind == 0)
    d0 = np.where(displaced, rng.normal(0, 0.5, n), rng.normal(0, 0.01, n))
    dz = np.where(displaced, rng.normal(0, 0.5, n), rng.normal(0, 0.01, n))

    def jag(x: np.ndarray) -> ak.Array:
        return ak.unflatten(np.asarray(x, dtype=np.float32), counts)

    jpx, jpy = np.bincount(jet_of, px), np.bincount(jet_of, py)
    jpz, je = np.bincount(jet_of, pz), np.bincount(jet_of, energy)
    jpt = np.hypot(jpx, jpy)
    f32 = np.float32
    data: dict[str, object] = {
        "part_px": jag(px), "part_py": jag(py), "part_pz": jag(pz), "part_energy": jag(energy),
        "part_deta": jag(deta), "part_dphi": jag(dphi),
        "part_d0val": jag(d0), "part_d0err": jag(np.abs(rng.normal(0.05, 0.01, n))),
        "part_dzval": jag(dz), "part_dzerr": jag(np.abs(rng.normal(0.05, 0.01, n))),
        "part_charge": jag(charge),
    }
    for i, name in enumerate(PID):
        data[name] = jag(kind == i)
    for i, label in enumerate(LABELS):
        data[label] = (cls == i).astype(f32)
    data.update({
        "jet_pt": jpt.astype(f32), "jet_eta": np.arcsinh(jpz / jpt).astype(f32),
        "jet_phi": np.arctan2(jpy, jpx).astype(f32), "jet_energy": je.astype(f32),
        "jet_nparticles": counts.astype(f32),
        "jet_sdmass": np.sqrt(np.maximum(je**2 - jpx**2 - jpy**2 - jpz**2, 0)).astype(f32),
    })
    for i in range(1, 5):
        data[f"jet_tau{i}"] = rng.uniform(0, 1.0 / i, len(cls)).astype(f32)
    path.parent.mkdir(parents=True, exist_ok=True)
    with uproot.recreate(path) as f:
        f.mktree(TREE, {key: ("var * float32" if isinstance(v, ak.Array) else v.dtype) for key, v in data.items()})
        f[TREE].extend(data)


# --------------------------------------------------------------------------- argument builders

CFG = {"num_epochs": 2, "samples_per_epoch": 64, "samples_per_epoch_val": 32, "batch_size": 16,
       "start_lr": 1e-3, "optimizer": "ranger", "lr_scheduler": "flat+linear", "fetch_step": 1.0,
       "num_workers": 0, "use_amp": True}


def _flag(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_train_args_cpu_and_cuda() -> None:
    kw = dict(data_train="d/train/*.root", data_val="d/val/*.root", data_config="r/dc.yaml",
              network_config="w/ParT.py", model_prefix="r/net", log="r/weaver.log", tensorboard="r/tb")
    cpu = weaver_train_args(CFG, device="cpu", **kw)
    assert _flag(cpu, "--gpus") == "" and "--use-amp" not in cpu
    assert _flag(cpu, "--data-train") == "d/train/*.root" and _flag(cpu, "--lr-scheduler") == "flat+linear"
    assert _flag(cpu, "--warmup-steps") == "0.0" and _flag(cpu, "--samples-per-epoch") == "64"
    assert _flag(cpu, "--log-file") == "r/weaver.log" and _flag(cpu, "--tensorboard") == "_tb"
    cuda = weaver_train_args(CFG, device="cuda:1", **kw)
    assert _flag(cuda, "--gpus") == "1" and "--use-amp" in cuda
    pred = weaver_predict_args(CFG, data_test="d/test/*.root", data_config="r/dc.yaml", network_config="w/ParT.py",
                               checkpoint="r/net_best_epoch_state.pt", predict_output="results/evaluate/pred.root",
                               log="r/p.log", device="cpu")
    assert "--predict" in pred and _flag(pred, "--model-prefix") == "r/net_best_epoch_state.pt"
    assert _flag(pred, "--predict-output") == "results/evaluate/pred.root"


@pytest.mark.parametrize(("change", "words"), [
    ({"lr_scheduler": "flat+decay", "num_epochs": 1}, "1% of start_lr"),
    ({"lr_scheduler": "steps", "num_epochs": 1}, "1% of start_lr"),
    ({"lr_scheduler": "bogus"}, "not one of weaver's"),
    ({"samples_per_epoch": 8}, "smaller than batch_size"),
    ({"typo_key": 1}, "unknown training config key"),
])
def test_train_args_refuse_bad_schedules(change: dict, words: str) -> None:
    with pytest.raises(JetprofError, match=re.escape(words)):
        weaver_train_args({**CFG, **change}, data_train="a", data_val="b", data_config="c", network_config="n",
                          model_prefix="m", log="l", tensorboard=None, device="cpu")


def test_weaver_exit_status_is_weavers(capsys: pytest.CaptureFixture[str]) -> None:
    from jetprof.cli import main

    assert main(["weaver", "--seed", "1", "--", "--no-such-weaver-flag"]) == 2  # weaver's argparse
    assert "--no-such-weaver-flag" in capsys.readouterr().err
    assert main(["weaver", "--seed", "1", "--mode", "train", "--data-train", "x"]) == 1
    assert "needs --data-val" in capsys.readouterr().err


# --------------------------------------------------------------------------- real weaver runs
# three trainings and a prediction: over a minute on 2 cores, so these tests are `slow`

@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("jets")
    write_fake_jetclass(root / "train" / "Fake_000.root", 16, seed=1)
    write_fake_jetclass(root / "val" / "Fake_000.root", 8, seed=2)
    write_fake_jetclass(root / "test" / "Fake_000.root", 8, seed=3)
    (root / "dc.yaml").write_text(DEFAULT_DATA_CONFIG.read_text())
    return root


def _train_cmd(data: Path, out: Path, seed: int) -> list[str]:
    return [sys.executable, "-m", "jetprof.cli", "weaver", "--seed", str(seed), "--threads", "1",
            "--mode", "train", "--config-json", json.dumps({**CFG, "use_amp": False}),
            "--data-train", str(data / "train" / "*.root"), "--data-val", str(data / "val" / "*.root"),
            "--data-config", str(data / "dc.yaml"), "--network-config", str(DEFAULT_NETWORK_CONFIG),
            "--model-prefix", str(out / "net"), "--log", str(out / "weaver.log"),
            "--tensorboard-dir", str(out / "tb"), "--device", "cpu"]


def _run_all(cmds: list[list[str]]) -> None:
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for c in cmds]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    for p, o in zip(procs, outs):
        assert p.returncode == 0, o[-3000:]


@pytest.fixture(scope="module")
def runs(data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two trainings with seed 1 and one with seed 2 (two at a time, one thread each)."""
    root = tmp_path_factory.mktemp("runs")
    out = {"a": root / "a", "b": root / "b", "c": root / "c"}
    _run_all([_train_cmd(data, out["a"], 1), _train_cmd(data, out["b"], 1)])
    pred = [sys.executable, "-m", "jetprof.cli", "weaver", "--seed", "1", "--threads", "1", "--mode", "predict",
            "--data-test", str(data / "test" / "*.root"), "--data-config", str(data / "dc.yaml"),
            "--network-config", str(DEFAULT_NETWORK_CONFIG),
            "--checkpoint", str(out["a"] / "net_best_epoch_state.pt"),
            "--predict-output", str(out["a"] / "pred.root"), "--log", str(out["a"] / "predict.log")]
    _run_all([_train_cmd(data, out["c"], 2), pred])
    return out


def state_hash(path: Path) -> str:
    """sha256 over the names, dtypes, shapes and bytes of every tensor of a state dict."""
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)
    h = hashlib.sha256()
    for k in sorted(state):
        t = state[k].contiguous()
        h.update(f"{k}|{t.dtype}|{tuple(t.shape)}".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


@pytest.mark.slow
def test_same_seed_same_checkpoint(runs: dict[str, Path]) -> None:
    a, b, c = (runs[k] / "net_best_epoch_state.pt" for k in "abc")
    assert state_hash(a) == state_hash(b)
    assert a.read_bytes() == b.read_bytes()  # torch.save is byte-stable too
    assert state_hash(a) != state_hash(c)  # the seed matters: the test can fail
    assert (runs["a"] / "net_epoch-1_state.pt").is_file()


@pytest.mark.slow
def test_log_shows_seed_and_start_lr(runs: dict[str, Path]) -> None:
    log = (runs["a"] / "weaver.log").read_text()
    assert "jetprof: seed=1 sync_load=True deterministic=True torch_threads=1" in log
    lr = re.findall(r"jetprof: epoch (\d) lr first=(\S+) min=(\S+) max=(\S+) last=(\S+) steps=(\d+)", log)
    assert [int(e) for e, *_ in lr] == [0, 1]
    # flat+linear, 8 steps: flat at start_lr (not 1 %) for 70 %, then a linear decay
    assert float(lr[0][1]) == pytest.approx(1e-3) and float(lr[0][2]) == pytest.approx(1e-3)
    assert int(lr[0][5]) == 4 and int(lr[1][5]) == 4
    assert 1e-4 < float(lr[1][4]) < 1e-3


@pytest.mark.slow
def test_training_learns(runs: dict[str, Path]) -> None:
    from jetprof.train.evaluate import parse_weaver_log

    curves = parse_weaver_log(runs["a"] / "weaver.log")
    assert curves["epochs"] == [0, 1]
    assert curves["train_loss"][1] < curves["train_loss"][0]
    assert curves["val_loss"][1] < curves["val_loss"][0]
    assert curves["best_epoch"] in (0, 1) and curves["lr_first"] == [pytest.approx(1e-3)] * 2


@pytest.mark.slow
def test_predict_then_evaluate(runs: dict[str, Path], tmp_path: Path) -> None:
    from jetprof.cli import main

    out = tmp_path / "metrics.json"
    assert main(["evaluate", "--pred", str(runs["a"] / "pred.root"), "--weaver-log", str(runs["a"] / "weaver.log"),
                 "--tensorboard", str(runs["a"] / "tb"), "--out", str(out)]) == 0
    m = json.loads(out.read_text())
    assert m["n_jets"] == 80 and m["class_counts"] == {c: 8 for c in m["classes"]} and len(m["classes"]) == 10
    assert np.array(m["confusion"]["counts"]).sum() == 80
    assert set(m["rejection"]) == set(m["classes"]) - {"QCD"}
    assert m["training"]["epochs"] == [0, 1]
    tb = m["training"]["tensorboard"]
    assert tb["Loss/train"]["steps"] == list(range(1, 9)) and len(tb["Acc/eval (epoch)"]["values"]) == 2
