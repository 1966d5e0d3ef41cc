"""The app's handlers: plain functions over the pipeline, no Gradio types (``ui.py`` adapts them).

Errors meant for the user are :class:`glot.errors.GLoTError` subclasses (``InputError`` here,
``PipelineError``, ``VideoError``, ``AssetNotFoundError`` from the library).
"""
from __future__ import annotations

import os
import queue
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from ..assets import ASSETS_ENV, DEFAULT_ASSETS_DIR, HUB_REPO_ENV, AssetNotFoundError, asset_report
from ..config import GLoTConfig
from ..errors import GLoTError
from ..pipeline.options import RunOptions
from .gpu import app_device, on_gpu
from .results_view import RunView, load_view
from .session import Session

if TYPE_CHECKING:  # the pipeline (torch, MediaPipe) loads with the first run, not with the page
    from ..pipeline.bundle import ModelBundle

__all__ = ["InputError", "RunCancelled", "ModelCache", "model_report", "make_options", "parse_box", "check_video",
           "RunEvent", "RunEvents", "iter_run", "MAX_SECONDS", "MAX_FRAMES", "MAX_MEGAPIXEL_FRAMES", "MAX_LONG_SIDE",
           "MAX_SHORT_SIDE", "TRAINED", "PRECISIONS"]

MAX_SECONDS = 60.0  # longest clip (or processed part of it, see max frames)
MAX_FRAMES = 1800  # frames per run: 60 s at 30 fps
MAX_MEGAPIXEL_FRAMES = 3800.0  # pixels x frames per run, in megapixels: 60 s of 1080p at 30 fps
PREVIEW_WIDTH = 720  # px: the run's live preview (three panels side by side, shown 180 px tall)
MAX_LONG_SIDE, MAX_SHORT_SIDE = 3840, 2160  # 4K UHD, either orientation
TRAINED = GLoTConfig()  # window / local width / mask ratio the released weights were trained with
PRECISIONS = {"auto": None, "fp32": False, "bf16": True}  # backbone precision -> RunOptions.bf16
# overall progress: each pipeline stage covers a share of the bar
_STAGE_SPAN = {"track": (0.0, 0.3), "features": (0.3, 0.6), "glot": (0.6, 0.68), "export": (0.68, 0.7),
               "render": (0.7, 0.99), "meshes": (0.7, 0.99), "done": (1.0, 1.0)}
_STAGE_TEXT = {"track": "1/4 finding and tracking people", "features": "2/4 ResNet-50 features",
               "glot": "3/4 GLoT (global + local)", "export": "3/4 writing motion files",
               "render": "4/4 rendering the overlay",
               "meshes": "4/4 writing meshes", "done": "done"}


class InputError(GLoTError):
    """A setting or an upload the app cannot use; the message says what to change."""


class RunCancelled(GLoTError):
    """The page closed or the user stopped the run."""


class ModelCache:
    """Loads the model bundle once (thread-safe); owned by one Blocks app.

    Lazy by default; ``eager=True`` (ZeroGPU: models are built and moved to ``cuda`` at start-up)
    loads it now.
    """

    def __init__(self, assets_dir: str | os.PathLike | None = None, device: str | None = None,
                 loader: Callable[..., "ModelBundle"] | None = None, eager: bool = False):
        self.assets_dir = assets_dir
        self.device = app_device(device)
        self._loader = loader
        self._lock = threading.Lock()
        self._bundle: ModelBundle | None = None
        if eager:
            self.get()

    @property
    def loaded(self) -> "ModelBundle | None":
        return self._bundle

    def get(self) -> "ModelBundle":
        """The bundle (loads it the first time). Raises AssetNotFoundError naming a missing file."""
        with self._lock:
            if self._bundle is None:
                if self._loader is None:
                    from ..pipeline.bundle import load_bundle as loader
                else:
                    loader = self._loader
                self._bundle = loader(assets_dir=self.assets_dir, device=self.device)
            return self._bundle


