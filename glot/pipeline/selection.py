"""Which tracked people a run keeps: a track id, the track under a box, or the K most prominent."""
from __future__ import annotations

import numpy as np

from ..errors import GLoTError
from .options import RunOptions

__all__ = ["select_people"]


def select_people(people, options: RunOptions):
    """The tracks ``options`` asks for (``person`` id, ``focus_box``, ``max_people``), in id order.

    ``people``: a :class:`glot.perception.People`.
    """
    keep = np.arange(len(people.track_id))
    if options.person is not None:
        keep = np.flatnonzero(people.track_id == options.person)
        if not len(keep):
            ids = ", ".join(str(int(i)) for i in people.track_id) or "none"
            raise GLoTError(f"no track with id {options.person} in this clip (tracks: {ids})")
    elif options.focus_box is not None:
        k = people.find(options.focus_box)
        if k is None:
            raise GLoTError("nobody was tracked inside the given person box")
        keep = np.array([k])
    if options.max_people is not None and len(keep) > options.max_people:
        order = np.argsort(-people.prominence[keep], kind="stable")
        keep = np.sort(keep[order[:options.max_people]])
    return people.select(keep)
