"""Static per-frame features: SPIN's HMR ResNet-50 backbone (2048-d average-pooled features).

The weights come from SPIN's ``spin_model_checkpoint.pth.tar`` (its ``model`` dict). The backbone
keys (``conv1``, ``bn1``, ``layer1`` .. ``layer4``) are torchvision's ResNet-50 names, so the
network is torchvision's ``resnet50`` with ``fc`` replaced by identity; SPIN's regressor keys
(``fc1``, ``fc2``, ``dec*``, ``init_*``, ``smpl``) are ignored. A backbone key missing from the
file is an error (the model never runs on partly random weights).

On CPUs with bf16 matrix units (AMX / AVX512-BF16) features are computed in bf16 by default
(pass ``bf16=False`` for float32): :func:`bf16_backbone` makes a copy with every batch norm folded
into its convolution and the weights stored in bf16, 1.5x faster than bf16 autocast on the float32
network at the same error (``benchmarks/bench_stream.py``); :func:`extract_features` runs either.
"""
from __future__ import annotations

import os
from pathlib import Path

from glot.errors import GLoTError
from glot.torch_load import load_weights_only
import torch
import torch.nn as nn

__all__ = [
    "SPIN_CHECKPOINT",
    "FEATURE_DIM",
    "BackboneLoadError",
    "build_backbone",
    "backbone_state_from_spin",
    "load_spin_backbone",
    "cpu_has_bf16_matmul",
    "resolve_bf16",
    "fold_batchnorm",
    "bf16_backbone",
    "extract_features",
]

SPIN_CHECKPOINT = "spin_model_checkpoint.pth.tar"
FEATURE_DIM = 2048
_BACKBONE_PREFIXES = ("conv1.", "bn1.", "layer1.", "layer2.", "layer3.", "layer4.")


class BackboneLoadError(GLoTError, KeyError):
    """The checkpoint lacks backbone weights or has wrong shapes; the message names them."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def build_backbone(device: torch.device | str | None = None) -> nn.Module:
    """torchvision ResNet-50 (random init) whose ``fc`` is identity: ``(N, 3, 224, 224) -> (N, 2048)``.

    ``device="meta"`` builds it without allocating or initialising weights (for shapes, or to
    load a state dict with ``assign=True``).
    """
    from torchvision.models import resnet50

    with torch.device(device or "cpu"):
        model = resnet50(weights=None)
    model.fc = nn.Identity()
    return model


def backbone_state_from_spin(state: dict[str, torch.Tensor], source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """Select and check the ResNet-50 entries of a SPIN ``model`` state dict.

    A ``module.`` prefix (DataParallel) is removed. Non-backbone keys are dropped.

    Raises:
        BackboneLoadError: a backbone key is missing or has the wrong shape.
    """
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    expected = {k: v.shape for k, v in build_backbone("meta").state_dict().items()}
    missing = sorted(k for k in expected if k not in state)
    if missing:
        shown = ", ".join(missing[:5]) + (f" ... ({len(missing)} in all)" if len(missing) > 5 else "")
        raise BackboneLoadError(f"{source} lacks ResNet-50 backbone weights: {shown}")
    wrong = [f"{k} {tuple(state[k].shape)} != {tuple(s)}" for k, s in expected.items() if tuple(state[k].shape) != tuple(s)]
    if wrong:
        raise BackboneLoadError(f"{source} has backbone weights of the wrong shape: {'; '.join(wrong[:3])}")
    return {k: state[k] for k in expected}


def load_spin_backbone(
    path: str | os.PathLike | None = None,
    assets_dir: str | os.PathLike | None = None,
    device: torch.device | str | None = None,
) -> nn.Module:
    """SPIN's ResNet-50 in eval mode, channels-last, on ``device`` (default CPU).

    Args:
        path: the checkpoint; None = locate ``spin_model_checkpoint.pth.tar`` with
            :func:`glot.assets.find_asset` (raises ``AssetNotFoundError`` naming where to get it).
        assets_dir: extra folder searched first when ``path`` is None.
        device: where the module lives.
    """
    if path is None:
        from glot.assets import find_asset

        path = find_asset(SPIN_CHECKPOINT, assets_dir)
    path = Path(path)
    ckpt = load_weights_only(path, "SPIN checkpoint", error=BackboneLoadError)  # refuses code, one-line errors
    state = ckpt.get("model", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise BackboneLoadError(f"{path} is not a SPIN checkpoint (expected a dict with a 'model' state dict)")
    model = build_backbone("meta")  # weights come from the file: skip the random init
    model.load_state_dict(backbone_state_from_spin(state, source=str(path)), strict=True, assign=True)
    model.eval().requires_grad_(False)
    return model.to(device=device or "cpu", memory_format=torch.channels_last)


def cpu_has_bf16_matmul() -> bool:
    """True when this CPU has bf16 matrix/dot-product units (AMX-BF16 or AVX512-BF16)."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_bf16(device: torch.device | str, bf16: bool | None) -> bool:
    """``bf16`` itself, or for None: on for a CPU with bf16 matrix units or a CUDA device with bf16."""
    if bf16 is not None:
        return bool(bf16)
    device = torch.device(device)
    if device.type == "cpu":
        return cpu_has_bf16_matmul()
    return device.type == "cuda" and torch.cuda.is_bf16_supported()