def model_report(cache: ModelCache, error: str | None = None) -> str:
    """Markdown for the model panel: the loaded model, or which files were found / are missing."""
    b = cache.loaded
    if b is not None:
        rows = "\n".join(f"| {k} | `{v}` |" for k, v in b.describe().items())
        return f"**Model loaded.**\n\n| | |\n|---|---|\n{rows}"
    from ..pipeline.bundle import find_glot_checkpoint

    files = dict(asset_report(cache.assets_dir))
    try:
        files["GLoT weights"] = str(find_glot_checkpoint(cache.assets_dir))
    except AssetNotFoundError:
        files["GLoT weights"] = None
    rows = "\n".join(f"| {k} | {'✅ `' + v + '`' if v else '❌ missing'} |" for k, v in files.items())
    missing = [k for k, v in files.items() if not v]
    where = (f"Put the files in `{DEFAULT_ASSETS_DIR}`, in a folder named by `${ASSETS_ENV}`, or in a Hugging Face "
             f"Hub model repo named by `${HUB_REPO_ENV}` (see README, *Model files*).")
    if missing:
        state = (f"**Missing: {', '.join(missing)}.** The page works without them: runs use the open default "
                 f"model until they are there. {where}")
    else:
        state = "All files found; the model loads on the first run (or press *Load model*)."
    head = f"**Could not load the model:** {error}\n\n" if error else ""
    return f"{head}{state}\n\n| file | found |\n|---|---|\n{rows}"


def parse_box(text: str | None) -> tuple[float, float, float, float] | None:
    """``"x0, y0, x1, y1"`` (pixel corners, any order) -> ``(cx, cy, w, h)``; empty -> None."""
    if text is None or not str(text).strip():
        return None
    try:
        x0, y0, x1, y1 = (float(v) for v in str(text).replace(";", ",").split(","))
    except ValueError:
        raise InputError(f"person box must be 'x0, y0, x1, y1' in pixels, not {text!r}") from None
    w, h = abs(x1 - x0), abs(y1 - y0)
    if w < 4 or h < 4:
        raise InputError("person box is too small: drag corners at least 4 pixels apart")
    return ((x0 + x1) / 2, (y0 + y1) / 2, w, h)


def make_options(window: int, local_width: int, mask_ratio: float, mask_pattern: str, seed: int, edge: str,
                 precision: str, max_frames: int | None, max_people: int | None = 0) -> RunOptions:
    """The controls' values -> :class:`RunOptions` (``max_frames``/``max_people`` 0/None = all).

    Every person is tracked; the app's person box (:func:`parse_box`) only picks which one the
    results panel shows first, so it is not part of the run's options.
    """
    if precision not in PRECISIONS:
        raise InputError(f"backbone precision must be one of {list(PRECISIONS)}")
    window, local_width = int(window), int(local_width)
    if window < 2 * local_width + 1:
        raise InputError(f"window {window} is shorter than the local window 2×{local_width}+1; "
                         f"raise the window or lower w")
    try:
        return RunOptions(window=window, local_width=local_width, mask_ratio=float(mask_ratio),
                          mask_pattern=mask_pattern, seed=int(seed or 0), edge=edge, bf16=PRECISIONS[precision],
                          max_frames=int(max_frames) if max_frames else None,
                          max_people=int(max_people) if max_people else None,
                          meshes="motion", render=True, overwrite=True)
    except ValueError as err:
        raise InputError(str(err)) from None


def check_video(path: str | os.PathLike | None, options: RunOptions) -> RunOptions:
    """Enforce the page's limits before any work: size, and frames / pixels x frames of the part
    that will be processed. Returns ``options`` with a hard ``frame_limit`` for streams whose length
    the file does not declare (counted while decoding)."""
    from ..video.decode import probe_video

    if not path:
        raise InputError("upload a video or pick an example first")
    info = probe_video(path)  # VideoError for unreadable files
    long, short = max(info.width, info.height), min(info.width, info.height)
    if long > MAX_LONG_SIDE or short > MAX_SHORT_SIDE:
        raise InputError(f"video is {info.width}×{info.height}; the limit is {MAX_LONG_SIDE}×{MAX_SHORT_SIDE} (4K)")
    megapixels = info.width * info.height / 1e6
    cap = min(MAX_FRAMES, int(MAX_MEGAPIXEL_FRAMES / megapixels))
    declared = info.num_frames or (int(round(info.duration * info.fps)) if info.duration and info.fps else None)
    n = min(options.max_frames, declared) if options.max_frames and declared else (options.max_frames or declared)
    fps = info.fps or 30.0
    if n is not None and (n > cap or n / fps > MAX_SECONDS + 0.5):
        limit = min(cap, int(MAX_SECONDS * fps))
        raise InputError(f"the clip has {n} frames ({n / fps:.0f} s at {fps:.0f} fps, {info.width}×{info.height}); "
                         f"the limit is {limit} frames of this size ({MAX_SECONDS:.0f} s, {MAX_FRAMES} frames, "
                         f"{MAX_MEGAPIXEL_FRAMES:.0f} megapixel-frames) — trim it or set max frames to {limit} or fewer")
    return replace(options, frame_limit=min(cap, int(MAX_SECONDS * fps)))


