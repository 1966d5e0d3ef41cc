"""Video -> every person's SMPL for both GLoT branches, with overlay video and exports.

Streaming passes over the clip (frames are never stored): (1) decode + find and track every
person; (2) for the official model, decode + each person's crop -> ResNet-50 (the open model's
features are the tracker's landmarks); GLoT on every person-frame's window, all people batched;
(3) decode + each person's meshes posed once per frame -> the side-by-side overlay and the
per-frame mesh files. Motion files (skinned glTF + BVH) per person and branch need no decoding.
Results go to a temporary folder renamed when complete.
"""
from __future__ import annotations

import json
import os
import platform
import time
import zipfile
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

from .. import __version__
from ..errors import GLoTError
from ..export import mesh_to_glb
from ..render import MeshRenderer, PersonMesh, VideoWriter, overlay_frame
from ..render.colors import BRANCH_COLORS
from ..video import iter_frames, probe_video
from ..video.decode import DecodeReport
from .bundle import ModelBundle
from .features import CPU_CHUNK, landmark_people_features, resnet_people_features
from .meshes import iter_frame_meshes, person_shapes
from .options import BRANCHES, RunOptions
from .outdir import OutputFolder
from .regress import BranchResult, Gpu, _direct, occlusion_mask, regress_people
from .results import result_arrays
from .stages import ahead
from .selection import select_people

__all__ = ["run_video", "RunResult", "PipelineError", "ProgressFn", "BRANCHES", "BRANCH_COLORS"]

ProgressFn = Callable[[str, float, str], None]  # (stage, fraction done 0..1, message)
PANEL_MAX_SIDE = 960  # overlay panels are downscaled to this (4K input stays cheap)
OVERLAY_PRESET, OVERLAY_CRF = "ultrafast", 23  # x264 settings of overlay.mp4


class PipelineError(GLoTError):
    """A run could not complete (bad input or settings); the message is for the user."""


@dataclass
class RunResult:
    """What a run produced."""

    out_dir: Path
    num_frames: int
    track_ids: list[int]
    message: str
    files: dict[str, Path] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def num_people(self) -> int:
        return len(self.track_ids)


def _progress(progress: ProgressFn | None, stage: str, done: int, total: int | None, text: str = "") -> None:
    if progress is not None:
        frac = done / total if total else 0.0
        progress(stage, min(max(frac, 0.0), 1.0), text or f"{stage}: {done}/{total or '?'} frames")


def _frames(path: Path, options: RunOptions, max_side: int | None = None, report: DecodeReport | None = None
            ) -> Iterator:
    """The frames a run reads, decoded ahead in a worker thread (``options.overlap``)."""
    return ahead(_decode(path, options, max_side, report), enabled=options.overlap, name="glot-decode")


def _decode(path: Path, options: RunOptions, max_side: int | None, report: DecodeReport | None) -> Iterator:
    for fr in iter_frames(path, max_side=max_side, strict=False, report=report):  # a short file: what decodes
        if options.frame_limit is not None and fr.index >= options.frame_limit:
            raise PipelineError(f"{path.name} has more than {options.frame_limit} frames, the limit here; "
                                f"trim it or set max frames to {options.frame_limit} or fewer")
        yield fr
        if options.max_frames is not None and fr.index + 1 >= options.max_frames:
            break  # before decoding a frame nobody wants


