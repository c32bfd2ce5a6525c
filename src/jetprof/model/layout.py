"""Checkpoint layouts of weaver's ParT: tell a state dict's layout, and convert 0.4-era ones.

Why a conversion is needed
--------------------------
The official checkpoints (``jet-universe/particle_transformer``,
``models/ParT_{full,kin,kinpid}.pt``, committed 2022-03-28) were trained with
weaver 0.4-era code. There, every attention ``Block`` scaled its heads with
``einsum('tbhd,h->tbdh', x, c_attn)``: besides scaling head ``h`` by
``c_attn[h]`` it also *reordered* the attention output's channels from
head-major ``c = h*D + d`` to head-minor ``c' = d*H + h`` (``H`` heads of
``D = E/H`` channels) before ``post_attn_norm`` and the residual sum.
weaver-core 0.5 (commit 13428c1) scales with a plain broadcast and keeps the
head-major order, so the same weights compute something else, silently.

The exact fix (:func:`convert_04_to_05`): the channel order only matters
before ``post_attn_norm`` (whose mean/variance ignore order, but whose affine
weights and the residual are per channel), so the rows of the layer that
*produces* those channels, ``attn.out_proj``, are permuted into the 0.4 order
and each row is multiplied by its head's ``c_attn``; ``c_attn`` becomes ones.
A per-head scale cannot stay in ``c_attn`` because after the permutation one
0.5 head's channels come from all 0.4 heads. The 0.4 names
``attn.in_proj_weight``/``in_proj_bias`` (``nn.MultiheadAttention``) become
0.5's ``attn.in_proj.weight``/``.bias``.

Recognising a 0.4-era state dict
--------------------------------
Every weaver-core release up to 0.4.17 used ``nn.MultiheadAttention``
(keys ``*.attn.in_proj_weight``) and every 0.5 release uses its own
``Attention`` (keys ``*.attn.in_proj.weight``), so for released versions the
key names tell the layout. Unreleased weaver-core ``main`` snapshots between
commits 81d1c5d (2024-06) and 13428c1 (2026-02) had the new names *and* the
old order: those checkpoints need ``layout="0.4"`` explicitly. (The three
official files are also recognised by their git blob id: see
:mod:`jetprof.model.pretrained`.) A converted state dict carries a marker in
its ``_metadata`` so it is never converted twice.

This module imports nothing of jetprof but its error type: :mod:`jetprof.model.build`
(loading any checkpoint) and :mod:`jetprof.model.pretrained` (fetching the
official ones) both use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from jetprof.errors import JetprofError

if TYPE_CHECKING:
    import torch

    #: a torch state dict: parameter and buffer names to tensors
    StateDict: TypeAlias = dict[str, torch.Tensor]

LAYOUTS = ("auto", "0.4", "0.5")
MARKER_KEY = "jetprof_weaver_layout"
_METADATA_ROOT = ""


def _marker(state: StateDict) -> str | None:
    meta = getattr(state, "_metadata", None)
    if isinstance(meta, dict) and isinstance(meta.get(_METADATA_ROOT), dict):
        value = meta[_METADATA_ROOT].get(MARKER_KEY)
        return str(value) if value is not None else None
    return None


def detect_layout(state: StateDict) -> str | None:
    """Tell a state dict's weaver layout from itself.

    Returns:
        ``"0.4"`` for ``nn.MultiheadAttention`` keys (``attn.in_proj_weight``, every
        release up to 0.4.17), ``"0.5"`` for ``attn.in_proj.weight`` keys or a
        jetprof conversion marker, ``None`` when there are no attention weights.
    """
    if _marker(state) == "0.5":
        return "0.5"
    keys = list(state)
    if any(k.endswith("attn.in_proj_weight") for k in keys):
        return "0.4"
    if any(k.endswith("attn.in_proj.weight") for k in keys):
        return "0.5"
    return None


def _block_prefixes(state: StateDict) -> list[str]:
    # every attention block has a head-scale `c_attn` beside its `attn.*`
    return sorted(
        k[: -len("c_attn")]
        for k in state
        if k.endswith("c_attn") and k[: -len("c_attn")] + "attn.out_proj.weight" in state
    )


def _rename_in_proj(state: StateDict) -> StateDict:
    out: StateDict = type(state)() if isinstance(state, dict) else {}
    for k, v in state.items():
        if k.endswith("attn.in_proj_weight"):
            k = k[: -len("in_proj_weight")] + "in_proj.weight"
        elif k.endswith("attn.in_proj_bias"):
            k = k[: -len("in_proj_bias")] + "in_proj.bias"
        out[k] = v
    meta = getattr(state, "_metadata", None)
    if meta is not None:
        out._metadata = {k: dict(v) for k, v in meta.items()}  # type: ignore[attr-defined]  # torch's state-dict metadata, not a dict field
    return out


def head_order_permutation(num_heads: int, embed_dim: int) -> torch.Tensor:
    """``perm[c']`` = the head-major channel that weaver 0.4 put at position ``c'``.

    0.4's ``einsum('tbhd,h->tbdh')`` puts channel ``h*D + d`` at ``d*H + h``.
    """
    import torch

    if embed_dim % num_heads:
        raise JetprofError(f"embed_dim {embed_dim} is not a multiple of num_heads {num_heads}")
    return torch.arange(embed_dim).reshape(num_heads, embed_dim // num_heads).t().reshape(-1)


def convert_04_to_05(state: StateDict) -> StateDict:
    """Convert a weaver 0.4-era ParT state dict so weaver-core 0.5 computes the same outputs.

    Renames ``attn.in_proj_weight/bias`` to ``attn.in_proj.weight/bias``; in every
    block permutes the rows of ``attn.out_proj`` into 0.4's channel order and
    folds the head scales ``c_attn`` into them (``c_attn`` becomes ones).
    The input is not modified.

    Raises:
        JetprofError: the state dict was already converted, or has no attention blocks.
    """
    import torch

    if _marker(state) == "0.5":
        raise JetprofError("state dict was already converted to the weaver 0.5 layout by jetprof")
    out = _rename_in_proj(state)
    prefixes = _block_prefixes(out)
    if not prefixes:
        raise JetprofError("no ParT attention blocks (c_attn + attn.out_proj) in the state dict")
    for p in prefixes:
        c_attn = out[p + "c_attn"]
        weight = out[p + "attn.out_proj.weight"]
        num_heads, embed_dim = c_attn.numel(), weight.shape[0]
        perm = head_order_permutation(num_heads, embed_dim)
        head_of = perm // (embed_dim // num_heads)
        scale = c_attn.detach().to(weight.dtype)[head_of]
        out[p + "attn.out_proj.weight"] = (weight.detach()[perm] * scale[:, None]).contiguous()
        bias_key = p + "attn.out_proj.bias"
        if bias_key in out:
            out[bias_key] = (out[bias_key].detach()[perm] * scale).contiguous()
        out[p + "c_attn"] = torch.ones_like(c_attn)
    meta = getattr(out, "_metadata", None)
    if meta is None:
        try:
            out._metadata = {}  # type: ignore[attr-defined]  # torch's state-dict metadata, not a dict field
            meta = out._metadata  # type: ignore[attr-defined]  # torch's state-dict metadata, not a dict field
        except AttributeError:  # a plain dict cannot carry the marker
            meta = None
    if meta is not None:
        meta.setdefault(_METADATA_ROOT, {})
        meta[_METADATA_ROOT] = dict(
            meta[_METADATA_ROOT], **{MARKER_KEY: "0.5", "jetprof_converted_from": "0.4"}
        )
    return out


def to_current_layout(
    state: StateDict, model: torch.nn.Module | None, layout: str = "auto"
) -> tuple[StateDict, bool]:
    """Return (state in the installed weaver's layout, whether it was a 0.4-era checkpoint).

    Args:
        state: a ParT state dict (plain or wrapped in ``mod.``).
        model: the module it will be loaded into; its own key names tell the
            installed weaver's layout (0.5 for weaver-core 0.5.x).
        layout: ``"auto"`` (from the key names, see :func:`detect_layout`),
            ``"0.4"`` (convert regardless: weaver-core ``main`` snapshots from
            2024-06 to 2026-02) or ``"0.5"`` (never reorder).
    """
    if layout not in LAYOUTS:
        raise JetprofError(
            f"unknown checkpoint layout {layout!r} (choose from {', '.join(LAYOUTS)})"
        )
    found = detect_layout(state)
    legacy = found == "0.4" if layout == "auto" else layout == "0.4"
    target = detect_layout(model.state_dict()) if model is not None else "0.5"
    if target == "0.4":
        # running under weaver 0.4 itself: its own layout needs nothing
        if _marker(state) == "0.5":
            raise JetprofError(
                "a state dict converted to the weaver 0.5 layout cannot run under weaver 0.4"
            )
        return state, legacy
    if legacy:
        return convert_04_to_05(state), True
    if found == "0.4":  # names from nn.MultiheadAttention but declared 0.5 order
        return _rename_in_proj(state), False
    return state, False
