"""The training loop: Adam + the official cosine/warm-up schedule, masked-HPE losses, CSV logs,
checkpoints (ours: weights + optimizer + position; export: the official ``gen_state_dict``),
resume, best model by PA-MPJPE, and DistributedDataParallel under ``torchrun``.

Determinism: every random stream (masking noise, dropout, data order) is re-seeded from
``(seed, epoch, rank)`` at each epoch start, so a run resumed from an epoch checkpoint continues
exactly as the uninterrupted run would have.
"""
from __future__ import annotations

import csv
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from ..assets import find_asset
from ..body.files import read_mean_params
from ..checkpoint import _body_from_files, load_h36m_regressor, official_state_dict, read_state_dict, \
    save_official_checkpoint
from ..config import GLoTConfig
from ..device import resolve_device
from ..model.backbone import FEATURE_DIM, SPIN_CHECKPOINT
from ..model.glot import GLoT
from ..model.init import official_init_, read_spin_state, warm_start_from_spin_
from .config import DataSource, TrainConfig
from .data import SequenceDataset, collate_mixed, read_database
from .evaluation import evaluate_database
from .losses import GLoTLoss, chain_losses, unfold_chain
from .schedule import cosine_warmup_lr

__all__ = ["build_model", "BatchStream", "Trainer", "TrainResult", "CHECKPOINT_FORMAT", "load_training_checkpoint"]

CHECKPOINT_FORMAT = "glot-train-1"


def build_model(cfg: GLoTConfig, assets_dir: str | os.PathLike | None = None, init: str = "official",
                spin_checkpoint: str | os.PathLike | None = "auto") -> GLoT:
    """A fresh GLoT with the body and mean parameters from the asset folder (see glot.assets).

    Args:
        init: ``"official"``: the official initialisation (:func:`glot.model.init.official_init_`);
            ``"torch"``: PyTorch's default initialisation of each layer.
        spin_checkpoint: with the official init, warm-start the global regressor from SPIN's
            regressor as the official code does (:func:`glot.model.init.warm_start_from_spin_`):
            ``"auto"`` = ``spin_model_checkpoint.pth.tar`` when the asset search finds it and the
            features are SPIN's 2048-d ones (the official code loads it whenever the file exists);
            a path = that file (an error if it is missing or does not fit); None = no warm start.
    Random draws come from torch's global generator (seed it first for a reproducible model).
    """
    if init not in ("official", "torch"):
        raise ValueError(f"init must be 'official' or 'torch', got {init!r}")
    body = _body_from_files(assets_dir, "neutral")
    mean = read_mean_params(find_asset("smpl_mean_params.npz", assets_dir))
    model = GLoT(cfg, body, mean)
    if init == "official":
        official_init_(model)
        path = spin_checkpoint
        if path == "auto":
            path = find_asset(SPIN_CHECKPOINT, assets_dir, required=False) if cfg.feature_dim == FEATURE_DIM else None
        if path:
            warm_start_from_spin_(model, read_spin_state(path), source=str(path))
    return model


