"""Person detection and tracking with MediaPipe Pose (0.10.x ``mp.solutions.pose``, complexity 1).

Per frame, :class:`PoseTracker` returns the 33 image landmarks (pixels of the original frame),
their visibilities and the 33 world landmarks (metres, hip-centred). Search strategy:

1. *full*: MediaPipe in video mode on the whole frame, downscaled so its longer side is at most
   ``detect_max_side`` (4K input costs no more than 640p);
2. *region*: when the full pass finds nobody (or the caller asked to follow a given box), a
   square region around the last known box (``region_scale`` x its side) is cut out, enlarged
   and searched with a still-image MediaPipe instance: this finds people tens of pixels tall.
   Once found that way, the person is followed in video mode inside a window around them that
   moves only when they near its border;
3. *tiles*: when nobody has been seen recently, overlapping tiles of the frame are searched
   (every ``search_every`` frames) and the most prominent person is kept.

MediaPipe finds one person per image. By default the most prominent person is followed; pass
``focus_box`` to follow someone else (the search then stays in regions around that person).
:func:`track_video` runs a tracker over frames and turns landmarks into smoothed boxes
(:mod:`glot.video.boxes`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import cv2
import numpy as np

from glot.video.boxes import BoxTrack, boxes_from_landmarks, build_track
from glot.video.decode import Frame

__all__ = ["NUM_LANDMARKS", "TrackerConfig", "PoseObservation", "PoseTrack", "PoseTracker", "track_video"]

NUM_LANDMARKS = 33
SOURCES = ("none", "full", "region", "tiles")  # PoseObservation.source values


@dataclass(frozen=True)
class TrackerConfig:
    """Tracking settings (defaults suit 480p-4K footage at 25-60 fps)."""

    model_complexity: int = 1  # the only MediaPipe pose model shipped inside the wheel
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    detect_max_side: int = 640  # full-frame pass input size (longer side, pixels)
    min_visibility: float = 0.5  # landmarks used for the box
    box_scale: float = 1.1  # box side / longer side of the visible landmarks' bbox
    region_scale: float = 3.0  # region side / last box side (second pass)
    region_min_side: int = 96  # pixels of the original frame
    region_input_side: int = 256  # the region is resized to this before MediaPipe
    region_switch_fraction: float = 0.35  # a box larger than this x frame's short side goes back to full passes
    memory: int = 30  # frames a lost person's last box still anchors the region search
    search_every: int = 5  # frames between tiled searches while nobody is tracked
    tile_fraction: float = 0.5  # tile side / frame's short side
    max_gap: int = 15  # missing frames interpolated (longer gaps split the clip)
    min_segment: int = 5  # shorter segments are dropped
    smooth_sigma: float = 1.5  # temporal box smoothing (frames)


@dataclass(frozen=True)
class PoseObservation:
    """MediaPipe's result on one frame (NaN arrays when nobody was found)."""

    found: bool
    landmarks: np.ndarray  # (33, 3) x, y in pixels of the frame; z in the same pixel scale
    visibility: np.ndarray  # (33,)
    world: np.ndarray  # (33, 3) metres, hip-centred (MediaPipe world landmarks)
    box: np.ndarray  # (4,) raw (cx, cy, w, h) from the landmarks, before smoothing
    source: str  # "none", "full", "region" or "tiles"


@dataclass(frozen=True)
class PoseTrack:
    """One person over a clip."""

    times: np.ndarray  # (N,) seconds
    landmarks: np.ndarray  # (N, 33, 3) pixels, NaN where not detected
    visibility: np.ndarray  # (N, 33)
    world: np.ndarray  # (N, 33, 3) metres
    source: np.ndarray  # (N,) int8 index into SOURCES
    track: BoxTrack  # smoothed boxes (N, 4), validity and segments
    image_size: tuple[int, int]  # (width, height) of the frames

    @property
    def boxes(self) -> np.ndarray:
        """``(N, 4)`` smoothed ``(cx, cy, w, h)`` boxes (NaN outside segments)."""
        return self.track.boxes

    @property
    def segments(self) -> list[tuple[int, int]]:
        return self.track.segments

    @property
    def valid(self) -> np.ndarray:
        """``(N,)`` bool: a box exists (detected or interpolated) in a kept segment."""
        return self.track.valid

    @property
    def detected(self) -> np.ndarray:
        """``(N,)`` bool: MediaPipe found the person (in a kept segment)."""
        return self.track.detected


def _empty_observation() -> PoseObservation:
    nan = np.full((NUM_LANDMARKS, 3), np.nan)
    return PoseObservation(False, nan, np.zeros(NUM_LANDMARKS), nan.copy(), np.full(4, np.nan), "none")


