"""Train the open default model: ``python -m glot.open_model.train [--epochs E --iters-per-epoch I ...]``.

One seeded command: generates the synthetic data (``glot.open_model.data``), trains a small GLoT on
landmark features with :class:`glot.train.Trainer` (official losses, masking and schedule), and
writes ``checkpoints/open/open_glot.pth.tar`` + ``open_glot.json`` (+ ``train_meta.json``).
A longer run with the same recipe: raise ``--epochs`` / ``--iters-per-epoch`` / ``--sequences``.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..body.files import MeanParams
from ..config import GLoTConfig
from ..model.glot import GLoT
from ..model.landmark_features import LANDMARK_FEATURE_DIM
from ..train import SequenceDataset, TrainConfig, Trainer
from ..train.losses import LossConfig
from .checkpoint import OPEN_DIR, export_open_checkpoint, load_open_glot, write_reference_io
from ..checkpoint import SMPL_PREFIXES
from .data import DataConfig, joint_body, make_heldout_sequences, make_training_arrays, open_body_and_poser

__all__ = ["OPEN_MODEL_CONFIG", "OpenTrainConfig", "train_open_model", "main"]

# the shipped architecture: GLoT after its input, smaller than the official 512/256 widths
OPEN_MODEL_CONFIG = GLoTConfig(seqlen=16, n_layers=2, d_model=256, num_head=8, short_n_layers=2,
                               short_d_model=128, short_num_head=8, stride_short=4,
                               feature_dim=LANDMARK_FEATURE_DIM, ktd_slice="joint", drop_path_r=0.1,
                               short_drop_path_r=0.1)


@dataclass(frozen=True)
class OpenTrainConfig:
    """The whole recipe (defaults: the shipped checkpoint's run)."""

    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    model: GLoTConfig = OPEN_MODEL_CONFIG
    batch_size: int = 40
    epochs: int = 8
    iters_per_epoch: int = 500
    warmup_epochs: int = 1
    lr: float = 5e-4
    overlap: float = 0.75  # window stride 4 frames
    threads: int | None = None  # torch CPU threads (None: torch's default)
    work_dir: str = "runs/open_model"
    out_dir: str = str(OPEN_DIR)


def with_body(model: GLoT, body) -> GLoT:
    """A copy of ``model`` (eval mode) on another body with the same joints (the full open mesh)."""
    out = GLoT(model.cfg, body, MeanParams(model.global_modeling.regressor.init_pose.reshape(-1),
                                           model.global_modeling.regressor.init_shape.reshape(-1),
                                           model.global_modeling.regressor.init_cam.reshape(-1)))
    sd = {k: v for k, v in model.state_dict().items() if not k.startswith(SMPL_PREFIXES)}
    sd.update({k: v for k, v in out.state_dict().items() if k.startswith(SMPL_PREFIXES)})
    out.load_state_dict(sd, strict=True)
    return out.eval()


def train_open_model(cfg: OpenTrainConfig, device: str | None = "cpu") -> Path:
    """Generate data, train, export. Returns the checkpoint path."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    t0 = time.time()
    body, poser, arrays = open_body_and_poser()
    data = make_training_arrays(cfg.seed, cfg.data, poser)
    t_data = time.time() - t0
    print(f"data: {len(data['features'])} frames in {int(data['vid_name'].max()) + 1} sequences ({t_data:.0f} s)",
          flush=True)
    ds = SequenceDataset(data, cfg.model.seqlen, overlap=cfg.overlap, kind="generic", name="open-synthetic")
    mp = arrays["mean_params"]
    mean = MeanParams(torch.as_tensor(mp["pose"]), torch.as_tensor(mp["shape"], dtype=torch.float32),
                      torch.as_tensor(mp["cam"]))
    torch.manual_seed(cfg.seed)
    model = GLoT(cfg.model, joint_body(arrays), mean)  # same joints, cheap to skin
    tcfg = TrainConfig(model=cfg.model, loss=LossConfig(), output_dir=cfg.work_dir, batch_size=cfg.batch_size,
                       epochs=cfg.epochs, iters_per_epoch=cfg.iters_per_epoch, lr=cfg.lr,
                       warmup_epochs=cfg.warmup_epochs, lr_per_iteration=True, grad_clip=1.0, seed=cfg.seed,
                       device=device, progress=False)
    trainer = Trainer(tcfg, train_3d=ds, model=model, device=device)
    res = trainer.fit()
    minutes = (time.time() - t0) / 60
    last = res.losses[-200:]
    meta = {"recipe": json.loads(json.dumps(asdict(cfg))), "windows": len(ds), "frames": int(len(data["features"])),
            "steps": trainer.step, "final_loss_mean_last_200": float(np.mean(last)) if last else None,
            "seconds_per_step": res.seconds_per_step, "minutes_total": minutes, "torch": torch.__version__}
    path = export_open_checkpoint(with_body(trainer.model, body), cfg.out_dir, epoch=trainer.epoch)
    Path(cfg.out_dir, "train_meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    write_reference(cfg.out_dir)
    print(f"wrote {path} after {trainer.step} steps, {minutes:.1f} min", flush=True)
    return path


def write_reference(folder: str | Path) -> Path:
    """``reference_io.npz``: the exported model's outputs on the first 24 frames of a held-out clip."""
    model, _ = load_open_glot(Path(folder) / "open_glot.pth.tar", device="cpu")
    _, seq = make_heldout_sequences(views=1)[0]
    return write_reference_io(model, seq.features[:24], folder)


def main(argv: list[str] | None = None) -> None:
    d = OpenTrainConfig()
    p = argparse.ArgumentParser(prog="python -m glot.open_model.train", description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--iters-per-epoch", type=int, default=d.iters_per_epoch)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--sequences", type=int, default=d.data.sequences, help="synthetic training sequences")
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--work-dir", default=d.work_dir, help="training logs and resumable state")
    p.add_argument("--out", default=d.out_dir, help="folder of the exported checkpoint")
    p.add_argument("--reference-only", action="store_true", help="only rewrite reference_io.npz of --out")
    a = p.parse_args(argv)
    if a.reference_only:
        print(write_reference(a.out))
        return
    cfg = OpenTrainConfig(seed=a.seed, data=DataConfig(sequences=a.sequences), batch_size=a.batch_size,
                          epochs=a.epochs, iters_per_epoch=a.iters_per_epoch, lr=a.lr, threads=a.threads,
                          work_dir=a.work_dir, out_dir=a.out)
    train_open_model(cfg, device=a.device)


if __name__ == "__main__":
    main()
