"""The tagger zoo: which models jetprof ships, and which model a state dict is for.

Each model is a weaver network config ``jetprof/model/weaver/<name>.py``
(``workflow/weaver/<name>.py`` links to it) with ``get_model``/``get_loss``; it
runs with every data config (``JetClass_full/kinpid/kin.yaml``). The ParT
paper (arXiv:2202.03772, Table 2) compares these five on JetClass:

=============  ===========================================  ==================
name           what                                         params (full, 10)
=============  ===========================================  ==================
``ParT``       ParticleTransformer, weaver-core's code      2,143,486
``ParT_plain`` ParT without pairwise interaction features   2,133,918
``ParticleNet`` EdgeConv graph network, weaver-core's code  370,156
``PFN``        Deep Sets (jetprof.model.taggers)            86,154
``PCNN``       1-D residual CNN (jetprof.model.taggers)     354,540
=============  ===========================================  ==================

This module imports no torch: the workflow and the report read it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jetprof.contract import WEAVER_CONFIGS


@dataclass(frozen=True)
class ZooModel:
    """One network config of the zoo and how to recognise its state dicts."""

    name: str
    description: str
    #: a key ending that only this model's state dicts have (after any ``mod.`` prefix)
    marker: str
    #: the key ending whose first dimension is the number of particle features
    features_key: str
    #: the position of that dimension in the tensor's shape
    features_axis: int = 0
    #: a key ending this model must NOT have (tells ParT_plain from ParT)
    absent: str | None = None

    @property
    def network_config(self):
        return WEAVER_CONFIGS / f"{self.name}.py"


MODELS: dict[str, ZooModel] = {
    m.name: m
    for m in (
        ZooModel("ParT", "ParticleTransformer (weaver-core)", "pair_embed.embed.0.weight",
                 "embed.input_bn.weight"),
        ZooModel("ParT_plain", "ParticleTransformer without pair features (weaver-core)",
                 "cls_token", "embed.input_bn.weight", absent="pair_embed.embed.0.weight"),
        ZooModel("ParticleNet", "ParticleNet (weaver-core)", "edge_convs.0.convs.0.weight",
                 "bn_fts.weight"),
        ZooModel("PFN", "Particle Flow Network, Deep Sets (jetprof)", "per_particle.0.weight",
                 "per_particle.0.weight", features_axis=1),
        ZooModel("PCNN", "P-CNN, 1-D ResNet over pT-ordered particles (jetprof)",
                 "stages.0.conv_a.weight", "stem.0.weight"),
    )
}

#: particle features per jet of each shipped data config ``JetClass_<set>.yaml``
FEATURE_SETS: dict[str, int] = {"full": 17, "kinpid": 13, "kin": 7}


def feature_set_name(n_features: int) -> str:
    """``full``/``kinpid``/``kin`` for a feature count, else ``"<n> features"``."""
    return next((k for k, v in FEATURE_SETS.items() if v == n_features), f"{n_features} features")


def zoo_name(model: str) -> tuple[str, str] | None:
    """(zoo model, feature set) a study's model name stands for (``PFN_full`` ->
    ``("PFN", "full")``, ``ParT_plain_kin`` -> ``("ParT_plain", "kin")``); None if it is
    not ``<zoo model>_<feature set>``."""
    for name in sorted(MODELS, key=len, reverse=True):
        for feature_set in FEATURE_SETS:
            if model == f"{name}_{feature_set}":
                return name, feature_set
    return None


def default_configs(model: str, folder: str = "workflow/weaver") -> tuple[str, str] | None:
    """The shipped (network config, data config) a zoo model name stands for, as paths
    under ``folder`` (the workflow's link to the package's configs); None if none."""
    found = zoo_name(model)
    if found is None:
        return None
    return f"{folder}/{found[0]}.py", f"{folder}/JetClass_{found[1]}.yaml"


def entry_configs(entry: Mapping[str, Any]) -> tuple[str, str]:
    """A ``profile.models`` entry's (network config, data config): its own, else those its
    zoo name stands for (``PFN_full``: ``workflow/weaver/PFN.py``, ``JetClass_full.yaml``);
    empty strings where neither says (the config check refuses that)."""
    default = default_configs(str(entry["name"])) or ("", "")
    return entry.get("network_config") or default[0], entry.get("data_config") or default[1]


def known_names() -> str:
    """The zoo's model names, for error messages."""
    return f"{'|'.join(MODELS)} + _{'|_'.join(FEATURE_SETS)}"


def _has(state: Mapping[str, Any], ending: str) -> str | None:
    return next((k for k in state if k == ending or k.endswith("." + ending)), None)


def identify(state: Mapping[str, Any]) -> str | None:
    """The zoo model a state dict (or a model's ``state_dict()``) is for; None if none fits."""
    for model in MODELS.values():
        if _has(state, model.marker) and not (model.absent and _has(state, model.absent)):
            return model.name
    return None


def feature_count(state: Mapping[str, Any], model: str | None = None) -> tuple[int, str] | None:
    """(particle features the state dict expects, the key that tells); None if unknown."""
    name = model or identify(state)
    if name not in MODELS:
        return None
    key = _has(state, MODELS[name].features_key)
    if key is None or not hasattr(state[key], "shape"):
        return None
    return int(state[key].shape[MODELS[name].features_axis]), key


def model_info(data_config: Any, output: str = "softmax") -> dict[str, Any]:
    """What weaver's exporter and jetprof read from ``get_model``: input/output names,
    one-jet input shapes, and dynamic batch (``N``) and particle (``n_<input>``) axes."""
    names = list(data_config.input_names)
    return {
        "input_names": names,
        "input_shapes": {k: (1, *tuple(s[1:])) for k, s in data_config.input_shapes.items()},
        "output_names": [output],
        "dynamic_axes": {
            **{k: {0: "N", 2: "n_" + k.split("_")[0]} for k in names},
            output: {0: "N"},
        },
    }


def sizes(data_config: Any) -> dict[str, int]:
    """``input_dim`` (particle features) and ``num_classes`` of a data config."""
    return {
        "input_dim": len(data_config.input_dicts["pf_features"]),
        "num_classes": len(data_config.label_value),
    }
