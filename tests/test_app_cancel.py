"""Stopping a run: Stop, a closed tab or a dead client ends it within about a second in any stage,
and nothing of it is left on disk; runs are capped by frames before any work."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from glot.app import handlers as h
from glot.app.session import close_session, new_session

from conftest import CARPHONE

STOP_WITHIN = 1.5  # seconds from the cancel request to the run's end (a frame or a batch of work)


def _threads_left(within: float = STOP_WITHIN) -> list[str]:
    """The run's worker threads (``glot-*``: run, decode, meshes) still alive after ``within`` s."""
    deadline = time.perf_counter() + within
    while True:
        left = [t.name for t in threading.enumerate() if t.name.startswith("glot-")]
        if not left or time.perf_counter() > deadline:
            return left
        time.sleep(0.05)


def _opts(max_frames: int | None = None, **kw):
    return h.check_video(CARPHONE, h.make_options(16, 4, 0.0, "none", 0, "clamp", "fp32", max_frames or 0, **kw))


@pytest.mark.parametrize("stage", ["tracking", "features", "GLoT", "rendering"])
def test_stop_ends_the_run_in_every_stage(pipeline_bundle, stage):
    session = new_session()
    seen, ended = [], {}

    def consume():
        try:
            for ev in h.iter_run(CARPHONE, session, pipeline_bundle, _opts()):
                seen.append(ev.text)
                if stage in ev.text and "t_cancel" not in ended:
                    ended["t_cancel"] = time.perf_counter()
                    session.cancel.set()  # what the Stop button (or a closed tab) does
        except h.RunCancelled:
            ended["t_end"] = time.perf_counter()

    worker = threading.Thread(target=consume)
    worker.start()
    worker.join(timeout=300)
    try:
        assert "t_cancel" in ended, f"stage {stage!r} never reported: {seen[-3:]}"
        assert "t_end" in ended, "the run was not stopped"
        assert ended["t_end"] - ended["t_cancel"] < STOP_WITHIN
        assert not any(session.root.iterdir()), list(session.root.iterdir())  # nothing left of the run
        assert session.view is None
        assert not _threads_left()  # the decoder and other workers stopped too, not at garbage collection
    finally:
        close_session(session)


def test_stop_in_the_middle_of_a_feature_batch_waits_for_one_chunk_not_the_batch(pipeline_bundle, monkeypatch):
    """Stop pressed while the CPU ResNet-50 works on a batch of 32 crops (4 s on a slow 2-core CPU):
    the run ends after the chunk in progress, before any other crop."""
    from glot.model.backbone import FEATURE_DIM
    from glot.pipeline import features

    session = new_session()
    ran = []

    def resnet(backbone, crops, batch_size, bf16):
        ran.append(len(crops))
        session.cancel.set()  # pressed while this chunk is computed
        return np.zeros((len(crops), FEATURE_DIM), np.float32)

    monkeypatch.setattr(features, "_resnet", resnet)
    try:
        with pytest.raises(h.RunCancelled):
            for _ in h.iter_run(CARPHONE, session, pipeline_bundle, _opts()):
                pass
        assert ran == [features.CPU_CHUNK]
        assert not any(session.root.iterdir())
    finally:
        close_session(session)


def test_stop_while_the_tracker_loads_ends_the_run_before_its_first_frame(pipeline_bundle, monkeypatch):
    """Stop pressed while the people tracker loads its models (the first run of a process takes
    about a second there): the run ends before tracking any frame."""
    from glot.perception.tracker import PeopleTracker

    session = new_session()
    tracked = []
    init, update = PeopleTracker.__init__, PeopleTracker.update

    def loading(self, *a, **k):
        init(self, *a, **k)
        session.cancel.set()  # pressed while the models load

    monkeypatch.setattr(PeopleTracker, "__init__", loading)
    monkeypatch.setattr(PeopleTracker, "update", lambda self, *a: tracked.append(1) or update(self, *a))
    try:
        with pytest.raises(h.RunCancelled):
            for _ in h.iter_run(CARPHONE, session, pipeline_bundle, _opts()):
                pass
        assert tracked == []
        assert not any(session.root.iterdir())
    finally:
        close_session(session)


def test_a_new_run_in_the_session_stops_the_old_one_not_itself(pipeline_bundle):
    """Run again while a run is going (a second click): the first stops, and its ending must not
    stop the second."""
    session = new_session()
    try:
        first = h.iter_run(CARPHONE, session, pipeline_bundle, _opts(16))
        next(first)  # running
        second = h.iter_run(CARPHONE, session, pipeline_bundle, _opts(16))
        next(second)  # starting it stops the first ...
        with pytest.raises(h.RunCancelled):
            for _ in first:
                pass
        kinds = [ev.kind for ev in second]  # ... whose end leaves the second running to the end
        assert kinds[-1] == "done"
    finally:
        close_session(session)


