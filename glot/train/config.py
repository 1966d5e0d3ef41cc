"""Training configuration: one frozen dataclass tree, read from our YAML/JSON or an official
GLoT YAML (``configs/repr_*.yaml``)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from ..config import GLoTConfig, read_mapping_file
from .losses import LossConfig

__all__ = ["DataSource", "TrainConfig", "load_train_config", "OFFICIAL_DB_FILES"]

# official dataset names -> (kind, database file name per official config TITLE)
OFFICIAL_DB_FILES: dict[str, tuple[str, dict[str, str]]] = {
    "ThreeDPW": ("3dpw", {"default": "3dpw_train_db.pt", "repr_table4_3dpw_model": "3dpw_train_occ_db.pt"}),
    "MPII3D": ("mpii3d", {"default": "mpii3d_train_scale12_db.pt",
                          "repr_table4_3dpw_model": "mpii3d_train_scale12_occ_db.pt",
                          "repr_table6_3dpw_model": "mpii3d_train_scale12_occ_db.pt"}),
    "Human36M": ("h36m", {"default": "h36m_train_25fps_db.pt",
                          "repr_table4_3dpw_model": "h36m_train_25fps_occ_db.pt",
                          "repr_table6_3dpw_model": "h36m_train_25fps_occ_db.pt"}),
    "Insta": ("insta", {"default": "insta_train_db.h5"}),
}
OFFICIAL_EVAL_FILES = {"ThreeDPW": ("3dpw", "3dpw_test_db.pt"), "MPII3D": ("mpii3d", "mpii3d_val_scale12_db.pt"),
                       "Human36M": ("h36m", "h36m_test_25fps_db.pt")}


@dataclass(frozen=True)
class DataSource:
    """One database: ``path`` (relative paths resolve against the config's ``db_dir``), ``kind``
    (see :data:`glot.train.data.DATASET_KINDS`), optional SMPL-supervision override."""

    path: str
    kind: str = "generic"
    smpl: bool | None = None

    @classmethod
    def from_any(cls, d: Any) -> "DataSource":
        if isinstance(d, str):
            return cls(path=d)
        return cls(**{k: v for k, v in dict(d).items() if k in ("path", "kind", "smpl")})


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs (official names in comments)."""

    model: GLoTConfig = field(default_factory=GLoTConfig)  # MODEL + DATASET.SEQLEN
    loss: LossConfig = field(default_factory=LossConfig)  # LOSS
    train_2d: tuple[DataSource, ...] = ()  # TRAIN.DATASETS_2D
    train_3d: tuple[DataSource, ...] = ()  # TRAIN.DATASETS_3D
    eval_db: DataSource | None = None  # TRAIN.DATASET_EVAL (scored with the evaluate.py procedure)
    eval_protocol: str = "official"  # eval windows: "official" (evaluate.py's) | "clean" (glot.train.evaluation)
    db_dir: str = ""  # folder for relative database paths
    assets_dir: str | None = None  # SMPL files + smpl_mean_params.npz (glot.assets search order)
    output_dir: str = "runs/glot"  # LOGDIR
    batch_size: int = 64  # TRAIN.BATCH_SIZE (per process)
    data_2d_ratio: float = 0.6  # TRAIN.DATA_2D_RATIO: share of each batch from the 2D datasets
    overlap: float = 0.0  # TRAIN.OVERLAP
    # low-latency training (streaming): frames more than this many after the centre are replaced
    # by that frame, as the online runner's live edge does (None = full centred windows)
    future_frames: int | None = None
    # ours: besides the batch, chain_batch samples of K = chain consecutive windows (T + K - 1 frames
    # of the 3D data) run as at inference, for the loss's chain_* terms (1 = off, the official loss)
    chain: int = 1
    chain_batch: int = 4
    epochs: int = 50  # TRAIN.END_EPOCH
    iters_per_epoch: int = 1000  # TRAIN.NUM_ITERS_PER_EPOCH
    lr: float = 1e-4  # TRAIN.GEN_LR (peak)
    min_lr_ratio: float = 0.1  # floor = lr * ratio (official 0.1)
    warmup_epochs: int = 5  # TRAIN.LR_PATIENCE
    weight_decay: float = 0.0  # TRAIN.GEN_WD (Adam L2, as torch.optim.Adam)
    lr_per_iteration: bool = False  # official: the rate changes once per epoch
    grad_clip: float | None = None  # max gradient norm (official: none)
    val_epoch: int = 1  # TRAIN.val_epoch: first epoch (1-based) that is scored and checkpointed
    eval_every: int = 1  # epochs between evaluations
    seed: int = 1  # SEED_VALUE
    device: str | None = None  # None/"auto": glot.device.resolve_device
    num_workers: int = 0  # DataLoader workers
    init_checkpoint: str | None = None  # official/ours: start from these weights (strict)
    # from scratch: "official" = the official GLoT initialisation (xavier-uniform Linear weights, zero
    # biases, N(0, 0.02^2) positional embeddings; glot.model.init), "torch" = PyTorch's defaults
    init: str = "official"
    # official init only: warm-start the global regressor from SPIN's regressor, as the official GMM:
    # "auto" = spin_model_checkpoint.pth.tar when found among the assets and features are 2048-d,
    # a path = that file (required), None = no warm start
    spin_checkpoint: str | None = "auto"
    tensorboard: bool = False  # also log to TensorBoard when installed
    progress: bool = True  # tqdm bars

    def __post_init__(self) -> None:
        if not 0.0 <= self.data_2d_ratio <= 1.0:
            raise ValueError("data_2d_ratio must be in [0, 1]")
        if self.batch_size < 1 or self.epochs < 1 or self.iters_per_epoch < 1:
            raise ValueError("batch_size, epochs and iters_per_epoch must be >= 1")
        if not 0 <= self.warmup_epochs < self.epochs:
            raise ValueError(f"warmup_epochs ({self.warmup_epochs}) must be in [0, epochs={self.epochs})")
        if self.chain < 1 or self.chain == 2 or self.chain_batch < 1:
            raise ValueError("chain must be 1 (off) or at least 3 consecutive windows; chain_batch >= 1")
        if self.chain > 1 and self.future_frames is not None:
            raise ValueError("chain and future_frames cannot be combined")
        if self.init not in ("official", "torch"):
            raise ValueError(f"init must be 'official' or 'torch', got {self.init!r}")
        if self.eval_protocol not in ("official", "clean"):
            raise ValueError(f"eval_protocol must be 'official' or 'clean', got {self.eval_protocol!r}")

    @property
    def batch_split(self) -> tuple[int, int]:
        """``(2D, 3D)`` samples per batch: ``int(B * ratio)`` from 2D data (0 without 2D data)."""
        n2d = int(self.batch_size * self.data_2d_ratio) if self.train_2d else 0
        return (n2d, self.batch_size - n2d) if self.train_3d else (self.batch_size, 0)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TrainConfig":
        d = dict(d)
        kw: dict[str, Any] = {}
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown training settings: {sorted(unknown)}")
        for k, v in d.items():
            if k == "model":
                kw[k] = v if isinstance(v, GLoTConfig) else GLoTConfig.from_dict(v or {})
            elif k == "loss":
                kw[k] = v if isinstance(v, LossConfig) else LossConfig(**(v or {}))
            elif k in ("train_2d", "train_3d"):
                kw[k] = tuple(DataSource.from_any(x) for x in (v or ()))
            elif k == "eval_db":
                kw[k] = None if v is None else DataSource.from_any(v)
            else:
                kw[k] = v
        return cls(**kw)

    def replace(self, **changes: Any) -> "TrainConfig":
        return replace(self, **changes)


def _from_official(data: Mapping[str, Any]) -> dict[str, Any]:
    """Translate an official GLoT YAML (upper-case sections) into :class:`TrainConfig` fields."""
    up = {str(k).upper(): v for k, v in data.items()}
    tr = {str(k).upper(): v for k, v in (up.get("TRAIN") or {}).items()}
    lo = {str(k).upper(): v for k, v in (up.get("LOSS") or {}).items()}
    title = str(up.get("TITLE", ""))
    model = {str(k).lower(): v for k, v in (up.get("MODEL") or {}).items()}
    if "SEQLEN" in {str(k).upper() for k in (up.get("DATASET") or {})}:
        model["seqlen"] = {str(k).upper(): v for k, v in up["DATASET"].items()}["SEQLEN"]

    def sources(names: Any) -> list[dict[str, Any]]:
        out = []
        for n in names or []:
            if n not in OFFICIAL_DB_FILES:
                raise ValueError(f"unknown official dataset '{n}'; known: {sorted(OFFICIAL_DB_FILES)}")
            kind, files = OFFICIAL_DB_FILES[n]
            src: dict[str, Any] = {"path": files.get(title, files["default"]), "kind": kind}
            if n == "Human36M" and title == "repr_table4_3dpw_model":
                src["smpl"] = False  # the official Dataset3D drops H36M SMPL for this table
            out.append(src)
        return out

    ev = tr.get("DATASET_EVAL")
    cfg: dict[str, Any] = {
        "model": model,
        "loss": {"kp_2d": lo.get("KP_2D_W", 300.0), "kp_3d": lo.get("KP_3D_W", 300.0), "pose": lo.get("POSE_W", 60.0),
                 "shape": lo.get("SHAPE_W", 0.06), "vel_2d": lo.get("VEL_OR_ACCEL_2D_WEIGHT", 10.0),
                 "vel_3d": lo.get("VEL_OR_ACCEL_3D_WEIGHT", 100.0), "use_accel": bool(lo.get("USE_ACCEL", False))},
        "train_2d": sources(tr.get("DATASETS_2D")),
        "train_3d": sources(tr.get("DATASETS_3D")),
        "eval_db": ({"path": OFFICIAL_EVAL_FILES[ev][1], "kind": OFFICIAL_EVAL_FILES[ev][0]} if ev else None),
        "batch_size": int(tr.get("BATCH_SIZE", 64)),
        "data_2d_ratio": float(tr.get("DATA_2D_RATIO", 0.6)),
        "overlap": float(tr.get("OVERLAP", 0.0)),
        "epochs": int(tr.get("END_EPOCH", 50)),
        "iters_per_epoch": int(tr.get("NUM_ITERS_PER_EPOCH", 1000)),
        "lr": float(tr.get("GEN_LR", 1e-4)),
        "warmup_epochs": int(tr.get("LR_PATIENCE", 5)),
        "weight_decay": float(tr.get("GEN_WD", 0.0)),
        "val_epoch": int(tr.get("VAL_EPOCH", 1)),
        "seed": int(up.get("SEED_VALUE", 1)),
    }
    return cfg


def load_train_config(path: str | Path, overrides: Mapping[str, Any] | None = None) -> TrainConfig:
    """Read a training config (ours: lower-case keys as :class:`TrainConfig`; official: upper-case
    ``TRAIN``/``LOSS``/``MODEL`` sections). Relative ``db_dir``/``output_dir`` stay relative to the
    working directory; ``overrides`` (e.g. from the command line) win."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"training config not found: {path}")
    data = read_mapping_file(path)
    if any(str(k).isupper() for k in data):  # official layout
        ours = {k: v for k, v in data.items() if not str(k).isupper()}  # our keys may be mixed in
        data = {**_from_official(data), **ours}
    data = {**data, **dict(overrides or {})}
    return TrainConfig.from_dict(data)
