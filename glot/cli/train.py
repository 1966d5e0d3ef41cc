"""``python -m glot train --config CFG``: train GLoT (masked-HPE strategy, official losses).

Multi-GPU / multi-process: ``torchrun --nproc_per_node N -m glot train --config CFG`` runs
DistributedDataParallel (NCCL on GPUs, gloo on CPU); ``batch_size`` is per process.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from . import UsageError

__all__ = ["add_arguments", "main"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="training config (YAML/JSON; official GLoT YAML accepted)")
    p.add_argument("--output", help="run folder (logs, last.pt, model_best.pth.tar); overrides output_dir")
    p.add_argument("--db-dir", help="folder of the databases named in the config (overrides db_dir)")
    p.add_argument("--assets", help="folder with the SMPL files and smpl_mean_params.npz")
    p.add_argument("--resume", help="training checkpoint to continue from ('auto': <output>/last.pt if present)")
    p.add_argument("--epochs", type=int, help="override epochs")
    p.add_argument("--iters", type=int, help="override iterations per epoch")
    p.add_argument("--batch-size", type=int, help="override the per-process batch size")
    p.add_argument("--device", help="cpu, cuda, mps or auto (default: config, then auto)")
    p.add_argument("--seed", type=int, help="override the seed")
    p.add_argument("--tensorboard", action="store_true", help="also log to TensorBoard (if installed)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _overrides(args: argparse.Namespace) -> dict:
    ov: dict = {}
    for key, name in (("output_dir", "output"), ("db_dir", "db_dir"), ("assets_dir", "assets"), ("epochs", "epochs"),
                      ("iters_per_epoch", "iters"), ("batch_size", "batch_size"), ("device", "device"),
                      ("seed", "seed")):
        v = getattr(args, name)
        if v is not None:
            ov[key] = v
    if args.tensorboard:
        ov["tensorboard"] = True
    if args.no_progress:
        ov["progress"] = False
    return ov


def main(args: argparse.Namespace) -> int:
    import torch
    import torch.distributed as dist

    from ..train import Trainer, load_train_config

    try:
        cfg = load_train_config(args.config, _overrides(args))
    except ValueError as exc:
        raise UsageError(f"{args.config}: {exc}") from None
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = cfg.device
    if world > 1:
        use_cuda = torch.cuda.is_available() and (cfg.device in (None, "auto") or str(cfg.device).startswith("cuda"))
        if use_cuda:
            local = int(os.environ.get("LOCAL_RANK", "0"))
            torch.cuda.set_device(local)
            device = f"cuda:{local}"
        dist.init_process_group("nccl" if use_cuda else "gloo")
    try:
        trainer = Trainer(cfg, rank=rank, world=world, device=device)
        resume = args.resume
        if resume == "auto":
            last = Path(cfg.output_dir) / "last.pt"
            resume = str(last) if last.is_file() else None
        if resume:
            trainer.resume(resume)
        result = trainer.fit()
        if rank == 0:
            final = trainer.export(Path(cfg.output_dir) / "model_final.pth.tar")
            print(f"trained {trainer.step} steps ({result.seconds_per_step:.3f} s/step); final model: {final}")
            if result.best_checkpoint:
                print(f"best PA-MPJPE {result.best_pa_mpjpe:.2f} mm: {result.best_checkpoint}")
    finally:
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()
    return 0
