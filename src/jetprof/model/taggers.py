"""Torch modules of the tagger zoo: PFN and P-CNN, which weaver-core does not ship,
and the adapters around weaver-core's own ParticleTransformer and ParticleNet.

The weaver network configs in ``jetprof/model/weaver/`` build these; every module
here takes weaver's four inputs ``(points, features, vectors, mask)`` in weaver's
channel-first layout (``(N, C, P)``, mask ``(N, 1, P)``, 1 = real particle) and
returns class scores (logits, or softmax with ``for_inference=True`` as weaver's
exporter asks).

The sizes are the ones the ParT paper (arXiv:2202.03772, Table 2) benchmarked,
so the parameter counts equal those of the particle_transformer repository's
configurations feature set by feature set (``tests/test_zoo.py`` pins them):

* **PFN**, the Particle Flow Network of Komiske, Metodiev and Thaler, "Energy
  Flow Networks: Deep Sets for Particle Jets" (arXiv:1810.05165): a network Φ
  applied to every particle alone, the sum of Φ over the real particles, and a
  network F on that sum. Φ = three 128-wide ReLU layers, F = three 128-wide ReLU
  layers and the output layer; no batch normalisation by default (86,154
  parameters for the 17 full features and ten classes).
* **P-CNN**, the particle-sequence CNN of CMS's DeepAK8 tagger (CMS-DP-2017-049;
  1-D ResNet, He et al. arXiv:1512.03385): a 1-D convolution over the particle
  list, which the data orders by decreasing pT (JetClass and the generated
  mini-JetClass store particles that way; the model does not sort), then residual
  stages of 3-wide convolutions, global average pooling and one 512-wide layer
  (354,540 parameters for the full features).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from weaver.nn.model.ParticleNet import ParticleNet
from weaver.nn.model.ParticleTransformer import ParticleTransformer
from weaver.nn.model.ParticleTransformer import SequenceTrimmer as _WeaverTrimmer


def _head(in_dim: int, hidden: Sequence[tuple[int, float]], num_classes: int) -> nn.Sequential:
    """Fully connected layers ``(width, dropout)`` with ReLU, then the class layer."""
    layers: list[nn.Module] = []
    for width, dropout in hidden:
        layers += [nn.Linear(in_dim, width), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        in_dim = width
    layers.append(nn.Linear(in_dim, num_classes))
    return nn.Sequential(*layers)


# --------------------------------------------------------------------------- PFN


class ParticleFlowNetwork(nn.Module):
    """Deep Sets jet tagger: ``F(Σ_i Φ(x_i))`` over the real particles ``i``.

    Args:
        input_dim: particle features per particle (``pf_features`` channels).
        num_classes: output classes.
        phi_sizes: widths of the per-particle network Φ (ReLU after each layer).
        f_sizes: widths of the per-jet network F (ReLU after each), before the class layer.
        use_bn: batch normalisation of the inputs and after every Φ layer.
        for_inference: return softmax probabilities instead of logits.
    """

    def __init__(
        self,
        input_dim: int,
        num_classes: int,
        phi_sizes: Sequence[int] = (128, 128, 128),
        f_sizes: Sequence[int] = (128, 128, 128),
        use_bn: bool = False,
        for_inference: bool = False,
    ) -> None:
        super().__init__()
        self.for_inference = for_inference
        self.input_norm = nn.BatchNorm1d(input_dim) if use_bn else nn.Identity()
        per_particle: list[nn.Module] = []
        width = input_dim
        for out in phi_sizes:
            # a dense layer applied to each particle alone = a convolution of width 1
            per_particle.append(nn.Conv1d(width, out, kernel_size=1))
            if use_bn:
                per_particle.append(nn.BatchNorm1d(out))
            per_particle.append(nn.ReLU())
            width = out
        self.per_particle = nn.Sequential(*per_particle)
        self.per_jet = _head(width, [(w, 0.0) for w in f_sizes], num_classes)

    def forward(self, points: Tensor, features: Tensor, vectors: Tensor, mask: Tensor) -> Tensor:
        phi = self.per_particle(self.input_norm(features))  # (N, C_phi, P)
        # padded slots contribute nothing to the sum: the set is the real particles
        latent = (phi * (mask != 0).to(phi.dtype)).sum(dim=-1)  # (N, C_phi)
        out = self.per_jet(latent)
        return torch.softmax(out, dim=1) if self.for_inference else out


# --------------------------------------------------------------------------- P-CNN


class _Residual1d(nn.Module):
    """Two 3-wide convolutions (each + batch norm + ReLU) beside a shortcut.

    The first convolution carries the stride; the shortcut is the identity, or a
    bias-free 1-wide convolution with the same stride when channels or length change.
    As in the DeepAK8-style P-CNN the ParT paper benchmarks, the ReLU closes the
    convolution branch and the sum is returned as it is.
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1) -> None:
        super().__init__()
        self.conv_a = nn.Conv1d(in_ch, out_ch, kernel_size=3, stride=stride, padding=1)
        self.norm_a = nn.BatchNorm1d(out_ch)
        self.conv_b = nn.Conv1d(out_ch, out_ch, kernel_size=3, stride=1, padding=1)
        self.norm_b = nn.BatchNorm1d(out_ch)
        self.shortcut = (
            nn.Conv1d(in_ch, out_ch, kernel_size=1, stride=stride, bias=False)
            if in_ch != out_ch or stride != 1
            else nn.Identity()
        )

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(self.norm_a(self.conv_a(x)))
        y = F.relu(self.norm_b(self.conv_b(y)))
        out: Tensor = self.shortcut(x) + y
        return out


