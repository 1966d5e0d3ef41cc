"""The Gradio page: layout, and adapters from Gradio events to the handlers (no work is done here)."""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Sequence

import anyio
import cv2
import gradio as gr
import numpy as np
from gradio.components.plot import PlotData

from ..errors import GLoTError, user_message
from ..pipeline.options import EDGE_MODES
from . import handlers as h
from . import results_view as rv
from .cursor import CURSOR_JS, SEEK_JS
from .gpu import zero_gpu
from .plots import FigureSpec
from .session import close_session, new_session, sweep_stale_sessions
from .viewer import first_frame

__all__ = ["build_demo", "launch", "EXAMPLES_DIR", "example_clips"]

# what a user can fix: bad settings/input (GLoTError) and missing or unreadable files (OSError)
USER_ERRORS = (GLoTError, OSError)

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "assets" / "examples"
VIDEO_EXTS = (".mp4", ".mov", ".webm", ".mkv", ".avi", ".m4v")
SESSION_TTL_S = 6 * 3600  # a session's files go after 6 h idle, or when its tab closes
PREVIEW_EVERY = 1.0  # s between a run's previews (each yield to Gradio costs ~50 ms of CPU)
RUN_CONCURRENCY = 2  # pipeline runs at a time (each one is CPU/GPU heavy)
STREAM_EVERY = 1 / 15  # s between the webcam frames the browser sends (the runner builds 30 fps windows by time)
FIRST_FRAME_SIDE = 720

_T, _W = h.TRAINED.seqlen, h.TRAINED.stride_short
INTRO = f"""# GLoT Studio
Video-based 3D human pose and shape with **GLoT** (Global-to-Local modeling, CVPR 2023). Upload a clip, press
**Run**: every person gets a mesh. Compare the **global** branch (blue: the whole window, masked modeling) with the
**final** local-corrected branch (orange) in the overlay video, the 3D viewers and the smoothness plots, and download
each person's motion as a skinned glTF or a BVH.

*Limits:* up to {h.MAX_SECONDS:.0f} s, {h.MAX_FRAMES} frames and {h.MAX_MEGAPIXEL_FRAMES:.0f} megapixel-frames
(60 s of 1080p at 30 fps; longer clips run with *max frames* set), up to {h.MAX_LONG_SIDE}×{h.MAX_SHORT_SIDE}.
★ marks the settings the weights were trained with; other values run, but outside what the model has seen."""
CSS = ".glot-small {font-size: 0.85em; opacity: 0.85}"


def example_clips(folder: Path = EXAMPLES_DIR) -> list[str]:
    """Video files in ``assets/examples`` (sorted), for the examples list."""
    if not folder.is_dir():
        return []
    return [str(p) for p in sorted(folder.iterdir()) if p.suffix.lower() in VIDEO_EXTS]


def _message(err: Exception) -> str:
    """One line for the user, with file names only (server paths mean nothing to them)."""
    return user_message(err, private_paths=True)


def _error(err: Exception) -> gr.Error:
    return gr.Error(_message(err), print_exception=False)


