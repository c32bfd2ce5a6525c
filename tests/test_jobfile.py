"""A profile job is data (jetprof.jobfile): the document round-trips, refuses what it does not
know in one line naming the file and the key, and the hand-typed flags of ``jetprof profile``
make the same document, hence the same comparison groups."""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys

import pytest

from jetprof import jobfile
from jetprof.contract import DEFAULT_DATA_CONFIG, DEFAULT_NETWORK_CONFIG, ENV_COMPARE_THRESHOLD, ENV_CONFIG_HASH
from jetprof.errors import JetprofError
from jetprof.jobfile import JobSettings, ProfileJob, Quality, VariantSpec
from jetprof.profiling import cli as pcli

NET, DATA = str(DEFAULT_NETWORK_CONFIG), str(DEFAULT_DATA_CONFIG)


def _variant(weights: str = "random", backend: str = "eager", replica: int = 0, checkpoint: str | None = None,
             model: str = "ParT_full") -> VariantSpec:
    return VariantSpec(model, weights, backend, "fp32", NET, DATA, checkpoint, replica)


def _job(**settings) -> ProfileJob:
    return ProfileJob("cpu", (_variant(), _variant(replica=1), _variant(backend="onnxruntime")), (16, "real"), (1, 8),
                      settings=JobSettings(data=("results/dataset/val/*.root",), **settings))


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    pcli.add_arguments(parser)
    return parser.parse_args(argv)


def _doc(job: ProfileJob) -> dict:
    return json.loads(jobfile.to_json(job))


def _load(doc: dict, name: str = "job.json") -> ProfileJob:
    return jobfile.from_json(json.dumps(doc), name)


# --------------------------------------------------------------------------- the document


def test_a_job_round_trips_through_its_json() -> None:
    job = _job(rounds=12, threshold=0.02, config_hash="abc", quality=Quality(("t/*.root",), 40))
    text = jobfile.to_json(job)
    assert jobfile.from_json(text, "job.json") == job
    assert jobfile.to_json(jobfile.from_json(text, "job.json")) == text
    doc = json.loads(text)
    assert next(iter(doc)) == "version" and doc["version"] == jobfile.VERSION
    assert doc["variants"][1] == {"model": "ParT_full", "weights": "random", "backend": "eager", "precision": "fp32",
                                  "network_config": NET, "data_config": DATA, "checkpoint": None, "replica": 1}
    assert doc["particles"] == [16, "real"] and doc["settings"]["quality"] == {"data": ["t/*.root"], "jets": 40}


def test_left_out_settings_are_the_schemas_defaults() -> None:
    from jetprof.config import schema_defaults

    doc = _doc(_job())
    doc["settings"] = {"data": ["v/*.root"]}
    job = _load(doc)
    profile = schema_defaults("profile")
    for key in ("threads", "warmup", "rounds", "max_rounds", "max_group_s", "retries", "timeout_s"):
        assert getattr(job.settings, key) == profile[key], key
    assert job.settings.threshold is None and job.settings.config_hash is None


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d["settings"].update(roundz=3), "job.json: unknown key 'roundz' in settings (known: threads,"),
    (lambda d: d.update(colour="red"), "job.json: unknown key 'colour' in the job"),
    (lambda d: d["variants"][0].update(weigths="random"), "job.json: unknown key 'weigths' in variants[0]"),
    (lambda d: d["settings"].update(rounds="ten"), 'job.json: settings.rounds: "ten" is not an integer'),
    (lambda d: d["settings"].update(rounds=1), "job.json: settings.rounds 1: must be at least 2"),
    (lambda d: d["settings"].update(max_rounds=5, rounds=8), "job.json: settings.max_rounds 5: must be at least 8"),
    (lambda d: d["settings"].update(flush_denormal=1), "job.json: settings.flush_denormal: 1 is not true or false"),
    (lambda d: d["settings"].update(threshold=2), "job.json: settings.threshold 2.0: must be > 0 and < 1"),
    (lambda d: d["settings"].update(data=[]), "job.json: settings.data: particles 'real' needs the globs"),
    (lambda d: d["settings"].update(quality={"data": [], "jets": 5}), "job.json: settings.quality.data: give"),
    (lambda d: d["variants"][2].update(backend="onnx"), "job.json: variants[2]: 'onnx-fp32': not a backend-precision"),
    (lambda d: d["variants"][0].update(weights="trained"), "job.json: variants[0] (ParT_full/trained/eager-fp32): "
                                                           "weights trained needs a checkpoint"),
    (lambda d: d["variants"][2].update(backend="eager"), "job.json: variants[2]: ParT_full/random/eager-fp32 is "
                                                         "listed twice"),
    (lambda d: d["variants"][0].pop("network_config"), "job.json: variants[0] has no 'network_config'"),
    (lambda d: d.update(particles=[16, 300]), "job.json: particles 300: 'real' or an integer between 1 and 128"),
    (lambda d: d.update(batch_sizes=[0]), "job.json: batch_sizes [0]: batch sizes must be positive"),
    (lambda d: d.update(device="gpu"), "job.json: device 'gpu': not a device"),
    (lambda d: d.update(variants={}), "job.json: variants: {} is not a list"),
    (lambda d: d.update(version=2), "job.json: version 2; this jetprof reads version 1"),
    (lambda d: d.pop("version"), "job.json: no 'version': not a jetprof profile job document"),
])
def test_a_bad_document_is_refused_in_one_line_naming_the_file_and_the_key(edit, message) -> None:
    doc = _doc(_job())
    edit(doc)
    with pytest.raises(JetprofError) as caught:
        _load(doc)
    assert str(caught.value).startswith(message), str(caught.value)
    assert "\n" not in str(caught.value)


