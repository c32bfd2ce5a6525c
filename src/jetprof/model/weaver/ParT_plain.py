"""weaver network config: ParT-plain, ParticleTransformer without interaction features.

The ParT paper's ablation (arXiv:2202.03772, Table 2, "ParT (plain)"): the same
network as ``ParT.py`` (weaver-core's ``ParticleTransformer``, same sizes) with
no pairwise-feature embedding, so attention is plain scaled dot-product
attention and the four-vectors ``pf_vectors`` are not used (weaver's exporter
drops that input, like ``pf_points``). Built as the upstream ParT config with
``pair_input_dim=0``. With the 17-feature full set and ten classes it has
2,133,918 parameters (kinpid 2,133,390; kin 2,132,598).
Keyword arguments (``--network-option key value``) override the defaults.
"""

from __future__ import annotations

import torch

from jetprof.model.taggers import PART_SETTINGS, ParTTagger
from jetprof.model.zoo import model_info, sizes

PAPER_SETTINGS = dict(PART_SETTINGS, pair_input_dim=0)


def get_model(data_config: object, **kwargs: object) -> tuple[torch.nn.Module, dict[str, object]]:
    settings = dict(PAPER_SETTINGS, **sizes(data_config))
    settings.update(kwargs)
    return ParTTagger(**settings), model_info(data_config)


def get_loss(data_config: object, **kwargs: object) -> torch.nn.CrossEntropyLoss:
    return torch.nn.CrossEntropyLoss()
