"""Every person in a frame: MediaPipe's BlazePose detector over the whole frame and over tiles.

The detector sees 224x224 pixels; on a whole 768x576 frame a pedestrian 40 px tall is ~15 px
there and is missed. :class:`PoseDetector` therefore runs it on square regions (the letterboxed
frame, overlapping tiles, or squares around a person just lost), maps every detection back to
frame pixels and merges duplicates across regions with MediaPipe's weighted non-maximum
suppression. Decoding follows MediaPipe 0.10.21's ``PoseDetectionCpu`` graph: 2,254 SSD anchors
(strides 8/16/32, fixed size), sigmoid scores > 0.5, boxes and 4 keypoints relative to anchors,
weighted NMS at IoU 0.3. Each detection gives the mid-hip centre and a size/rotation point, from
which :func:`glot.perception.roi.roi_from_alignment` makes the landmark model's crop region.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from glot.perception.models import POSE_DETECTOR, TFLiteModel, model_file
from glot.perception.roi import roi_from_alignment

__all__ = ["Detections", "PoseDetector", "ssd_anchors", "anchor_levels", "split_batch", "weighted_nms"]

INPUT_SIZE = 224
NUM_KEYPOINTS = 4  # mid-hip centre, full-body size/rotation point, mid-shoulder centre, upper-body point


def _stride_groups(strides: tuple[int, ...]) -> list[tuple[int, int]]:
    """``(stride, layers)`` of each run of consecutive layers with the same stride (one grid each)."""
    out: list[tuple[int, int]] = []
    for s in strides:
        if out and out[-1][0] == s:
            out[-1] = (s, out[-1][1] + 1)
        else:
            out.append((s, 1))
    return out


def ssd_anchors(size: int = INPUT_SIZE, strides: tuple[int, ...] = (8, 16, 32, 32, 32)) -> np.ndarray:
    """``(A, 2)`` anchor centres in [0, 1] (MediaPipe's SsdAnchorsCalculator, fixed anchor size).

    Consecutive layers with the same stride share a grid; each layer puts 2 anchors per cell (its
    aspect ratio 1 and the interpolated scale), all with the same centre. 2,254 for the detector.
    """
    out = []
    for stride, layers in _stride_groups(strides):
        n = int(np.ceil(size / stride))
        ys, xs = np.meshgrid((np.arange(n) + 0.5) / n, (np.arange(n) + 0.5) / n, indexing="ij")
        cells = np.stack([xs.ravel(), ys.ravel()], axis=1)  # (n*n, 2), row-major
        out.append(np.repeat(cells, 2 * layers, axis=0))
    return np.concatenate(out, axis=0)


def anchor_levels(size: int = INPUT_SIZE, strides: tuple[int, ...] = (8, 16, 32, 32, 32)) -> list[int]:
    """Anchors per output level, in :func:`ssd_anchors`' order (``[1568, 392, 294]`` for the detector)."""
    return [int(np.ceil(size / stride)) ** 2 * 2 * layers for stride, layers in _stride_groups(strides)]


def split_batch(out: np.ndarray, batch: int, levels: list[int]) -> np.ndarray:
    """``(1, B * A, C)`` detector output of a batch -> ``(B, A, C)``: the model concatenates each
    level's ``(B, n, C)`` anchors across the batch before the next level."""
    flat = out.reshape(-1, out.shape[-1])
    parts, start = [], 0
    for n in levels:
        parts.append(flat[start:start + batch * n].reshape(batch, n, -1))
        start += batch * n
    return np.concatenate(parts, axis=1)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one ``(4,)`` box with ``(K, 4)`` boxes, all ``(x0, y0, x1, y1)``."""
    lt = np.maximum(box[:2], boxes[:, :2])
    rb = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
    area = lambda b: np.prod(np.clip(b[..., 2:] - b[..., :2], 0, None), axis=-1)  # noqa: E731
    return inter / np.maximum(area(box) + area(boxes) - inter, 1e-12)


def weighted_nms(scores: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray, iou: float = 0.3):
    """MediaPipe's WEIGHTED non-maximum suppression.

    The best remaining detection and every other one overlapping it by more than ``iou`` form a
    cluster; the cluster's box and keypoints are their score-weighted mean, its score the best's.

    Args:
        scores: ``(K,)``; boxes: ``(K, 4)`` ``(x0, y0, x1, y1)``; keypoints: ``(K, 4, 2)``.
    Returns:
        ``(scores (M,), boxes (M, 4), keypoints (M, 4, 2))``.
    """
    order = np.argsort(-scores, kind="stable")
    s, b, k = scores[order], boxes[order], keypoints[order]
    left = np.ones(len(s), bool)
    out_s, out_b, out_k = [], [], []
    for i in range(len(s)):
        if not left[i]:
            continue
        members = left & (_iou(b[i], b) > iou)
        members[i] = True
        w = s[members] / s[members].sum()
        out_s.append(s[i])
        out_b.append(w @ b[members])
        out_k.append(np.tensordot(w, k[members], axes=1))
        left &= ~members
    if not out_s:
        return np.zeros(0), np.zeros((0, 4)), np.zeros((0, NUM_KEYPOINTS, 2))
    return np.array(out_s), np.array(out_b), np.array(out_k)


@dataclass(frozen=True)
class Detections:
    """People found in one frame (pixels of the frame)."""

    scores: np.ndarray  # (K,) detector confidence in [0, 1]
    boxes: np.ndarray  # (K, 4) (x0, y0, x1, y1) of the detector's box (about the head)
    keypoints: np.ndarray  # (K, 4, 2) mid-hip, full-body point, mid-shoulder, upper-body point
    rois: np.ndarray  # (K, 4) (cx, cy, side, rotation): the landmark model's crop regions

    def __len__(self) -> int:
        return len(self.scores)


class PoseDetector:
    """BlazePose person detector on square regions of a frame.

    Args:
        min_score: detection confidence threshold (MediaPipe's 0.5).
        nms_iou: overlap that merges two detections (MediaPipe's 0.3).
        num_threads: LiteRT CPU threads.
    """

    def __init__(self, min_score: float = 0.5, nms_iou: float = 0.3, num_threads: int = 2) -> None:
        self.min_score, self.nms_iou = float(min_score), float(nms_iou)
        self._model = TFLiteModel(model_file(POSE_DETECTOR), num_threads)
        self._anchors = ssd_anchors()
        self._levels = anchor_levels()
        self.calls = 0  # detector invocations (one per region)

    def _patch(self, image: np.ndarray, cx: float, cy: float, side: float) -> np.ndarray:
        """``(224, 224, 3)`` float32 in [-1, 1]: the square ``side`` around ``(cx, cy)`` (zero outside)."""
        k = INPUT_SIZE / side
        to_input = np.array([[k, 0, INPUT_SIZE / 2 - k * cx], [0, k, INPUT_SIZE / 2 - k * cy]])
        patch = cv2.warpAffine(image, to_input, (INPUT_SIZE, INPUT_SIZE),
                               flags=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        return patch.astype(np.float32) / 127.5 - 1.0

    def _decode(self, raw: np.ndarray, logits: np.ndarray, cx: float, cy: float, side: float):
        """Detections of one region from its ``raw (2254, 12)`` boxes and ``logits (2254,)``."""
        k = INPUT_SIZE / side
        logits = np.clip(logits, -100.0, 100.0)
        keep = logits > np.log(self.min_score / (1.0 - self.min_score))  # sigmoid(logit) > min_score
        if not keep.any():
            return None
        raw, anchors = raw[keep].astype(np.float64), self._anchors[keep]
        score = 1.0 / (1.0 + np.exp(-logits[keep].astype(np.float64)))
        centre = raw[:, 0:2] / INPUT_SIZE + anchors  # normalized input coordinates
        half = raw[:, 2:4] / INPUT_SIZE / 2
        kps = raw[:, 4:12].reshape(-1, NUM_KEYPOINTS, 2) / INPUT_SIZE + anchors[:, None]
        # input pixels -> frame pixels
        box = np.concatenate([centre - half, centre + half], axis=1) * INPUT_SIZE / k
        off = np.array([cx - side / 2, cy - side / 2])
        box += np.tile(off, 2)
        kps = kps * INPUT_SIZE / k + off
        return score, box, kps

    def detect(self, image: np.ndarray, regions: np.ndarray) -> Detections:
        """Run on each square region (batches of up to ``MAX_BATCH`` regions) and merge.

        Args:
            image: ``(H, W, 3)`` uint8 RGB.
            regions: ``(R, 3)`` ``(cx, cy, side)`` in pixels (e.g. :meth:`frame_region` and
                :func:`glot.perception.roi.square_regions`).
        Returns:
            :class:`Detections` after weighted NMS over all regions.
        """
        regions = np.atleast_2d(np.asarray(regions, dtype=np.float64))
        found = []
        for start in range(0, len(regions), self._model.MAX_BATCH):
            chunk = regions[start:start + self._model.MAX_BATCH]
            x = np.stack([self._patch(image, *map(float, reg)) for reg in chunk])  # (R, 224, 224, 3)
            out = self._model(x)
            self.calls += len(chunk)
            raw = split_batch(out["Identity"], len(chunk), self._levels)  # (R, 2254, 12)
            logits = split_batch(out["Identity_1"], len(chunk), self._levels)[..., 0]  # (R, 2254)
            runs = (self._decode(raw[i], logits[i], *map(float, reg)) for i, reg in enumerate(chunk))
            found += [r for r in runs if r is not None]
        if not found:
            return Detections(np.zeros(0), np.zeros((0, 4)), np.zeros((0, NUM_KEYPOINTS, 2)), np.zeros((0, 4)))
        scores, boxes, kps = (np.concatenate(parts) for parts in zip(*found))
        scores, boxes, kps = weighted_nms(scores, boxes, kps, self.nms_iou)
        return Detections(scores, boxes, kps, roi_from_alignment(kps[:, 0], kps[:, 1]))

    @staticmethod
    def frame_region(width: int, height: int) -> np.ndarray:
        """``(1, 3)``: the whole frame, letterboxed into the detector's square."""
        return np.array([[width / 2.0, height / 2.0, float(max(width, height))]])