class PoseTracker:
    """Stateful per-frame tracker (use as a context manager, or call :meth:`close`).

    Args:
        config: settings.
        focus_box: ``(cx, cy, w, h)`` of the person to follow in the first frame given (pixels);
            None = the most prominent person.
    """

    def __init__(self, config: TrackerConfig = TrackerConfig(), focus_box: Sequence[float] | None = None):
        import mediapipe as mp

        self.config = config
        self._mp_pose = mp.solutions.pose
        # MediaPipe instances, created lazily: "full" (video mode, whole frame), "follow" (video
        # mode, a window around a small/focused person), "still" (still-image searches)
        self._instances: dict[str, object] = {}
        self._anchor: np.ndarray | None = None if focus_box is None else np.asarray(focus_box, np.float64)
        self._focused = focus_box is not None
        self._region_mode = focus_box is not None
        self._window: np.ndarray | None = None  # (cx, cy, side) of the "follow" window
        self._since_seen = 0
        self._since_search = config.search_every  # search on the first lost frame

    # -- MediaPipe instances -------------------------------------------------------------------
    def _instance(self, kind: str):
        if kind not in self._instances:
            c = self.config
            still = kind == "still"
            self._instances[kind] = self._mp_pose.Pose(
                static_image_mode=still, model_complexity=c.model_complexity, smooth_landmarks=not still,
                min_detection_confidence=c.min_detection_confidence,
                min_tracking_confidence=c.min_tracking_confidence,
            )
        return self._instances[kind]

    def _restart(self, kind: str) -> None:
        inst = self._instances.pop(kind, None)
        if inst is not None:
            inst.close()

    def close(self) -> None:
        for kind in list(self._instances):
            self._restart(kind)

    def __enter__(self) -> "PoseTracker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- passes ------------------------------------------------------------------------------------
    def _run(self, image: np.ndarray, kind: str, affine: np.ndarray, source: str) -> PoseObservation:
        """Run MediaPipe on ``image`` (a view of the frame); ``affine`` (2, 3) maps its pixels to the frame's."""
        res = self._instance(kind).process(image)
        if res.pose_landmarks is None:
            return _empty_observation()
        h, w = image.shape[:2]
        lm = np.array([(p.x * w, p.y * h, p.z * w, p.visibility) for p in res.pose_landmarks.landmark])  # (33, 4)
        xy = lm[:, :2] @ affine[:, :2].T + affine[:, 2]  # (33, 2)
        z = lm[:, 2:3] * affine[0, 0]
        landmarks = np.concatenate([xy, z], axis=1)
        world = np.array([(p.x, p.y, p.z) for p in res.pose_world_landmarks.landmark]) if res.pose_world_landmarks else np.full((NUM_LANDMARKS, 3), np.nan)
        box = boxes_from_landmarks(landmarks[None], lm[None, :, 3], self.config.min_visibility, self.config.box_scale)[0]
        return PoseObservation(True, landmarks, lm[:, 3], world, box, source)

    def _full(self, frame: np.ndarray) -> PoseObservation:
        h, w = frame.shape[:2]
        s = min(1.0, self.config.detect_max_side / max(h, w))
        small = frame if s == 1.0 else cv2.resize(frame, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
        sx, sy = w / small.shape[1], h / small.shape[0]
        return self._run(np.ascontiguousarray(small), "full", np.array([[sx, 0, 0], [0, sy, 0]]), "full")

    def _square(self, frame: np.ndarray, cx: float, cy: float, side: float, source: str, kind: str = "still") -> PoseObservation:
        """Search the square ``side`` around ``(cx, cy)`` (zero outside the frame), resized for MediaPipe."""
        n = self.config.region_input_side
        k = n / side
        to_patch = np.array([[k, 0, n / 2 - k * cx], [0, k, n / 2 - k * cy]])
        patch = cv2.warpAffine(frame, to_patch, (n, n), flags=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT)
        return self._run(patch, kind, cv2.invertAffineTransform(to_patch), source)

    def _region_side(self, anchor: np.ndarray) -> float:
        return max(self.config.region_scale * max(anchor[2], anchor[3]), self.config.region_min_side)

    def _region(self, frame: np.ndarray, anchor: np.ndarray) -> PoseObservation:
        """Still-image search of the region around ``anchor``."""
        return self._square(frame, anchor[0], anchor[1], self._region_side(anchor), "region")

    def _follow(self, frame: np.ndarray, anchor: np.ndarray) -> PoseObservation:
        """Video-mode tracking inside a window that stays put while the person is well inside it.

        The window moves (and the video-mode instance restarts, as its state is in window
        coordinates) only when the person nears its border or changes size a lot: cheaper and
        steadier than a still-image search every frame.
        """
        side = self._region_side(anchor)
        w = self._window
        if w is None or max(abs(anchor[0] - w[0]), abs(anchor[1] - w[1])) > w[2] / 6 or not 0.67 < side / w[2] < 1.5:
            self._window = w = np.array([anchor[0], anchor[1], side])
            self._restart("follow")
        return self._square(frame, w[0], w[1], w[2], "region", kind="follow")

    def _tiles(self, frame: np.ndarray) -> PoseObservation:
        """Overlapping square tiles; the most prominent detection (box side x mean visibility) wins."""
        h, w = frame.shape[:2]
        side = self.config.tile_fraction * min(h, w)
        best, score = _empty_observation(), 0.0
        for cy in _tile_centres(h, side):
            for cx in _tile_centres(w, side):
                obs = self._square(frame, cx, cy, side, "tiles")
                if obs.found and np.isfinite(obs.box).all():
                    s = obs.box[2] * float(np.mean(obs.visibility))
                    if s > score:
                        best, score = obs, s
        return best

    # -- per frame ---------------------------------------------------------------------------------
    def process(self, frame: np.ndarray) -> PoseObservation:
        """Find the followed person in ``frame`` ``(H, W, 3)`` uint8 RGB."""
        c = self.config
        h, w = frame.shape[:2]
        obs = _empty_observation()
        if not self._region_mode:
            obs = self._full(frame)
        anchor = self._anchor if self._anchor is not None and (self._focused or self._since_seen <= c.memory) else None
        if not obs.found and anchor is not None and self._region_mode:
            obs = self._follow(frame, anchor)
        if not obs.found and anchor is not None:
            self._window = None  # the next follow starts a fresh window
            obs = self._region(frame, anchor)
        if not obs.found and self._region_mode and not self._focused:
            obs = self._full(frame)  # the person may have grown or moved far
        if not obs.found and anchor is None:
            self._since_search += 1
            if self._since_search >= c.search_every:
                self._since_search = 0
                obs = self._tiles(frame)
        if obs.found and np.isfinite(obs.box).all():
            self._anchor = obs.box
            self._since_seen = 0
            big = obs.box[2] > c.region_switch_fraction * min(h, w)
            self._region_mode = self._focused or (obs.source != "full" and not big)
        else:
            self._since_seen += 1
        return obs


def _tile_centres(length: int, side: float) -> list[float]:
    """Centres of tiles of ``side`` covering ``[0, length]`` with about half a tile of overlap."""
    if side >= length:
        return [length / 2.0]
    n = int(np.ceil((length - side) / (side / 2))) + 1
    return list(np.linspace(side / 2, length - side / 2, n))


def track_video(
    frames: Iterable[Frame],
    config: TrackerConfig = TrackerConfig(),
    focus_box: Sequence[float] | None = None,
    progress: Callable[[int], None] | None = None,
) -> PoseTrack:
    """Track one person through ``frames`` (streamed; only landmarks are kept).

    Args:
        frames: e.g. :func:`glot.video.decode.iter_frames`.
        config: tracker settings.
        focus_box: ``(cx, cy, w, h)`` of the person to follow in the first frame; None = most prominent.
        progress: called with the number of frames done.
    Returns:
        :class:`PoseTrack` with raw landmarks and smoothed, gap-filled boxes.
    """
    times, lms, vis, world, src, raw = [], [], [], [], [], []
    size = (0, 0)
    with PoseTracker(config, focus_box) as tracker:
        for i, fr in enumerate(frames):
            obs = tracker.process(fr.image)
            size = (fr.image.shape[1], fr.image.shape[0])
            times.append(fr.time)
            lms.append(obs.landmarks)
            vis.append(obs.visibility)
            world.append(obs.world)
            src.append(SOURCES.index(obs.source))
            raw.append(obs.box)
            if progress is not None:
                progress(i + 1)
    n = len(times)
    boxes = np.array(raw).reshape(n, 4)
    detected = np.isfinite(boxes).all(1)
    track = build_track(boxes, detected, config.max_gap, config.min_segment, config.smooth_sigma)
    return PoseTrack(
        times=np.asarray(times, dtype=np.float64),
        landmarks=np.array(lms).reshape(n, NUM_LANDMARKS, 3),
        visibility=np.array(vis).reshape(n, NUM_LANDMARKS),
        world=np.array(world).reshape(n, NUM_LANDMARKS, 3),
        source=np.asarray(src, dtype=np.int8),
        track=track,
        image_size=size,
    )
