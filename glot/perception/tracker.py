"""Every person, frame after frame: follow, search, and a multi-object tracker for identities.

Per frame, :class:`PeopleTracker`

1. *follows* each person seen in the previous frame: the landmark model runs on the region
   derived from that person's (filtered) alignment points, as MediaPipe's own tracking does, so
   a tracked person costs one landmark inference and no detection (people apart from each other
   in one batch; a person next to one already found runs after that one is painted out);
2. *searches* for people: the detector runs on the whole frame and on overlapping tiles (small
   people), one group of these regions per frame in turn so that every region is searched every
   ``detection_interval`` frames at an even cost, plus a square around each person lost in the
   last ``lost_search_frames`` frames (and the whole plan at once when everybody was just lost,
   e.g. at a scene cut). Detections of people already followed are skipped; the rest get
   landmarks;
3. merges duplicates (two regions on one person give the same landmarks);
4. hands the people's regions (squares around the hips) to norfair's tracker (Kalman-predicted
   boxes, IoU matching), which decides identities: a person unseen for up to ``max_lost`` frames
   keeps their id.

Nothing here needs the future: the same object serves a live stream and the offline pass
(:func:`glot.perception.people.track_people`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from glot.perception.detector import PoseDetector
from glot.perception.landmarks import LandmarkModel, LandmarkResult, erase_people
from glot.perception.roi import roi_from_alignment, square_regions
from glot.perception.smoothing import PoseSmoother

__all__ = ["PeopleConfig", "Observation", "PeopleTracker", "boxes_from_landmarks"]

# mirror image of each BlazePose landmark (a duplicate may come back left-right swapped)
_MIRROR = np.array([0, 4, 5, 6, 1, 2, 3, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15, 18, 17, 20, 19, 22, 21, 24, 23,
                    26, 25, 28, 27, 30, 29, 32, 31])


@dataclass(frozen=True)
class PeopleConfig:
    """Detection, tracking and post-processing settings (defaults suit 10-60 fps, 144p-4K)."""

    num_threads: int = 2  # LiteRT CPU threads per model
    min_detection_score: float = 0.5  # detector confidence (MediaPipe's)
    min_pose_score: float = 0.5  # landmark model's pose presence (MediaPipe's)
    smooth_landmarks: bool = True  # MediaPipe's one-euro filters on landmarks (as mp.solutions.pose)
    # searching
    detection_interval: int = 8  # every search region is searched once per this many frames
    tile_fraction: float = 0.5  # tile side / the frame's shorter side (0: whole frame only)
    min_tile_px: int = 192  # smaller tiles are enlarged to this (upscaled textures fool the detector)
    tile_overlap: float = 0.5  # fraction of a tile shared with its neighbour
    lost_search_frames: int = 10  # frames a lost person's surroundings are searched every frame
    lost_region_scale: float = 3.0  # that square's side / the person's last box side
    # identities (norfair)
    max_lost: int = 30  # frames an identity survives unseen (norfair's hit_counter_max)
    match_iou: float = 0.3  # least IoU of an observation's region with a person's predicted one to match
    duplicate_distance: float = 0.15  # landmarks this close (x the person's size) are one person
    # verification: the landmark model also "finds" people in textures and can drift onto them;
    # a person is verified when the detector, run on a square around them at their own scale,
    # finds an upright body centred on theirs
    confirm_score: float = 0.8  # detector confidence that verifies a person
    confirm_max_tilt: float = 50.0  # degrees from upright allowed for that detection
    confirm_interval: int = 3  # frames between attempts while a person is not (or no longer) verified
    confirm_attempts: int = 4  # failed attempts in a row before a person is given up (no longer followed)
    verify_interval: int = 12  # frames between checks of a verified person
    min_person_px: float = 24.0  # smaller boxes (side, pixels) are not people we can use
    # boxes (square, the crop convention)
    min_visibility: float = 0.5  # landmarks used for the box
    box_scale: float = 1.1  # box side / the longer side of the visible landmarks' bbox
    # offline post pass (glot.perception.people)
    max_gap: int = 8  # frames filled inside a track (T // 2 for T = 16); longer gaps split it
    min_track_frames: int = 10  # tracks detected on fewer frames are dropped as noise
    min_segment: int = 3  # shorter pieces of a track are dropped
    smooth_sigma: float = 1.5  # temporal box smoothing (frames)

    def __post_init__(self) -> None:
        if self.detection_interval < 1 or self.max_lost < 1 or self.max_gap < 0:
            raise ValueError("detection_interval and max_lost must be >= 1, max_gap >= 0")
        if not 0 <= self.tile_overlap < 1:
            raise ValueError(f"tile_overlap must be in [0, 1), got {self.tile_overlap}")


@dataclass(frozen=True)
class Observation:
    """One person in one frame (pixels of the frame)."""

    landmarks: np.ndarray  # (33, 3) x, y pixels; z on x's pixel scale
    visibility: np.ndarray  # (33,)
    world: np.ndarray  # (33, 3) metres, hip-centred
    box: np.ndarray  # (4,) square (cx, cy, s, s) around the visible landmarks
    score: float  # pose presence
    source: str  # "follow" (tracked from the last frame) or "search" (found by the detector)
    detection_score: float  # the detector's confidence when found by a search, else NaN
    confirmed: bool = False  # the detector has verified this person (now or earlier, and not given up since)
    verified: bool = False  # the detector verified this person in this frame


def boxes_from_landmarks(landmarks: np.ndarray, visibility: np.ndarray, min_visibility: float = 0.5,
                         scale: float = 1.1, min_points: int = 4) -> np.ndarray:
    """Square ``(..., 4)`` ``(cx, cy, s, s)`` boxes around visible landmarks ``(..., 33, >=2)``."""
    from glot.video.boxes import boxes_from_landmarks as square

    lm = np.asarray(landmarks, dtype=np.float64)
    vis = np.asarray(visibility, dtype=np.float64)
    return square(lm.reshape(-1, *lm.shape[-2:]), vis.reshape(-1, vis.shape[-1]), min_visibility, scale,
                  min_points).reshape(*lm.shape[:-2], 4)


def _extent(landmarks: np.ndarray) -> np.ndarray:
    """``(4,)`` ``(x0, y0, x1, y1)`` of all 33 landmarks (the model places hidden ones too)."""
    xy = landmarks[:, :2]
    return np.concatenate([xy.min(0), xy.max(0)])


def _near(a: np.ndarray, b: np.ndarray) -> bool:
    """Do two regions ``(cx, cy, side, rotation)`` overlap (their axis-aligned hulls)?"""
    reach = (a[2] + b[2]) / np.sqrt(2)
    return abs(a[0] - b[0]) < reach and abs(a[1] - b[1]) < reach


def _square(aux: np.ndarray) -> np.ndarray:
    """``(4,)`` ``(x0, y0, x1, y1)``: the axis-aligned square of the region the alignment points
    ``aux (2, 2)`` give (centred on the hips, ~1.25 body heights): steadier than the landmarks'
    extent, which narrows and widens with every stride."""
    cx, cy, side, _ = roi_from_alignment(aux[0], aux[1])
    return np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2])


@dataclass
class _Candidate:
    raw: LandmarkResult  # one row
    source: str
    extent: np.ndarray  # (4,)
    detection_score: float  # the detector's confidence (NaN when followed)


@dataclass
class _Person:
    smoother: PoseSmoother
    roi: np.ndarray | None  # region to follow in the next frame (None: not seen in the last frame)
    box: np.ndarray  # last box (cx, cy, s, s)
    lost: int = 0  # frames since last seen
    seen: int = 0  # frames seen
    checks: int = 0  # verification attempts so far
    next_check: int = 1  # value of `seen` at the next attempt
    failures: int = 0  # failed attempts in a row
    confirmed: bool = False
    rejected: bool = False  # given up: no longer followed, and its surroundings not searched


class PeopleTracker:
    """Stateful per-frame people tracker (use as a context manager or call :meth:`close`).

    Args:
        config: settings.
    """

    def __init__(self, config: PeopleConfig = PeopleConfig()) -> None:
        from norfair import Tracker

        self.config = config
        self._detector = PoseDetector(config.min_detection_score, num_threads=config.num_threads)
        self._landmarks = LandmarkModel(config.num_threads)
        self._mot = Tracker(distance_function="iou", distance_threshold=1.0 - config.match_iou,
                            hit_counter_max=config.max_lost, initialization_delay=0, past_detections_length=0)
        self._people: dict[int, _Person] = {}
        self._plan: list[np.ndarray] | None = None  # search regions grouped by frame
        self._frame = 0
        self.seconds = {"detection": 0.0, "landmarks": 0.0, "tracking": 0.0}

    @property
    def calls(self) -> dict[str, int]:
        """Model invocations so far (one per region)."""
        return {"detector": self._detector.calls, "landmarks": self._landmarks.calls}

    def close(self) -> None:
        self._people.clear()

    def __enter__(self) -> "PeopleTracker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- searching -----------------------------------------------------------------------------
    def _search_plan(self, width: int, height: int) -> list[np.ndarray]:
        """The whole frame and the tiles, split into ``detection_interval`` groups of regions."""
        c = self.config
        regions = [PoseDetector.frame_region(width, height)]
        side = min(max(c.tile_fraction * min(width, height), c.min_tile_px), min(width, height))
        if c.tile_fraction > 0 and side < 0.75 * max(width, height):  # else the whole frame is as good
            regions.append(square_regions(width, height, side, c.tile_overlap))
        regions = np.concatenate(regions)
        groups = np.array_split(np.arange(len(regions)), min(c.detection_interval, len(regions)))
        plan = [regions[g] for g in groups]
        return plan + [np.zeros((0, 3))] * (c.detection_interval - len(plan))

    def _regions(self, width: int, height: int, everybody_lost: bool) -> np.ndarray:
        c = self.config
        if self._plan is None:
            self._plan = self._search_plan(width, height)
        if everybody_lost:
            regions = [np.concatenate(self._plan)]
        else:
            regions = [self._plan[self._frame % c.detection_interval]]
            for p in self._people.values():
                if p.roi is None and p.confirmed and p.lost < c.lost_search_frames and np.isfinite(p.box).all():
                    regions.append(np.array([[p.box[0], p.box[1], c.lost_region_scale * p.box[2]]]))
        return np.concatenate(regions)

    def _candidates(self, res: LandmarkResult, source: str, detection_scores=None) -> list[_Candidate]:
        out = []
        for i in np.flatnonzero(res.score >= self.config.min_pose_score):
            ds = np.nan if detection_scores is None else float(detection_scores[i])
            row = LandmarkResult(*(a[i] for a in (res.score, res.landmarks, res.visibility, res.world, res.aux,
                                                  res.rois, res.masks)))
            cand = _Candidate(row, source, _extent(row.landmarks), ds)
            if np.max(cand.extent[2:] - cand.extent[:2]) * self.config.box_scale >= self.config.min_person_px:
                out.append(cand)
        return out

    @staticmethod
    def _erase(image: np.ndarray, work: np.ndarray, cands: list[_Candidate], erased: int) -> tuple[np.ndarray, int]:
        """Paint ``cands[erased:]`` out of ``work`` (a copy of ``image`` made on first use)."""
        if erased >= len(cands):
            return work, erased
        if work is image:
            work = image.copy()
        rest = cands[erased:]
        erase_people(work, np.stack([c.raw.rois for c in rest]), np.stack([c.raw.masks for c in rest]), inplace=True)
        return work, len(cands)

    def _rejected_at(self, roi: np.ndarray) -> bool:
        """Does a detection fall on a person given up as a false find (still remembered)?"""
        for p in self._people.values():
            if p.rejected and np.isfinite(p.box).all() and np.all(np.abs(roi[:2] - p.box[:2]) < p.box[2] / 2):
                return True
        return False

    @staticmethod
    def _covered(roi: np.ndarray, cands: list[_Candidate]) -> bool:
        """A detection whose region matches a followed person's region is that person."""
        for cand in cands:
            own = roi_from_alignment(cand.raw.aux[0], cand.raw.aux[1])
            if np.hypot(*(roi[:2] - own[:2])) < 0.25 * own[2] and 0.6 < roi[2] / own[2] < 1.6:
                return True
        return False

    def _duplicates(self, cands: list[_Candidate]) -> list[_Candidate]:
        """Keep one of each group of candidates with (nearly) the same landmarks."""
        order = sorted(range(len(cands)), key=lambda i: (cands[i].source != "follow", -cands[i].raw.score))
        kept: list[_Candidate] = []
        for i in order:
            a = cands[i]
            size_a = np.max(a.extent[2:] - a.extent[:2])
            dup = False
            for b in kept:
                size = max(size_a, np.max(b.extent[2:] - b.extent[:2]))
                la, lb = a.raw.landmarks[:, :2], b.raw.landmarks[:, :2]
                d = min(np.median(np.linalg.norm(la - lb, axis=1)), np.median(np.linalg.norm(la - lb[_MIRROR], axis=1)))
                if d < self.config.duplicate_distance * size:
                    dup = True
                    break
            if not dup:
                kept.append(a)
        return kept

    # -- per frame -----------------------------------------------------------------------------
    def update(self, image: np.ndarray, timestamp: float) -> list[tuple[int, Observation]]:
        """Find and identify everybody in ``image`` ``(H, W, 3)`` uint8 RGB seen at ``timestamp`` (s).

        Returns:
            ``[(track_id, Observation), ...]`` for the people seen in this frame.
        """
        from norfair import Detection

        h, w = image.shape[:2]
        t0 = time.perf_counter()
        # nearest people (lowest in the frame) first; each one found is painted out of `work`
        # before a neighbour is looked for, so that two close people give two results
        followed = sorted(((pid, p) for pid, p in self._people.items() if p.roi is not None),
                          key=lambda item: -(item[1].box[1] + item[1].box[3] / 2))
        cands: list[_Candidate] = []
        work, erased = image, 0
        batch: list[np.ndarray] = []  # regions that run together (no one near another: nobody to paint out)
        for pid, p in followed:
            if any(_near(p.roi, r) for r in batch) or \
                    (erased < len(cands) and any(_near(p.roi, c.raw.rois) for c in cands[erased:])):
                if batch:
                    cands += self._candidates(self._landmarks(work, np.stack(batch)), "follow")
                    batch = []
                if erased < len(cands) and any(_near(p.roi, c.raw.rois) for c in cands[erased:]):
                    work, erased = self._erase(image, work, cands, erased)
            batch.append(p.roi)
        if batch:
            cands += self._candidates(self._landmarks(work, np.stack(batch)), "follow")
        t1 = time.perf_counter()
        # the whole search plan at once on the first frame and when everybody was just lost
        regions = self._regions(w, h, everybody_lost=self._frame == 0 or (bool(followed) and not cands))
        new = []
        if len(regions):
            work, erased = self._erase(image, work, cands, erased)  # the detector sees the others
            dets = self._detector.detect(work, regions)
            new = [j for j, roi in enumerate(dets.rois) if not self._covered(roi, cands) and not self._rejected_at(roi)]
        t2 = time.perf_counter()
        if new:
            cands += self._candidates(self._landmarks(work, dets.rois[new]), "search", dets.scores[new])
        t3 = time.perf_counter()
        cands = self._duplicates(cands)
        dets = [Detection(points=_square(cand.raw.aux).reshape(2, 2), data=cand) for cand in cands]
        self._mot.update(dets)
        mine = {id(d) for d in dets}
        seen: list[tuple[int, _Candidate]] = []
        alive = set()
        for obj in self._mot.tracked_objects:
            if obj.id is None or not obj.hit_counter_is_positive:
                continue
            alive.add(obj.id)
            if id(obj.last_detection) in mine:
                seen.append((obj.id, obj.last_detection.data))
        seen.sort(key=lambda s: s[0])
        out = [(pid, self._observe(pid, cand, timestamp)) for pid, cand in seen]
        t5 = time.perf_counter()
        out = [(pid, self._confirm(image, pid, obs, cand, cands)) for (pid, obs), (_, cand) in zip(out, seen)]
        t6 = time.perf_counter()
        seen_ids = {pid for pid, _ in out}
        for pid in list(self._people):
            if pid not in alive:
                del self._people[pid]
            elif pid not in seen_ids:
                p = self._people[pid]
                p.roi, p.lost = None, p.lost + 1
        self._frame += 1
        t4 = time.perf_counter()
        self.seconds["landmarks"] += (t1 - t0) + (t3 - t2)
        self.seconds["detection"] += (t2 - t1) + (t6 - t5)
        self.seconds["tracking"] += (t4 - t3) - (t6 - t5)
        return out

    def _observe(self, pid: int, cand: _Candidate, t: float) -> Observation:
        c = self.config
        p = self._people.get(pid)
        if p is None:
            p = self._people[pid] = _Person(PoseSmoother(c.smooth_landmarks), None, np.full(4, np.nan))
        elif p.lost > 0:  # found again: the filters start afresh (as MediaPipe's)
            p.smoother = PoseSmoother(c.smooth_landmarks)
        r = cand.raw
        s = p.smoother(r.landmarks, r.visibility, r.world, r.aux, t)
        box = boxes_from_landmarks(s.landmarks, s.visibility, c.min_visibility, c.box_scale)
        p.roi, p.box, p.lost = roi_from_alignment(s.aux[0], s.aux[1]), box, 0
        if p.rejected:
            p.roi = None  # seen, but not followed
        p.seen += 1
        return Observation(s.landmarks, s.visibility, s.world, box, float(r.score), cand.source, cand.detection_score,
                           p.confirmed)

    def _upright(self, rotation: float) -> bool:
        return abs(np.degrees(rotation)) <= self.config.confirm_max_tilt

    def _confirm(self, image: np.ndarray, pid: int, obs: Observation, cand: _Candidate,
                 everybody: list[_Candidate]) -> Observation:
        """Verify a person: at their first frame, then every ``verify_interval`` frames (every
        ``confirm_interval`` after a failure), the detector runs on a square around them
        (alternately 1x and 1.5x their region: large people fill the first, small ones are
        found better with some context), with the people around them painted out. A confident
        search detection counts as well. ``confirm_attempts`` failures in a row give the person up."""
        c, p = self.config, self._people[pid]
        if p.rejected or p.roi is None:
            return obs
        ok = cand.source == "search" and cand.detection_score >= c.confirm_score and self._upright(cand.raw.rois[3])
        if not ok and p.seen < p.next_check:
            return obs
        if not ok:
            roi = p.roi
            region = np.array([roi[0], roi[1], roi[2] * (1.0, 1.5)[p.checks % 2]])
            others = [o for o in everybody if o is not cand and _near(np.append(region, 0.0), o.raw.rois)]
            if others:
                rois, masks = np.stack([o.raw.rois for o in others]), np.stack([o.raw.masks for o in others])
                image = erase_people(image, rois, masks)
            d = self._detector.detect(image, region[None])
            p.checks += 1
            if len(d):
                near = np.hypot(*(d.keypoints[:, 0] - roi[:2]).T) < 0.3 * roi[2]
                good = near & (d.scores >= c.confirm_score) & (np.abs(np.degrees(d.rois[:, 3])) <= c.confirm_max_tilt)
                ok = bool(good.any())
        if ok:
            p.confirmed, p.failures, p.next_check = True, 0, p.seen + c.verify_interval
            return replace(obs, confirmed=True, verified=True)
        p.failures += 1
        p.next_check = p.seen + c.confirm_interval
        if p.failures >= c.confirm_attempts:
            p.rejected, p.confirmed, p.roi = True, False, None
        return replace(obs, confirmed=p.confirmed)
