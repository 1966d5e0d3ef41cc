"""A SPIN-format checkpoint with random weights (tests and benchmarks only; never the real model)."""
from __future__ import annotations

import os
from pathlib import Path

import torch

__all__ = ["spin_state_dict", "write_spin_checkpoint"]


def spin_state_dict(seed: int = 0, drop: tuple[str, ...] = ()) -> dict[str, torch.Tensor]:
    """SPIN ``model`` state dict: torchvision ResNet-50 backbone (random, seeded) + SPIN's regressor keys.

    BatchNorm running statistics are randomised too, so a wrong load is visible in the outputs.

    Args:
        seed: random seed.
        drop: backbone keys to leave out (to test the loader's strictness).
    """
    from glot.model.backbone import build_backbone

    gen = torch.Generator().manual_seed(seed)
    torch_state = build_backbone("meta").state_dict()
    state: dict[str, torch.Tensor] = {}
    for k, v in torch_state.items():
        if k in drop:
            continue
        if k.endswith("num_batches_tracked"):
            state[k] = torch.zeros((), dtype=torch.int64)
        elif k.endswith("running_var"):
            state[k] = 0.5 + torch.rand(v.shape, generator=gen)
        elif k.endswith("running_mean"):
            state[k] = 0.1 * torch.randn(v.shape, generator=gen)
        elif v.ndim == 1:  # BatchNorm weight / bias
            state[k] = (1.0 if k.endswith("weight") else 0.0) + 0.1 * torch.randn(v.shape, generator=gen)
        else:  # conv: He init keeps activations bounded through 50 layers
            fan_in = v[0].numel()
            state[k] = torch.randn(v.shape, generator=gen) * (2.0 / fan_in) ** 0.5
    # SPIN's HMR regressor (ignored by the backbone loader); sizes as in SPIN
    npose = 24 * 6
    state["fc1.weight"] = 0.01 * torch.randn(1024, 2048 + npose + 13, generator=gen)
    state["fc1.bias"] = torch.zeros(1024)
    state["fc2.weight"] = 0.01 * torch.randn(1024, 1024, generator=gen)
    state["fc2.bias"] = torch.zeros(1024)
    state["decpose.weight"] = 0.01 * torch.randn(npose, 1024, generator=gen)
    state["decpose.bias"] = torch.zeros(npose)
    state["decshape.weight"] = 0.01 * torch.randn(10, 1024, generator=gen)
    state["decshape.bias"] = torch.zeros(10)
    state["deccam.weight"] = 0.01 * torch.randn(3, 1024, generator=gen)
    state["deccam.bias"] = torch.zeros(3)
    state["init_pose"] = torch.tensor([1.0, 0, 0, 1, 0, 0]).repeat(24)[None]
    state["init_shape"] = torch.zeros(1, 10)
    state["init_cam"] = torch.tensor([[0.9, 0.0, 0.0]])
    return state


def write_spin_checkpoint(path: str | os.PathLike, seed: int = 0, drop: tuple[str, ...] = ()) -> Path:
    """Write ``{'model': spin_state_dict(...), 'optimizer': {}}`` to ``path`` (SPIN's file layout)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": spin_state_dict(seed, drop), "optimizer": {}}, path)
    return path
