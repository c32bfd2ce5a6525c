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

Each model's facts (state-dict markers, the paper's
figures, official checkpoints, style) are one entry of :data:`jetprof.registry.ZOO`.

This module imports no torch: the workflow and the report read it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# the zoo's facts live in the core registry; these names stay for the model wing's callers
from jetprof.registry import (  # noqa: F401 (re-exported)
    FEATURE_SETS,
    ZooModel,
    default_configs,
    entry_configs,
    feature_set_name,
    known_names,
    zoo_name,
)
from jetprof.registry import ZOO as MODELS


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
