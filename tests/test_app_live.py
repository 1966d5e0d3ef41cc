"""The app's live webcam handler, fed real frames."""
import numpy as np

from glot.app.live import live_figure, live_step
from glot.perception import PeopleTracker
from glot.stream import StreamOptions
from glot.video import iter_frames

from conftest import CARPHONE


def test_live_step_emits_overlays_of_everyone_after_look_ahead(pipeline_bundle):
    frames = [fr.image for fr in iter_frames(CARPHONE) if fr.index < 20]
    two = [np.concatenate([img, img[:, ::-1]], axis=1) for img in frames]  # two people side by side
    state, panels = None, []
    for img in two:
        state, panel, text = live_step(pipeline_bundle, state, img, 3)
        panels.append(panel)
    first = state.runner.cfg.min_track_frames - 1  # a person is shown once seen on that many frames
    assert all(p is None for p in panels[:first]) and sum(p is not None for p in panels[first:]) >= 2
    h, w = 144, 2 * 176
    last = next(p for p in reversed(panels) if p is not None)
    assert last.shape == (h, 3 * w, 3)
    changed = np.abs(last[:, w:2 * w].astype(int) - last[:, :w].astype(int)).sum(-1) > 60
    assert changed[:, :176].mean() > 0.01 and changed[:, 176:].mean() > 0.01  # a mesh on each person
    assert "look-ahead 3 frames" in text and "windows at 30 fps" in text and "fps stream" in text
    assert "search: whole frame" in text
    # a webcam's people are found by searching the whole frame: no tiles (a file stream's default)
    tiles = PeopleTracker(StreamOptions().people)
    for k, img in enumerate(two):
        tiles.update(img, k / 30)
    live_calls, tile_calls = state.runner.tracker.calls["detector"], tiles.calls["detector"]
    tiles.close()
    assert live_calls < 0.6 * tile_calls, (live_calls, tile_calls)
    fig = live_figure(state)
    assert len(fig.data) == 2 and all(len(tr.x) >= 3 for tr in fig.data)  # one trace per person
    # changing the look-ahead restarts the runner
    state2, _, _ = live_step(pipeline_bundle, state, np.zeros((h, w, 3), np.uint8), 0)
    assert state2 is not state and state2.runner.k == 0
    state2.close()
