"""One source of defaults: the config schema. Code that mirrors a config key agrees with it."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

import pytest

from jetprof import jobfile
from jetprof.cli import COMMANDS
from jetprof.config import schema_default, schema_defaults, schema_property
from jetprof.train import launcher

#: for each subcommand, the config sections its options may mirror, and which option
#: (argparse dest) mirrors which key; None: same name, but not a mirror (why in the comment).
MIRRORS: dict[str, tuple[tuple[str, ...], dict[str, str | None]]] = {
    "profile": (("profile", "profile.compare"), {
        "threads": "profile.threads",
        "warmup": "profile.warmup",
        "rounds": "profile.rounds",
        "max_rounds": "profile.max_rounds",
        "max_group_s": "profile.max_group_s",
        "processes": "profile.processes",
        "max_processes": "profile.max_processes",
        "clock": "profile.clock",
        "target_half_width": "profile.compare.target_half_width",
        "flush_denormal": "profile.flush_denormal",
        "profiler_pass": "profile.profiler_pass",
        "retries": "profile.retries",
        "timeout_s": "profile.timeout_s",
        "quality_jets": "profile.quality_jets",
        "threshold": "profile.compare.threshold",
        "control": "profile.compare.control",
        "weights": None,  # a comma list of the states one call measures; the config's is a list
        "particles": None,  # likewise
        "backends": None,  # likewise
        "batch_sizes": None,  # likewise
    }),
    "compare": (("profile.compare",), {"threshold": "profile.compare.threshold",
                                       "auc_loss": "profile.compare.auc_loss"}),
    "weaver": (("train",), {
        "device": "train.device",
        "seed": "train.seed",
        "threads": "train.threads",
    }),
    "evaluate": (("train",), {}),
    "generate": (("dataset.generate",), {
        "seed": "dataset.generate.seed",
        "jets": None,  # the config gives jets per split; the rule passes the split's
        "chunk_size": "dataset.generate.chunk_size",
        "mpi": "dataset.generate.mpi",
    }),
}


def _profile_document_default(dest: str) -> Any:
    """The default a job document (jetprof.jobfile) gives what option ``dest`` of ``jetprof profile`` sets."""
    special = {"threshold": jobfile.DEFAULT_THRESHOLD, "control": jobfile.DEFAULT_CONTROL,
               "quality_jets": jobfile.DEFAULT_QUALITY_JETS}
    return special[dest] if dest in special else getattr(jobfile.JobSettings(), dest)


#: commands whose options have no default of their own (None): the document they build holds it
DOCUMENT_DEFAULTS = {"profile": _profile_document_default}


def _parser(command: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"jetprof {command}")
    importlib.import_module(COMMANDS[command][0]).add_arguments(parser)
    return parser


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {a.dest: a for a in parser._actions if a.option_strings and a.dest != "help"}


@pytest.mark.parametrize("command", sorted(MIRRORS))
def test_cli_defaults_are_the_schema_defaults(command: str) -> None:
    """A default written beside a config key is the schema's, or there is none (required)."""
    sections, mirrors = MIRRORS[command]
    options = _options(_parser(command))
    keys = {key for section in sections for key in schema_defaults(section)} | {
        key for section in sections for key in schema_property(section)["properties"]}
    unlisted = sorted(dest for dest in options if dest in keys and dest not in mirrors)
    assert not unlisted, f"jetprof {command}: options named like config keys: {unlisted}; " \
                         "add them to MIRRORS"
    for dest, key in mirrors.items():
        assert dest in options, f"jetprof {command} has no option {dest}"
        action = options[dest]
        if key is None or action.required:
            continue
        if command in DOCUMENT_DEFAULTS:
            assert action.default is None, f"jetprof {command} --{dest.replace('_', '-')} writes a default"
            document = DOCUMENT_DEFAULTS[command](dest)
            assert document == schema_default(key), (
                f"jetprof {command}'s document defaults {dest} to {document!r}, the config schema's {key} to "
                f"{schema_default(key)!r}")
            continue
        assert action.default == schema_default(key), (
            f"jetprof {command} --{dest.replace('_', '-')} defaults to {action.default!r}, "
            f"the config schema's {key} to {schema_default(key)!r}")


