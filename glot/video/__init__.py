"""Video side of the pipeline: decode -> boxes -> 224x224 crops -> windows (people: :mod:`glot.perception`).

Knows nothing of rendering, the app or training. Names are imported on first use (PyAV, OpenCV
and torch load only when needed).
"""
from .._lazy import lazy_exports

_EXPORTS = {
    "VideoError": ".decode", "VideoInfo": ".decode", "Frame": ".decode", "probe_video": ".decode",
    "iter_frames": ".decode",
    "BoxTrack": ".boxes", "boxes_from_landmarks": ".boxes", "interpolate_gaps": ".boxes", "find_segments": ".boxes",
    "smooth_boxes": ".boxes", "build_track": ".boxes",
    "CROP_SIZE": ".crop", "BOX_SCALE": ".crop", "Crops": ".crop", "crop_transform": ".crop", "crop_image": ".crop",
    "transform_keypoints": ".crop", "normalize_crops": ".crop", "crop_frames": ".crop",
    "window_indices": ".windows",
}
__all__ = list(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
