"""Options of one pipeline run (what the CLI flags and the app's controls set)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["RunOptions", "MASK_PATTERNS", "EDGE_MODES"]

MASK_PATTERNS = ("none", "random", "block")
EDGE_MODES = ("clamp", "official")


@dataclass(frozen=True)
class RunOptions:
    """Settings of :func:`glot.pipeline.run_video`.

    window: frames per GLoT window T (None = the model's trained length; others resample the
        positional embeddings: off-distribution for official weights).
    local_width: local half-width w (None = trained value; smaller = centre slice).
    mask_pattern: "none"; "random" (training-style: a share ``mask_ratio`` of every window's
        frames hidden from the global encoder, seeded); "block" (simulated occlusion: a
        contiguous block of ``round(mask_ratio * T)`` video frames, from ``mask_start`` or centred
        in the clip, hidden from every window that contains them).
    edge: "clamp" (edge frames get real temporal context) or "official" (the official demo: the
        first T/2 and last T/2-1 frames see their own feature repeated T times).
    bf16: ResNet-50 under bf16 autocast (None = where the CPU/GPU has bf16 matrix units).
    """

    window: int | None = None
    local_width: int | None = None
    mask_ratio: float = 0.0
    mask_pattern: str = "none"
    mask_start: int | None = None
    seed: int = 0
    edge: str = "clamp"
    bf16: bool | None = None
    render: bool = True
    save_verts: bool = False
    meshes: str = "zip"  # "zip" (per-frame GLB files), "animated" (one GLB), "none"
    max_frames: int | None = None
    focus_box: tuple[float, float, float, float] | None = None  # (cx, cy, w, h) of the person to follow
    batch_size: int = 32
    overwrite: bool = False
    box_smoothing: float = 1.5  # temporal smoothing of the person box (frames, Gaussian sigma); 0 = off

    def __post_init__(self) -> None:
        if self.mask_pattern not in MASK_PATTERNS:
            raise ValueError(f"mask pattern must be one of {MASK_PATTERNS}, not {self.mask_pattern!r}")
        if self.edge not in EDGE_MODES:
            raise ValueError(f"edge must be one of {EDGE_MODES}, not {self.edge!r}")
        if not 0.0 <= self.mask_ratio < 1.0:
            raise ValueError("mask ratio must be in [0, 1)")
        if self.meshes not in ("zip", "animated", "none"):
            raise ValueError("meshes must be 'zip', 'animated' or 'none'")
        if self.max_frames is not None and self.max_frames < 1:
            raise ValueError("max frames must be at least 1")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
