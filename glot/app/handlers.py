"""The app's handlers: plain functions over the pipeline, no Gradio types (``ui.py`` adapts them).

Errors meant for the user are :class:`glot.errors.GLoTError` subclasses (``InputError`` here,
``PipelineError``, ``VideoError``, ``AssetNotFoundError`` from the library).
"""
from __future__ import annotations

import os
import queue
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from ..assets import ASSETS_ENV, DEFAULT_ASSETS_DIR, HUB_REPO_ENV, AssetNotFoundError, asset_report
from ..config import GLoTConfig
from ..errors import GLoTError
from ..pipeline import BRANCHES, BranchResult, ModelBundle, RunOptions, iter_branch_verts, load_bundle, run_video
from ..pipeline.bundle import find_glot_checkpoint
from ..pipeline.regress import occlusion_mask
from ..render import pair_to_glb
from ..video import probe_video
from .plots import branch_difference, frame_mean, joint_acceleration
from .session import Session
from .viewer import draw_branches, read_frame, skeleton_bones

__all__ = ["InputError", "ModelCache", "model_report", "make_options", "parse_box", "check_video", "RunView",
           "RunEvent", "iter_run", "frame_view", "summary_rows", "first_frame", "display_frame", "MAX_SECONDS", "MAX_LONG_SIDE",
           "MAX_SHORT_SIDE", "TRAINED", "PRECISIONS"]

MAX_SECONDS = 60.0  # longest clip (or processed part of it, see max frames)
MAX_LONG_SIDE, MAX_SHORT_SIDE = 3840, 2160  # 4K UHD, either orientation
VIEW_MAX_SIDE = 720  # the frame image next to the 3D viewer
TRAINED = GLoTConfig()  # window / local width / mask ratio the released weights were trained with
PRECISIONS = {"auto": None, "fp32": False, "bf16": True}  # backbone precision -> RunOptions.bf16
# overall progress: each pipeline stage covers a share of the bar
_STAGE_SPAN = {"track": (0.0, 0.25), "features": (0.25, 0.6), "glot": (0.6, 0.7), "render": (0.7, 0.99),
               "done": (1.0, 1.0)}
_STAGE_TEXT = {"track": "1/4 tracking the person", "features": "2/4 ResNet-50 features",
               "glot": "3/4 GLoT (global + local)", "render": "4/4 rendering the overlay", "done": "done"}


class InputError(GLoTError):
    """A setting or an upload the app cannot use; the message says what to change."""


class RunCancelled(GLoTError):
    """The page closed or the user stopped the run."""


def _gpu(fn: Callable) -> Callable:
    """``spaces.GPU`` (ZeroGPU on Hugging Face Spaces) when that package is installed, else ``fn``."""
    try:
        import spaces  # type: ignore[import-not-found]
    except ImportError:
        return fn
    return spaces.GPU(duration=180)(fn)


_run_on_device = _gpu(run_video)


class ModelCache:
    """Loads the model bundle once, on first use (thread-safe); owned by one Blocks app."""

    def __init__(self, assets_dir: str | os.PathLike | None = None, device: str | None = None,
                 loader: Callable[..., ModelBundle] = load_bundle):
        self.assets_dir = assets_dir
        self.device = device
        self._loader = loader
        self._lock = threading.Lock()
        self._bundle: ModelBundle | None = None

    @property
    def loaded(self) -> ModelBundle | None:
        return self._bundle

    def get(self) -> ModelBundle:
        """The bundle (loads it the first time). Raises AssetNotFoundError naming a missing file."""
        with self._lock:
            if self._bundle is None:
                self._bundle = self._loader(assets_dir=self.assets_dir, device=self.device)
            return self._bundle


def model_report(cache: ModelCache, error: str | None = None) -> str:
    """Markdown for the model panel: the loaded model, or which files were found / are missing."""
    b = cache.loaded
    if b is not None:
        rows = "\n".join(f"| {k} | `{v}` |" for k, v in b.describe().items())
        return f"**Model loaded.**\n\n| | |\n|---|---|\n{rows}"
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
        state = (f"**Missing: {', '.join(missing)}.** The page works without them; the model loads on the first "
                 f"run (or press *Load model*), and a run that cannot find what it needs stops with a message "
                 f"naming the file. {where}")
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
                 precision: str, person_box: str | None, max_frames: int | None) -> RunOptions:
    """The controls' values -> :class:`RunOptions` (``max_frames`` 0/None = whole clip)."""
    if precision not in PRECISIONS:
        raise InputError(f"backbone precision must be one of {list(PRECISIONS)}")
    window, local_width = int(window), int(local_width)
    if window < 2 * local_width + 1:
        raise InputError(f"window {window} is shorter than the local window 2×{local_width}+1; "
                         f"raise the window or lower w")
    try:
        return RunOptions(window=window, local_width=local_width, mask_ratio=float(mask_ratio),
                          mask_pattern=mask_pattern, seed=int(seed or 0), edge=edge, bf16=PRECISIONS[precision],
                          focus_box=parse_box(person_box), max_frames=int(max_frames) if max_frames else None,
                          meshes="zip", render=True, overwrite=True)
    except ValueError as err:
        raise InputError(str(err)) from None


