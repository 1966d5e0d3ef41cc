"""Live frame sources: a webcam index, a video file, or a stream URL (RTSP/HTTP via PyAV).

A live source runs in a reader thread that keeps only the newest frame: when compute is slower
than the source, older frames are dropped (and counted) instead of queueing up latency.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..errors import GLoTError

__all__ = ["SourceFrame", "open_source", "LatestFrame"]


@dataclass
class SourceFrame:
    image: np.ndarray  # (H, W, 3) uint8 RGB
    time: float  # seconds (source timestamp when known, else arrival time)


def _webcam(index: int) -> Iterator[SourceFrame]:
    import cv2

    cap = cv2.VideoCapture(index)
    if not cap.isOpened():
        raise GLoTError(f"cannot open webcam {index}")
    t0 = time.perf_counter()
    try:
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            yield SourceFrame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), time.perf_counter() - t0)
    finally:
        cap.release()


def _url(url: str) -> Iterator[SourceFrame]:
    import av

    try:
        container = av.open(url, options={"rtsp_transport": "tcp"} if url.startswith("rtsp") else None, timeout=10)
    except av.FFmpegError as err:
        raise GLoTError(f"cannot open stream {url}: {err}") from None
    with container:
        for frame in container.decode(video=0):
            yield SourceFrame(frame.to_ndarray(format="rgb24"), float(frame.time or 0.0))


def _file(path: str) -> Iterator[SourceFrame]:
    from ..video import iter_frames

    for fr in iter_frames(path):
        yield SourceFrame(fr.image, fr.time)


def open_source(source: str) -> tuple[Iterator[SourceFrame], bool]:
    """``"0"`` (webcam index), a URL, or a file. Returns ``(frames, is_live)``."""
    if source.isdigit():
        return _webcam(int(source)), True
    if "://" in source:
        return _url(source), True
    return _file(source), False


class LatestFrame:
    """Reads ``frames`` in a thread; :meth:`get` returns the newest unseen frame (blocking).

    ``dropped`` counts frames that were replaced before anyone took them. ``realtime`` paces a
    non-live source by its timestamps, so a file behaves like a camera.
    """

    def __init__(self, frames: Iterator[SourceFrame], realtime: bool = False) -> None:
        self._frames = frames
        self._realtime = realtime
        self._cond = threading.Condition()
        self._latest: SourceFrame | None = None
        self._done = False
        self._error: BaseException | None = None
        self.dropped = 0
        self.received = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        t0 = time.perf_counter()
        try:
            for fr in self._frames:
                if self._realtime:
                    wait = fr.time - (time.perf_counter() - t0)
                    if wait > 0:
                        time.sleep(wait)
                with self._cond:
                    if self._latest is not None:
                        self.dropped += 1
                    self._latest = fr
                    self.received += 1
                    self._cond.notify()
        except BaseException as exc:  # handed to the consumer
            self._error = exc
        finally:
            with self._cond:
                self._done = True
                self._cond.notify()

    def get(self) -> SourceFrame | None:
        """The newest frame, or None when the source has ended."""
        with self._cond:
            while self._latest is None and not self._done:
                self._cond.wait()
            if self._error is not None:
                raise self._error
            fr, self._latest = self._latest, None
            return fr
