"""weaver network config: ParticleNet with the settings the ParT paper benchmarked.

ParticleNet (Qu and Gouskos, arXiv:1902.08570) is weaver-core's own
``weaver.nn.model.ParticleNet``, wrapped by ``jetprof.model.taggers.ParticleNetTagger``
(keys ``mod.*``, as in the official ``models/ParticleNet_*.pt``, which load as
they are). Settings (arXiv:2202.03772, Table 2): three EdgeConv blocks with
k = 16 neighbours and 64/128/256 channels, no fusion block, one 256-wide layer
(dropout 0.1); neighbours are found in (Δη, Δφ) from ``pf_points`` first, then
in feature space. With the 17-feature full set and ten classes it has 370,156
parameters (kinpid 369,380; kin 368,216).

The wrapper keeps weaver's eval-time sequence trimming from cutting a batch
below k + 1 = 17 slots (weaver-core 0.5.3 fails there; see
``jetprof.model.taggers.SequenceTrimmer``). Keyword arguments
(``--network-option key value``; weaver's ``use_amp``, ``compile_model``,
``for_inference``) override the defaults.
"""

from __future__ import annotations

import torch

from jetprof.model.taggers import ParticleNetTagger
from jetprof.model.zoo import model_info, sizes

PAPER_SETTINGS = dict(
    conv_params=[(16, (64, 64, 64)), (16, (128, 128, 128)), (16, (256, 256, 256))],
    fc_params=[(256, 0.1)],
    use_fusion=False,
    use_fts_bn=True,
    use_counts=True,
    for_inference=False,
)


def get_model(data_config: object, **kwargs: object) -> tuple[torch.nn.Module, dict[str, object]]:
    dims = sizes(data_config)
    settings = dict(PAPER_SETTINGS, input_dims=dims["input_dim"], num_classes=dims["num_classes"])
    settings.update(kwargs)
    return ParticleNetTagger(**settings), model_info(data_config)


def get_loss(data_config: object, **kwargs: object) -> torch.nn.CrossEntropyLoss:
    return torch.nn.CrossEntropyLoss()
