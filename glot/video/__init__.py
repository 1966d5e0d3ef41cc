"""Video side of the pipeline: decode -> track (MediaPipe) -> boxes -> 224x224 crops -> windows.

Knows nothing of rendering, the app or training. Heavy dependencies (PyAV, MediaPipe) load
when first used.
"""
from __future__ import annotations

from glot.video.boxes import BoxTrack, boxes_from_landmarks, build_track, find_segments, interpolate_gaps, smooth_boxes
from glot.video.crop import BOX_SCALE, CROP_SIZE, Crops, crop_frames, crop_image, crop_transform, normalize_crops, transform_keypoints
from glot.video.decode import Frame, VideoError, VideoInfo, iter_frames, probe_video
from glot.video.windows import window_indices

__all__ = [
    "VideoError", "VideoInfo", "Frame", "probe_video", "iter_frames",
    "BoxTrack", "boxes_from_landmarks", "interpolate_gaps", "find_segments", "smooth_boxes", "build_track",
    "CROP_SIZE", "BOX_SCALE", "Crops", "crop_transform", "crop_image", "transform_keypoints", "normalize_crops",
    "crop_frames", "window_indices",
    "TrackerConfig", "PoseObservation", "PoseTrack", "PoseTracker", "track_video",
]


def __getattr__(name: str):
    # the tracker imports MediaPipe: load it only when asked for
    if name in ("TrackerConfig", "PoseObservation", "PoseTrack", "PoseTracker", "track_video"):
        from glot.video import track

        return getattr(track, name)
    raise AttributeError(f"module 'glot.video' has no attribute {name!r}")
