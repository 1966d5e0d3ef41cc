"""Training and evaluation of GLoT (masked-HPE strategy, official losses, schedule and metrics).

Depends on model/body/config/checkpoint; nothing there imports this package.
"""
from .config import DataSource, TrainConfig, load_train_config
from .data import SequenceDataset, eval_window_indices, read_database, train_windows, video_segments
from .evaluation import EvalResult, evaluate_database, target_vertices
from .losses import GLoTLoss, LossConfig, branch_losses
from .metrics import batch_similarity_transform, compute_error_accel, evaluate_frames
from .schedule import cosine_warmup_lr
from .trainer import BatchStream, Trainer, TrainResult, build_model, load_training_checkpoint

__all__ = [
    "TrainConfig", "DataSource", "load_train_config", "LossConfig", "GLoTLoss", "branch_losses",
    "SequenceDataset", "read_database", "train_windows", "video_segments", "eval_window_indices",
    "Trainer", "TrainResult", "BatchStream", "build_model", "load_training_checkpoint", "cosine_warmup_lr",
    "evaluate_database", "EvalResult", "target_vertices", "evaluate_frames", "batch_similarity_transform",
    "compute_error_accel",
]