def check_video(path: str | os.PathLike | None, options: RunOptions) -> RunOptions:
    """Enforce the page's limits; returns ``options`` with max_frames capped at ``MAX_SECONDS``."""
    if not path:
        raise InputError("upload a video or pick an example first")
    info = probe_video(path)  # VideoError for unreadable files
    long, short = max(info.width, info.height), min(info.width, info.height)
    if long > MAX_LONG_SIDE or short > MAX_SHORT_SIDE:
        raise InputError(f"video is {info.width}×{info.height}; the limit is {MAX_LONG_SIDE}×{MAX_SHORT_SIDE} (4K)")
    fps = info.fps or 30.0
    cap = int(MAX_SECONDS * fps)
    n = options.max_frames or info.num_frames or (int(info.duration * fps) if info.duration else None)
    seconds = (n / fps) if n else info.duration
    if seconds is not None and seconds > MAX_SECONDS + 0.5:
        raise InputError(f"video is {seconds:.0f} s long; the limit is {MAX_SECONDS:.0f} s — trim it or set "
                         f"max frames to {cap} or fewer")
    return replace(options, max_frames=min(options.max_frames or cap, cap))


@dataclass
class RunView:
    """One finished run, as the results panel needs it."""

    out_dir: Path
    video: Path
    times: np.ndarray  # (N,) seconds
    valid: np.ndarray  # (N,) bool: frames with an estimate
    image_size: tuple[int, int]  # (W, H)
    branches: dict[str, BranchResult]
    joints2d: dict[str, np.ndarray]  # branch -> (N, 49, 2) pixels
    occluded: np.ndarray | None  # (N,) frames hidden from the global encoder (block masking)
    files: dict[str, Path]
    summary: dict[str, Any]
    message: str

    @property
    def num_frames(self) -> int:
        return len(self.times)

    @property
    def joints3d(self) -> dict[str, np.ndarray]:
        return {b: r.joints3d for b, r in self.branches.items()}

    def first_valid(self) -> int:
        idx = np.flatnonzero(self.valid)
        return int(idx[0]) if len(idx) else 0


def _load_view(out_dir: Path, video: Path, files: dict[str, Path], summary: dict, message: str,
               options: RunOptions) -> RunView:
    with np.load(out_dir / "results.npz") as r:
        branches = {b: BranchResult(rotmat=r[f"{b}_rotmat"], pose=r[f"{b}_pose"], betas=r[f"{b}_betas"],
                                    cam=r[f"{b}_cam"], joints3d=r[f"{b}_joints3d"], joints2d=r[f"{b}_joints2d"])
                    for b in BRANCHES}
        times, valid, size = r["time"], r["valid"].astype(bool), tuple(int(v) for v in r["image_size"])
    return RunView(out_dir=out_dir, video=Path(video), times=times, valid=valid, image_size=size,
                   branches=branches, joints2d={b: br.joints2d for b, br in branches.items()},
                   occluded=occlusion_mask(len(times), options, int(summary["window"])), files=files,
                   summary=summary, message=message)


@dataclass
class RunEvent:
    """What :func:`iter_run` reports: ``kind`` is "progress", "preview" or "done"."""

    kind: str
    fraction: float = 0.0
    text: str = ""
    image: np.ndarray | None = None
    view: RunView | None = None


def iter_run(video: str | os.PathLike, session: Session, bundle: ModelBundle, options: RunOptions,
             min_step: float = 0.01) -> Iterator[RunEvent]:
    """Run the pipeline in a worker thread, yielding progress, previews and finally the result.

    Closing the generator early (the page went away) stops the run at its next progress report.
    """
    events: queue.Queue = queue.Queue()
    cancel = threading.Event()
    last = {"stage": "", "fraction": -1.0}

    def progress(stage: str, frac: float, text: str) -> None:
        if cancel.is_set():
            raise RunCancelled("run stopped")
        a, b = _STAGE_SPAN.get(stage, (0.0, 1.0))
        overall = a + (b - a) * frac
        if stage != last["stage"] or overall - last["fraction"] >= min_step:
            last.update(stage=stage, fraction=overall)
            events.put(RunEvent("progress", overall, f"{_STAGE_TEXT.get(stage, stage)} — {text}"))

    def preview(image: np.ndarray) -> None:
        events.put(RunEvent("preview", image=image))

    def work() -> None:
        try:
            res = _run_on_device(video, session.root, bundle, options, progress=progress, preview=preview,
                                 name=session.next_run_name())
            view = _load_view(res.out_dir, Path(video), res.files, res.summary, res.message, options)
            events.put(RunEvent("done", 1.0, res.message, view=view))
        except BaseException as err:  # handed to the consumer thread
            events.put(err)

    worker = threading.Thread(target=work, name="glot-run", daemon=True)
    worker.start()
    try:
        while True:
            ev = events.get()
            if isinstance(ev, BaseException):
                raise ev
            yield ev
            if ev.kind == "done":
                session.view = ev.view
                return
    finally:
        cancel.set()


