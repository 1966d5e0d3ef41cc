"""Every person in a clip: detection, landmarks and identities (knows nothing of GLoT).

MediaPipe's BlazePose detector and full landmark model, read from the installed ``mediapipe``
wheel and run with LiteRT (:mod:`glot.perception.models`), search each frame and its tiles
(:mod:`~glot.perception.detector`) and follow each person from frame to frame
(:mod:`~glot.perception.landmarks`); norfair's tracker keeps identities
(:mod:`~glot.perception.tracker`); :mod:`~glot.perception.people` turns the per-frame results
into arrays with a person axis.

    from glot.perception import PeopleConfig, PeopleTracker, track_people
    people = track_people(iter_frames("clip.mp4"))        # offline: People, (P, N, ...) arrays
    with PeopleTracker(PeopleConfig()) as tracker:         # a stream: one frame at a time
        for frame in frames:
            for track_id, obs in tracker.update(frame.image, frame.time): ...
"""
from __future__ import annotations

from glot.perception.models import PerceptionError
from glot.perception.people import People, build_people, track_people
from glot.perception.tracker import Observation, PeopleConfig, PeopleTracker

__all__ = ["PerceptionError", "PeopleConfig", "PeopleTracker", "Observation", "People", "track_people", "build_people"]
