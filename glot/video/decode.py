"""Streaming video decoding (PyAV): one frame at a time, rotation applied, real timestamps.

Frames are never written to a folder and the clip is never held in memory: :func:`iter_frames`
is a generator that yields :class:`Frame` objects as the decoder produces them. Timestamps come
from the stream's presentation times (variable frame rate is kept as is). Display rotation
(the container's display matrix, e.g. phone videos) is applied the way ffmpeg's autorotate does.

Every failure to read a file is a :class:`VideoError` with a one-line human message.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from glot.errors import GLoTError

__all__ = ["VideoError", "VideoInfo", "Frame", "DecodeReport", "probe_video", "iter_frames"]

# container formats ffmpeg uses for single still images (rejected: not a video)
_STILL_IMAGE_FORMATS = ("image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "webp_pipe", "tiff_pipe", "jpegxl_pipe")
# a declared frame count this much larger than what decodes means the file is cut short
_TRUNCATION_TOLERANCE = 0.98


class VideoError(GLoTError, ValueError):
    """A video file cannot be read; ``str(err)`` is a one-line message for the user."""


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video (sizes are as displayed, i.e. after rotation)."""

    path: str
    width: int
    height: int
    rotation: int  # degrees counter-clockwise applied to the decoded pictures: 0, 90, 180 or 270
    fps: float  # average frame rate (frames / s); VFR clips have irregular timestamps around it
    num_frames: int | None  # declared by the container, None when unknown
    duration: float | None  # seconds, None when unknown
    codec: str


@dataclass(frozen=True)
class Frame:
    """One decoded picture."""

    index: int  # 0-based position in decoding (presentation) order
    time: float  # seconds since the start of the stream (presentation time stamp)
    image: np.ndarray  # (H, W, 3) uint8 RGB, rotation applied


@dataclass
class DecodeReport:
    """How a decode went, filled in by :func:`iter_frames` (pass one to ``report=``).

    ``ended`` is False while frames are still coming or when the caller stopped early (then
    nothing is claimed about the rest of the file).
    """

    decoded: int = 0  # frames yielded
    declared: int | None = None  # frame count the container declares (None: unknown)
    ended: bool = False  # the stream ended (cleanly or on a decoding error)
    error: str | None = None  # why decoding stopped early, when it did on an error

    @property
    def complete(self) -> bool | None:
        """True: every declared frame decoded; False: the file ended short; None: not known yet."""
        if not self.ended:
            return None
        if self.error is not None:
            return False
        return not (self.declared and self.decoded < _TRUNCATION_TOLERANCE * self.declared)

    def shortfall(self) -> str | None:
        """One plain sentence when the file held fewer frames than it promised, else None."""
        if self.complete is not False:
            return None
        if self.declared:
            text = f"decoded {self.decoded} of the {self.declared} frames the file declares"
        else:
            text = f"decoding stopped after {self.decoded} frames"
        return text + (f" (the rest is damaged: {self.error})" if self.error else "")

    def to_dict(self) -> dict:
        """For ``summary.json``."""
        return {"frames_decoded": self.decoded, "frames_declared": self.declared, "complete": self.complete,
                "note": self.shortfall()}


def _open(path: str | os.PathLike):
    """Open ``path`` with PyAV; return ``(container, video_stream)`` or raise VideoError."""
    import av  # imported here so importing the package stays light

    p = Path(path)
    if not p.exists():
        raise VideoError(f"video file not found: {p}")
    if p.is_dir():
        raise VideoError(f"expected a video file, got a folder: {p}")
    if p.stat().st_size == 0:
        raise VideoError(f"video file is empty (0 bytes): {p}")
    try:
        container = av.open(str(p), mode="r")
    except av.FFmpegError as err:
        raise VideoError(f"cannot read {p.name}: not a video file or the file is damaged/truncated ({_short(err)})") from None
    if container.format.name in _STILL_IMAGE_FORMATS:
        container.close()
        raise VideoError(f"{p.name} is a still image, not a video")
    if not container.streams.video:
        container.close()
        raise VideoError(f"{p.name} has no video stream (audio or data only)")
    return container, container.streams.video[0]


def _short(err: Exception) -> str:
    msg = getattr(err, "strerror", None) or str(err)
    return str(msg).splitlines()[0][:120]


