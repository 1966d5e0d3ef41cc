"""Options of one pipeline run (what the CLI flags and the app's controls set)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["RunOptions", "MASK_PATTERNS", "EDGE_MODES", "MESH_EXPORTS", "BRANCHES"]

BRANCHES = ("global", "final")  # GLoT's two estimates: the global branch and the local-corrected final one

MASK_PATTERNS = ("none", "random", "block")
EDGE_MODES = ("clamp", "official")
# "motion": per person and branch a skinned, animated glTF + a BVH; "zip": also one GLB per frame
# and person; "none": neither
MESH_EXPORTS = ("motion", "zip", "none")


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
    max_people: keep the K most prominent tracks (None = everyone; 1 = the single-person run).
    person: keep only the track with this id (see ``summary.json``), or ``focus_box``'s track.
    focus_box: ``(cx, cy, w, h)`` pixels: keep the track that overlaps it most in its first frames.
    max_frames: process only the first N frames. frame_limit: a hard cap (the app's): a clip with
        more frames than this (counted while decoding, for streams that declare no length) stops
        with an error instead of being cut.
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
    meshes: str = "motion"
    max_frames: int | None = None
    frame_limit: int | None = None
    max_people: int | None = None
    person: int | None = None
    focus_box: tuple[float, float, float, float] | None = None
    batch_size: int = 32
    overwrite: bool = False
    box_smoothing: float = 1.5  # temporal smoothing of the person boxes (frames, Gaussian sigma); 0 = off
    overlap: bool = True  # decode / pose meshes in worker threads while tracking / rendering run (same outputs)

    def __post_init__(self) -> None:
        if self.mask_pattern not in MASK_PATTERNS:
            raise ValueError(f"mask pattern must be one of {MASK_PATTERNS}, not {self.mask_pattern!r}")
        if self.edge not in EDGE_MODES:
            raise ValueError(f"edge must be one of {EDGE_MODES}, not {self.edge!r}")
        if not 0.0 <= self.mask_ratio < 1.0:
            raise ValueError("mask ratio must be in [0, 1)")
        if self.meshes not in MESH_EXPORTS:
            raise ValueError(f"meshes must be one of {MESH_EXPORTS}, not {self.meshes!r}")
        if self.window is not None and self.window < 1:  # 0 must not silently mean "the trained length"
            raise ValueError(f"window must be at least 1 frame, not {self.window} "
                             "(leave it unset for the trained length)")
        if self.local_width is not None and self.local_width < 1:
            raise ValueError(f"local width must be at least 1, not {self.local_width} "
                             "(leave it unset for the trained one)")
        if self.max_frames is not None and self.max_frames < 1:
            raise ValueError("max frames must be at least 1")
        if self.window is not None and self.window < 3:
            raise ValueError(f"window must be at least 3 frames, not {self.window}")
        if self.local_width is not None and self.local_width < 1:
            raise ValueError(f"local width must be at least 1, not {self.local_width}")
        if self.max_people is not None and self.max_people < 1:
            raise ValueError(f"max people must be at least 1, not {self.max_people}")
        if self.batch_size < 1:
            raise ValueError("batch size must be at least 1")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