def frame_view(bundle: ModelBundle, view: RunView, index: int) -> tuple[Path | None, np.ndarray, str]:
    """The viewer's content for frame ``index``.

    Returns:
        ``(glb, image, caption)``: a GLB with the global (blue) and final (orange) mesh side by
        side (None when the frame has no person), the frame with both branches' 2D joints, and a
        one-line caption.
    """
    i = int(np.clip(index, 0, view.num_frames - 1))
    image = display_frame(view.video, float(view.times[i]))
    if not view.valid[i]:
        return None, image, f"frame {i}: no person tracked"
    scale = image.shape[1] / view.image_size[0]
    parents = bundle.glot.body.parents.cpu().numpy()
    image = draw_branches(image, {b: j[i] for b, j in view.joints2d.items()}, skeleton_bones(parents), scale)
    path = view.out_dir / "viewer" / f"frame_{i:06d}.glb"
    if not path.is_file():
        verts = [next(iter_branch_verts(bundle, view.branches[b], np.array([i]))) for b in BRANCHES]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pair_to_glb(verts[0], verts[1], bundle.faces.cpu().numpy()))
    diff = branch_difference(view.branches["global"].joints3d[i:i + 1], view.branches["final"].joints3d[i:i + 1])[0]
    masked = " (masked from the global encoder)" if view.occluded is not None and view.occluded[i] else ""
    return path, image, f"frame {i} · t = {view.times[i]:.2f} s · |global − final| = {diff:.1f} mm{masked}"


def _fmt(v: float) -> str:
    return "—" if v is None or not np.isfinite(v) else f"{v:.1f}"


def summary_rows(view: RunView) -> tuple[list[list[str]], list[list[str]]]:
    """``(branch_rows, run_rows)``: smoothness per branch, and the run's counts and timings."""
    acc = {b: frame_mean(joint_acceleration(j)) for b, j in view.joints3d.items()}
    diff = branch_difference(view.joints3d["global"], view.joints3d["final"])

    def stat(fn, a: np.ndarray) -> float:
        a = a[np.isfinite(a)]
        return float(fn(a)) if a.size else float("nan")

    branch_rows = [
        ["mean acceleration (mm/frame²)", _fmt(stat(np.mean, acc["global"])), _fmt(stat(np.mean, acc["final"]))],
        ["max per-frame acceleration (mm/frame²)", _fmt(stat(np.max, acc["global"])), _fmt(stat(np.max, acc["final"]))],
        ["mean distance to the other branch (mm)", _fmt(stat(np.mean, diff)), _fmt(stat(np.mean, diff))],
    ]
    s = view.summary
    opts = s.get("options", {})
    run_rows = [
        ["frames processed", str(s["frames_seen"])],
        ["frames with a person", str(s["frames_with_person"])],
        ["segments", ", ".join(f"{a}–{b - 1}" for a, b in s["segments"]) or "none"],
        ["window T / local width w", f"{s['window']} / {opts.get('local_width')}"],
        ["masking", f"{opts.get('mask_pattern')} (ratio {opts.get('mask_ratio')}, seed {opts.get('seed')})"],
        ["device", str(s["device"])],
    ]
    run_rows += [[f"seconds: {k}", f"{v:.2f}"] for k, v in s["seconds"].items()]
    run_rows.append(["seconds: total", f"{sum(s['seconds'].values()):.2f}"])
    return branch_rows, run_rows


def display_frame(path: str | os.PathLike, t: float, side: int = VIEW_MAX_SIDE) -> np.ndarray:
    """The frame at ``t`` s with its longer side ``side``. Small clips are enlarged: Gradio maps
    clicks on an image shown larger than its pixels wrongly, and tiny frames are hard to read."""
    import cv2

    img = read_frame(path, t, side)
    if max(img.shape[:2]) < side:
        s = side / max(img.shape[:2])
        img = cv2.resize(img, (round(img.shape[1] * s), round(img.shape[0] * s)), interpolation=cv2.INTER_LINEAR)
    return img


def first_frame(path: str | os.PathLike, side: int = VIEW_MAX_SIDE) -> tuple[np.ndarray, float]:
    """The clip's first frame for choosing a person, and display size / original size."""
    info = probe_video(path)
    img = display_frame(path, 0.0, side)
    return img, img.shape[1] / info.width