def build_demo(assets_dir: str | os.PathLike | None = None, device: str | None = None) -> gr.Blocks:
    """The app. The model loads lazily (first run or *Load model*) into a cache owned by this Blocks;
    on ZeroGPU it is built at start-up and moved to ``cuda`` there (the documented pattern)."""
    sweep_stale_sessions()
    cache = h.ModelCache(assets_dir=assets_dir, device=device, eager=zero_gpu())
    examples = example_clips()
    floor = _floor_glb()

    with gr.Blocks(title="GLoT Studio", delete_cache=(3600, 6 * 3600)) as demo:
        session = gr.State(None, time_to_live=SESSION_TTL_S, delete_callback=close_session)
        pending_corner = gr.State(None)  # first click of the person box, in original pixels
        gr.Markdown(INTRO)
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                video_in = gr.Video(label="Input clip", sources=["upload"], height=300, elem_id="video-in")
                if examples:
                    gr.Examples(examples=[[p] for p in examples], inputs=[video_in], label="Example clips")
                with gr.Accordion("Person to show first (when several are in the clip)", open=False):
                    gr.Markdown("Everyone is tracked. Click two opposite corners of a box around a person on the first "
                                "frame (or type the box) to show that person first.", elem_classes="glot-small")
                    person_img = gr.Image(label="First frame", interactive=False, height=260, elem_id="person-img")
                    with gr.Row():
                        person_box = gr.Textbox(label="Person box: x0, y0, x1, y1 (pixels)", placeholder="empty = auto",
                                                scale=4, elem_id="person-box")
                        clear_box = gr.Button("Clear", size="sm", scale=1, elem_id="clear-box")
                with gr.Accordion("Model", open=False):
                    model_md = gr.Markdown("Checking model files…", elem_id="model-panel")
                    load_btn = gr.Button("Load model", size="sm")
            with gr.Column(scale=4):
                window = gr.Slider(3, 64, value=_T, step=1, elem_id="window", label=f"Window length T (★ {_T})",
                                   info=f"Frames the global branch sees per estimate. Values other than {_T} "
                                        "resample the positional embeddings: outside training.")
                local_w = gr.Slider(1, _W, value=_W, step=1, elem_id="local-width", label=f"Local half-width w (★ {_W})",
                                    info=f"The local branch sees the 2w+1 frames around the centre. Below {_W} it "
                                         "uses a centre slice: outside training. Needs T ≥ 2w+1.")
                mask_pattern = gr.Radio([("none ★", "none"), ("random (training-style)", "random"),
                                         ("contiguous block (simulated occlusion)", "block")], value="none",
                                        label="Mask pattern", elem_id="mask-pattern",
                                        info="Frames hidden from the global encoder. Block hides consecutive frames "
                                             "in the middle of the clip from every window; the local branch still "
                                             "sees them. Inference was tuned with no masking.")
                mask_ratio = gr.Slider(0.0, 0.9, value=0.0, step=0.05, elem_id="mask-ratio", label="Mask ratio",
                                       info=f"Share of T hidden (training used {h.TRAINED.mask_ratio} random). "
                                            "Block length = round(ratio × T) frames.")
                seed = gr.Number(0, precision=0, elem_id="seed", label="Seed", info="Seeds random masking (no effect otherwise).")
                edge = gr.Radio([("clamp ★", EDGE_MODES[0]), ("official demo", EDGE_MODES[1])], value="clamp",
                                label="Edge frames", elem_id="edge",
                                info="clamp: the first and last T/2 frames get real neighbours. official: they see "
                                     "their own feature repeated T times, as the official demo does.")
                precision = gr.Radio(list(h.PRECISIONS), value="auto", label="ResNet-50 precision", elem_id="precision",
                                     info="fp32 ★ is what the weights were trained in; bf16 is faster on recent GPUs "
                                          "and CPUs and changes features slightly. auto = bf16 where supported.")
                with gr.Row():
                    max_frames = gr.Number(0, precision=0, minimum=0, elem_id="max-frames", label="Max frames",
                                           info="Only the first N frames (0 = whole clip).")
                    max_people = gr.Number(0, precision=0, minimum=0, elem_id="max-people", label="Max people",
                                           info="The N most prominent people (0 = everyone).")
                with gr.Row():
                    run_btn = gr.Button("Run", variant="primary", elem_id="run-btn", scale=3)
                    stop_btn = gr.Button("Stop", variant="stop", elem_id="stop-btn", scale=1)
                status = gr.Markdown("", elem_id="status")
                preview = gr.Image(label="Live preview (last processed frame)", interactive=False, height=180,
                                   elem_id="preview", format="jpeg")

        gr.Markdown("## Results")
        overlay = gr.Video(label="input | global | final", interactive=False, elem_id="overlay", height=320)
        overlay_fps = gr.Number(30.0, visible="hidden", elem_id="overlay-fps")
        with gr.Row():
            person = gr.Radio([], label="Person", elem_id="person-select", scale=2,
                              info="Drives the viewers, the joints view, the plots and the tables.")
            thumbs = gr.Gallery(label="Tracked people", columns=8, height=150, allow_preview=False, scale=3,
                                elem_id="person-thumbs", format="jpeg")
        frame = gr.Slider(0, 1, value=0, step=1, label="Frame", interactive=True, elem_id="frame-slider",
                          info="The one cursor: playing or scrubbing the overlay video moves it, and it moves the "
                               "viewer, the joints view and the marker on each plot.")
        with gr.Row(equal_height=True):
            # an initial scene, so the viewers' canvases exist before the first result (Gradio 6.31's Model3D
            # draws nothing for a first value set after the page loaded empty)
            viewer = gr.Model3D(value=str(floor), label="This frame: global (blue) | final (orange)", height=360,
                                elem_id="viewer",
                                clear_color=(0.97, 0.97, 0.98, 1.0), camera_position=(90, 90, 3.0))
            motion = gr.Model3D(value=str(floor), label="Whole motion (skinned glTF, plays)", height=360,
                                elem_id="motion",
                                clear_color=(0.97, 0.97, 0.98, 1.0), camera_position=(90, 90, 3.5))
            # JPEG: the frame's picture is encoded at every slider move (1.6 ms here; WebP, the default, 28 ms)
            joints_img = gr.Image(label="2D joints: global (blue), final (orange)", interactive=False, height=360,
                                  elem_id="joints-img", format="jpeg")
        caption = gr.Markdown("", elem_id="frame-caption")
        with gr.Row():
            acc_plot = gr.Plot(label="Acceleration", elem_id="acc-plot")
            diff_plot = gr.Plot(label="Branch difference", elem_id="diff-plot")
        heat_plot = gr.Plot(label="Per-joint acceleration", elem_id="heat-plot")
        with gr.Row():
            branch_table = gr.Dataframe(headers=["", "global", "final"], label="Smoothness (selected person)",
                                        interactive=False, elem_id="branch-table")
            run_table = gr.Dataframe(headers=["", "value"], label="Run", interactive=False, elem_id="run-table")
        downloads = gr.File(label="Downloads: results.npz, overlay.mp4, motion (.glb, .bvh) per person and branch, "
                                  "summary.json", file_count="multiple", interactive=False, elem_id="downloads")

        with gr.Accordion("Live webcam (online mode)", open=False):
            gr.Markdown("GLoT predicts the centre of a window, so a live frame is shown once its look-ahead "
                        "frames have arrived. Start the webcam to stream; stop it to stop.", elem_classes="glot-small")
            with gr.Row():
                cam_in = gr.Image(sources=["webcam"], streaming=True, label="Webcam", elem_id="webcam", height=260)
                future = gr.Slider(0, _T - _T // 2 - 1, value=_T - _T // 2 - 1, step=1, label="Look-ahead k (frames)",
                                   info=f"★ {_T - _T // 2 - 1}: full windows, same output as offline. Smaller = "
                                        "lower latency, but the window's future is clamped (off-distribution).")
            live_panel = gr.Image(label="live: input | global | final", interactive=False, elem_id="live-panel",
                                  format="jpeg")
            live_status = gr.Markdown("", elem_id="live-status")
            live_plot = gr.Plot(label="Live acceleration", elem_id="live-plot")
            live_state = gr.State(None, time_to_live=SESSION_TTL_S, delete_callback=lambda s: s and s.close())

        # ---- handlers (closures over this app's model cache)
        def show_model() -> str:
            return h.model_report(cache)

        def load_model() -> str:
            try:
                cache.get()
            except USER_ERRORS as err:
                return h.model_report(cache, error=_message(err))
            return h.model_report(cache)

        def _first(video: str) -> tuple[np.ndarray, float]:
            img = first_frame(video)
            s = FIRST_FRAME_SIDE / max(img.shape[:2])
            return cv2.resize(img, (round(img.shape[1] * s), round(img.shape[0] * s))), s

        def on_video(video: str | None):
            if not video:
                return None, "", None
            try:
                img, _ = _first(video)
            except (USER_ERRORS + (ValueError,)) as err:
                raise _error(err)
            return img, "", None

        def on_person_click(video: str | None, corner, evt: gr.SelectData):
            if not video:
                return gr.skip(), gr.skip(), None
            img, scale = _first(video)
            x, y = evt.index[0] / scale, evt.index[1] / scale
            if corner is None:
                cv2.circle(img, (int(evt.index[0]), int(evt.index[1])), 4, (255, 200, 0), -1)
                return img, gr.skip(), (x, y)
            box = f"{min(corner[0], x):.0f}, {min(corner[1], y):.0f}, {max(corner[0], x):.0f}, {max(corner[1], y):.0f}"
            return _draw_box(img, box, scale), box, None

        def on_clear(video: str | None):
            return (_first(video)[0] if video else None), "", None

        def results(view: rv.RunView, sel: int, index: int) -> dict:
            """Every results component for person ``sel`` at frame ``index``."""
            glb, img, cap = rv.frame_view(cache.get(), view, index, sel)
            shown = view.selected if sel == rv.EVERYONE else sel
            branch_rows, run_rows = rv.summary_rows(view, shown)
            figs = view.figures(shown) if shown != rv.EVERYONE else {}  # JSON written directly: ~1 ms, not plotly's 130
            plots = {out: _plot(figs[name], index) if figs else None
                     for out, name in ((acc_plot, "acceleration"), (diff_plot, "difference"), (heat_plot, "heatmap"))}
            return {viewer: str(glb) if glb else None, joints_img: img, caption: cap, motion: _motion_file(view, sel),
                    branch_table: branch_rows, run_table: run_rows, **plots}

        async def on_run(video, T, w, ratio, pattern, seed_v, edge_v, prec, box, max_n, max_p, sess,
                         progress=gr.Progress()):
            # A coroutine: Gradio's /cancel and a closed page cancel it at its next await (a run event
            # or a 0.25 s tick), so it yields to Gradio only to show something. Each yield costs about
            # 50 ms of CPU taken from the run: Gradio rebuilds the config of every output a dict leaves
            # out. Progress goes through gr.Progress (cheap); previews go out at most once a second.
            try:
                options = h.check_video(video, h.make_options(T, w, ratio, pattern, seed_v, edge_v, prec, max_n, max_p))
                preselect = h.parse_box(box)
                sess = sess or new_session()
                progress(0.0, desc="loading the model")
                bundle = await anyio.to_thread.run_sync(cache.get)
            except USER_ERRORS as err:
                raise _error(err)
            yield {session: sess, status: "Running…", model_md: h.model_report(cache)}
            events = h.iter_run(video, sess, bundle, options, preselect=preselect)
            view, shown, image = None, time.monotonic(), None
            try:
                while (ev := await anyio.to_thread.run_sync(next, events, None)) is not None:
                    if ev.kind == "done":
                        view = ev.view
                    elif ev.kind == "progress":
                        progress(ev.fraction, desc=ev.text)
                    elif ev.kind == "preview":
                        image = ev.image  # the latest goes out at the next yield
                    if image is not None and time.monotonic() - shown >= PREVIEW_EVERY:
                        shown = time.monotonic()
                        yield {preview: image}
                        image = None
            except h.RunCancelled:
                yield {status: "**Stopped.** Nothing was kept from that run."}
                return
            except USER_ERRORS as err:
                raise _error(err)
            finally:
                events.close()  # cancelled or closed: iter_run sets its run's flag (stops at the next report)
            yield await anyio.to_thread.run_sync(finished, view, sess, image)

        def finished(view: rv.RunView, sess, image: np.ndarray | None) -> dict:
            """Every output for a finished run (its first frame shown)."""
            sel = view.selected
            i = view.first_valid(sel)
            choice = int(view.track_id[sel]) if sel != rv.EVERYONE else None
            sess.extras["shown"] = (i, sel)
            return {
                session: sess, status: f"**Done:** {view.message}.", overlay_fps: view.overlay_fps,
                overlay: str(view.files["overlay"]) if "overlay" in view.files else None,
                frame: gr.Slider(minimum=0, maximum=max(view.num_frames - 1, 1), value=i, step=1),
                person: gr.Radio(choices=rv.person_choices(view), value=choice),
                thumbs: rv.person_thumbnails(view),
                downloads: [str(p) for k, p in view.files.items()], **results(view, sel, i),
                **({preview: image} if image is not None else {}),
            }

        def on_stop(sess):
            if sess is not None:
                sess.cancel.set()

        def on_frame(index, choice, sess):
            if sess is None or sess.view is None:
                return {viewer: gr.skip()}
            key = (int(index), sess.view.person_index(choice))
            if sess.extras.get("shown") == key:  # an echo of what is on screen (e.g. the run's own update)
                return {viewer: gr.skip()}
            sess.extras["shown"] = key
            try:
                return results(sess.view, key[1], key[0])
            except USER_ERRORS as err:
                raise _error(err)

        def on_thumb(sess, evt: gr.SelectData):
            if sess is None or sess.view is None or evt.index is None:
                return gr.skip()
            return int(sess.view.track_id[int(evt.index)])

        def on_live(img, k, state):
            from .live import live_spec, live_step

            try:
                state, panel, text = live_step(cache.get(), state, img, int(k))
            except USER_ERRORS as err:
                raise _error(err)
            return state, (panel if panel is not None else gr.skip()), text, _plot(live_spec(state))

        view_outputs = [viewer, motion, joints_img, caption, acc_plot, diff_plot, heat_plot, branch_table, run_table]
        run_outputs = [session, status, model_md, preview, overlay, overlay_fps, frame, person, thumbs, downloads,
                       *view_outputs]
        demo.load(show_model, None, model_md, queue=False, api_visibility="undocumented")
        demo.load(None, None, None, js=CURSOR_JS)
        load_btn.click(load_model, None, model_md, concurrency_limit=1, api_name="load_model")
        video_in.change(on_video, video_in, [person_img, person_box, pending_corner], api_visibility="undocumented")
        # no progress overlay on the picture: it covers the image while the first corner is drawn and
        # would swallow a quick second click
        person_img.select(on_person_click, [video_in, pending_corner], [person_img, person_box, pending_corner],
                          show_progress="hidden", api_visibility="undocumented")
        clear_box.click(on_clear, video_in, [person_img, person_box, pending_corner], api_visibility="undocumented")
        run_event = run_btn.click(on_run, [video_in, window, local_w, mask_ratio, mask_pattern, seed, edge, precision,
                                           person_box, max_frames, max_people, session], run_outputs, api_name="run",
                                  concurrency_limit=RUN_CONCURRENCY, concurrency_id="pipeline")
        stop_btn.click(on_stop, session, None, queue=False, cancels=[run_event], api_name="stop")
        frame.change(on_frame, [frame, person, session], view_outputs, api_name="frame", trigger_mode="always_last",
                     concurrency_limit=4)
        frame.change(None, [frame, overlay_fps], None, js=SEEK_JS, queue=False)
        person.change(on_frame, [frame, person, session], view_outputs, api_visibility="undocumented",
                      trigger_mode="always_last", concurrency_limit=4)
        thumbs.select(on_thumb, session, person, api_visibility="undocumented")
        cam_in.stream(on_live, [cam_in, future, live_state], [live_state, live_panel, live_status, live_plot],
                      stream_every=STREAM_EVERY, time_limit=300, concurrency_limit=2, api_name="live")
    return demo


