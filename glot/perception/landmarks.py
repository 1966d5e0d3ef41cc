"""BlazePose landmarks of people in given regions (MediaPipe's full landmark model via LiteRT).

For each region :class:`LandmarkModel` crops 256x256 pixels (rotated so the body stands upright,
edges replicated), runs ``pose_landmark_full.tflite`` and decodes its outputs as MediaPipe
0.10.21's ``PoseLandmarkByRoiCpu`` does: 39 landmarks ``(x, y, z, visibility, presence)`` in crop
pixels (33 body points + 2 auxiliary alignment points used for the next frame's region + 4
unused), refined with the 64x64 heatmaps (7x7 sigmoid-weighted mean where the peak is >= 0.5),
projected back to the frame; 33 world landmarks (metres, hip-centred) turned by the region's
rotation; a pose-presence score (people are kept when it is >= 0.5).

Conventions are those of ``mp.solutions.pose`` scaled to pixels: ``x, y`` pixels of the frame,
``z`` on the same scale as ``x`` (MediaPipe's normalized z times the frame width), visibility the
sigmoid of the model's logit.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from glot.perception.models import POSE_LANDMARKS, TFLiteModel, model_file
from glot.perception.roi import crop_matrix, crop_to_frame

__all__ = ["NUM_LANDMARKS", "LandmarkResult", "LandmarkModel", "refine_from_heatmap", "erase_people"]

NUM_LANDMARKS = 33
NUM_MODEL_LANDMARKS = 39
AUX = slice(33, 35)  # alignment points: mid-hip centre, size/rotation point
INPUT_SIZE = 256


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def refine_from_heatmap(xy: np.ndarray, heatmap: np.ndarray, kernel: int = 7,
                        min_confidence: float = 0.5) -> np.ndarray:
    """MediaPipe's RefineLandmarksFromHeatmap: move each point to the heatmap's local mean.

    Args:
        xy: ``(J, 2)`` landmark positions normalized to [0, 1] in the crop.
        heatmap: ``(h, w, J)`` logits.
        kernel: window side (cells).
        min_confidence: the window's sigmoid peak needed to refine.
    Returns:
        ``(J, 2)`` refined positions (points outside the crop or without a confident peak unchanged).
    """
    h, w, j = heatmap.shape
    out = xy.copy()
    cols = np.floor(xy[:, 0] * w).astype(int)  # C++ float -> int conversion of non-negative values
    rows = np.floor(xy[:, 1] * h).astype(int)
    inside = (cols >= 0) & (cols < w) & (rows >= 0) & (rows < h)
    if not inside.any():
        return out
    half = (kernel - 1) // 2
    k = np.arange(kernel)
    idx = np.flatnonzero(inside)
    rr = rows[idx, None] + k[None] - half  # (J', kernel) rows of the window (some outside the map)
    cc = cols[idx, None] + k[None] - half
    rin, cin = (rr >= 0) & (rr < h), (cc >= 0) & (cc < w)
    # windows clipped at the edges = a zero-confidence border: only the windows are read
    logit = heatmap[np.clip(rr, 0, h - 1)[:, :, None], np.clip(cc, 0, w - 1)[:, None, :], idx[:, None, None]]
    conf = _sigmoid(logit.astype(np.float64)) * (rin[:, :, None] & cin[:, None, :])  # (J', kernel, kernel)
    total = conf.sum((1, 2))
    ok = (conf.max((1, 2)) >= min_confidence) & (total > 0)
    row_pos = rr[:, :, None] * np.ones((1, 1, kernel))
    col_pos = cc[:, None, :] * np.ones((1, kernel, 1))
    x = (conf * col_pos).sum((1, 2)) / w / np.maximum(total, 1e-12)
    y = (conf * row_pos).sum((1, 2)) / h / np.maximum(total, 1e-12)
    out[idx[ok]] = np.stack([x[ok], y[ok]], axis=1)
    return out


@dataclass(frozen=True)
class LandmarkResult:
    """The landmark model's output for K regions (pixels of the frame)."""

    score: np.ndarray  # (K,) pose presence in [0, 1]
    landmarks: np.ndarray  # (K, 33, 3) x, y pixels; z on x's pixel scale
    visibility: np.ndarray  # (K, 33) in [0, 1]
    world: np.ndarray  # (K, 33, 3) metres, hip-centred
    aux: np.ndarray  # (K, 2, 2) alignment points (mid-hip centre, size/rotation point), pixels
    rois: np.ndarray  # (K, 4) the regions the model saw
    masks: np.ndarray  # (K, 256, 256) float32 segmentation logits in the region's crop (> 0: the person)

    def __len__(self) -> int:
        return len(self.score)


