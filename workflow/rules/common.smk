# Target and input functions only; the logic lives in src/jetprof/workflow.py.
import glob
import json
import os

from jetprof import contract
from jetprof import workflow as jw
from jetprof.contract import BACKENDS, DEVICE_PATTERN, PRECISIONS, WEIGHTS
from jetprof.data.jetclass import PROCESSES

REGENERATE = bool(config.get("regenerate", False))
MODEL = config["weaver"]["model_name"]
# every profiled model -> (network config, data config); MODEL first
MODELS = jw.profile_models(config)
# the same, for the models the study trains (MODEL first)
TRAINED = jw.trained_inputs(config)


wildcard_constraints:
    split="train|val|test",
    prefix="|".join(p.file_prefix for p in PROCESSES),
    index=r"\d{3}",
    model="|".join(MODELS),
    weights="|".join(WEIGHTS),
    device=DEVICE_PATTERN,
    backend="|".join(BACKENDS),
    precision="|".join(PRECISIONS),
    particles=r"real|\d+",
    bs=r"\d+",
    figure="|".join(jw.FIGURES),


def trained_network_config(wildcards):
    return TRAINED[wildcards.model][0]


def trained_data_config(wildcards):
    return TRAINED[wildcards.model][1]


def get_dataset_files():
    return jw.dataset_files(config)


def get_dataset_ready():
    """The file that says the dataset is complete: the manifest or the download list."""
    if config["dataset"]["source"] == "generate":
        return "results/dataset/manifest.json"
    return "results/dataset/download.json"


def get_profile_records():
    if REGENERATE:
        return sorted(glob.glob("results/profile/*/*/*/*/*/bs*.json"))
    return jw.profile_records(config)


def get_group_files():
    if REGENERATE:
        return sorted(glob.glob("results/paired/*/*/bs*.json"))
    return jw.group_files(config)


def get_peak_records():
    if REGENERATE:
        return sorted(glob.glob("results/profile/peak/*.json"))
    return [f"results/profile/peak/{d}.json" for d in jw.profile_devices(config)]


def get_node_records():
    """The full-node records (workflow/rules/node.smk): the study's, or those on disk."""
    if REGENERATE:
        return sorted(glob.glob("results/node/*/*/*/*x*.json"))
    from jetprof.node_record import study_node_records

    return study_node_records(config)


def serve_inputs(wildcards):
    """A serving job's files: the model's configs and trained weights, the test split, its
    ONNX export for the ONNX rungs (workflow/rules/serving.smk)."""
    inputs = {
        "network_config": TRAINED[wildcards.model][0],
        "data_config": TRAINED[wildcards.model][1],
        "checkpoint": contract.checkpoint_path(wildcards.model),
        "validated": "results/validate/report.json",
    }
    if wildcards.backend in contract.ONNX_BACKENDS:
        inputs["onnx"] = f"results/export/{wildcards.model}.onnx"
    return inputs


def get_figures():
    return jw.figure_files(config)


def get_report_inputs():
    inputs = get_figures() + jw.summary_files()
    if not REGENERATE:
        inputs += [
            "results/validate/report.json",
            "results/validate/features.png",
        ]
        # the jets themselves: a generated file that was deleted (a broken one, say) is made
        # again with its manifest, instead of "Nothing to be done" with the data gone
        if config["dataset"]["source"] == "generate":
            inputs += get_dataset_files() + [get_dataset_ready()]
        for model in contract.trained_models(config):
            inputs += [
                f"results/export/{model}.onnx",
                f"results/export/{model}_card.json",
            ]
    # the serving table: where the study serves, or regenerating, from the records copied in
    return inputs + jw.serving_summary(config)


# a short hash of the config, written into every record's environment block, and the
# threshold at which a profile group stops adding rounds: both reach the jobs through the
# environment, not their commands, so changing either re-plans no measurement
os.environ.update(jw.job_environment(config))

# regenerating from what was copied: one line per figure group left out, saying what to copy
for _note in jw.regenerate_notes(config):
    logger.warning(f"jetprof: {_note}")

# a record that does not validate (e.g. truncated) counts as missing: its group is measured again
for _message in (
    [] if REGENERATE else jw.set_aside_invalid_records(config, workflow.dryrun)
):
    logger.warning(f"jetprof: {_message}")
