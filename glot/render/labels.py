"""Text on frames: panel labels in a corner and small per-person tags (OpenCV Hershey font).

Images are RGB ``uint8`` and are drawn on in place (views of a larger frame work too). Each text
is rasterised once (anti-aliased coverage of its dark outline and of its letters, cached per
text and size) and then blended where it goes: the overlay draws the same labels on every frame.
"""
from __future__ import annotations

import functools

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
    _blend_text(image, text, org, scale, thick, (255, 255, 255))
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
    _blend_text(image, text, (x, y), scale, thick, color)
    return x - 2, y - th - 2, x + tw + 2, y + base + 2


@functools.lru_cache(maxsize=256)
def _stamp(text: str, scale: float, thick: int, color: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray, int, int]:
    """The text drawn once as a blend ``out = image * keep + add`` (``keep`` ``(h, w, 1)``,
    ``add`` ``(h, w, 3)`` float32, read-only): the anti-aliased coverage of a dark outline (stroke
    ``thick + 2``) under the letters (stroke ``thick``) in ``color``. Also the column and row of
    the text's baseline start inside the stamp."""
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, thick + 2)
    m = thick + 4
    h, w = th + base + 2 * m, tw + 2 * m
    cover = []
    for stroke in (thick + 2, thick):
        a = np.zeros((h, w), np.uint8)
        cv2.putText(a, text, (m, m + th), _FONT, scale, 255, stroke, cv2.LINE_AA)
        cover.append(a.astype(np.float32)[..., None] / 255.0)
    outline, letters = cover
    keep = (1.0 - outline) * (1.0 - letters)
    add = letters * np.asarray(color, np.float32).reshape(1, 1, 3) + 0.5  # + 0.5: rounds on the cast
    for arr in (keep, add):
        arr.flags.writeable = False
    return keep, add, m, m + th


def _blend_text(image: np.ndarray, text: str, org: tuple[int, int], scale: float, thick: int,
                color: tuple[int, int, int]) -> None:
    """Text in ``color`` with a dark outline, baseline starting at ``org`` ``(x, y)``, clipped to the image."""
    keep, add, mx, my = _stamp(text, float(scale), int(thick), tuple(int(c) for c in color))
    x0, y0 = int(org[0]) - mx, int(org[1]) - my
    h, w = keep.shape[:2]
    ya, yb, xa, xb = max(y0, 0), min(y0 + h, image.shape[0]), max(x0, 0), min(x0 + w, image.shape[1])
    if ya >= yb or xa >= xb:
        return
    region = image[ya:yb, xa:xb]
    v = region * keep[ya - y0:yb - y0, xa - x0:xb - x0]  # float32; a convex mix of image and colour,
    v += add[ya - y0:yb - y0, xa - x0:xb - x0]  # so within 0..255.5
    region[:] = np.minimum(v, 255.0, out=v)