def test_text_that_is_not_a_document_is_named() -> None:
    with pytest.raises(JetprofError, match=r"^j.json: not JSON \(Expecting"):
        jobfile.from_json("{", "j.json")
    with pytest.raises(JetprofError, match=r"^j.json: not a jetprof profile job"):
        jobfile.from_json("[1]", "j.json")


def test_null_settings_come_from_the_environment(monkeypatch) -> None:
    settings = JobSettings()
    monkeypatch.delenv(ENV_COMPARE_THRESHOLD, raising=False)
    monkeypatch.delenv(ENV_CONFIG_HASH, raising=False)
    assert settings.resolved_threshold() == jobfile.DEFAULT_THRESHOLD and settings.resolved_config_hash() is None
    monkeypatch.setenv(ENV_COMPARE_THRESHOLD, "0.02")
    monkeypatch.setenv(ENV_CONFIG_HASH, "cafe")
    assert settings.resolved_threshold() == 0.02 and settings.resolved_config_hash() == "cafe"
    given = JobSettings(threshold=0.1, config_hash="beef")
    assert given.resolved_threshold() == 0.1 and given.resolved_config_hash() == "beef"
    monkeypatch.setenv(ENV_COMPARE_THRESHOLD, "tight")
    with pytest.raises(JetprofError, match=r"JETPROF_COMPARE_THRESHOLD='tight': not a number"):
        settings.resolved_threshold()


# --------------------------------------------------------------------------- flags and documents


def test_flags_and_the_equivalent_document_give_identical_groups(tmp_path) -> None:
    ckpt = tmp_path / "net.pt"
    ckpt.write_bytes(b"state")
    argv = ["--device", "cpu", "--weights", "random,trained", "--checkpoint", f"trained={ckpt}",
            "--backends", "eager-fp32,onnxruntime-fp32", "--particles", "16,32", "--batch-sizes", "1,4",
            "--rounds", "4", "--max-rounds", "6", "--max-group-s", "3", "--threshold", "0.03", "--seed", "7",
            "--no-profiler-pass", "--config-hash", "abc", "--out", str(tmp_path / "o")]
    from_flags = pcli.build_specs(_args(argv))
    checkpoint = str(ckpt)
    variants = tuple(VariantSpec("ParT_full", w, b, "fp32", NET, DATA, None if w == "random" else checkpoint, r)
                     for w, b, r in [("random", "eager", 0), ("random", "eager", 1), ("random", "onnxruntime", 0),
                                     ("trained", "eager", 0), ("trained", "onnxruntime", 0)])
    document = ProfileJob("cpu", variants, (16, 32), (1, 4), out=str(tmp_path / "o"),
                          settings=JobSettings(rounds=4, max_rounds=6, max_group_s=3.0, threshold=0.03, seed=7,
                                               profiler_pass=False, config_hash="abc"))
    job_file = tmp_path / "job.json"
    job_file.write_text(jobfile.to_json(document))
    from_document = pcli.build_specs(_args(["--job", str(job_file)]))
    assert [s.as_dict() for s in from_flags] == [s.as_dict() for s in from_document]
    assert len(from_flags) == 4 and from_flags[0].variants[3].checkpoint == str(ckpt.resolve())
    assert pcli.job_from_flags(_args(argv)) == document