def _rotation(frame) -> int:
    """Counter-clockwise display rotation of a decoded frame, snapped to 0/90/180/270."""
    try:
        rot = frame.rotation or 0
    except Exception:  # pragma: no cover - very old PyAV
        rot = 0
    return int(round(float(rot) / 90.0)) * 90 % 360


def _fps(stream) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else 0.0


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Read the header and the first frame of ``path`` (validates that it decodes).

    Raises:
        VideoError: missing, empty, non-video, still-image or undecodable file.
    """
    container, stream = _open(path)
    try:
        try:
            first = next(container.decode(stream), None)
        except Exception as err:
            raise VideoError(f"cannot decode {Path(path).name}: the file is damaged or truncated ({_short(err)})") from None
        if first is None:
            raise VideoError(f"{Path(path).name} contains no video frames")
        rot = _rotation(first)
        w, h = first.width, first.height
        if rot in (90, 270):
            w, h = h, w
        tb = stream.time_base
        duration = None
        if stream.duration is not None and tb is not None:
            duration = float(stream.duration * tb)
        elif container.duration:
            duration = container.duration / 1_000_000
        return VideoInfo(
            path=str(path),
            width=w,
            height=h,
            rotation=rot,
            fps=_fps(stream),
            num_frames=int(stream.frames) or None,
            duration=duration,
            codec=stream.codec_context.name,
        )
    finally:
        container.close()


def _target_size(width: int, height: int, max_side: int | None) -> tuple[int, int] | None:
    """Even-sized downscale target keeping the aspect ratio, or None when no resize is needed."""
    if not max_side or max(width, height) <= max_side:
        return None
    s = max_side / max(width, height)
    return max(2, int(round(width * s / 2)) * 2), max(2, int(round(height * s / 2)) * 2)


def iter_frames(
    path: str | os.PathLike,
    max_side: int | None = None,
    strict: bool = True,
    threads: bool = True,
    report: DecodeReport | None = None,
) -> Iterator[Frame]:
    """Decode ``path`` frame by frame.

    Args:
        path: video file.
        max_side: if set, pictures whose longer side exceeds it are downscaled (area filter) in
            the decoder, before conversion to RGB (4K input costs little memory and time).
        strict: raise :class:`VideoError` when the stream ends well before the frame count the
            container declares (a truncated file) or a frame fails to decode, after the frames
            that did decode. ``strict=False`` ends quietly there instead (see ``report``).
        threads: let ffmpeg decode with frame/slice threads.
        report: filled in as frames come: decoded vs declared count, and why decoding stopped.
    Yields:
        :class:`Frame` with ``image`` ``(H, W, 3)`` uint8 RGB (rotation applied) and ``time`` in
        seconds since the stream start.
    Raises:
        VideoError: unreadable, empty or non-video file, or no decodable frame; with ``strict``
            also a truncated or damaged one.
    """
    container, stream = _open(path)
    name = Path(path).name
    report = report if report is not None else DecodeReport()
    report.declared = int(stream.frames or 0) or None
    try:
        if threads:
            stream.thread_type = "AUTO"
        tb = stream.time_base or Fraction(1, 1)
        start = stream.start_time
        fps = _fps(stream)
        index = 0
        size: tuple[int, int] | None = None
        decoder = container.decode(stream)
        while True:
            try:
                frame = next(decoder)
            except StopIteration:
                break
            except Exception as err:
                if index == 0:
                    raise VideoError(f"cannot decode {name}: the file is damaged ({_short(err)})") from None
                if strict:
                    raise VideoError(f"{name} is truncated or damaged: decoding failed after {index} frames "
                                     f"({_short(err)})") from None
                report.error = _short(err)
                break
            if index == 0:
                size = _target_size(frame.width, frame.height, max_side)
            if size is not None:
                arr = frame.reformat(width=size[0], height=size[1], format="rgb24", interpolation="AREA").to_ndarray()
            else:
                arr = frame.to_ndarray(format="rgb24")
            rot = _rotation(frame)
            if rot:
                arr = np.ascontiguousarray(np.rot90(arr, rot // 90))
            if frame.pts is not None:
                t = float((frame.pts - (start or 0)) * tb)
            else:
                t = index / fps if fps else float(index)
            index += 1
            report.decoded = index
            yield Frame(index=index - 1, time=t, image=arr)
        report.ended = True
        if index == 0:
            raise VideoError(f"{name} contains no decodable video frames")
        if strict and report.complete is False:
            raise VideoError(f"{name} is truncated: only {index} of {report.declared} frames could be decoded")
    finally:
        container.close()