def _plot(spec: FigureSpec, frame: int | None = None) -> PlotData:
    """A figure for ``gr.Plot`` as its JSON (through ``go.Figure`` the same took 13-18x as long here)."""
    return PlotData(type="plotly", plot=spec.to_json(frame))


def _floor_glb() -> Path:
    """A small grey floor square (the viewers' initial scene), written once to the temp folder."""
    from ..export import mesh_to_glb
    from ..export.files import write_atomic

    path = Path(tempfile.gettempdir()) / "glot-studio" / "viewer-floor.glb"
    if not path.is_file():
        v = np.array([[-1, 0.95, -1], [1, 0.95, -1], [1, 0.95, 1], [-1, 0.95, 1]], np.float32)  # y down: below the feet
        write_atomic(path, mesh_to_glb(v, np.array([[0, 2, 1], [0, 3, 2]]), color=(0.85, 0.86, 0.88)))
    return path


def _motion_file(view: rv.RunView, sel: int) -> str | None:
    """The animated file the motion viewer plays: the selected person's final branch."""
    if not view.num_people:
        return None
    p = view.selected if sel == rv.EVERYONE else sel
    suffix = "" if view.num_people == 1 else f"_{int(view.track_id[p])}"
    path = view.files.get(f"motion_final{suffix}.glb")
    return str(rv.viewer_motion(path)) if path else None


def _draw_box(img: np.ndarray, box: str, scale: float) -> np.ndarray:
    cx, cy, bw, bh = h.parse_box(box)
    p0 = (int((cx - bw / 2) * scale), int((cy - bh / 2) * scale))
    p1 = (int((cx + bw / 2) * scale), int((cy + bh / 2) * scale))
    cv2.rectangle(img, p0, p1, (255, 200, 0), 2)
    return img


def launch(demo: gr.Blocks, argv: Sequence[str] | None = None) -> None:
    """Serve ``demo`` where :func:`glot.app.serve.server_address` says (Spaces: 0.0.0.0:7860)."""
    from .serve import launch as serve

    serve(demo, argv, concurrency=RUN_CONCURRENCY, css=CSS, allowed_paths=[str(EXAMPLES_DIR)])