def test_closing_the_generator_stops_the_worker(pipeline_bundle):
    """A dead client: Gradio closes the handler's generator; the worker stops at its next report."""
    session = new_session()
    gen = h.iter_run(CARPHONE, session, pipeline_bundle, _opts())
    next(gen)  # running
    t0 = time.perf_counter()
    gen.close()
    deadline = t0 + STOP_WITHIN
    while any(session.root.iterdir()) and time.perf_counter() < deadline:
        time.sleep(0.05)
    assert not any(session.root.iterdir())
    assert not _threads_left()
    close_session(session)


def test_closing_while_another_thread_waits_for_the_next_event_stops_the_run(pipeline_bundle):
    """What Gradio's /cancel does to the app's handler: the handler is cancelled and closes the
    run's events while its worker thread still waits in ``next()`` for the next one."""
    session = new_session()
    run = h.iter_run(CARPHONE, session, pipeline_bundle, _opts(), min_step=2.0, poll=30.0)  # no event for seconds
    first, ended = threading.Event(), {}

    def consume():
        try:
            next(run)
            first.set()
            next(run)  # waits: the next event is the next stage's
            ended["how"] = "an event"
        except BaseException as err:  # noqa: BLE001 (reported below)
            ended["how"] = type(err).__name__
        ended["t"] = time.perf_counter()

    worker = threading.Thread(target=consume)
    worker.start()
    try:
        assert first.wait(120), "the run never reported"
        time.sleep(0.3)  # the consumer is inside next()
        t0 = time.perf_counter()
        run.close()  # from this thread, as the event loop does
        worker.join(timeout=STOP_WITHIN + 1)
        assert ended.get("how") == "RunCancelled", ended
        assert ended["t"] - t0 < STOP_WITHIN
        assert not any(session.root.iterdir())
        assert not _threads_left()
    finally:
        close_session(session)


def test_cancel_endpoint_returns_at_once_and_stops_the_run(tmp_path, pipeline_assets):
    """``/cancel`` (gradio_client's ``Job.cancel``) on a running job: returns at once, the run's folder goes."""
    from gradio_client import Client, handle_file

    from glot.testing.app_server import running_app

    with running_app(tmp_path, pipeline_assets) as url:
        client = Client(url, verbose=False)
        job = client.submit(handle_file(str(CARPHONE)), 16, 4, 0.0, "none", 0, "clamp", "fp32", "", 0, 0,
                            api_name="/run")
        runs = lambda: list((tmp_path / "tmp").glob("glot-session-*/.run-*.partial*"))  # noqa: E731
        deadline = time.monotonic() + 120
        while not runs() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert runs(), "the run never started"
        t0 = time.perf_counter()
        job.cancel()
        assert time.perf_counter() - t0 < 1.0
        deadline = time.monotonic() + STOP_WITHIN + 1.0
        while runs() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not runs(), "the cancelled run kept working"


def _raw_h264(path: Path, seconds: float, fps: int = 25) -> Path:
    """A raw H.264 elementary stream with an .mp4 name: no container, no declared length or duration."""
    import av

    rng = np.random.default_rng(0)
    with av.open(str(path), "w", format="h264") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        for i in range(int(seconds * fps)):
            img = (np.full((32, 32, 3), (i * 7) % 240, np.uint8) + rng.integers(0, 9, (32, 32, 3), dtype=np.uint8))
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def test_stream_without_declared_length_stops_at_the_cap(tmp_path, pipeline_bundle, monkeypatch):
    from glot.video import probe_video

    clip = _raw_h264(tmp_path / "raw_stream.mp4", seconds=4.0)
    info = probe_video(clip)
    assert info.num_frames is None  # nothing declares how long it is
    monkeypatch.setattr(h, "MAX_SECONDS", 2.0)  # the cap: 2 s at the stream's 25 fps = 50 frames
    opts = h.check_video(clip, h.make_options(16, 4, 0.0, "none", 0, "clamp", "fp32", 0))
    assert opts.frame_limit == 50
    session = new_session()
    try:
        with pytest.raises(Exception, match="has more than 50 frames, the limit here"):
            list(h.iter_run(clip, session, pipeline_bundle, opts))
        assert not any(session.root.iterdir())
    finally:
        close_session(session)
