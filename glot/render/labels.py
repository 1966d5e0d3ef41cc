"""Text on frames: panel labels in a corner and small per-person tags (OpenCV Hershey font).

Images are RGB ``uint8`` and are drawn on in place (views of a larger frame work too).
"""
from __future__ import annotations

import cv2
import numpy as np

__all__ = ["draw_label", "draw_tag"]

_FONT = cv2.FONT_HERSHEY_SIMPLEX


def draw_label(image: np.ndarray, text: str, origin: tuple[int, int] = (6, 6)) -> np.ndarray:
    """Draw small white text with a dark outline; ``origin`` is the label's top-left ``(x, y)``.
    The font scale follows the image height. Modifies and returns ``image``."""
    scale = max(0.35, image.shape[0] / 900.0)
    thick = 1 if scale < 0.7 else 2
    (_, th), base = cv2.getTextSize(text, _FONT, scale, thick)
    org = (int(origin[0]), int(origin[1]) + th)
    cv2.putText(image, text, org, _FONT, scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
    cv2.putText(image, text, org, _FONT, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return image


def draw_tag(image: np.ndarray, text: str, anchor: tuple[float, float],
             color: tuple[int, int, int] = (255, 255, 255)) -> tuple[int, int, int, int]:
    """Draw a small tag centred above ``anchor`` ``(x, y)`` (e.g. a person's topmost point), kept
    inside the image: text in ``color`` (RGB 0..255) on a dark outline, scale ~ image height / 1600.

    Returns:
        the tag's pixel box ``(x0, y0, x1, y1)`` (inclusive-exclusive).
    """
    h, w = image.shape[:2]
    scale = max(0.3, h / 1600.0)
    thick = 1
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, thick)
    pad = 2
    x = int(round(anchor[0] - tw / 2))
    x = min(max(x, pad), max(w - tw - pad, pad))
    y = int(round(anchor[1])) - pad - base  # text baseline a few pixels above the anchor
    y = min(max(y, th + pad), max(h - base - pad, th + pad))
    cv2.putText(image, text, (x, y), _FONT, scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
    cv2.putText(image, text, (x, y), _FONT, scale, tuple(int(c) for c in color), thick, cv2.LINE_AA)
    return x - 2, y - th - 2, x + tw + 2, y + base + 2