class ParticleCNN(nn.Module):
    """1-D residual CNN over the particle sequence (ordered by pT in the data).

    Args:
        input_dim: particle features per particle.
        num_classes: output classes.
        stem_channels: channels of the first (3-wide) convolution.
        stages: channels of the residual units, stage by stage; every stage after
            the first halves the sequence length in its first unit (stride 2).
        fc_params: ``(width, dropout)`` of the fully connected layers after pooling.
        for_inference: return softmax probabilities instead of logits.

    Padded slots are zeroed before the first layer but, as in the reference P-CNN,
    the convolutions and the final average run over the whole (padded) length: the
    output depends on how far a batch is padded (128 in the data configs).
    """

    def __init__(
        self,
        input_dim: int,
        num_classes: int,
        stem_channels: int = 32,
        stages: Sequence[Sequence[int]] = ((64, 64), (64, 64), (128, 128)),
        fc_params: Sequence[tuple[int, float]] = ((512, 0.2),),
        for_inference: bool = False,
    ) -> None:
        super().__init__()
        self.for_inference = for_inference
        self.stem = nn.Sequential(
            nn.BatchNorm1d(input_dim),
            nn.Conv1d(input_dim, stem_channels, kernel_size=3, padding=1),
            nn.BatchNorm1d(stem_channels),
            nn.ReLU(),
        )
        units: list[nn.Module] = []
        width = stem_channels
        for s, channels in enumerate(stages):
            for u, out in enumerate(channels):
                units.append(_Residual1d(width, out, stride=2 if (s > 0 and u == 0) else 1))
                width = out
        self.stages = nn.Sequential(*units)
        self.head = _head(width, list(fc_params), num_classes)

    def forward(self, points: Tensor, features: Tensor, vectors: Tensor, mask: Tensor) -> Tensor:
        x = self.stages(self.stem(features * mask))  # (N, C, ceil(P / 2**(len(stages)-1)))
        out = self.head(x.mean(dim=-1))
        return torch.softmax(out, dim=1) if self.for_inference else out


# --------------------------------------------------------------------------- ParT