def test_group_spec_defaults_are_the_schema_defaults() -> None:
    """What a measuring process is given when nothing says otherwise is the schema's (it said
    max_rounds 40 and max_group_s 60 while the schema said 30 and 12)."""
    from jetprof.profiling.spec import GroupSpec

    spec = GroupSpec("cpu", 16, 1, [])
    profile = schema_defaults("profile")
    for key in ("threads", "warmup", "rounds", "max_rounds", "max_group_s", "flush_denormal", "profiler_pass",
                "quality_jets"):
        assert getattr(spec, key) == profile[key], key
    assert spec.threshold == schema_default("profile.compare.threshold")


def test_one_list_of_weaver_keys_and_one_schema_loader() -> None:
    from jetprof import config, workflow

    assert launcher.WEAVER_KEYS is workflow.WEAVER_KEYS is config.WEAVER_KEYS
    assert set(config.WEAVER_KEYS) <= set(schema_defaults("train"))
    # the type of a weaver key names the same keys (mypy checks them against TrainConfig)
    from typing import get_args

    from jetprof.study_config import WeaverKey

    assert sorted(get_args(WeaverKey)) == sorted(config.WEAVER_KEYS)
    assert workflow.load_schema is config.load_schema
    assert config.load_schema() is config.load_schema(config.CONFIG_SCHEMA)


def test_launcher_training_defaults_are_the_schema_defaults() -> None:
    train = schema_defaults("train")
    for key in launcher.WEAVER_KEYS:
        assert launcher.DEFAULT_CONFIG[key] == train[key], key
    assert launcher.DEFAULT_CONFIG["batch_size_test"] == train["predict_batch_size"]
    # what is not a config key is named, not hidden
    extra = set(launcher.DEFAULT_CONFIG) - set(launcher.WEAVER_KEYS)
    assert extra == {"batch_size_test", "warmup_steps"}
    args = launcher.weaver_train_args({}, data_train="a", data_val="b", data_config="c",
                                      network_config="n", model_prefix="m", log="l",
                                      tensorboard=None, device="cpu")
    flag = {args[i]: args[i + 1] for i in range(len(args) - 1) if args[i].startswith("--")}
    assert flag["--samples-per-epoch"] == str(train["samples_per_epoch"])
    assert float(flag["--fetch-step"]) == train["fetch_step"]
    assert flag["--lr-scheduler"] == train["lr_scheduler"]
    predict = launcher.weaver_predict_args({}, data_test="t", data_config="c",
                                           network_config="n", checkpoint="k.pt",
                                           predict_output="p.root", log="l", device="cpu")
    assert predict[predict.index("--batch-size") + 1] == str(train["predict_batch_size"])


def test_lr_schedulers_are_weavers_and_the_schemas() -> None:
    import weaver.train

    lr = next(a for a in weaver.train.parser._actions if "--lr-scheduler" in a.option_strings)
    assert set(launcher.LR_SCHEDULERS) == set(lr.choices)
    assert set(schema_property("train.lr_scheduler")["enum"]) == set(lr.choices)
    assert "warmup+cos" in launcher.LR_SCHEDULERS


def test_schema_defaults_fill_nested_sections() -> None:
    dataset: dict[str, Any] = schema_defaults("dataset")
    assert dataset["generate"]["jets"] == {"train": 240, "val": 60, "test": 60}
    assert dataset["source"] == "generate"
    assert schema_defaults()["profile"]["multiplicity"]["batch_size"] == 8
    assert schema_default("train.lr_scheduler") == "flat+linear"
    with pytest.raises(KeyError, match="no such key"):
        schema_default("train.no_such_key")
    with pytest.raises(KeyError, match="not a section"):
        schema_defaults("train.seed")
    # a copy: changing it changes nothing for the next caller
    dataset["source"] = "zenodo"
    assert schema_defaults("dataset")["source"] == "generate"

