# Target and input functions only; the logic lives in src/jetprof/workflow.py.
import glob
import json

from jetprof import workflow as jw
from jetprof.jetclass import PROCESSES

REGENERATE = bool(config.get("regenerate", False))
MODEL = config["weaver"]["model_name"]
# every profiled model -> (network config, data config); MODEL first
MODELS = jw.profile_models(config)


wildcard_constraints:
    split="train|val|test",
    prefix="|".join(p.file_prefix for p in PROCESSES),
    index=r"\d{3}",
    model="|".join(MODELS),
    weights="random|trained|pretrained",
    device=r"cpu|mps|cuda(:\d+)?",
    backend="eager|onnxruntime|compile",
    precision="fp32|bf16|fp16",
    particles=r"real|\d+",
    bs=r"\d+",
    figure="|".join(jw.FIGURES),


def get_dataset_files():
    return jw.dataset_files(config)


def get_dataset_ready():
    """The file that says the dataset is complete: the manifest or the download list."""
    if config["dataset"]["source"] == "generate":
        return "results/dataset/manifest.json"
    return "results/dataset/download.json"


def get_checkpoint(wildcards):
    if wildcards.weights == "trained":
        return "results/train/net_best_epoch_state.pt"
    if wildcards.weights == "pretrained":
        return f"results/pretrained/{MODEL}.pt"
    return []


def gpu_model(device):
    """The `gpu_model` resource of a measuring job: profile.gpu_model on cuda, else none."""
    return config["profile"].get("gpu_model", "") if device.startswith("cuda") else ""


def model_configs(wildcards):
    """The weaver network and data configs of a profiled model."""
    network, data = MODELS[wildcards.model]
    return {"network_config": network, "data_config": data}


def series_checkpoint(series):
    """The checkpoint a profile series loads ([] for random weights)."""
    return get_checkpoint(series)


def series_checkpoint_flag(series):
    path = series_checkpoint(series)
    return f"--checkpoint {path}" if path else ""


def series_real_data(series):
    """Series on real jets need the validated dataset."""
    return ["results/validate/report.json"] if "real" in series.particles else []


def get_real_data(wildcards):
    """Points on real jets need the validated dataset."""
    return ["results/validate/report.json"] if wildcards.particles == "real" else []


def get_profile_records():
    if REGENERATE:
        return sorted(glob.glob("results/profile/*/*/*/*/*/bs*.json"))
    return jw.profile_records(config)


def get_peak_records():
    if REGENERATE:
        return sorted(glob.glob("results/profile/peak/*.json"))
    return [f"results/profile/peak/{d}.json" for d in jw.profile_devices(config)]


def get_figures():
    return jw.figure_files(config)


def get_report_inputs():
    inputs = get_figures() + [
        "results/summary/points.csv",
        "results/summary/points.md",
        "results/summary/weights_answer.md",
    ]
    if not REGENERATE:
        inputs += [
            "results/validate/report.json",
            "results/validate/features.png",
            f"results/export/{MODEL}.onnx",
            f"results/export/{MODEL}_card.json",
        ]
    return inputs


# a short hash of the config, written into every record's environment block
CONFIG_HASH = jw.config_hash(config)
