"""The two BlazePose networks that ship inside the installed MediaPipe wheel, run with LiteRT.

MediaPipe 0.10.21 carries ``modules/pose_detection/pose_detection.tflite`` (the person detector,
224x224 input) and ``modules/pose_landmark/pose_landmark_full.tflite`` (33 landmarks + world
landmarks from a 256x256 crop). Both are Google's, under the Apache-2.0 licence of the wheel;
this package reads them where pip installed them (never copies them into the repository) and
runs them with Google's LiteRT interpreter (``ai-edge-litert``, Apache-2.0), which lets us batch,
crop and tile freely instead of going through MediaPipe's one-person graphs.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from glot.errors import GLoTError

__all__ = ["PerceptionError", "POSE_DETECTOR", "POSE_LANDMARKS", "model_file", "TFLiteModel"]

POSE_DETECTOR = "modules/pose_detection/pose_detection.tflite"
POSE_LANDMARKS = "modules/pose_landmark/pose_landmark_full.tflite"


class PerceptionError(GLoTError, RuntimeError):
    """Perception cannot run (a missing package or model file); ``str(err)`` is one line."""


def model_file(relative: str) -> Path:
    """Path of ``relative`` inside the installed ``mediapipe`` package (without importing it)."""
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise PerceptionError("mediapipe is not installed: pip install mediapipe==0.10.21 (it carries the pose models)")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.is_file():
        raise PerceptionError(f"pose model not found at {path}: reinstall mediapipe==0.10.21")
    return path


class TFLiteModel:
    """One LiteRT interpreter with a fixed input shape; outputs by tensor name.

    Args:
        path: ``.tflite`` file.
        num_threads: CPU threads for the XNNPACK kernels.
    """

    # largest batch callers send: the interpreter keeps the activations of the largest batch it ran
    # (16 detector regions at once added 100 MB to the tracker's peak RSS, batches of 4 44 MB, of 2
    # 14 MB), and per item the detector takes 6.6 ms alone, 5.2 ms in twos, 5.1 ms in fours
    MAX_BATCH = 2

    def __init__(self, path: str | Path, num_threads: int = 2) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise PerceptionError("ai-edge-litert is not installed: pip install ai-edge-litert==2.3.0") from None
        self.path = Path(path)
        self._interp = Interpreter(model_path=str(self.path), num_threads=max(1, int(num_threads)))
        self._interp.allocate_tensors()
        inp = self._interp.get_input_details()[0]
        self._input = inp["index"]
        self.input_shape = tuple(int(s) for s in inp["shape"])  # (1, H, W, 3)
        self._batch = self.input_shape[0]
        self._outputs = {o["name"]: o["index"] for o in self._interp.get_output_details()}

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Run on ``x`` ``(B, H, W, 3)`` float32 (``B`` any size: the interpreter is resized to it,
        cheaply for a size used before); returns copies of every output, as the model lays out a
        batch (see :func:`glot.perception.detector.split_batch` for the detector's)."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.shape[0] != self._batch:
            self._interp.resize_tensor_input(self._input, [x.shape[0], *self.input_shape[1:]])
            self._interp.allocate_tensors()
            self._batch = x.shape[0]
        self._interp.set_tensor(self._input, x)
        self._interp.invoke()
        return {name: self._interp.get_tensor(i).copy() for name, i in self._outputs.items()}