def test_print_job_writes_the_document_the_flags_make(tmp_path) -> None:
    argv = ["--device", "cpu", "--particles", "16", "--batch-sizes", "2", "--rounds", "3", "--max-rounds", "3"]
    run = subprocess.run([sys.executable, "-m", "jetprof.cli", "profile", *argv, "--print-job"],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    job = jobfile.from_json(run.stdout, "stdout")
    assert job == pcli.job_from_flags(_args(argv))
    assert [v.label for v in job.variants] == ["ParT_full/random/eager-fp32", "ParT_full/random/eager-fp32#2"]
    assert list(tmp_path.iterdir()) == []  # measured nothing, wrote nothing
    # the same document on stdin: printed again unchanged
    again = subprocess.run([sys.executable, "-m", "jetprof.cli", "profile", "--job", "-", "--print-job"],
                           input=run.stdout, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and again.stdout == run.stdout, again.stderr


def test_a_job_read_from_stdin_is_measured(tmp_path) -> None:
    out = tmp_path / "o"
    job = ProfileJob("cpu", (_variant(),), (8,), (1,), out=str(out),
                     settings=JobSettings(rounds=2, max_rounds=2, processes=1, max_processes=1,
                                              profiler_pass=False, config_hash="fromstdin"))
    run = subprocess.run([sys.executable, "-m", "jetprof.cli", "profile", "--job", "-"], input=jobfile.to_json(job),
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    record = json.loads((out / "profile/ParT_full/random/cpu/eager-fp32/p8/bs1.json").read_text())
    assert record["status"] == "ok" and len(record["latency_ms_samples"]) == 2
    assert record["env"]["config_hash"] == "fromstdin"


def test_a_document_with_flags_beside_it_is_refused(tmp_path) -> None:
    job_file = tmp_path / "job.json"
    job_file.write_text(jobfile.to_json(_job()))
    with pytest.raises(JetprofError, match=r"--job .*job.json: --rounds, --profiler-pass given too"):
        pcli.read_job(_args(["--job", str(job_file), "--rounds", "3", "--no-profiler-pass"]))
    with pytest.raises(JetprofError, match=r"nowhere.json: cannot read the job document"):
        pcli.read_job(_args(["--job", str(tmp_path / "nowhere.json")]))
    # --process is how this machine runs the job, not part of it
    assert pcli.read_job(_args(["--job", str(job_file), "--process", "spawn"]))[0] == _job()


def test_files_a_document_names_are_checked_where_it_runs(tmp_path) -> None:
    job = dataclasses.replace(_job(), variants=(_variant(), _variant(weights="trained",
                                                                     checkpoint=str(tmp_path / "none.pt"))))
    with pytest.raises(JetprofError, match=r"none.pt: checkpoint not found \(ParT_full/trained/eager-fp32\)"):
        pcli.group_specs(job)
    missing = dataclasses.replace(job, variants=(dataclasses.replace(_variant(), data_config="no.yaml"),))
    with pytest.raises(JetprofError, match=r"^no.yaml: data config not found"):
        pcli.group_specs(missing)


def test_flag_errors_name_the_flag() -> None:
    with pytest.raises(JetprofError, match=r"^--rounds 1: must be at least 2"):
        pcli.job_from_flags(_args(["--device", "cpu", "--particles", "8", "--rounds", "1"]))
    with pytest.raises(JetprofError, match=r"^--data: particles 'real' needs"):
        pcli.job_from_flags(_args(["--device", "cpu"]))
    with pytest.raises(JetprofError, match=r"^--quality-jets: needs --quality-data"):
        pcli.job_from_flags(_args(["--device", "cpu", "--particles", "8", "--quality-jets", "5"]))
    with pytest.raises(JetprofError, match=r"^--device: give the device"):
        pcli.job_from_flags(_args(["--particles", "8"]))
