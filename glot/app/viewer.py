"""What the frame slider shows: one decoded frame with both branches' 2D joints, and a GLB with
both branches' meshes side by side."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..body.joints import SPIN_JOINT_MAP
from ..render import FINAL_COLOR, GLOBAL_COLOR, draw_skeleton

__all__ = ["read_frame", "first_frame", "skeleton_bones", "draw_branches"]


def read_frame(path: str | os.PathLike, time: float, max_side: int | None = None) -> np.ndarray:
    """The frame shown at ``time`` seconds (stream time, as in ``results.npz["time"]``).

    Seeks to the key frame before ``time`` and decodes forward, so a frame late in a long clip
    costs a GOP, not the whole clip.

    Returns:
        ``(H, W, 3)`` uint8 RGB, display rotation applied, longer side at most ``max_side``.
    """
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        tb = float(stream.time_base)
        start = stream.start_time or 0
        target = start + int(round(time / tb))
        try:
            container.seek(max(target, start), stream=stream, backward=True, any_frame=False)
        except (av.FFmpegError, OSError):  # a stream that cannot seek (raw H.264): decode forward instead
            return _decode_forward(path, time, max_side)
        chosen = None
        for frame in container.decode(stream):
            if chosen is not None and frame.pts is not None and frame.pts > target:
                break  # the frame shown at ``time`` is the one before
            chosen = frame
            if frame.pts is not None and frame.pts >= target:
                break
        if chosen is None:
            raise ValueError(f"no frame at {time:.3f} s in {Path(path).name}")
        w, h = chosen.width, chosen.height
        s = min(1.0, max_side / max(w, h)) if max_side else 1.0
        if s < 1.0:
            img = chosen.reformat(width=max(2, int(w * s) // 2 * 2), height=max(2, int(h * s) // 2 * 2),
                                  format="rgb24", interpolation="AREA").to_ndarray()
        else:
            img = chosen.to_ndarray(format="rgb24")
        rot = int(round(float(getattr(chosen, "rotation", 0) or 0) / 90.0)) * 90 % 360
        return np.ascontiguousarray(np.rot90(img, rot // 90)) if rot else img


def _decode_forward(path: str | os.PathLike, time: float, max_side: int | None) -> np.ndarray:
    from ..video import iter_frames

    chosen = None
    for fr in iter_frames(path, max_side=max_side, strict=False):
        if chosen is not None and fr.time > time + 1e-6:
            break
        chosen = fr.image
    if chosen is None:
        raise ValueError(f"no frame at {time:.3f} s in {Path(path).name}")
    return chosen


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
