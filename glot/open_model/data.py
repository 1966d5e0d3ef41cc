"""Synthetic datasets for the open model: training sequences from the training clips and random
trajectories, and the fixed held-out evaluation set (clips in :data:`HELD_OUT_CLIPS`)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.spatial.transform import Rotation

from ..body.joints import SMPL_JOINT_NAMES
from ..body.open_body import open_body_arrays
from ..body.smpl import SMPLBody
from .motion import HELD_OUT_CLIPS, Motion, list_clips, load_motion, mirror, random_trajectory, resample
from .synth import BodyPoser, SynthConfig, SyntheticSequence, synthesize

__all__ = ["DataConfig", "open_body_and_poser", "joint_body", "training_clips", "make_training_arrays",
           "make_heldout_sequences"]

_J = {n: i for i, n in enumerate(SMPL_JOINT_NAMES)}
# joints the clips do not drive: they get small random smooth motion (radians, sd)
_FREE = {"spine1": 0.06, "spine2": 0.05, "spine3": 0.05, "head": 0.12, "left_collar": 0.08, "right_collar": 0.08,
         "left_wrist": 0.25, "right_wrist": 0.25, "left_foot": 0.1, "right_foot": 0.1, "left_hand": 0.1,
         "right_hand": 0.1}


@dataclass(frozen=True)
class DataConfig:
    """How much synthetic data, and its mix."""

    sequences: int = 3000  # training sequences
    seq_len: int = 48  # frames per sequence (clips may give shorter ones)
    clip_share: float = 0.5  # share of sequences from the motion clips (the rest: random trajectories)
    speed: tuple[float, float] = (0.6, 1.5)  # playback speed of clips
    fps: float = 30.0
    synth: SynthConfig = field(default_factory=SynthConfig)


def open_body_and_poser() -> tuple[SMPLBody, BodyPoser, dict]:
    """The open body (``assets/open_body``), a poser for its BlazePose landmark vertices, and its arrays."""
    a = open_body_arrays()
    body = SMPLBody(a, a["J_regressor_extra"], vertex_ids=a["vertex_ids"])
    return body, BodyPoser(body, a["mediapipe_vertex_ids"], joint_body(a)), a


def joint_body(arrays: dict) -> SMPLBody:
    """The open body cut down to the vertices its 49 joints depend on (the regressors' support and
    the 21 extra-vertex joints): the same joints as the full body, ~15x fewer vertices to skin.
    For training only (it has no faces); the shipped checkpoint carries the full body."""
    a = arrays
    keep = (np.abs(a["J_regressor"]).sum(0) > 0) | (np.abs(a["J_regressor_extra"]).sum(0) > 0)
    sub = np.union1d(np.flatnonzero(keep), a["extra_joints_idxs"])
    new_id = {int(v): i for i, v in enumerate(sub)}
    arr = {k: a[k][sub] for k in ("v_template", "shapedirs", "posedirs", "weights")}
    arr.update(J_regressor=a["J_regressor"][:, sub], kintree_table=a["kintree_table"], f=np.zeros((0, 3), np.int64))
    ids = {k: new_id[int(v)] for k, v in a["vertex_ids"].items()}
    return SMPLBody(arr, a["J_regressor_extra"][:, sub], vertex_ids=ids)


def training_clips() -> list[str]:
    """All clip names except the held-out ones."""
    return [n for n in list_clips() if n not in HELD_OUT_CLIPS]


def _jitter_free_joints(rng: np.random.Generator, rot: np.ndarray, fps: float) -> np.ndarray:
    """Small smooth random rotations on the joints the clips leave at identity: ``(N, 24, 3, 3)``."""
    n = len(rot)
    tk = np.linspace(0, n / fps, max(n // 15, 2) + 2)
    t = np.arange(n) / fps
    out = rot.copy()
    for name, sd in _FREE.items():
        aa = CubicSpline(tk, rng.normal(0, sd, (len(tk), 3)), axis=0)(t)
        out[:, _J[name]] = out[:, _J[name]] @ Rotation.from_rotvec(aa).as_matrix()
    return out


def _clip_motion(rng: np.random.Generator, clips: dict[str, Motion], cfg: DataConfig) -> tuple[np.ndarray, np.ndarray]:
    names = sorted(clips)
    m = clips[names[rng.integers(len(names))]]
    rot, trans = resample(m.rotmat, m.trans, m.fps, cfg.fps, speed=rng.uniform(*cfg.speed))
    if rng.random() < 0.5:
        rot, trans = mirror(rot, trans)
    if len(rot) > cfg.seq_len:
        s = rng.integers(0, len(rot) - cfg.seq_len + 1)
        rot, trans = rot[s:s + cfg.seq_len], trans[s:s + cfg.seq_len]
    return _jitter_free_joints(rng, rot, cfg.fps), trans


def _stack(seqs: list[SyntheticSequence]) -> dict[str, np.ndarray]:
    keys = ("features", "joints2D", "joints3D", "pose", "shape")
    out = {k: np.concatenate([getattr(s, k) for s in seqs]) for k in keys}
    out["vid_name"] = np.concatenate([np.full(len(s.features), i, np.int64) for i, s in enumerate(seqs)])
    return out


def make_training_arrays(seed: int, cfg: DataConfig = DataConfig(), poser: BodyPoser | None = None,
                         min_len: int = 16) -> dict[str, np.ndarray]:
    """Per-frame arrays for :class:`glot.train.SequenceDataset` (``kind='generic'``): ``features
    (N, 231)``, ``joints2D (N, 49, 3)`` crop coordinates, ``joints3D (N, 49, 3)``, ``pose (N, 72)``,
    ``shape (N, 10)``, ``vid_name (N,)``. Deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    if poser is None:
        poser = open_body_and_poser()[1]
    clips = {n: load_motion(n, cfg.fps) for n in training_clips()}
    seqs: list[SyntheticSequence] = []
    while len(seqs) < cfg.sequences:
        if rng.random() < cfg.clip_share:
            rot, trans = _clip_motion(rng, clips, cfg)
        else:
            rot, trans = random_trajectory(rng, cfg.seq_len, cfg.fps)
        if len(rot) < min_len:
            continue
        s = synthesize(rng, poser, rot, trans, cfg.synth)
        if s is not None:
            seqs.append(s)
    return _stack(seqs)


def make_heldout_sequences(seed: int = 1234, views: int = 4, cfg: DataConfig = DataConfig(),
                           poser: BodyPoser | None = None) -> list[tuple[str, SyntheticSequence]]:
    """The evaluation set: each held-out clip (full length, 30 fps) seen from ``views`` random
    cameras with the training error model; fixed by ``seed``. Returns ``[(name, sequence), ...]``."""
    rng = np.random.default_rng(seed)
    if poser is None:
        poser = open_body_and_poser()[1]
    out = []
    for name in HELD_OUT_CLIPS:
        m = load_motion(name, cfg.fps)
        k = 0
        while k < views:
            s = synthesize(rng, poser, m.rotmat, m.trans, cfg.synth)
            if s is not None:
                out.append((f"{name}#{k}", s))
                k += 1
    return out
