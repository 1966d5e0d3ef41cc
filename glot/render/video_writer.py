"""Streaming H.264 mp4 writer (PyAV, libx264, yuv420p): frames go to the encoder one at a time."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np

__all__ = ["VideoWriter", "to_fraction"]


def to_fraction(fps: Fraction | float | int) -> Fraction:
    """Frame rate as a Fraction; floats snap to the nearest ratio with denominator <= 1001
    (``29.97002997 -> 30000/1001``, ``25.0 -> 25``)."""
    if isinstance(fps, Fraction):
        rate = fps
    else:
        rate = Fraction(float(fps)).limit_denominator(1001)
    if rate <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return rate


class VideoWriter:
    """Write RGB frames to an H.264 mp4 without holding the clip in memory.

    The frame size is taken from the first frame; odd widths/heights are padded by repeating the
    last column/row (yuv420p needs even sizes). Use as a context manager::

        with VideoWriter("out.mp4", fps=Fraction(30000, 1001)) as w:
            for frame in frames:  # (H, W, 3) uint8 RGB
                w.write(frame)

    Args:
        path: output file (parent folders are created).
        fps: frame rate, ``Fraction`` or float.
        crf: x264 constant rate factor (lower = better quality, larger file).
        preset: x264 speed preset.
    """

    def __init__(self, path: str | Path, fps: Fraction | float, crf: int = 20, preset: str = "veryfast") -> None:
        self.path = Path(path)
        self.fps = to_fraction(fps)
        self.crf, self.preset = int(crf), preset
        self.frame_count = 0
        self._size: tuple[int, int] | None = None  # input (height, width)
        self._stream = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(self.path), mode="w")

    def _open_stream(self, height: int, width: int) -> None:
        stream = self._container.add_stream("libx264", rate=self.fps)
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = 1 / self.fps
        stream.options = {"crf": str(self.crf), "preset": self.preset}
        self._stream, self._size = stream, (height, width)

    def write(self, frame: np.ndarray) -> None:
        """Append one ``(H, W, 3)`` uint8 RGB frame (same size as the first)."""
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frame must be (H, W, 3) uint8, got {frame.shape} {frame.dtype}")
        if self._container is None:
            raise RuntimeError(f"writer for {self.path} is closed")
        if self._stream is None:
            self._open_stream(*frame.shape[:2])
        if frame.shape[:2] != self._size:
            raise ValueError(f"frame size {frame.shape[:2]} differs from the first frame's {self._size}")
        h, w = self._size
        if h % 2 or w % 2:
            frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        vf.pts = self.frame_count
        vf.time_base = 1 / self.fps
        for packet in self._stream.encode(vf):
            self._container.mux(packet)
        self.frame_count += 1

    def close(self) -> None:
        """Flush the encoder and finalise the file (idempotent). With no frames written, no file is left."""
        if self._container is None:
            return
        if self._stream is not None:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        self._container.close()
        self._container = None

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
