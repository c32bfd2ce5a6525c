"""weaver network config: P-CNN, the 1-D residual CNN the ParT paper benchmarked.

P-CNN (the particle-sequence CNN of CMS's DeepAK8, CMS-DP-2017-049) is not in
weaver-core; the module is ``jetprof.model.taggers.ParticleCNN``: batch norm
and a 3-wide convolution to 32 channels over the particles in the data's order
(decreasing pT), three residual stages of two units each (64, 64, 128 channels;
stages 2 and 3 halve the length), average over the sequence, one 512-wide layer
(dropout 0.2) and the class layer. It reads only ``pf_features`` and
``pf_mask``. With the 17-feature full set and ten classes it has 354,540
parameters (kinpid 354,148; kin 353,560).
Keyword arguments (``--network-option key value``) override the defaults;
weaver's ``use_amp``/``compile_model`` change nothing here.
"""

from __future__ import annotations

from typing import Any

import torch

from jetprof.model.taggers import ParticleCNN
from jetprof.model.zoo import model_info, sizes

PAPER_SETTINGS = dict(
    stem_channels=32,
    stages=((64, 64), (64, 64), (128, 128)),
    fc_params=((512, 0.2),),
    for_inference=False,
)
# options weaver adds on its own (--use-amp, --compile-model) that this model does not need
IGNORED_OPTIONS = ("use_amp", "compile_model")


def get_model(data_config: object, **kwargs: object) -> tuple[torch.nn.Module, dict[str, object]]:
    settings: dict[str, Any] = dict(PAPER_SETTINGS, **sizes(data_config))
    settings.update({k: v for k, v in kwargs.items() if k not in IGNORED_OPTIONS})
    return ParticleCNN(**settings), model_info(data_config)


def get_loss(data_config: object, **kwargs: object) -> torch.nn.CrossEntropyLoss:
    return torch.nn.CrossEntropyLoss()
