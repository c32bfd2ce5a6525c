"""weaver network config: ParticleTransformer with the ParT paper's hyper-parameters.

weaver imports this file and calls ``get_model(data_config, **kwargs)`` and
``get_loss(data_config, **kwargs)``. The architecture itself is weaver-core's
``weaver.nn.model.ParticleTransformer``; this file only chooses its settings
(arXiv:2202.03772: 8 particle-attention blocks, 2 class-attention blocks,
8 heads, embedding 128/512/128, pair embedding 64/64/64, GELU).
With the 17-feature full set and ten classes it has 2,143,486 parameters.
Keyword arguments given to weaver with ``--network-option key value`` or
passed by jetprof override the defaults below (e.g. ``for_inference=True``).
"""

from __future__ import annotations

import torch
from weaver.nn.model.ParticleTransformer import ParticleTransformer


class ParTTagger(torch.nn.Module):
    """weaver's ParticleTransformer behind the (points, features, vectors, mask) interface."""

    def __init__(self, **kwargs) -> None:
        super().__init__()
        self.mod = ParticleTransformer(**kwargs)

    @torch.jit.ignore
    def no_weight_decay(self) -> set[str]:
        # the class token is a learned embedding, not a weight to shrink
        return {"mod.cls_token"}

    def forward(self, points, features, lorentz_vectors, mask):
        # ParT does not use the angular coordinates `points`
        return self.mod(features, v=lorentz_vectors, mask=mask)


PAPER_SETTINGS = dict(
    pair_input_dim=4,
    use_pre_activation_pair=False,
    embed_dims=[128, 512, 128],
    pair_embed_dims=[64, 64, 64],
    num_heads=8,
    num_layers=8,
    num_cls_layers=2,
    block_params=None,
    cls_block_params={"dropout": 0, "attn_dropout": 0, "activation_dropout": 0},
    fc_params=[],
    activation="gelu",
    trim=True,
    for_inference=False,
)


def get_model(data_config, **kwargs):
    settings = dict(
        PAPER_SETTINGS,
        input_dim=len(data_config.input_dicts["pf_features"]),
        num_classes=len(data_config.label_value),
    )
    settings.update(kwargs)
    model = ParTTagger(**settings)
    names = list(data_config.input_names)
    model_info = {
        "input_names": names,
        "input_shapes": {k: (1, *s[1:]) for k, s in data_config.input_shapes.items()},
        "output_names": ["softmax"],
        # batch axis 0 and particle axis 2 are dynamic for every input
        "dynamic_axes": {
            **{k: {0: "N", 2: "n_" + k.split("_")[0]} for k in names},
            "softmax": {0: "N"},
        },
    }
    return model, model_info


def get_loss(data_config, **kwargs):
    return torch.nn.CrossEntropyLoss()
