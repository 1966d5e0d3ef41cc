"""``python -m glot eval --dataset 3dpw --db PATH --checkpoint CKPT``: the paper's metrics row.

Prints PA-MPJPE, MPJPE, PVE (3DPW only) and acceleration error in mm. ``--protocol official``
(default) uses the official ``evaluate.py`` windows, so the numbers equal that script's (the
paper's tables), including its reversed window order at each video's end and the skipping of
videos shorter than the window; ``--protocol clean`` scores every frame against its own centred
window. Databases are joblib pickles: only evaluate files you trust.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from . import UsageError

__all__ = ["add_arguments", "main", "write_accel_plot"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, choices=("3dpw", "h36m", "mpii3d"))
    p.add_argument("--db", required=True, help="preprocessed test database (e.g. 3dpw_test_db.pt; a pickle)")
    p.add_argument("--checkpoint", required=True, help="official .pth.tar, an exported model or a training last.pt")
    p.add_argument("--assets", help="folder with J_regressor_h36m.npy, smpl_mean_params.npz (and SMPL files)")
    p.add_argument("--config", help="model config JSON/YAML (head counts); default: <checkpoint>.json if present")
    p.add_argument("--device", help="cpu, cuda, mps or auto")
    p.add_argument("--batch-size", type=int, default=64, help="windows per forward")
    p.add_argument("--seq", default="", help="only videos whose name contains this text")
    p.add_argument("--protocol", choices=("official", "clean"), default="official",
                   help="evaluation windows: 'official' = evaluate.py's (the paper's numbers: reversed order of the "
                        "last seqlen/2-1 windows, videos shorter than seqlen skipped); 'clean' = each frame's own "
                        "centred window, every video (default: official)")
    p.add_argument("--plot", metavar="DIR", help="write per-video acceleration-error plots (plotly HTML) here")


def write_accel_plot(per_video: dict, out_dir: str | Path, dataset: str) -> Path:
    """One HTML file: acceleration error (mm) per frame, one trace per video."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, res in per_video.items():
        fig.add_trace(go.Scatter(y=res["accel_err"], mode="lines", name=str(name)))
    fig.update_layout(title=f"GLoT acceleration error ({dataset})", xaxis_title="frame",
                      yaxis_title="acceleration error (mm)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"accel_error_{dataset}.html"
    fig.write_html(str(path), include_plotlyjs="cdn")
    return path


def _load_model(args: argparse.Namespace):
    import torch

    from ..checkpoint import CheckpointError, load_glot

    ckpt = Path(args.checkpoint)
    config = args.config
    if config is None and Path(str(ckpt) + ".json").is_file():
        config = str(ckpt) + ".json"
    if config is None and ckpt.is_file():
        try:
            obj = torch.load(ckpt, map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 - load_glot reports unreadable files precisely
            obj = None
        if isinstance(obj, dict) and isinstance(obj.get("config"), dict) and "model" in obj["config"]:
            config = obj["config"]["model"]  # one of our training checkpoints
    try:
        return load_glot(ckpt, config=config, assets_dir=args.assets, device=args.device)
    except CheckpointError as exc:
        raise UsageError(str(exc)) from None


def main(args: argparse.Namespace) -> int:
    import numpy as np

    from ..checkpoint import load_h36m_regressor
    from ..train.data import read_database
    from ..train.evaluation import evaluate_database

    model = _load_model(args)
    db = read_database(args.db)
    for key in ("features", "joints3D", "vid_name"):
        if key not in db:
            raise UsageError(f"{args.db}: no '{key}' array (not a preprocessed test database?)")
    if db["features"].shape[1] != model.cfg.feature_dim:
        raise UsageError(f"{args.db}: features are {db['features'].shape[1]}-d, the model expects "
                         f"{model.cfg.feature_dim}")
    if args.seq:
        keep = np.char.find(np.asarray(db["vid_name"]).astype(str), args.seq) >= 0
        if not keep.any():
            raise UsageError(f"no video name contains '{args.seq}'")
        db = {k: (v[keep] if hasattr(v, "__len__") and len(v) == len(keep) else v) for k, v in db.items()}
    jreg = None if args.dataset == "mpii3d" else load_h36m_regressor(args.assets)
    try:
        res = evaluate_database(model, db, args.dataset, jreg, batch_size=args.batch_size, progress=True,
                                protocol=args.protocol)
    except ValueError as exc:
        raise UsageError(f"{args.db}: {exc}") from None
    row = res.row()
    cells = [f"{k} {v:.1f}" if v is not None else f"{k} -" for k, v in row.items()]
    print(f"{args.dataset} ({res.num_frames} frames, {len(res.per_video)} videos, {args.protocol} protocol): "
          + " | ".join(cells) + " (mm)")
    if args.plot:
        print(f"acceleration plot: {write_accel_plot(res.per_video, args.plot, args.dataset)}")
    return 0
