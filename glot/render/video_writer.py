"""Streaming H.264 mp4 writer (PyAV, libx264, yuv420p): frames go to the encoder one at a time.

RGB -> YUV 4:2:0 is done by OpenCV (BT.601 limited range, the H.264 default; ~10x faster than
PyAV's swscale path on a 2880x720 frame). With ``background=True`` the conversion and encoding
run in a worker thread fed by a bounded queue, so the caller only pays the hand-off.
"""
from __future__ import annotations

import queue
import threading
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import cv2
import numpy as np

__all__ = ["VideoWriter", "to_fraction"]

_DONE = object()  # queue sentinel: flush and close


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

        with VideoWriter("out.mp4", fps=Fraction(30000, 1001), background=True) as w:
            for frame in frames:  # (H, W, 3) uint8 RGB
                w.write(frame)

    Args:
        path: output file (parent folders are created).
        fps: frame rate, ``Fraction`` or float.
        crf: x264 constant rate factor (lower = better quality, larger file).
        preset: x264 speed preset.
        threads: x264 threads (None: x264's default for the machine; 1 is deterministic and lean).
        background: encode in a worker thread; ``write`` then only queues the frame (it must not
            be modified afterwards) and blocks while ``queue_size`` frames wait. An encoder error
            is raised by the next ``write`` or by ``close``, which always joins the worker; the
            partial file is then removed.
        queue_size: frames waiting for the worker at most (memory: ``queue_size`` frames).
    """

    def __init__(self, path: str | Path, fps: Fraction | float, crf: int = 20, preset: str = "veryfast",
                 threads: int | None = None, background: bool = False, queue_size: int = 4) -> None:
        self.path = Path(path)
        self.fps = to_fraction(fps)
        self.crf, self.preset, self.threads = int(crf), preset, threads
        self.frame_count = 0  # frames accepted by write()
        self._size: tuple[int, int] | None = None  # input (height, width)
        self._stream = None
        self._encoded = 0
        self._closed = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(self.path), mode="w")
        self._error: BaseException | None = None
        self._queue: queue.Queue | None = None
        self._worker: threading.Thread | None = None
        if background:
            if queue_size < 1:
                raise ValueError(f"queue_size must be >= 1, got {queue_size}")
            self._queue = queue.Queue(maxsize=queue_size)
            self._worker = threading.Thread(target=self._run, name=f"encode:{self.path.name}", daemon=True)
            self._worker.start()

    # ------------------------------------------------------------------ encoding (caller or worker thread)
    def _open_stream(self, height: int, width: int) -> None:
        stream = self._container.add_stream("libx264", rate=self.fps)
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = 1 / self.fps
        options = {"crf": str(self.crf), "preset": self.preset}
        if self.threads is not None:
            options["threads"] = str(int(self.threads))
        stream.options = options
        self._stream = stream

    def _encode(self, frame: np.ndarray) -> None:
        h, w = frame.shape[:2]
        if self._stream is None:
            self._open_stream(h, w)
        if h % 2 or w % 2:
            frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        yuv = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2YUV_I420)  # (3H/2, W) planar
        vf = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        vf.pts = self._encoded
        vf.time_base = 1 / self.fps
        for packet in self._stream.encode(vf):
            self._container.mux(packet)
        self._encoded += 1

    def _finish(self) -> None:
        """Flush the encoder and close the container (the file is complete)."""
        if self._stream is not None:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        self._container.close()

    def _run(self) -> None:
        """Worker: encode queued frames until the sentinel; on error, keep draining (so that the
        producer never blocks) and leave the error for write/close to raise."""
        while True:
            item = self._queue.get()
            if item is _DONE:
                break
            if self._error is None:
                try:
                    self._encode(item)
                except BaseException as err:  # noqa: BLE001 (re-raised in the caller's thread)
                    self._error = err
        if self._error is None:
            try:
                self._finish()
            except BaseException as err:  # noqa: BLE001
                self._error = err

    # ------------------------------------------------------------------ public API (caller thread)
    def write(self, frame: np.ndarray) -> None:
        """Append one ``(H, W, 3)`` uint8 RGB frame (same size as the first)."""
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frame must be (H, W, 3) uint8, got {frame.shape} {frame.dtype}")
        if self._closed:
            raise RuntimeError(f"writer for {self.path} is closed")
        if self._size is None:
            self._size = frame.shape[:2]
        if frame.shape[:2] != self._size:
            raise ValueError(f"frame size {frame.shape[:2]} differs from the first frame's {self._size}")
        if self._queue is None:
            self._encode(frame)
        else:
            self._raise_if_failed()
            self._queue.put(frame)
        self.frame_count += 1

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise RuntimeError(f"encoding {self.path.name} failed: {self._error}") from self._error

    def close(self) -> None:
        """Flush the encoder and finalise the file (idempotent). With no frames written, no file is
        left; with a background encoder, joins it and raises its error (removing the partial file)."""
        if self._closed:
            return
        self._closed = True
        if self._worker is not None:
            self._queue.put(_DONE)
            self._worker.join()
            if self._error is not None:
                try:
                    self._container.close()
                except Exception:  # noqa: BLE001 (the encoder's error is the one to report)
                    pass
                self.path.unlink(missing_ok=True)
                self._raise_if_failed()
        else:
            self._finish()
        if self._stream is None:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is None:
            self.close()
            return
        try:  # the body's exception is the one to see; still join the worker
            self.close()
        except Exception:  # noqa: BLE001
            pass
