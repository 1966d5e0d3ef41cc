"""A finished run as the results panel shows it: every person, the selected one, frame by frame.

Frames shown next to the viewer come from the run's own overlay video (its input panel): that file
is ours, seekable and already downscaled, whatever the upload was (a raw stream cannot seek).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..pipeline.options import BRANCHES, RunOptions
from ..perception.people import find_track, prominence
from ..render.colors import BRANCH_COLORS
from .gpu import on_gpu
from .plots import (FigureSpec, acceleration_spec, branch_difference, difference_spec, frame_mean,
                    heatmap_spec, joint_acceleration)
from .viewer import draw_branches, read_frames, skeleton_bones

if TYPE_CHECKING:
    from ..pipeline.bundle import ModelBundle
    from ..pipeline.regress import BranchResult

__all__ = ["EVERYONE", "RunView", "load_view", "frame_view", "display_frame", "display_frames", "person_choices",
           "person_thumbnails", "summary_rows", "viewer_motion", "VIEW_MAX_SIDE", "VIEWER_CACHE_FILES"]

EVERYONE = -1  # the "everyone" choice of the person selector
VIEW_MAX_SIDE = 720  # the frame image next to the 3D viewer
VIEWER_CACHE_FILES = 16  # per-frame viewer GLBs kept per run (oldest deleted first; ~1 MB each, open body)
THUMB_SIDE = 128


@dataclass
class RunView:
    """One finished run (arrays from ``results.npz``, person axis first)."""

    out_dir: Path
    video_name: str
    times: np.ndarray  # (N,) seconds
    track_id: np.ndarray  # (P,)
    valid: np.ndarray  # (P, N) bool: frames with an estimate
    boxes: np.ndarray  # (P, N, 4) cx, cy, w, h pixels
    image_size: tuple[int, int]  # (W, H)
    branches: dict[str, "BranchResult"]  # (P, N, ...)
    joints2d: dict[str, np.ndarray]  # branch -> (P, N, 49, 2) pixels
    orig_cam: dict[str, np.ndarray]  # branch -> (P, N, 4)
    shapes: dict[str, np.ndarray]  # branch -> (P, 10): each person's mesh shape
    occluded: np.ndarray | None  # (N,) frames hidden from the global encoder (block masking)
    files: dict[str, Path]
    summary: dict[str, Any]
    message: str
    selected: int  # person index shown first (or EVERYONE when nobody was found)
    overlay_fps: float
    _figures: dict[int, dict[str, FigureSpec]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def num_frames(self) -> int:
        return len(self.times)

    @property
    def num_people(self) -> int:
        return len(self.track_id)

    def joints3d(self, person: int) -> dict[str, np.ndarray]:
        """Branch -> ``(N, 49, 3)`` of one person (NaN where not tracked)."""
        return {b: r.joints3d[person] for b, r in self.branches.items()}

    def figures(self, person: int) -> dict[str, FigureSpec]:
        """The person's smoothness figures ("acceleration", "difference", "heatmap"), made once per
        person: a slider move only moves their frame marker (:meth:`FigureSpec.at`)."""
        if person not in self._figures:
            j = self.joints3d(person)
            self._figures[person] = {"acceleration": acceleration_spec(j, self.occluded),
                                     "difference": difference_spec(j, self.occluded), "heatmap": heatmap_spec(j)}
        return self._figures[person]

    def first_valid(self, person: int | None = None) -> int:
        rows = self.valid if person in (None, EVERYONE) else self.valid[person:person + 1]
        idx = np.flatnonzero(rows.any(0)) if rows.size else []
        return int(idx[0]) if len(idx) else 0

    def person_index(self, choice: int | str | None) -> int:
        """Selector value (a track id, ``EVERYONE``, or None = the preselected one) -> person index
        or ``EVERYONE``."""
        if not self.num_people:
            return EVERYONE
        if choice is None or choice == "":
            return self.selected
        if int(choice) == EVERYONE:
            return EVERYONE
        hit = np.flatnonzero(self.track_id == int(choice))
        return int(hit[0]) if len(hit) else self.selected


def load_view(out_dir: Path, video_name: str, files: dict[str, Path], summary: dict, message: str,
              options: RunOptions, preselect: tuple[float, float, float, float] | None = None) -> RunView:
    from ..pipeline.meshes import person_shapes
    from ..pipeline.regress import BranchResult, occlusion_mask

    with np.load(out_dir / "results.npz") as r:
        branches = {b: BranchResult(rotmat=r[f"{b}_rotmat"], pose=r[f"{b}_pose"], betas=r[f"{b}_betas"],
                                    cam=r[f"{b}_cam"], joints3d=r[f"{b}_joints3d"], joints2d=r[f"{b}_joints2d"])
                    for b in BRANCHES}
        cams = {b: r[f"{b}_orig_cam"].astype(np.float64) for b in BRANCHES}
        times, valid, boxes = r["time"], r["valid"].astype(bool), r["box"].astype(np.float64)
        track_id, size = r["track_id"], tuple(int(v) for v in r["image_size"])
    selected = EVERYONE
    if len(track_id):
        hit = find_track(boxes, valid, preselect) if preselect is not None else None
        selected = hit if hit is not None else int(np.argmax(prominence(boxes, valid)))
    return RunView(out_dir=out_dir, video_name=video_name, times=times, track_id=track_id, valid=valid, boxes=boxes,
                   image_size=size, branches=branches, joints2d={b: br.joints2d for b, br in branches.items()},
                   orig_cam=cams, shapes={b: person_shapes(branches[b], valid) for b in BRANCHES},
                   occluded=occlusion_mask(len(times), options, int(summary["window"])), files=files,
                   summary=summary, message=message, selected=selected, overlay_fps=float(summary["fps"] or 30.0))


def person_choices(view: RunView) -> list[tuple[str, int]]:
    """``(label, value)`` pairs for the person selector: every track, then everyone."""
    out = []
    for p, tid in enumerate(view.track_id):
        v = np.flatnonzero(view.valid[p])
        out.append((f"id {int(tid)} · frames {v[0]}–{v[-1]}", int(tid)))
    if view.num_people > 1:
        out.append(("everyone", EVERYONE))
    return out


def display_frame(view: RunView, index: int, side: int = VIEW_MAX_SIDE) -> np.ndarray:
    """Frame ``index`` as shown next to the viewer (from the overlay's input panel), longer side ``side``."""
    return display_frames(view, [index], side)[0]


def display_frames(view: RunView, indices: Sequence[int], side: int = VIEW_MAX_SIDE) -> list[np.ndarray]:
    """:func:`display_frame` of several frames, decoded in one pass over the overlay."""
    import cv2

    overlay = view.files.get("overlay")
    if overlay is not None and Path(overlay).is_file():
        frames = read_frames(overlay, [i / view.overlay_fps for i in indices])
        images = [np.ascontiguousarray(f[:, : f.shape[1] // 3]) for f in frames]
    else:  # a run without overlay: nothing to show but the geometry
        images = [np.full((view.image_size[1], view.image_size[0], 3), 235, np.uint8) for _ in indices]
    out = []
    for img in images:
        s = side / max(img.shape[:2])
        if abs(s - 1.0) > 1e-6:
            img = cv2.resize(img, (round(img.shape[1] * s), round(img.shape[0] * s)), interpolation=cv2.INTER_LINEAR)
        out.append(img)
    return out


def _translation(cam: np.ndarray, width: int, height: int, focal: float) -> np.ndarray:
    """Interim: camera-frame translation of weak-perspective image cameras ``(K, 4)`` -> ``(K, 3)``."""
    sx, tx, ty = cam[:, 0], cam[:, 2], cam[:, 3]
    return np.stack([tx, ty, 2.0 * focal / (width * sx + 1e-9)], axis=1)


def _viewer_glb(bundle: "ModelBundle", view: RunView, index: int, person: int) -> Path:
    from ..pipeline.meshes import pose_meshes
    from ..export import pair_to_glb

    tag = "all" if person == EVERYONE else f"id{int(view.track_id[person])}"
    path = view.out_dir / "viewer" / f"frame_{index:06d}_{tag}.glb"
    if path.is_file():
        return path
    people = np.flatnonzero(view.valid[:, index]) if person == EVERYONE else np.array([person])
    verts = {b: pose_meshes(bundle.glot.body, view.shapes[b][people], view.branches[b].rotmat[people, index], on_gpu)
             for b in BRANCHES}
    if person == EVERYONE:  # each person where the image camera puts them (relative to the first)
        W, H = view.image_size
        for b in BRANCHES:
            t = _translation(view.orig_cam[b][people, index], W, H, focal=max(W, H))
            verts[b] = verts[b] + (t - t[:1])[:, None, :]
    faces = bundle.faces
    merged = {b: (np.concatenate(list(verts[b])), np.concatenate([faces + k * len(verts[b][0]) for k in range(len(people))]))
              for b in BRANCHES}
    data = pair_to_glb(merged["global"][0], merged["final"][0], merged["global"][1],
                       colors=(BRANCH_COLORS["global"], BRANCH_COLORS["final"]),
                       offset=0.8 if person != EVERYONE else 1.0 + float(np.ptp(merged["global"][0][:, 0])))
    path.parent.mkdir(parents=True, exist_ok=True)
    cached = sorted(path.parent.glob("*.glb"), key=lambda q: q.stat().st_mtime)
    for old in cached[:max(0, len(cached) - VIEWER_CACHE_FILES + 1)]:
        old.unlink(missing_ok=True)
    path.write_bytes(data)
    return path


def frame_view(bundle: "ModelBundle", view: RunView, index: int, person: int | None = None
               ) -> tuple[Path | None, np.ndarray, str]:
    """The viewer's content for frame ``index`` and ``person`` (an index, or ``EVERYONE``).

    Returns:
        ``(glb, image, caption)``: a GLB with the global (blue) and final (orange) meshes side by
        side (None when nobody is there), the frame with both branches' 2D joints, and a caption.
    """
    person = view.selected if person is None else person
    i = int(np.clip(index, 0, view.num_frames - 1))
    image = display_frame(view, i)
    people = np.flatnonzero(view.valid[:, i]) if person == EVERYONE else (
        np.array([person]) if view.valid[person, i] else np.zeros(0, np.int64))
    who = "everyone" if person == EVERYONE else f"id {int(view.track_id[person])}"
    if not len(people):
        return None, image, f"frame {i} · t = {view.times[i]:.2f} s · {who}: not tracked in this frame"
    scale = image.shape[1] / view.image_size[0]
    bones = skeleton_bones(bundle.parents_array)
    for p in people:
        image = draw_branches(image, {b: j[p, i] for b, j in view.joints2d.items()}, bones, scale)
    glb = _viewer_glb(bundle, view, i, person)
    masked = " (masked from the global encoder)" if view.occluded is not None and view.occluded[i] else ""
    if person == EVERYONE:
        return glb, image, f"frame {i} · t = {view.times[i]:.2f} s · {len(people)} people{masked}"
    diff = branch_difference(view.branches["global"].joints3d[person, i:i + 1],
                             view.branches["final"].joints3d[person, i:i + 1])[0]
    return glb, image, f"frame {i} · t = {view.times[i]:.2f} s · {who} · |global − final| = {diff:.1f} mm{masked}"


def viewer_motion(path: str | Path) -> Path:
    """The motion GLB as the app's motion viewer gets it: the same file without the video's camera
    (Gradio's viewer frames the whole scene, and the camera at the origin pushed the person to its
    edge). Written once, next to the run's files under ``viewer/`` with the same name."""
    from ..export.files import write_atomic
    from ..export.gltf import pack_glb, unpack_glb

    path = Path(path)
    out = path.parent / "viewer" / path.name
    if out.is_file():
        return out
    gltf, binary = unpack_glb(path.read_bytes())
    cams = {i for i, node in enumerate(gltf["nodes"]) if "camera" in node}
    for scene in gltf.get("scenes", []):
        scene["nodes"] = [i for i in scene["nodes"] if i not in cams]
    for i in cams:
        del gltf["nodes"][i]["camera"]  # an empty node outside the scene (node indices unchanged)
    gltf.pop("cameras", None)
    return write_atomic(out, pack_glb(gltf, binary))


def person_thumbnails(view: RunView) -> list[tuple[np.ndarray, str]]:
    """One crop per track (at the frame where the person is largest), with its label."""
    import cv2

    out = []
    best = [int(np.argmax(np.where(view.valid[p], np.nan_to_num(view.boxes[p, :, 2]), -1.0)))
            for p in range(view.num_people)]
    images = display_frames(view, best, side=max(view.image_size))  # one decode for every person
    for p, (label, _), i, img in zip(range(view.num_people), person_choices(view), best, images):
        s = img.shape[1] / view.image_size[0]
        cx, cy, side = view.boxes[p, i, 0] * s, view.boxes[p, i, 1] * s, view.boxes[p, i, 2] * s * 1.1
        k = THUMB_SIDE / max(side, 1.0)
        warp = np.array([[k, 0, THUMB_SIDE / 2 - k * cx], [0, k, THUMB_SIDE / 2 - k * cy]])
        out.append((cv2.warpAffine(img, warp, (THUMB_SIDE, THUMB_SIDE), borderValue=(235, 235, 235)), label))
    return out


def _fmt(v: float) -> str:
    return "—" if v is None or not np.isfinite(v) else f"{v:.1f}"


def _stat(fn, a: np.ndarray) -> float:
    a = a[np.isfinite(a)]
    return float(fn(a)) if a.size else float("nan")


def summary_rows(view: RunView, person: int | None = None) -> tuple[list[list[str]], list[list[str]]]:
    """``(branch_rows, run_rows)``: one person's smoothness per branch, and the run's counts and timings."""
    person = view.selected if person in (None, EVERYONE) else person
    branch_rows: list[list[str]] = []
    if person != EVERYONE:
        j = view.joints3d(person)
        acc = {b: frame_mean(joint_acceleration(x)) for b, x in j.items()}
        diff = branch_difference(j["global"], j["final"])
        branch_rows = [
            ["mean acceleration (mm/frame²)", _fmt(_stat(np.mean, acc["global"])), _fmt(_stat(np.mean, acc["final"]))],
            ["max per-frame acceleration (mm/frame²)", _fmt(_stat(np.max, acc["global"])),
             _fmt(_stat(np.max, acc["final"]))],
            ["mean distance to the other branch (mm)", _fmt(_stat(np.mean, diff)), _fmt(_stat(np.mean, diff))],
        ]
    s = view.summary
    opts = s.get("options", {})
    tracks = ", ".join(f"{t['id']} ({t['first_frame']}–{t['last_frame']})" for t in s.get("tracks", [])) or "none"
    run_rows = [
        ["frames processed", str(s["frames_seen"])],
        ["people tracked", str(s.get("people", 0))],
        ["tracks (id: frames)", tracks],
        ["tracks dropped as noise", str(s.get("tracks_dropped_as_noise", 0))],
        ["frames with a person", str(s["frames_with_person"])],
        ["window T / local width w", f"{s['window']} / {opts.get('local_width')}"],
        ["masking", f"{opts.get('mask_pattern')} (ratio {opts.get('mask_ratio')}, seed {opts.get('seed')})"],
        ["device", str(s["device"])],
    ]
    run_rows += [[f"seconds: {k}", f"{v:.2f}"] for k, v in s["seconds"].items()]
    run_rows.append(["seconds: total", f"{sum(s['seconds'].values()):.2f}"])
    return branch_rows, run_rows
