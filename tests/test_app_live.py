"""The app's live webcam handler, fed real frames."""
import numpy as np

from glot.app.live import live_figure, live_step
from glot.video import iter_frames

from conftest import CARPHONE


def test_live_step_emits_overlays_after_look_ahead(pipeline_bundle):
    state, panels = None, []
    for fr in iter_frames(CARPHONE):
        if fr.index >= 12:
            break
        state, panel, text = live_step(pipeline_bundle, state, fr.image, 3)
        panels.append(panel)
    assert all(p is None for p in panels[:3]) and all(p is not None for p in panels[3:])
    h, w = 144, 176  # carphone's size
    assert panels[-1].shape == (h, 3 * w, 3)
    assert not np.array_equal(panels[-1][:, w:2 * w], panels[-1][:, :w])  # a mesh was drawn
    assert "look-ahead 3 frames" in text
    fig = live_figure(state)
    assert len(fig.data) == 2 and len(fig.data[0].x) == 9
    # changing the look-ahead restarts the runner
    state2, _, _ = live_step(pipeline_bundle, state, np.zeros((h, w, 3), np.uint8), 0)
    assert state2 is not state and state2.runner.k == 0
    state2.close()