def run_video(
    video: str | os.PathLike,
    out_root: str | os.PathLike,
    bundle: ModelBundle,
    options: RunOptions = RunOptions(),
    progress: ProgressFn | None = None,
    preview: Callable[[np.ndarray], None] | None = None,
    name: str | None = None,
    gpu: Gpu = _direct,
) -> RunResult:
    """Run the whole pipeline on one clip; outputs go to ``out_root / name`` (default: the stem).

    Args:
        gpu: runs the accelerator work (ResNet-50, GLoT, skinning) as ``gpu(fn, *args, work=n)``;
            the app passes ZeroGPU's slot here. Decoding, tracking, rendering and export never go through it.
    Raises:
        PipelineError / VideoError: bad input or settings (nothing is left behind).
    """
    video = Path(video)
    T = options.window or bundle.glot.cfg.seqlen
    w = options.local_width or bundle.glot.cfg.stride_short
    if T < 2 * w + 1:
        raise PipelineError(f"window {T} is shorter than the local window 2*{w}+1; raise the window or lower w")
    if w > bundle.glot.cfg.stride_short:
        raise PipelineError(f"local width {w} is larger than the model's {bundle.glot.cfg.stride_short}")
    info = probe_video(video)  # raises VideoError with a clear message
    with OutputFolder(out_root, name or video.stem, options.overwrite) as out:  # reserved, locked, swept
        result = _run(video, info, out.tmp, bundle, options, T, progress, preview, gpu)
    out_dir = result.out_dir = out.final
    result.files = {k: out_dir / v.relative_to(out.tmp) for k, v in result.files.items()}
    return result


def _track(video: Path, options: RunOptions, total: int | None, progress: ProgressFn | None,
           decoded: DecodeReport | None = None):
    """Pass 1: every person in every frame (:func:`glot.perception.track_people`)."""
    from ..perception.people import track_people
    from ..perception.tracker import PeopleConfig

    with closing(_frames(video, options, report=decoded)) as frames:  # a stopped run stops the decoder now
        return track_people(frames, PeopleConfig(smooth_sigma=options.box_smoothing),
                            progress=lambda n: _progress(progress, "track", n, total))


