"""weaver network config: Particle Flow Network (Deep Sets) as the ParT paper benchmarked it.

PFN (Komiske, Metodiev, Thaler, arXiv:1810.05165) is not in weaver-core; the
module is ``jetprof.model.taggers.ParticleFlowNetwork``: a per-particle network
Φ (three 128-wide ReLU layers), the sum of Φ over the real particles, and a
per-jet network F (three 128-wide ReLU layers, then the class layer); no batch
normalisation (``use_bn=False``, as in the paper's comparison). It reads only
``pf_features`` and ``pf_mask``. With the 17-feature full set and ten classes
it has 86,154 parameters (kinpid 85,642; kin 84,874).
Keyword arguments (``--network-option key value``) override the defaults;
weaver's ``use_amp``/``compile_model`` change nothing here.
"""

from __future__ import annotations

from typing import Any

import torch

from jetprof.model.taggers import ParticleFlowNetwork
from jetprof.model.zoo import model_info, sizes

PAPER_SETTINGS = dict(
    phi_sizes=(128, 128, 128),
    f_sizes=(128, 128, 128),
    use_bn=False,
    for_inference=False,
)
# options weaver adds on its own (--use-amp, --compile-model) that this model does not need
IGNORED_OPTIONS = ("use_amp", "compile_model")


def get_model(data_config: object, **kwargs: object) -> tuple[torch.nn.Module, dict[str, object]]:
    settings: dict[str, Any] = dict(PAPER_SETTINGS, **sizes(data_config))
    settings.update({k: v for k, v in kwargs.items() if k not in IGNORED_OPTIONS})
    return ParticleFlowNetwork(**settings), model_info(data_config)


def get_loss(data_config: object, **kwargs: object) -> torch.nn.CrossEntropyLoss:
    return torch.nn.CrossEntropyLoss()
