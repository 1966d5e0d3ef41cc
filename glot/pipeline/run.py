"""Video -> per-frame SMPL for both GLoT branches, with overlay video and exports.

Three streaming passes over the clip (frames are never stored): (1) decode + track the person
with MediaPipe; (2) decode + crop + ResNet-50 features (skipped by the open model, whose features
are the tracker's landmarks); GLoT on every frame's window; (3) decode + render the side-by-side
overlay. Results go to a temporary folder renamed when complete.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

from .. import __version__
from ..errors import GLoTError
from ..model.landmark_features import track_features
from ..render import (FINAL_COLOR, GLOBAL_COLOR, PANEL_LABELS, MeshRenderer, VideoWriter, hstack_panels,
                      sequence_to_animated_glb, write_frames_zip)
from ..video import crop_frames, iter_frames, probe_video
from .bundle import ModelBundle
from .options import RunOptions
from .regress import BranchResult, occlusion_mask, regress_frames
from .results import result_arrays

__all__ = ["run_video", "RunResult", "PipelineError", "ProgressFn", "iter_branch_verts", "BRANCHES"]

ProgressFn = Callable[[str, float, str], None]  # (stage, fraction done 0..1, message)
BRANCHES = ("global", "final")
PANEL_MAX_SIDE = 960  # overlay panels are downscaled to this (4K input stays cheap)
ANIMATED_MAX_FRAMES = 1500


class PipelineError(GLoTError):
    """A run could not complete (bad input or settings); the message is for the user."""


@dataclass
class RunResult:
    """What a run produced."""

    out_dir: Path
    num_frames: int
    frames_with_person: int
    segments: list[tuple[int, int]]
    message: str
    files: dict[str, Path] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)


def _progress(progress: ProgressFn | None, stage: str, done: int, total: int | None, text: str = "") -> None:
    if progress is not None:
        frac = done / total if total else 0.0
        progress(stage, min(max(frac, 0.0), 1.0), text or f"{stage}: {done}/{total or '?'} frames")


def _frames(path: Path, options: RunOptions, max_side: int | None = None) -> Iterator:
    for fr in iter_frames(path, max_side=max_side):
        if options.max_frames is not None and fr.index >= options.max_frames:
            break
        yield fr


@torch.inference_mode()
def iter_branch_verts(bundle: ModelBundle, branch: BranchResult, frames: np.ndarray, batch: int = 64
                      ) -> Iterator[np.ndarray]:
    """Vertices ``(V, 3)`` of ``frames`` (indices into ``branch``), computed in batches."""
    body = bundle.glot.body
    dev = bundle.device
    for s in range(0, len(frames), batch):
        rows = frames[s:s + batch]
        rot = torch.from_numpy(branch.rotmat[rows]).to(dev)
        betas = torch.from_numpy(branch.betas[rows]).to(dev)
        verts = body.pose(betas, rot, need_verts=True).verts.float().cpu().numpy()
        yield from verts


def run_video(
    video: str | os.PathLike,
    out_root: str | os.PathLike,
    bundle: ModelBundle,
    options: RunOptions = RunOptions(),
    progress: ProgressFn | None = None,
    preview: Callable[[np.ndarray], None] | None = None,
    name: str | None = None,
) -> RunResult:
    """Run the whole pipeline on one clip; outputs go to ``out_root / name`` (default: the stem).

    Raises:
        PipelineError / VideoError: bad input or settings (nothing is left behind).
    """
    video = Path(video)
    out_dir = Path(out_root) / (name or video.stem)
    if out_dir.exists() and not options.overwrite:
        raise PipelineError(f"output folder {out_dir} already exists (use --overwrite to replace it)")
    T = options.window or bundle.glot.cfg.seqlen
    w = options.local_width or bundle.glot.cfg.stride_short
    if T < 2 * w + 1:
        raise PipelineError(f"window {T} is shorter than the local window 2*{w}+1; raise the window or lower w")
    if w > bundle.glot.cfg.stride_short:
        raise PipelineError(f"local width {w} is larger than the model's {bundle.glot.cfg.stride_short}")
    info = probe_video(video)  # raises VideoError with a clear message
    tmp = Path(out_root) / f".{out_dir.name}.partial-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        result = _run(video, info, tmp, bundle, options, T, progress, preview)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    result.out_dir = out_dir
    result.files = {k: out_dir / v.name for k, v in result.files.items()}
    return result


def _crop_features(video: Path, options: RunOptions, bundle: ModelBundle, valid: np.ndarray, boxes: np.ndarray,
                   n: int, total: int | None, progress: ProgressFn | None, timings: dict[str, float]) -> torch.Tensor:
    """Pass 2 of the ResNet feature source: decode, crop the valid frames, ResNet-50: ``(N, 2048)``."""
    feats = torch.empty((n, bundle.glot.cfg.feature_dim), dtype=torch.float32)
    t_crop = t_feat = 0.0
    batch_imgs: list[np.ndarray] = []
    batch_rows: list[int] = []

    def flush() -> None:
        nonlocal t_crop, t_feat
        if not batch_rows:
            return
        t1 = time.perf_counter()
        crops = crop_frames(batch_imgs, boxes[batch_rows])
        t2 = time.perf_counter()
        from ..model.backbone import extract_features

        feats[batch_rows] = extract_features(bundle.backbone, crops.images, batch_size=options.batch_size,
                                             bf16=options.bf16).cpu()
        t_crop += t2 - t1
        t_feat += time.perf_counter() - t2
        batch_imgs.clear()
        batch_rows.clear()

    t0 = time.perf_counter()
    for fr in _frames(video, options):
        if fr.index < n and valid[fr.index]:
            batch_imgs.append(fr.image)
            batch_rows.append(fr.index)
            if len(batch_rows) >= options.batch_size:
                flush()
        _progress(progress, "features", fr.index + 1, total)
    flush()
    timings["decode"] = time.perf_counter() - t0 - t_crop - t_feat
    timings["crop"], timings["features"] = t_crop, t_feat
    return feats


def _run(video: Path, info, tmp: Path, bundle: ModelBundle, options: RunOptions, T: int,
         progress: ProgressFn | None, preview) -> RunResult:
    from ..video.track import TrackerConfig, track_video

    timings: dict[str, float] = {}
    total = info.num_frames
    if options.max_frames is not None:
        total = min(total, options.max_frames) if total else options.max_frames

    # ---- pass 1: decode + track
    t0 = time.perf_counter()
    track = track_video(_frames(video, options), TrackerConfig(smooth_sigma=options.box_smoothing),
                        focus_box=options.focus_box,
                        progress=lambda n: _progress(progress, "track", n, total))
    timings["decode+track"] = time.perf_counter() - t0
    n = len(track.times)
    if n == 0:
        raise PipelineError(f"{video.name}: no frames could be decoded")
    W, H = track.image_size
    valid = track.valid.copy()
    segments = [(int(a), int(b)) for a, b in track.segments]
    boxes = track.boxes.astype(np.float64)  # (N, 4) cx, cy, w, h

    results = {b: BranchResult.empty(n) for b in BRANCHES}
    frames_idx = np.flatnonzero(valid)
    if len(frames_idx):
        # ---- pass 2: per-frame features (crops + ResNet-50, or the tracker's landmarks)
        if bundle.feature_source == "landmarks":
            t0 = time.perf_counter()
            feats = torch.from_numpy(track_features(track))  # (N, 231), no second decode
            timings["features"] = time.perf_counter() - t0
        else:
            feats = _crop_features(video, options, bundle, valid, boxes, n, total, progress, timings)

        # ---- GLoT on every frame of every segment
        t0 = time.perf_counter()
        occluded = occlusion_mask(n, options, T)
        gen = torch.Generator().manual_seed(options.seed)
        done = 0
        for a, b in segments:
            seg_occ = occluded[a:b] if occluded is not None else None
            g, f = regress_frames(bundle.glot, feats[a:b], options, seg_occ, gen,
                                  progress=lambda k: _progress(progress, "glot", done + k, len(frames_idx)))
            rows = np.arange(a, b)
            results["global"].assign(rows, g)
            results["final"].assign(rows, f)
            done += b - a
        timings["glot"] = time.perf_counter() - t0

    # ---- cameras and image-space joints (the results.npz layout)
    arrays = result_arrays(track.times, valid, track.detected, boxes, segments, track.landmarks, track.visibility,
                           track.world, (W, H), bundle.faces.cpu().numpy(), results)
    orig_cams = {b: arrays[f"{b}_orig_cam"] for b in BRANCHES}
    files: dict[str, Path] = {}

    # ---- exports: vertices, meshes
    t0 = time.perf_counter()
    faces = bundle.faces.cpu().numpy()
    if options.save_verts and len(frames_idx):
        for b in BRANCHES:
            v = np.full((n, bundle.glot.body.num_verts, 3), np.nan, np.float32)
            for i, verts in zip(frames_idx, iter_branch_verts(bundle, results[b], frames_idx)):
                v[i] = verts
            arrays[f"{b}_verts"] = v
    np.savez_compressed(tmp / "results.npz", **arrays)
    files["results"] = tmp / "results.npz"
    if options.meshes != "none" and len(frames_idx):
        if options.meshes == "zip":
            for b, color in zip(BRANCHES, (GLOBAL_COLOR, FINAL_COLOR)):
                files[f"meshes_{b}"] = write_frames_zip(tmp / f"meshes_{b}.zip", iter_branch_verts(bundle, results[b], frames_idx),
                                                        faces, color=color, frame_ids=frames_idx)
        else:
            if len(frames_idx) > ANIMATED_MAX_FRAMES:
                raise PipelineError(f"animated GLB is limited to {ANIMATED_MAX_FRAMES} frames; use meshes='zip'")
            seq = np.stack(list(iter_branch_verts(bundle, results["final"], frames_idx)))
            (tmp / "meshes_final.glb").write_bytes(sequence_to_animated_glb(seq, faces, fps=info.fps))
            files["meshes_final"] = tmp / "meshes_final.glb"
    timings["export"] = time.perf_counter() - t0

    # ---- pass 3: overlay video
    if options.render:
        t0 = time.perf_counter()
        scale = min(1.0, PANEL_MAX_SIDE / max(W, H))
        pw, ph = max(2, int(round(W * scale / 2)) * 2), max(2, int(round(H * scale / 2)) * 2)
        renderer = MeshRenderer(faces, pw, ph)
        verts_iters = {b: iter_branch_verts(bundle, results[b], frames_idx) for b in BRANCHES}
        with VideoWriter(tmp / "overlay.mp4", fps=info.fps) as writer:
            for fr in _frames(video, options, max_side=max(pw, ph) if scale < 1 else None):
                img = fr.image
                if img.shape[:2] != (ph, pw):
                    import cv2

                    img = cv2.resize(img, (pw, ph), interpolation=cv2.INTER_AREA)
                i = fr.index
                panels = [img, img, img]
                if i < n and valid[i]:
                    for k, (b, color) in enumerate(zip(BRANCHES, (GLOBAL_COLOR, FINAL_COLOR))):
                        panels[k + 1] = renderer.render(img, next(verts_iters[b]), orig_cams[b][i], color=color)
                panel = hstack_panels(panels, PANEL_LABELS)
                writer.write(panel)
                if preview is not None and i % 10 == 0:
                    preview(panel)
                _progress(progress, "render", i + 1, total)
        files["overlay"] = tmp / "overlay.mp4"
        timings["render"] = time.perf_counter() - t0

    n_person = int(valid.sum())
    message = (f"{n_person} of {n} frames with a person in {len(segments)} segment(s)" if n_person
               else "no person was found in this clip")
    summary = {
        "video": str(video), "frames_seen": n, "frames_with_person": n_person,
        "frames_detected": int(track.detected.sum()), "segments": segments, "message": message,
        "image_size": [W, H], "fps": info.fps, "rotation": info.rotation,
        "seconds": {k: round(v, 3) for k, v in timings.items()},
        "device": str(bundle.device), "dtype": "float32",
        "backbone_bf16": bool(options.bf16) if options.bf16 is not None else "auto",
        "feature_source": bundle.feature_source,
        "model": bundle.describe(), "versions": {"glot_studio": __version__, "torch": torch.__version__,
                                                "python": platform.python_version()},
        "options": {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.to_dict().items()},
        "window": T,
    }
    (tmp / "summary.json").write_text(json.dumps(summary, indent=2))
    files["summary"] = tmp / "summary.json"
    _progress(progress, "done", 1, 1, message)
    return RunResult(out_dir=tmp, num_frames=n, frames_with_person=n_person, segments=segments,
                     message=message, files=files, summary=summary)
