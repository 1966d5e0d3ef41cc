"""``python -m glot predict-features``: GLoT on precomputed ``(B, T, 2048)`` features.

Useful with VIBE/TCMR feature databases. Writes an ``.npz`` with ``final_*`` and ``global_*``
arrays (theta, verts, kp_3d, kp_2d, rotmat; the global branch's singleton time axis dropped).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from . import UsageError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="official GLoT checkpoint (.pth.tar with gen_state_dict)")
    p.add_argument("--config", default=None, help="optional JSON/YAML with constructor values (num_head, ...)")
    p.add_argument("--assets", default=None, help="folder with SMPL files / smpl_mean_params.npz / J_regressor_h36m.npy")
    p.add_argument("--features", required=True, help=".npy file of float32 features, shape (B, T, 2048)")
    p.add_argument("--out", required=True, help="output .npz")
    p.add_argument("--h36m", action="store_true", help="kp_3d/kp_2d as the 14 LSP joints from J_regressor_h36m.npy")
    p.add_argument("--device", default="auto", help="cpu, cuda, mps or auto (default)")
    p.add_argument("--batch-size", type=int, default=64, help="windows per forward pass")


def main(args: argparse.Namespace) -> int:
    from ..checkpoint import load_glot, load_h36m_regressor

    feats_path = Path(args.features)
    if not feats_path.is_file():
        raise UsageError(f"features file not found: {feats_path}")
    try:
        feats = np.load(feats_path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a usage error
        raise UsageError(f"cannot read {feats_path} as a .npy array: {exc}") from None
    model = load_glot(args.checkpoint, config=args.config, assets_dir=args.assets, device=args.device)
    cfg = model.cfg
    if feats.ndim != 3 or feats.shape[2] != cfg.feature_dim:
        raise UsageError(f"features must have shape (B, T, {cfg.feature_dim}); got {feats.shape}")
    if feats.shape[1] < cfg.local_len:
        raise UsageError(f"windows of {feats.shape[1]} frames are shorter than the local window {cfg.local_len}")
    J = load_h36m_regressor(args.assets).to(model.device) if args.h36m else None
    x = torch.from_numpy(np.ascontiguousarray(feats, dtype=np.float32))
    keys = ("theta", "verts", "kp_3d", "kp_2d", "rotmat")
    chunks: dict[str, list[np.ndarray]] = {f"{b}_{k}": [] for b in ("final", "global") for k in keys}
    with torch.inference_mode():
        for i in range(0, x.shape[0], args.batch_size):
            out = model(x[i:i + args.batch_size].to(model.device), J_regressor=J)
            for k in keys:
                chunks[f"final_{k}"].append(getattr(out.final, k).cpu().numpy())
                chunks[f"global_{k}"].append(getattr(out.global_, k)[:, 0].cpu().numpy())
    result = {k: np.concatenate(v, axis=0) for k, v in chunks.items()}
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out_path, **result)
    print(f"wrote {out_path} ({x.shape[0]} windows, joints: {'14 LSP' if args.h36m else '49 SPIN'})")
    return 0
