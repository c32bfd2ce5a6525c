"""weaver network config: ParticleTransformer with the ParT paper's hyper-parameters.

weaver imports this file and calls ``get_model(data_config, **kwargs)`` and
``get_loss(data_config, **kwargs)``. The architecture itself is weaver-core's
``weaver.nn.model.ParticleTransformer`` (wrapped by
``jetprof.model.taggers.ParTTagger``); this file only chooses its settings
(arXiv:2202.03772: 8 particle-attention blocks, 2 class-attention blocks,
8 heads, embedding 128/512/128, pair embedding 64/64/64, GELU).
With the 17-feature full set and ten classes it has 2,143,486 parameters
(kinpid 2,142,958; kin 2,142,166).
Keyword arguments given to weaver with ``--network-option key value`` or
passed by jetprof override the defaults below (e.g. ``for_inference=True``).
"""

from __future__ import annotations

import torch

from jetprof.model.taggers import PART_SETTINGS, ParTTagger
from jetprof.model.zoo import model_info, sizes

PAPER_SETTINGS = PART_SETTINGS


def get_model(data_config: object, **kwargs: object) -> tuple[torch.nn.Module, dict[str, object]]:
    settings = dict(PAPER_SETTINGS, **sizes(data_config))
    settings.update(kwargs)
    return ParTTagger(**settings), model_info(data_config)


def get_loss(data_config: object, **kwargs: object) -> torch.nn.CrossEntropyLoss:
    return torch.nn.CrossEntropyLoss()
