"""Per-person temporal filters with MediaPipe Pose's settings (causal: usable on a stream).

``mp.solutions.pose`` (0.10.21, ``PoseLandmarkFiltering``) smooths each landmark coordinate with
a one-euro filter (Casiez et al. 2012) whose speed is measured relative to the person's size,
and visibilities with a low-pass filter. :class:`PoseSmoother` applies the same filters to one
tracked person; :class:`OneEuro` is the filter over an array of values.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["OneEuro", "PoseSmoother", "SmoothedPose"]


class OneEuro:
    """One-euro filter over an array (every element filtered on its own).

    Args:
        min_cutoff: cut-off frequency at rest (Hz).
        beta: how fast the cut-off grows with speed.
        derivative_cutoff: cut-off of the speed estimate (Hz).
        frequency: rate assumed before two timestamps are known (Hz).
    """

    def __init__(self, min_cutoff: float, beta: float, derivative_cutoff: float = 1.0, frequency: float = 30.0):
        self.min_cutoff, self.beta, self.derivative_cutoff = min_cutoff, beta, derivative_cutoff
        self.frequency = frequency
        self._t: float | None = None
        self._raw: np.ndarray | None = None  # last input
        self._x: np.ndarray | None = None  # last output
        self._dx: np.ndarray | None = None  # filtered speed

    def _alpha(self, cutoff: np.ndarray | float) -> np.ndarray | float:
        tau = 1.0 / (2 * np.pi * cutoff)
        return 1.0 / (1.0 + tau * self.frequency)

    def __call__(self, value: np.ndarray, t: float, value_scale: float = 1.0) -> np.ndarray:
        """Filter ``value`` seen at time ``t`` (s); ``value_scale`` divides speeds (1 / object size)."""
        value = np.asarray(value, dtype=np.float64)
        if self._t is not None and t <= self._t:
            return value.copy()  # time did not advance: MediaPipe returns the input as is
        if self._t is not None:
            self.frequency = 1.0 / (t - self._t)
        self._t = t
        if self._raw is None:
            dvalue = np.zeros_like(value)
        else:
            dvalue = (value - self._raw) * value_scale * self.frequency
        a = self._alpha(self.derivative_cutoff)
        self._dx = dvalue if self._dx is None else a * dvalue + (1 - a) * self._dx
        a = self._alpha(self.min_cutoff + self.beta * np.abs(self._dx))
        self._x = value.copy() if self._x is None else a * value + (1 - a) * self._x
        self._raw = value
        return self._x.copy()


@dataclass(frozen=True)
class SmoothedPose:
    landmarks: np.ndarray  # (33, 3) pixels
    visibility: np.ndarray  # (33,)
    world: np.ndarray  # (33, 3) metres
    aux: np.ndarray  # (2, 2) alignment points, pixels


class PoseSmoother:
    """MediaPipe's landmark filtering for one person (reset it when the person is lost).

    Args:
        smooth_landmarks: filter the 33 image and world landmarks (``mp.solutions.pose``'s
            ``smooth_landmarks=True``); the alignment points are always filtered, as there.
    """

    def __init__(self, smooth_landmarks: bool = True) -> None:
        self.smooth_landmarks = smooth_landmarks
        self._image = OneEuro(min_cutoff=0.05, beta=80.0)
        self._world = OneEuro(min_cutoff=0.1, beta=40.0)
        self._aux = OneEuro(min_cutoff=0.01, beta=10.0)
        self._vis: np.ndarray | None = None

    def __call__(self, landmarks: np.ndarray, visibility: np.ndarray, world: np.ndarray, aux: np.ndarray,
                 t: float) -> SmoothedPose:
        """Filter one frame's raw model output (pixels; ``t`` in seconds)."""
        scale = 1.0 / max(2.0 * float(np.hypot(*(aux[1] - aux[0]))), 1e-6)  # 1 / alignment box side
        aux = self._aux(aux, t, scale)
        if not self.smooth_landmarks:
            return SmoothedPose(landmarks.copy(), visibility.copy(), world.copy(), aux)
        self._vis = visibility.copy() if self._vis is None else 0.1 * visibility + 0.9 * self._vis
        return SmoothedPose(self._image(landmarks, t, scale), self._vis.copy(), self._world(world, t), aux)