class ParTTagger(nn.Module):
    """weaver-core's ``ParticleTransformer`` behind the ``(points, features, vectors, mask)`` interface.

    Keys are ``mod.*`` like the official checkpoints (``models/ParT_*.pt``).
    ParT does not use the angular coordinates ``points``; without pair features
    (``pair_input_dim=0``, ParT-plain) it does not use the four-vectors either.
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__()
        self.mod = ParticleTransformer(**kwargs)

    @torch.jit.ignore
    def no_weight_decay(self) -> set[str]:
        # the class token is a learned embedding, not a weight to shrink
        return {"mod.cls_token"}

    def forward(self, points: Tensor, features: Tensor, lorentz_vectors: Tensor, mask: Tensor) -> Tensor:
        scores: Tensor = self.mod(features, v=lorentz_vectors, mask=mask)
        return scores


#: ParT as the paper trained it (arXiv:2202.03772): 8 particle-attention blocks,
#: 2 class-attention blocks, 8 heads, embedding 128/512/128, pair embedding
#: 64/64/64, GELU; the upstream config passes use_pre_activation_pair=False
#: (weaver's default is True), class-block dropouts 0 and no extra fc layers.
PART_SETTINGS: dict[str, object] = dict(
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


# --------------------------------------------------------------------------- ParticleNet


class SequenceTrimmer(_WeaverTrimmer):
    """weaver's ``SequenceTrimmer`` that never cuts a batch shorter than ``min_length``.

    weaver-core 0.5's ParticleNet trims each eval batch to its longest jet (after
    5 untrimmed warm-up calls) and then asks every particle for its ``k + 1``
    nearest points: a batch whose longest jet has ``≤ k`` particles (16 for the
    paper's k = 16) fails with ``selected index k out of range``. Keeping
    ``min_length = k + 1`` slots gives the untrimmed result (padded slots sit
    1e9 away and carry zero features), so nothing else changes.

    It keeps weaver's class name on purpose: jetprof's profiler finds trimmers by
    name (it counts their warm-up calls and reads the trimmed length). It has no
    persistent state, so state dicts are unchanged.
    """

    def __init__(self, min_length: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.min_length = int(min_length)

    @classmethod
    def like(cls, trimmer: nn.Module, min_length: int) -> SequenceTrimmer:
        """The same settings as weaver's ``trimmer``, with a floor of ``min_length``."""
        return cls(
            min_length,
            enabled=trimmer.enabled,
            target=trimmer.target,
            warmup_steps=trimmer.warmup_steps,
            round_to_32=trimmer.round_to_32,
            num_extra_tokens=trimmer.num_extra_tokens,
        )

    def forward(
        self, x: Tensor, v: Tensor | Sequence[Tensor] | None = None, mask: Tensor | None = None,
        uu: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | list[Tensor] | None, Tensor | None, Tensor | None]:
        out: tuple[Tensor, Tensor | list[Tensor] | None, Tensor | None, Tensor | None]
        out = super().forward(x, v, mask, uu)
        keep = min(self.min_length, x.size(-1))
        if out[0].size(-1) >= keep:
            return out
        # eval trimming cuts the padded tail: the first `keep` slots hold every real particle
        mask = torch.ones_like(x[:, :1]) if mask is None else mask
        v_kept: Tensor | list[Tensor] | None
        if isinstance(v, (list, tuple)):
            cut = [t[..., :keep] for t in v]
            v_kept = cut[0] if len(cut) == 1 else cut  # weaver hands back a single tensor unwrapped
        elif isinstance(v, Tensor):
            v_kept = v[..., :keep]
        else:
            v_kept = None
        uu = None if uu is None else uu[..., :keep, :keep]
        return x[..., :keep], v_kept, mask.bool()[..., :keep], uu


class ParticleNetTagger(nn.Module):
    """weaver-core's ``ParticleNet`` behind the ``(points, features, vectors, mask)`` interface.

    Keys are ``mod.*`` like the official checkpoints (``models/ParticleNet_*.pt``).
    ParticleNet ignores the four-vectors. Two guards around weaver's code, neither
    of which changes an fp32 result: eval batches are never trimmed below k + 1
    slots (:class:`SequenceTrimmer`), and fp16 autocast uses weaver's own amp
    coordinate shift.
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__()
        self.mod = ParticleNet(**kwargs)
        # every EdgeConv asks for its k nearest neighbours plus the particle itself
        k = max(block.k for block in self.mod.edge_convs)
        self.mod.trimmer = SequenceTrimmer.like(self.mod.trimmer, k + 1)
        self._coord_shift = self.mod.coord_shift  # 1e9, or 99 with use_amp=True

    def forward(self, points: Tensor, features: Tensor, vectors: Tensor, mask: Tensor) -> Tensor:
        # weaver moves padded slots 1e9 away from every particle before each kNN; under
        # fp16 autocast that value overflows ("cannot be converted to type c10::Half"),
        # so do what weaver does with use_amp=True and move them 99 away
        device = points.device.type
        fp16 = torch.is_autocast_enabled(device) and torch.get_autocast_dtype(device) == torch.float16
        self.mod.coord_shift = 99.0 if fp16 else self._coord_shift
        scores: Tensor = self.mod(points, features, mask)
        return scores