class RunEvent:
    """What :func:`iter_run` reports: ``kind`` is "progress", "preview", "tick" (nothing new: lets the
    caller yield, so a cancelled event handler can be closed promptly) or "done"."""

    __slots__ = ("kind", "fraction", "text", "image", "view")

    def __init__(self, kind: str, fraction: float = 0.0, text: str = "", image: np.ndarray | None = None,
                 view: RunView | None = None) -> None:
        self.kind, self.fraction, self.text, self.image, self.view = kind, fraction, text, image, view


class RunEvents:
    """A run's events (see :func:`iter_run`): an iterator whose :meth:`close` may be called from
    any thread, also while another thread waits in ``next()`` (Gradio cancels the handler while
    its worker thread waits there; a generator cannot be closed while it executes)."""

    def __init__(self, video: str | os.PathLike, session: Session, bundle: "ModelBundle", options: RunOptions,
                 preselect: tuple[float, float, float, float] | None, min_step: float, poll: float) -> None:
        self._session, self._poll, self._finished = session, poll, False
        self._events: queue.Queue = queue.Queue()
        self._cancel = cancel = session.start_run()
        events, last = self._events, {"stage": "", "fraction": -1.0}

        def progress(stage: str, frac: float, text: str) -> None:
            if cancel.is_set():
                raise RunCancelled("run stopped")
            a, b = _STAGE_SPAN.get(stage, (0.0, 1.0))
            overall = a + (b - a) * frac
            if stage != last["stage"] or overall - last["fraction"] >= min_step:
                last.update(stage=stage, fraction=overall)
                events.put(RunEvent("progress", overall, f"{_STAGE_TEXT.get(stage, stage)} — {text}"))

        def preview(image: np.ndarray) -> None:  # shown 180 px tall: a small copy keeps Gradio's image save cheap
            import cv2

            s = PREVIEW_WIDTH / image.shape[1]
            small = cv2.resize(image, (PREVIEW_WIDTH, max(1, round(image.shape[0] * s))),
                               interpolation=cv2.INTER_AREA) if s < 1 else image
            events.put(RunEvent("preview", image=small))

        def work() -> None:
            try:
                from ..pipeline.run import run_video  # here: its first import stays off the caller's thread

                res = run_video(video, session.root, bundle, options, progress=progress, preview=preview,
                                name=session.next_run_name(), gpu=on_gpu)
                view = load_view(res.out_dir, Path(video).name, res.files, res.summary, res.message, options,
                                 preselect)
                events.put(RunEvent("done", 1.0, res.message, view=view))
            except BaseException as err:  # handed to the consumer thread
                events.put(err)

        threading.Thread(target=work, name="glot-run", daemon=True).start()

    def __iter__(self) -> "RunEvents":
        return self

    def __next__(self) -> RunEvent:
        if self._finished:
            raise StopIteration
        try:
            ev = self._events.get(timeout=self._poll)
        except queue.Empty:
            if self._cancel.is_set():
                self._finish()
                raise RunCancelled("run stopped") from None
            return RunEvent("tick")
        if isinstance(ev, BaseException):
            self._finish()
            raise ev
        if ev.kind == "done":
            self._session.view = ev.view
            self._finish()
        return ev

    def _finish(self) -> None:
        self._finished = True
        self._cancel.set()  # this run's flag only: a newer run in the session has its own

    def close(self) -> None:
        """Stop the run (thread-safe): its worker stops at its next progress report."""
        self._cancel.set()

    def __del__(self) -> None:  # dropped unread (a vanished client): the run stops too
        cancel = getattr(self, "_cancel", None)
        if cancel is not None:
            cancel.set()


def iter_run(video: str | os.PathLike, session: Session, bundle: "ModelBundle", options: RunOptions,
             preselect: tuple[float, float, float, float] | None = None, min_step: float = 0.01,
             poll: float = 0.25) -> RunEvents:
    """Start the pipeline in a worker thread; iterate the result for progress, previews and
    finally the result (a "tick" every ``poll`` s when nothing happens).

    The run stops at its next progress report (between frames or batches, well under a second)
    when the session's ``cancel`` event is set (Stop, a closed tab) or when the iterator is closed
    (from any thread); iterating then raises :class:`RunCancelled`. A failed or stopped run leaves
    nothing on disk. ``preselect``: a box ``(cx, cy, w, h)`` whose track the results show first.
    """
    return RunEvents(video, session, bundle, options, preselect, min_step, poll)
