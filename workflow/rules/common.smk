# Target and input functions only; the logic lives in src/jetprof/workflow.py.
import glob
import json

from jetprof import workflow as jw
from jetprof.data.jetclass import PROCESSES

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


def get_checkpoint(point):
    """The checkpoint a profile series or point (wildcards) loads; [] for random weights."""
    if point.weights == "trained":
        return "results/train/net_best_epoch_state.pt"
    if point.weights == "pretrained":
        return f"results/pretrained/{MODEL}.pt"
    return []


def gpu_model(device):
    """The `gpu_model` resource of a measuring job: profile.gpu_model on cuda, else none."""
    return config["profile"].get("gpu_model", "") if device.startswith("cuda") else ""


def model_configs(point):
    """The weaver network and data configs of a profiled model."""
    network, data = MODELS[point.model]
    return {"network_config": network, "data_config": data}


def _reads_real_jets(point):
    """A series (particles: a tuple) or a point (particles: a string) on real jets."""
    particles = point.particles
    return "real" in ([particles] if isinstance(particles, str) else particles)


def get_real_data(point):
    """Points on real jets need the validated dataset."""
    return ["results/validate/report.json"] if _reads_real_jets(point) else []


def checkpoint_flag(point):
    path = get_checkpoint(point)
    return f"--checkpoint {path}" if path else ""


def data_flag(point):
    return f"--data '{jw.split_glob('val')}'" if _reads_real_jets(point) else ""


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

PROFILER_PASS_FLAG = "" if config["profile"]["profiler_pass"] else "--no-profiler-pass"
# the one command of the profile rules (a series or a single point), from their params
PROFILE_COMMAND = (
    "jetprof profile --device {params.point[device]} --weights {params.point[weights]}"
    " {params.checkpoint} --backend {params.point[backend]}"
    " --precision {params.point[precision]} --particles {params.particles}"
    " --batch-sizes {params.batch_sizes} {params.data} --threads {threads}"
    " --warmup {params.prof[warmup]} --repeats {params.prof[repeats]}"
    " {params.profiler_pass} --model-name {params.point[model]}"
    " --network-config {input.network_config} --data-config {input.data_config}"
    " --config-hash {params.config_hash} --out '{params.out}' > {log} 2>&1"
)