def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A convolution computing ``bn(conv(x))`` of an eval-mode batch norm (float64 arithmetic)."""
    scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
    bias = conv.bias.double() if conv.bias is not None else torch.zeros_like(scale)
    out = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                    conv.dilation, conv.groups, bias=True, padding_mode=conv.padding_mode,
                    device=conv.weight.device, dtype=conv.weight.dtype)
    with torch.no_grad():
        out.weight.copy_(conv.weight.double() * scale[:, None, None, None])
        out.bias.copy_((bias - bn.running_mean.double()) * scale + bn.bias.double())
    return out


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """A copy of a torchvision ResNet whose batch norms are folded into the convolutions before
    them (``conv1/bn1``, each bottleneck's ``convK/bnK`` and ``downsample``); same outputs in eval."""
    import copy

    model = copy.deepcopy(model).eval()
    model.conv1, model.bn1 = _fold(model.conv1, model.bn1), nn.Identity()
    for layer in (model.layer1, model.layer2, model.layer3, model.layer4):
        for block in layer:
            for k in (1, 2, 3):
                conv, bn = getattr(block, f"conv{k}"), getattr(block, f"bn{k}")
                setattr(block, f"conv{k}", _fold(conv, bn))
                setattr(block, f"bn{k}", nn.Identity())
            if block.downsample is not None:
                conv, bn = block.downsample
                block.downsample = nn.Sequential(_fold(conv, bn))
    return model


def bf16_backbone(model: nn.Module) -> nn.Module:
    """The bf16 inference copy of a backbone: batch norms folded, weights bf16, channels-last."""
    return fold_batchnorm(model).to(dtype=torch.bfloat16, memory_format=torch.channels_last).requires_grad_(False)


@torch.inference_mode()
def extract_features(
    model: nn.Module,
    crops: torch.Tensor,
    batch_size: int = 32,
    bf16: bool | None = None,
) -> torch.Tensor:
    """Features of normalised crops, batch by batch.

    Args:
        model: from :func:`load_spin_backbone` (or :func:`build_backbone`), or its
            :func:`bf16_backbone` copy (then runs in bf16 whatever ``bf16`` says).
        crops: ``(N, 3, 224, 224)`` float, ImageNet-normalised (any device; moved to the model's).
        batch_size: crops per forward.
        bf16: bf16 autocast on a float32 model; None = :func:`resolve_bf16`.
    Returns:
        ``(N, 2048)`` float32 on the model's device.
    """
    param = next(model.parameters())
    device = param.device
    autocast = param.dtype == torch.float32 and resolve_bf16(device, bf16)
    out = torch.empty((crops.shape[0], FEATURE_DIM), dtype=torch.float32, device=device)
    for start in range(0, crops.shape[0], batch_size):
        x = crops[start : start + batch_size].to(device=device, dtype=param.dtype)
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=autocast):
            y = model(x)
        out[start : start + y.shape[0]] = y.float()
    return out