class LandmarkModel:
    """``pose_landmark_full.tflite`` on rotated square regions.

    Args:
        num_threads: LiteRT CPU threads.
    """

    def __init__(self, num_threads: int = 2) -> None:
        self._model = TFLiteModel(model_file(POSE_LANDMARKS), num_threads)
        self.calls = 0  # model invocations (one per region)

    def crop(self, image: np.ndarray, roi: np.ndarray) -> np.ndarray:
        """``(256, 256, 3)`` uint8 crop of ``roi`` ``(cx, cy, side, rotation)``."""
        m = crop_matrix(roi, INPUT_SIZE)
        flags = cv2.INTER_AREA if roi[2] > 2 * INPUT_SIZE else cv2.INTER_LINEAR
        return cv2.warpAffine(image, m, (INPUT_SIZE, INPUT_SIZE), flags=flags, borderMode=cv2.BORDER_REPLICATE)

    def __call__(self, image: np.ndarray, rois: np.ndarray) -> LandmarkResult:
        """Landmarks of the person in each region.

        Args:
            image: ``(H, W, 3)`` uint8 RGB.
            rois: ``(K, 4)`` ``(cx, cy, side, rotation)`` in pixels.
        """
        rois = np.asarray(rois, dtype=np.float64).reshape(-1, 4)
        k = len(rois)
        score = np.zeros(k)
        lms = np.full((k, NUM_MODEL_LANDMARKS, 3), np.nan)
        vis = np.zeros((k, NUM_MODEL_LANDMARKS))
        world = np.full((k, NUM_LANDMARKS, 3), np.nan)
        masks = np.zeros((k, INPUT_SIZE, INPUT_SIZE), np.float32)
        raws = np.zeros((k, NUM_MODEL_LANDMARKS, 5))
        worlds = np.zeros((k, NUM_LANDMARKS, 3))
        heat = []
        for a in range(0, k, self._model.MAX_BATCH):  # batches: the same numbers as one region at a time
            b = min(a + self._model.MAX_BATCH, k)
            x = np.stack([self.crop(image, roi) for roi in rois[a:b]]).astype(np.float32) / 255.0  # (K, 256, 256, 3)
            out = self._model(x)
            self.calls += b - a
            score[a:b] = out["Identity_1"].reshape(b - a)
            masks[a:b] = out["Identity_2"][..., 0]
            raws[a:b] = out["Identity"].reshape(b - a, NUM_MODEL_LANDMARKS, 5)
            worlds[a:b] = out["Identity_4"].reshape(b - a, NUM_MODEL_LANDMARKS, 3)[:, :NUM_LANDMARKS]
            heat.extend(out["Identity_3"])
        for i, roi in enumerate(rois):
            raw = raws[i]
            xy = refine_from_heatmap(raw[:, :2] / INPUT_SIZE, heat[i])
            lms[i, :, :2] = crop_to_frame(xy * INPUT_SIZE, roi, INPUT_SIZE)
            lms[i, :, 2] = raw[:, 2] / INPUT_SIZE * roi[2]  # MediaPipe: z / 256 x region width
            vis[i] = _sigmoid(raw[:, 3])
            w = worlds[i]
            c, s = np.cos(roi[3]), np.sin(roi[3])
            world[i] = np.stack([c * w[:, 0] - s * w[:, 1], s * w[:, 0] + c * w[:, 1], w[:, 2]], axis=1)
        body = slice(0, NUM_LANDMARKS)
        return LandmarkResult(score, lms[:, body], vis[:, body], world, lms[:, AUX, :2], rois, masks)


def _masked_median(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``(3,)`` uint8: ``np.median(image[mask > 0], axis=0).astype(np.uint8)`` from per-channel
    histograms (``image (h, w, 3)`` uint8 contiguous, ``mask (h, w)`` uint8, some pixels set)."""
    n = int(cv2.countNonZero(mask))
    out = np.empty(3, np.uint8)
    for ch in range(3):
        cum = np.cumsum(cv2.calcHist([image], [ch], mask, [256], [0, 256]).ravel())
        at = lambda r: int(np.searchsorted(cum, r, side="right"))  # noqa: E731  the value of rank r
        out[ch] = at(n // 2) if n % 2 else (at(n // 2 - 1) + at(n // 2)) // 2
    return out


def erase_people(image: np.ndarray, rois: np.ndarray, masks: np.ndarray, grow: int = 5,
                 inplace: bool = False) -> np.ndarray:
    """A copy of ``image`` with each person's silhouette painted in the colour around it.

    The detector finds one of two people standing close together; with the first painted out it
    finds the second. Silhouettes come from the landmark model's segmentation; the colour is the
    median of a ring around the silhouette.

    Args:
        image: ``(H, W, 3)`` uint8.
        rois: ``(K, 4)`` regions the masks were computed in.
        masks: ``(K, 256, 256)`` segmentation logits (> 0 inside the person).
        grow: pixels added around each silhouette.
        inplace: paint into ``image`` itself instead of a copy.
    """
    out = image if inplace else image.copy()
    h, w = image.shape[:2]
    corners = np.array([[0, 0], [INPUT_SIZE, 0], [0, INPUT_SIZE], [INPUT_SIZE, INPUT_SIZE]], np.float64)
    k = np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)
    for roi, logits in zip(np.asarray(rois).reshape(-1, 4), masks):
        c = crop_to_frame(corners, roi, INPUT_SIZE)
        x0, y0 = np.maximum(np.floor(c.min(0)).astype(int), 0)
        x1, y1 = np.minimum(np.ceil(c.max(0)).astype(int), (w, h))
        if x1 <= x0 or y1 <= y0:
            continue
        to_frame = cv2.invertAffineTransform(crop_matrix(roi, INPUT_SIZE))
        to_frame[:, 2] -= (x0, y0)
        logit = cv2.warpAffine(np.ascontiguousarray(logits, np.float32), to_frame, (int(x1 - x0), int(y1 - y0)),
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=-1.0)
        inside = cv2.threshold(logit, 0.0, 1.0, cv2.THRESH_BINARY)[1].astype(np.uint8)  # logit > 0
        if not cv2.countNonZero(inside):
            continue
        inside = cv2.dilate(inside, k)
        ring = cv2.subtract(cv2.dilate(inside, k), inside)
        patch = out[y0:y1, x0:x1]  # a view: painted in place
        fill = np.empty_like(patch)
        fill[:] = _masked_median(np.ascontiguousarray(patch), ring) if cv2.countNonZero(ring) else 128
        cv2.copyTo(fill, inside, patch)
    return out