def _run(video: Path, info, tmp: Path, bundle: ModelBundle, options: RunOptions, T: int,
         progress: ProgressFn | None, preview, gpu: Gpu) -> RunResult:
    timings: dict[str, float] = {}
    total = info.num_frames
    if options.max_frames is not None:
        total = min(total, options.max_frames) if total else options.max_frames

    # ---- pass 1: decode + every person
    t0 = time.perf_counter()
    decoded = DecodeReport()
    found = _track(video, options, total, progress, decoded)
    timings["decode+track"] = time.perf_counter() - t0
    n = len(found.times)
    if n == 0:
        raise PipelineError(f"{video.name}: no frames could be decoded")
    people = select_people(found, options)
    P = len(people.track_id)
    W, H = people.image_size
    branches = {b: BranchResult.empty((P, n)) for b in BRANCHES}

    if P:
        # ---- pass 2: per-person features (crops + ResNet-50, or the tracker's landmarks)
        t0 = time.perf_counter()
        if bundle.feature_source == "landmarks":
            feats = landmark_people_features(people)
        else:
            with closing(_frames(video, options)) as frames:
                feats = resnet_people_features(frames, people, bundle.feature_net(options.bf16),
                                               bundle.glot.cfg.feature_dim, options.batch_size, options.bf16,
                                               progress=lambda k: _progress(progress, "features", k, total), gpu=gpu,
                                               chunk=CPU_CHUNK if bundle.device.type == "cpu" else None)
        timings["features"] = time.perf_counter() - t0

        # ---- GLoT on every person-frame (all people's windows batched)
        t0 = time.perf_counter()
        gen = torch.Generator().manual_seed(options.seed)
        todo = int(people.valid.sum())
        g, f = regress_people(bundle.glot, feats, people.segments, options, occlusion_mask(n, options, T), gen,
                              progress=lambda k: _progress(progress, "glot", k, todo), gpu=gpu)
        branches = {"global": g, "final": f}
        timings["glot"] = time.perf_counter() - t0

    arrays = result_arrays(people.times, people.track_id, people.valid, people.detected, people.boxes,
                           people.segments, people.landmarks, people.visibility, people.world, (W, H),
                           bundle.faces, branches)
    files: dict[str, Path] = {}
    shapes = {b: person_shapes(branches[b], people.valid) for b in BRANCHES}

    # ---- exports that need no pixels: results, motion files
    t0 = time.perf_counter()
    if options.save_verts and P:
        for b in BRANCHES:
            arrays[f"{b}_verts"] = np.full((P, n, bundle.glot.body.num_verts, 3), np.nan, np.float32)
        for fm in iter_frame_meshes(bundle.glot.body, branches, shapes, people.valid, gpu=gpu):
            for b in BRANCHES:
                arrays[f"{b}_verts"][fm.people, fm.index] = fm.verts[b]
    np.savez_compressed(tmp / "results.npz", **arrays)
    files["results"] = tmp / "results.npz"
    if options.meshes != "none" and P:
        files.update(_motion_files(tmp, bundle, people, branches, shapes, arrays, info,
                                   lambda k: _progress(progress, "export", k, 2 * P)))
    timings["export"] = time.perf_counter() - t0

    # ---- pass 3: meshes posed once per frame -> overlay video and per-frame mesh files
    if options.render or (options.meshes == "zip" and P):
        t0 = time.perf_counter()
        files.update(_pass3(video, tmp, bundle, options, people, branches, shapes, arrays, info, total, progress,
                            preview, gpu))
        timings["render" if options.render else "meshes"] = time.perf_counter() - t0

    tracks = [_track_entry(people, p) for p in range(P)]
    message = (f"{P} {'person' if P == 1 else 'people'} tracked over {n} frames "
               f"(ids {', '.join(str(int(i)) for i in people.track_id)})" if P
               else "no person was found in this clip")
    if decoded.shortfall():
        message += f" ({decoded.shortfall()})"
    summary = {
        "video": video.name, "decode": decoded.to_dict(), "frames_seen": n, "people": P, "tracks": tracks,
        "tracks_dropped_as_noise": int(getattr(found, "dropped_tracks", 0)),
        "tracks_not_selected": int(len(found.track_id) - P),
        "perception": {k: v for k, v in getattr(found, "stats", {}).items()},
        "frames_with_person": int(people.valid.any(0).sum()) if P else 0, "message": message,
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
    return RunResult(out_dir=tmp, num_frames=n, track_ids=[int(i) for i in people.track_id], message=message,
                     files=files, summary=summary)


def _track_entry(people, p: int) -> dict[str, Any]:
    v = np.flatnonzero(people.valid[p])
    return {"id": int(people.track_id[p]), "first_frame": int(v[0]) if len(v) else None,
            "last_frame": int(v[-1]) if len(v) else None, "frames_detected": int(people.detected[p].sum()),
            "frames_valid": int(len(v)), "segments": [list(map(int, s)) for s in people.segments[p]]}


def person_suffix(people, p: int) -> str:
    """File-name suffix of person ``p``: empty for a single person, else ``_<track id>``."""
    return "" if len(people.track_id) == 1 else f"_{int(people.track_id[p])}"


def _motion_files(tmp: Path, bundle: ModelBundle, people, branches, shapes, arrays, info,
                  progress: Callable[[int], None]) -> dict[str, Path]:
    """Per person and branch: the skinned, animated glTF and the BVH (:mod:`glot.export`).

    Root translation: the image camera through a pinhole of focal length = the image diagonal
    (:func:`glot.camera.orig_cam_to_translation`); frames without the person hold the last pose.
    """
    from ..camera import orig_cam_to_translation
    from ..export import OPEN_BODY_NOTICE, SMPL_NOTICE, CameraView, Motion, build_rig, write_motion_bvh, \
        write_motion_glb

    out: dict[str, Path] = {}
    W, H = people.image_size
    focal = float(np.hypot(W, H))
    body = bundle.export_body
    notice = OPEN_BODY_NOTICE if bundle.is_open_model else SMPL_NOTICE
    fps = info.fps or 30.0
    for p in range(len(people.track_id)):
        present = people.valid[p]
        for b in BRANCHES:
            rig = build_rig(body, shapes[b][p])
            transl = np.zeros((len(present), 3))
            transl[present] = orig_cam_to_translation(arrays[f"{b}_orig_cam"][p][present], W, H, focal,
                                                      root=rig.joints[0])
            rot = np.where(present[:, None, None, None], branches[b].rotmat[p], np.eye(3, dtype=np.float32))
            motion = Motion(rotmat=rot, betas=shapes[b][p], transl=transl, times=people.times, present=present)
            stem = f"motion_{b}{person_suffix(people, p)}"
            out[f"{stem}.glb"] = write_motion_glb(tmp / f"{stem}.glb", body, motion, color=BRANCH_COLORS[b],
                                                  name=f"{b} {int(people.track_id[p])}",
                                                  camera=CameraView(focal, W, H), influences=8, copyright=notice)
            out[f"{stem}.bvh"] = write_motion_bvh(tmp / f"{stem}.bvh", body, motion, fps=fps)
            progress(len(out) // 2)
    return out


def _pass3(video: Path, tmp: Path, bundle: ModelBundle, options: RunOptions, people, branches, shapes, arrays,
           info, total: int | None, progress: ProgressFn | None, preview, gpu: Gpu) -> dict[str, Path]:
    W, H = people.image_size
    files: dict[str, Path] = {}
    faces = bundle.faces
    meshes = ahead(iter_frame_meshes(bundle.glot.body, branches, shapes, people.valid, gpu=gpu), depth=2,
                   enabled=options.overlap, name="glot-meshes")
    zips = {}
    if options.meshes == "zip" and len(people.track_id):
        for b in BRANCHES:
            files[f"meshes_{b}"] = tmp / f"meshes_{b}.zip"
            zips[b] = zipfile.ZipFile(files[f"meshes_{b}"], "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)
    writer = renderer = None
    if options.render:
        scale = min(1.0, PANEL_MAX_SIDE / max(W, H))
        pw, ph = max(2, int(round(W * scale / 2)) * 2), max(2, int(round(H * scale / 2)) * 2)
        renderer = MeshRenderer(faces, pw, ph)
        # encoding in its own thread (bounded queue), off the critical path; ultrafast: a 3-panel
        # frame costs ~16 ms of x264 instead of ~70 ms at veryfast (docs/render.md)
        writer = VideoWriter(tmp / "overlay.mp4", fps=info.fps, preset=OVERLAY_PRESET, crf=OVERLAY_CRF,
                             background=True)
        files["overlay"] = tmp / "overlay.mp4"
        frames = _frames(video, options, max_side=max(pw, ph) if scale < 1 else None)
    else:
        frames = iter(())
    try:
        for fm in meshes:
            t = fm.index
            for b, zf in zips.items():
                for k, p in enumerate(fm.people):
                    zf.writestr(f"id{int(people.track_id[p])}/frame_{t:06d}.glb",
                                mesh_to_glb(fm.verts[b][k], faces, color=BRANCH_COLORS[b]))
            if renderer is None:
                _progress(progress, "meshes", t + 1, total)
                continue
            fr = next(frames, None)
            if fr is None:
                break
            img = fr.image
            if img.shape[:2] != (renderer.height, renderer.width):
                import cv2

                img = cv2.resize(img, (renderer.width, renderer.height), interpolation=cv2.INTER_AREA)
            people_meshes = [[PersonMesh(fm.verts[b][k], arrays[f"{b}_orig_cam"][p, t].astype(np.float64),
                                         track_id=int(people.track_id[p])) for k, p in enumerate(fm.people)]
                             for b in BRANCHES]
            frame = overlay_frame(renderer, img, people_meshes)
            writer.write(frame)
            if preview is not None and t % 10 == 0:
                preview(frame)
            _progress(progress, "render", t + 1, total)
    finally:
        for it in (meshes, frames):  # stop the worker threads (a cancelled or failed run)
            close = getattr(it, "close", None)
            if close is not None:
                close()
        for zf in zips.values():
            zf.close()
        if writer is not None:
            writer.close()
    return files
