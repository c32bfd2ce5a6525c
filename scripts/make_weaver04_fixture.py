"""Make a ParT checkpoint and reference outputs with weaver-core 0.4.17 itself.

Run with the python of a separate venv that has weaver-core 0.4.17 (it pins
numpy<2 and uproot<5.2, so it cannot live beside jetprof's weaver-core 0.5.3):

    python3 -m venv /work/venvs/weaver04
    /work/venvs/weaver04/bin/pip install torch==2.13.0 weaver-core==0.4.17
    /work/venvs/weaver04/bin/python scripts/make_weaver04_fixture.py --out-dir tests/data/weaver04

It writes two files into ``--out-dir``:

- ``ParT_{config}_04_state.pt``: the model's state dict exactly as weaver 0.4
  saves it (``model.state_dict()``), after seeding and perturbing every
  parameter (so head scales ``c_attn`` and norms are not all ones, as in a
  trained model);
- ``ParT_{config}_04_io.pt``: the constructor settings, fixed inputs
  (features, four-vectors, mask with padded particles) and 0.4.17's logits
  and softmax for them, plus the versions that made them.

This file must not import jetprof: it runs in the 0.4.17 venv. It is a
developer tool for tests/test_pretrained.py, not a Snakemake rule script.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch

SMALL = dict(
    input_dim=17,
    num_classes=10,
    pair_input_dim=4,
    use_pre_activation_pair=False,
    embed_dims=[64, 128, 64],
    pair_embed_dims=[32, 32, 32],
    num_heads=8,
    num_layers=2,
    num_cls_layers=1,
    block_params=None,
    cls_block_params={"dropout": 0, "attn_dropout": 0, "activation_dropout": 0},
    fc_params=[],
    activation="gelu",
    trim=False,
    for_inference=False,
)
# the ParT paper's settings (workflow/weaver/ParT.py), 17 features, 10 classes
FULL = dict(
    SMALL, embed_dims=[128, 512, 128], pair_embed_dims=[64, 64, 64], num_layers=8, num_cls_layers=2
)
CONFIGS = {"small": SMALL, "full": FULL}


def make_inputs(generator: torch.Generator, batch: int, particles: int, input_dim: int):
    """Jets with 3..``particles`` real particles (the rest padded with zeros).

    Returns:
        features (N, C, P), four-vectors (N, 4, P) as [px, py, pz, E] with E >= |p|,
        mask (N, 1, P) float, 1 for real particles.
    """
    counts = torch.randint(3, particles + 1, (batch,), generator=generator)
    counts[0] = particles  # one jet without padding
    mask = (torch.arange(particles)[None, :] < counts[:, None]).float()[:, None, :]
    features = torch.randn(batch, input_dim, particles, generator=generator) * mask
    pt = torch.exp(torch.randn(batch, particles, generator=generator)) * 5.0 + 0.5
    eta = torch.randn(batch, particles, generator=generator) * 0.3
    phi = torch.randn(batch, particles, generator=generator) * 0.3
    mass = torch.rand(batch, particles, generator=generator) * 0.2
    px, py, pz = pt * torch.cos(phi), pt * torch.sin(phi), pt * torch.sinh(eta)
    energy = torch.sqrt(px**2 + py**2 + pz**2 + mass**2)
    vectors = torch.stack([px, py, pz, energy], dim=1) * mask
    return features, vectors, mask


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", required=True, type=Path)
    parser.add_argument("--config", choices=sorted(CONFIGS), default="small")
    parser.add_argument("--seed", type=int, default=20240806)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--particles", type=int, default=24)
    parser.add_argument(
        "--perturb", type=float, default=0.2, help="std of the noise added to every parameter"
    )
    args = parser.parse_args(argv)

    import weaver
    from weaver.nn.model.ParticleTransformer import ParticleTransformer

    version = getattr(weaver, "__version__", None)
    if version is None:
        from importlib.metadata import version as dist_version

        version = dist_version("weaver-core")
    if not version.startswith("0.4"):
        raise SystemExit(f"make_weaver04_fixture: needs weaver-core 0.4.x, found {version}")

    torch.manual_seed(args.seed)
    kwargs = CONFIGS[args.config]
    model = ParticleTransformer(**kwargs)
    with torch.no_grad():
        for p in model.parameters():
            # a trained model's head scales, norm gains and biases are not 1 or 0
            p.add_(
                torch.randn_like(p)
                * args.perturb
                / (1.0 if p.dim() < 2 else math.sqrt(p.shape[-1]))
            )
    model.eval()

    generator = torch.Generator().manual_seed(args.seed + 1)
    features, vectors, mask = make_inputs(
        generator, args.batch, args.particles, kwargs["input_dim"]
    )
    with torch.no_grad():
        logits = model(features, v=vectors, mask=mask)
    softmax = torch.softmax(logits, dim=1)

    args.out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"ParT_{args.config}_04"
    torch.save(model.state_dict(), args.out_dir / f"{stem}_state.pt")
    torch.save(
        {
            "kwargs": kwargs,
            "seed": args.seed,
            "perturb": args.perturb,
            "features": features,
            "vectors": vectors,
            "mask": mask,
            "logits": logits,
            "softmax": softmax,
            "weaver_version": str(version),
            "torch_version": str(torch.__version__),
        },
        args.out_dir / f"{stem}_io.pt",
    )
    params = sum(p.numel() for p in model.parameters())
    print(
        f"{args.out_dir / stem}_*.pt: weaver-core {version}, torch {torch.__version__}, {params} parameters"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
