"""What the frame slider shows: one decoded frame with both branches' 2D joints, and a GLB with
both branches' meshes side by side."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..body.joints import SPIN_JOINT_MAP
from ..render import FINAL_COLOR, GLOBAL_COLOR, draw_skeleton

__all__ = ["read_frame", "read_frames", "first_frame", "skeleton_bones", "draw_branches"]


def read_frame(path: str | os.PathLike, time: float, max_side: int | None = None) -> np.ndarray:
    """The frame shown at ``time`` seconds (stream time, as in ``results.npz["time"]``).

    Seeks to the key frame before ``time`` and decodes forward, so a frame late in a long clip
    costs a GOP, not the whole clip.

    Returns:
        ``(H, W, 3)`` uint8 RGB, display rotation applied, longer side at most ``max_side``.
    """
    return read_frames(path, [time], max_side)[0]


def read_frames(path: str | os.PathLike, times: Sequence[float], max_side: int | None = None) -> list[np.ndarray]:
    """The frames shown at several ``times`` (seconds), in one pass: a seek to the key frame before
    the earliest, then one forward decode (several thumbnails of one clip cost one decode, not one
    each). Each is what :func:`read_frame` gives for its time. Returns one image per time, in order."""
    import av

    if not len(times):
        return []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        tb = float(stream.time_base)
        start = stream.start_time or 0
        targets = sorted({start + int(round(t / tb)) for t in times})
        try:
            container.seek(max(targets[0], start), stream=stream, backward=True, any_frame=False)
        except (av.FFmpegError, OSError):  # a stream that cannot seek (raw H.264): decode forward instead
            return _decode_forward(path, times, max_side)
        shown: dict[int, np.ndarray] = {}
        k, prev = 0, None
        for frame in container.decode(stream):
            while k < len(targets) and prev is not None and frame.pts is not None and frame.pts > targets[k]:
                shown[targets[k]] = _image(prev, max_side)  # the frame shown at the target is the one before
                k += 1
            if k == len(targets):
                break
            prev = frame
            while k < len(targets) and frame.pts is not None and frame.pts >= targets[k]:
                shown[targets[k]] = _image(frame, max_side)
                k += 1
            if k == len(targets):
                break
        if prev is None:
            raise ValueError(f"no frame at {min(times):.3f} s in {Path(path).name}")
        for t in targets[k:]:  # past the last frame: the last one is shown
            shown[t] = _image(prev, max_side)
    return [shown[start + int(round(t / tb))] for t in times]


def _image(frame, max_side: int | None) -> np.ndarray:
    """A decoded PyAV frame as ``(H, W, 3)`` RGB, display rotation applied, longer side at most ``max_side``."""
    w, h = frame.width, frame.height
    s = min(1.0, max_side / max(w, h)) if max_side else 1.0
    if s < 1.0:
        img = frame.reformat(width=max(2, int(w * s) // 2 * 2), height=max(2, int(h * s) // 2 * 2),
                             format="rgb24", interpolation="AREA").to_ndarray()
    else:
        img = frame.to_ndarray(format="rgb24")
    rot = int(round(float(getattr(frame, "rotation", 0) or 0) / 90.0)) * 90 % 360
    return np.ascontiguousarray(np.rot90(img, rot // 90)) if rot else img


def _decode_forward(path: str | os.PathLike, times: Sequence[float], max_side: int | None) -> list[np.ndarray]:
    from ..video import iter_frames

    order = sorted(range(len(times)), key=lambda i: times[i])
    out: list[np.ndarray | None] = [None] * len(times)
    k, chosen = 0, None
    for fr in iter_frames(path, max_side=max_side, strict=False):
        while k < len(order) and chosen is not None and fr.time > times[order[k]] + 1e-6:
            out[order[k]] = chosen
            k += 1
        if k == len(order):
            break
        chosen = fr.image
    if chosen is None:
        raise ValueError(f"no frame at {min(times):.3f} s in {Path(path).name}")
    for i in order[k:]:
        out[i] = chosen
    return out  # type: ignore[return-value]


def first_frame(path: str | os.PathLike, max_side: int | None = None) -> np.ndarray:
    """The clip's first frame (decoded forward: works for streams that cannot seek)."""
    from ..video import iter_frames

    for fr in iter_frames(path, max_side=max_side, strict=False):
        return fr.image
    raise ValueError(f"{Path(path).name} has no frame")


def skeleton_bones(parents: np.ndarray) -> list[tuple[int, int]]:
    """Bones between SPIN joints that are SMPL joints, from the body's kinematic tree.

    Each such joint is linked to its nearest ancestor that is also among the SPIN joints (e.g. the
    neck, whose spine parents SPIN lacks, links to the pelvis).

    Args:
        parents: ``(24,)`` SMPL parent indices (root: -1).
    Returns:
        ``(a, b)`` pairs of indices into the 49 SPIN joints.
    """
    spin_of: dict[int, int] = {}
    for spin_idx, cand in enumerate(SPIN_JOINT_MAP):
        if cand < len(parents):
            spin_of.setdefault(int(cand), spin_idx)
    bones = []
    for j, s in spin_of.items():
        p = int(parents[j])
        while p >= 0 and p not in spin_of:
            p = int(parents[p])
        if p >= 0:
            bones.append((spin_of[p], s))
    return bones


def draw_branches(image: np.ndarray, joints2d: dict[str, np.ndarray], bones: list[tuple[int, int]],
                  scale: float = 1.0) -> np.ndarray:
    """Both branches' 2D joints on ``image``: global in blue, final in orange.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        joints2d: branch -> ``(49, 2)`` pixels in the original frame.
        scale: display size / original size.
    """
    out = image
    colors = {"global": GLOBAL_COLOR, "final": FINAL_COLOR}
    thick = max(1, int(round(max(image.shape[:2]) / 300)))
    for branch, joints in joints2d.items():
        rgb = tuple(int(round(c * 255)) for c in colors[branch])
        out = draw_skeleton(out, np.asarray(joints) * scale, bones, joint_color=rgb, bone_color=rgb,
                            radius=thick + 1, thickness=thick)
    return out
