"""weaver network config: ParticleNeXt, weaver-core's own ``weaver.nn.model.ParticleNeXt``.

ParticleNeXt (H. Qu, the ParticleNet successor weaver-core 0.5.3 ships) stacks
multi-scale EdgeConv blocks with attention aggregation over k-nearest-neighbour
graphs in (Δη, Δφ), with pairwise Lorentz-vector features on the edges; it reads
``pf_points``, ``pf_features``, ``pf_vectors`` (px, py, pz, E) and ``pf_mask`` in the
data configs' order. Settings: weaver-core's defaults (three blocks of k = 32
neighbours, 256 channels, dilations 8/4/2/1, attention aggregation), the particle
count and classes from the data config. Its kNN needs k slots per jet: its
trimmer (:class:`ParticleNeXtTagger`) states ``min_length`` = k, so nothing trims a
batch below it. Keyword arguments (``--network-option key value``;
weaver's ``use_amp``, ``compile_model``) override the defaults.
"""

from __future__ import annotations

from typing import Any

import torch
from weaver.nn.model.ParticleNeXt import ParticleNeXt

from jetprof.model.taggers import SequenceTrimmer
from jetprof.model.zoo import model_info, sizes

# options weaver adds on its own (--use-amp, --compile-model) that this model does not take
IGNORED_OPTIONS = ("use_amp", "compile_model")


class ParticleNeXtTagger(ParticleNeXt):
    """weaver-core's ParticleNeXt, its eval-time trimming done by jetprof's ``SequenceTrimmer``.

    weaver's ParticleNeXt trims inline (after 5 untrimmed calls, to the batch's longest
    jet, never below k); here the same trimming runs in a ``SequenceTrimmer`` module
    with the floor k (``min_length``), so jetprof's profiler sees its warm-up calls and
    the trimmed length as it does for ParT and ParticleNet. Same keys, same outputs.
    """

    def __init__(self, trim: bool = True, for_inference: bool = False, **kwargs: object) -> None:
        super().__init__(trim=False, for_inference=for_inference, **kwargs)
        self.trimmer = SequenceTrimmer(int(self.num_neighbors), enabled=trim and not for_inference,
                                       target=(0.9, 1.02))

    def forward(self, points: torch.Tensor, features: torch.Tensor, lorentz_vectors: torch.Tensor,
                mask: torch.Tensor | None = None, edges: torch.Tensor | None = None) -> torch.Tensor:
        features, (points, lorentz_vectors), mask, _ = self.trimmer(features, [points, lorentz_vectors], mask)
        scores: torch.Tensor = super().forward(points, features, lorentz_vectors, mask, edges)
        return scores


def get_model(data_config: object, **kwargs: object) -> tuple[torch.nn.Module, dict[str, object]]:
    dims = sizes(data_config)
    settings: dict[str, Any] = dict(feature_input_dim=dims["input_dim"], num_classes=dims["num_classes"],
                                    for_inference=False)
    settings.update({k: v for k, v in kwargs.items() if k not in IGNORED_OPTIONS})
    return ParticleNeXtTagger(**settings), model_info(data_config)


def get_loss(data_config: object, **kwargs: object) -> torch.nn.CrossEntropyLoss:
    return torch.nn.CrossEntropyLoss()
