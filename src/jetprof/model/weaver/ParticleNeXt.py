"""weaver network config: ParticleNeXt, weaver-core's own ``weaver.nn.model.ParticleNeXt``.

ParticleNeXt (H. Qu, the ParticleNet successor weaver-core 0.5.3 ships) stacks
multi-scale EdgeConv blocks with attention aggregation over k-nearest-neighbour
graphs in (Δη, Δφ), with pairwise Lorentz-vector features on the edges; it reads
``pf_points``, ``pf_features``, ``pf_vectors`` (px, py, pz, E) and ``pf_mask`` in the
data configs' order. Settings: weaver-core's defaults (three blocks of k = 32
neighbours, 256 channels, dilations 8/4/2/1, attention aggregation), the particle
count and classes from the data config. Its kNN needs k slots per jet: the
module states ``min_length`` = k, so jetprof never trims a batch below it (its own
trimmer floors there too). Keyword arguments (``--network-option key value``;
weaver's ``use_amp``, ``compile_model``) override the defaults.
"""

from __future__ import annotations

from typing import Any

import torch
from weaver.nn.model.ParticleNeXt import ParticleNeXt

from jetprof.model.zoo import model_info, sizes

# options weaver adds on its own (--use-amp, --compile-model) that this model does not take
IGNORED_OPTIONS = ("use_amp", "compile_model")


class ParticleNeXtTagger(ParticleNeXt):
    """weaver-core's ParticleNeXt, stating the fewest particle slots its kNN runs on."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.min_length = int(self.num_neighbors)


def get_model(data_config, **kwargs):
    dims = sizes(data_config)
    settings: dict[str, Any] = dict(feature_input_dim=dims["input_dim"], num_classes=dims["num_classes"],
                                    for_inference=False)
    settings.update({k: v for k, v in kwargs.items() if k not in IGNORED_OPTIONS})
    return ParticleNeXtTagger(**settings), model_info(data_config)


def get_loss(data_config, **kwargs):
    return torch.nn.CrossEntropyLoss()
