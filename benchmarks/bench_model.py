"""GLoT forward speed: windows/s for the official config on this machine.

Random weights, synthetic SMPL-format body with V=6890 vertices (the real SMPL size), float32,
``torch.inference_mode``. Prints windows/s at batch 1 and 64 for
* full: both branches' meshes (what the overlay video needs),
* lean: final mesh only, global branch joints only,
* joints: no meshes at all (evaluation of joints / 2D overlays).
The official implementation measured 52 (B=1) and 356 (B=64) windows/s on this 2-core machine.
"""
from __future__ import annotations

import argparse
import time

import torch

from glot.body import MeanParams, SMPLBody
from glot.config import GLoTConfig
from glot.model import GLoT
from glot.testing import synthetic_smpl_arrays


def build(device: torch.device) -> GLoT:
    arr = synthetic_smpl_arrays(6890)
    body = SMPLBody(arr, arr["J_regressor_extra"], vertex_ids=arr["vertex_ids"])
    torch.manual_seed(0)
    return GLoT(GLoTConfig.preset("repr_table1_3dpw"), body, MeanParams.identity()).eval().to(device)


def measure(model: GLoT, batch: int, seconds: float, **kw) -> float:
    x = torch.randn(batch, model.cfg.seqlen, model.cfg.feature_dim, device=model.device)
    with torch.inference_mode():
        for _ in range(2):
            model(x, **kw)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            model(x, **kw)
            n += 1
        dt = time.perf_counter() - t0
    return n * batch / dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--compile", action="store_true",
                    help="torch.compile the model first (about a minute per batch size; same numbers within 2e-6)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = build(torch.device(args.device))
    if args.compile:
        model = torch.compile(model, dynamic=False)
    print(f"device={args.device} threads={torch.get_num_threads()} torch={torch.__version__} compile={args.compile}")
    modes = {
        "full": {},
        "lean": {"need_global_verts": False},
        "joints": {"need_verts": False, "need_global_verts": False},
    }
    for name, kw in modes.items():
        for b in (1, 64):
            print(f"{name:6s} B={b:<3d} {measure(model, b, args.seconds, **kw):8.1f} windows/s")


if __name__ == "__main__":
    main()