class BatchStream:
    """Endless batches from one dataset: ``DistributedSampler`` order per pass (reshuffled with
    ``set_epoch(pass)``), resumable from ``(pass, offset)``."""

    def __init__(self, dataset: Dataset, batch_size: int, seed: int, rank: int = 0, world: int = 1,
                 num_workers: int = 0) -> None:
        self.dataset, self.batch_size, self.num_workers = dataset, batch_size, num_workers
        self.sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=seed,
                                          drop_last=True)
        if self.sampler.num_samples < batch_size:
            name = getattr(dataset, "name", "dataset")
            raise ValueError(f"{name}: {len(dataset)} windows give {self.sampler.num_samples} per process, "
                             f"fewer than a batch of {batch_size}")
        self.pass_, self.offset = 0, 0
        self._it: Iterator | None = None

    def _loader(self) -> Iterator:
        self.sampler.set_epoch(self.pass_)
        idx = list(iter(self.sampler))
        bs = self.batch_size
        batches = [idx[i:i + bs] for i in range(0, len(idx) - bs + 1, bs)][self.offset:]
        # own generator: creating a loader must not draw from the global RNG (dropout stream)
        gen = torch.Generator().manual_seed(_mix_seed(self.sampler.seed, self.pass_, self.offset))
        return iter(DataLoader(self.dataset, batch_sampler=batches, num_workers=self.num_workers, generator=gen))

    def __next__(self) -> dict[str, torch.Tensor]:
        while True:
            if self._it is None:
                self._it = self._loader()
            try:
                batch = next(self._it)
            except StopIteration:
                self.pass_, self.offset, self._it = self.pass_ + 1, 0, None
                continue
            self.offset += 1
            return batch

    def state_dict(self) -> dict[str, int]:
        return {"pass": self.pass_, "offset": self.offset}

    def load_state_dict(self, st: dict[str, int]) -> None:
        self.pass_, self.offset, self._it = int(st["pass"]), int(st["offset"]), None


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` did: losses per step (this process), evaluations, files."""

    losses: list[float] = field(default_factory=list)
    evals: list[dict[str, Any]] = field(default_factory=list)
    best_pa_mpjpe: float = float("inf")
    last_checkpoint: Path | None = None
    best_checkpoint: Path | None = None
    seconds_per_step: float = float("nan")


def _mix_seed(*parts: int) -> int:
    s = 0
    for p in parts:
        s = (s * 1_000_003 + int(p)) % (2 ** 62)
    return s


def load_training_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read one of our training checkpoints (CPU, ``weights_only``)."""
    obj = torch.load(Path(path), map_location="cpu", weights_only=True)
    if not isinstance(obj, dict) or obj.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a GLoT training checkpoint (format {CHECKPOINT_FORMAT})")
    return obj


class Trainer:
    """Train a GLoT model.

    Args:
        cfg: the run's settings.
        train_2d / train_3d: datasets (default: built from ``cfg``'s sources).
        eval_db: per-frame arrays scored after each epoch (default: ``cfg.eval_db``), with
            ``eval_dataset`` its kind.
        model: a ready model, used as given (default: :func:`build_model` from ``cfg.assets_dir`` with
            ``cfg.init`` and ``cfg.spin_checkpoint``).
        rank / world: DDP position; when ``world > 1`` the default process group must exist.
    """

    def __init__(self, cfg: TrainConfig, train_2d: Dataset | None = None, train_3d: Dataset | None = None,
                 eval_db: dict[str, Any] | None = None, eval_dataset: str | None = None,
                 model: GLoT | None = None, rank: int = 0, world: int = 1,
                 device: str | torch.device | None = None, train_chain: Dataset | None = None) -> None:
        self.cfg, self.rank, self.world = cfg, rank, world
        self.device = resolve_device(device if device is not None else cfg.device)
        self.out_dir = Path(cfg.output_dir)
        torch.manual_seed(cfg.seed)  # identical initial weights on every process
        if model is None:
            model = build_model(cfg.model, cfg.assets_dir, init=cfg.init, spin_checkpoint=cfg.spin_checkpoint)
        self.model = model.to(self.device)
        if cfg.init_checkpoint:
            self.model.load_state_dict(read_state_dict(cfg.init_checkpoint), strict=True)
        self.net: torch.nn.Module = self.model
        if world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            # the official model has heads that never run (fc2, KTD's shape/cam): find them each step
            self.net = DDP(self.model, device_ids=ids, find_unused_parameters=True)
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.criterion = GLoTLoss(cfg.loss)

        n2d, n3d = cfg.batch_split
        ds2 = train_2d if train_2d is not None else self._concat(cfg.train_2d)
        ds3 = train_3d if train_3d is not None else self._concat(cfg.train_3d)
        if ds2 is None:
            n2d, n3d = 0, cfg.batch_size
        if ds3 is None:
            n2d, n3d = cfg.batch_size, 0
        if ds2 is None and ds3 is None:
            raise ValueError("no training data: give train_2d and/or train_3d databases")
        seed = cfg.seed
        self.streams: dict[str, BatchStream] = {}
        if n2d:
            self.streams["2d"] = BatchStream(ds2, n2d, seed, rank, world, cfg.num_workers)
        if n3d:
            self.streams["3d"] = BatchStream(ds3, n3d, seed + 1, rank, world, cfg.num_workers)
        if cfg.chain > 1 and cfg.loss.has_chain_terms:
            # no stream (no loading) when the chain terms have no weight, e.g. a recipe's first stage
            if world > 1:
                raise ValueError("the chain terms run a second forward per step: single-process training only")
            dsc = train_chain if train_chain is not None else self._concat(cfg.train_3d, cfg.chain - 1)
            if dsc is None:
                raise ValueError("chain > 1 needs 3D training data (train_3d or train_chain)")
            self.streams["chain"] = BatchStream(dsc, cfg.chain_batch, seed + 2, rank, world, cfg.num_workers)

        self.eval_db, self.eval_dataset = eval_db, eval_dataset
        if self.eval_db is None and cfg.eval_db is not None and rank == 0:
            self.eval_db = read_database(self._path(cfg.eval_db))
            self.eval_dataset = cfg.eval_db.kind
        self._jreg: torch.Tensor | None = None
        self.epoch, self.step, self.best = 0, 0, float("inf")
        self.mask_gen = torch.Generator()

    # ------------------------------------------------------------------ data
    def _path(self, src: DataSource) -> Path:
        p = Path(src.path)
        return p if p.is_absolute() or not self.cfg.db_dir else Path(self.cfg.db_dir) / p

    def _concat(self, sources: tuple[DataSource, ...], extra_frames: int = 0) -> Dataset | None:
        if not sources:
            return None
        sets = [SequenceDataset.from_file(self._path(s), self.cfg.model.seqlen + extra_frames, overlap=self.cfg.overlap,
                                          future_frames=None if extra_frames else self.cfg.future_frames,
                                          kind=s.kind, smpl=s.smpl) for s in sources]
        for s in sets:
            if s.feature_dim != self.cfg.model.feature_dim:
                raise ValueError(f"{s.name}: features are {s.feature_dim}-d but model.feature_dim is "
                                 f"{self.cfg.model.feature_dim}")
        return sets[0] if len(sets) == 1 else torch.utils.data.ConcatDataset(sets)

    def _next_batch(self) -> dict[str, torch.Tensor]:
        parts = [next(self.streams[k]) if k in self.streams else None for k in ("2d", "3d")]
        return {k: v.to(self.device) for k, v in collate_mixed(*parts).items()}

    def _next_chain(self) -> dict[str, torch.Tensor] | None:
        if "chain" not in self.streams:
            return None
        return {k: v.to(self.device) for k, v in next(self.streams["chain"]).items()}

    # ------------------------------------------------------------------ steps
    def lr_at(self, epoch: int, it: int = 0) -> float:
        cfg = self.cfg
        e = epoch + (it / cfg.iters_per_epoch if cfg.lr_per_iteration else 0.0)
        return cosine_warmup_lr(e, cfg.epochs, cfg.lr, cfg.lr * cfg.min_lr_ratio, cfg.warmup_epochs)

    def train_step(self, batch: dict[str, torch.Tensor], chain: dict[str, torch.Tensor] | None = None
                   ) -> tuple[float, dict[str, float]]:
        """One optimisation step on ``batch`` (``(B, T, ...)`` tensors) and, when given, chained
        samples ``chain`` (``(C, T + K - 1, ...)``: the loss's ``chain_*`` terms on the final branch of
        their ``K`` consecutive windows, run as at inference). Returns the loss values."""
        self.net.train()
        B, T = batch["features"].shape[:2]
        noise = torch.rand(B, T, generator=self.mask_gen).to(self.device)
        out = self.net(batch["features"], is_train=True, mask_noise=noise, need_verts=False,
                       need_global_verts=False)
        total, terms = self.criterion(out, batch)
        if chain is not None and self.cfg.loss.has_chain_terms:
            # inference behaviour: no masking, no dropout, one centre frame per window
            windows = unfold_chain(chain, self.cfg.model.seqlen)
            self.net.eval()
            final = self.net(windows["features"], need_verts=False, need_global_verts=False).final
            self.net.train()
            extra = chain_losses(final, chain, self.cfg.loss)
            if extra:
                total = total + torch.stack(list(extra.values())).sum()
                terms = {**terms, **extra}
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        if self.cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.optimizer.step()
        self.step += 1
        if not torch.isfinite(total):
            raise FloatingPointError(f"loss is {total.item()} at step {self.step}")
        return float(total.detach()), {k: float(v.detach()) for k, v in terms.items()}

    def _seed_epoch(self, epoch: int) -> None:
        torch.manual_seed(_mix_seed(self.cfg.seed, epoch, self.rank, 1))
        self.mask_gen.manual_seed(_mix_seed(self.cfg.seed, epoch, self.rank, 2))

    # ------------------------------------------------------------------ evaluation
    def evaluate(self) -> dict[str, Any] | None:
        """Score the eval database (rank 0); None without one."""
        if self.eval_db is None or self.rank != 0:
            return None
        kind = self.eval_dataset or "3dpw"
        if kind != "mpii3d" and self._jreg is None:
            self._jreg = load_h36m_regressor(self.cfg.assets_dir)
        res = evaluate_database(self.model, self.eval_db, kind, self._jreg, progress=self.cfg.progress,
                                protocol=self.cfg.eval_protocol)
        return {"epoch": self.epoch, "pa_mpjpe": res.mpjpe_pa, "mpjpe": res.mpjpe, "accel_err": res.accel_err,
                "pve": res.mpvpe, "frames": res.num_frames}

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "config": json.loads(json.dumps(self.cfg.to_dict())),
            "model": {k: v.detach().cpu() for k, v in official_state_dict(self.model).items()},
            "optimizer": self.optimizer.state_dict(),
            "epoch": self.epoch,  # epochs completed
            "step": self.step,
            "best_pa_mpjpe": self.best,
            "streams": {k: s.state_dict() for k, s in self.streams.items()},
        }

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        torch.save(self.state_dict(), tmp)
        os.replace(tmp, path)
        return path

    def resume(self, path: str | os.PathLike) -> None:
        """Continue from one of our checkpoints (weights, optimizer, epoch, step, data position)."""
        ck = load_training_checkpoint(path)
        self.model.load_state_dict(ck["model"], strict=True)
        self.optimizer.load_state_dict(ck["optimizer"])
        self.epoch, self.step, self.best = int(ck["epoch"]), int(ck["step"]), float(ck["best_pa_mpjpe"])
        for k, st in ck.get("streams", {}).items():
            if k in self.streams:
                self.streams[k].load_state_dict(st)

    def export(self, path: str | os.PathLike) -> Path:
        """Write the official layout (``gen_state_dict``) plus ``<name>.json`` with the model config."""
        path = save_official_checkpoint(self.model, path, epoch=self.epoch, performance=self.best)
        Path(str(path) + ".json").write_text(json.dumps(self.cfg.model.to_dict(), indent=2))
        return path

    # ------------------------------------------------------------------ loop
    def _log_row(self, name: str, row: dict[str, Any]) -> None:
        if self.rank != 0:
            return
        f = self.out_dir / name
        new = not f.exists()
        f.parent.mkdir(parents=True, exist_ok=True)
        with open(f, "a", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(row))
            if new:
                w.writeheader()
            w.writerow(row)

    def fit(self, epochs: int | None = None) -> TrainResult:
        """Train from the current epoch up to ``epochs`` (default ``cfg.epochs``)."""
        cfg = self.cfg
        end = cfg.epochs if epochs is None else int(epochs)
        result = TrainResult(best_pa_mpjpe=self.best)
        writer = self._tensorboard()
        times: list[float] = []
        for epoch in range(self.epoch, end):
            self._seed_epoch(epoch)
            bar = range(cfg.iters_per_epoch)
            if cfg.progress and self.rank == 0:
                from tqdm import tqdm

                bar = tqdm(bar, desc=f"epoch {epoch + 1}/{end}", leave=False)
            for it in bar:
                lr = self.lr_at(epoch, it)
                for g in self.optimizer.param_groups:
                    g["lr"] = lr
                t0 = time.perf_counter()
                total, terms = self.train_step(self._next_batch(), self._next_chain())
                times.append(time.perf_counter() - t0)
                result.losses.append(total)
                self._log_row("train_log.csv", {"step": self.step, "epoch": epoch + 1, "lr": lr, "loss": total, **terms})
                if writer is not None:
                    writer.add_scalar("train/loss", total, self.step)
                if hasattr(bar, "set_postfix"):
                    bar.set_postfix(loss=f"{total:.3f}")
            self.epoch = epoch + 1
            scored = None
            if (epoch + 1) >= cfg.val_epoch and (epoch + 1 - cfg.val_epoch) % cfg.eval_every == 0:
                scored = self.evaluate()
            if self.rank == 0:
                if scored is not None:
                    result.evals.append(scored)
                    self._log_row("eval_log.csv", scored)
                    if writer is not None:
                        for k in ("pa_mpjpe", "mpjpe", "accel_err"):
                            writer.add_scalar(f"eval/{k}", scored[k], self.epoch)
                    if scored["pa_mpjpe"] < self.best:
                        self.best = scored["pa_mpjpe"]
                        result.best_checkpoint = self.export(self.out_dir / "model_best.pth.tar")
                result.last_checkpoint = self.save(self.out_dir / "last.pt")
            if self.world > 1:
                dist.barrier()
        result.best_pa_mpjpe = self.best
        result.seconds_per_step = sum(times) / len(times) if times else float("nan")
        if writer is not None:
            writer.close()
        return result

    def _tensorboard(self):
        if not self.cfg.tensorboard or self.rank != 0:
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            return None
        return SummaryWriter(log_dir=str(self.out_dir / "tb"))
