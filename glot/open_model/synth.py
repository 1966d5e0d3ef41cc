"""Synthetic training/evaluation sequences for the open model: a motion on the open body, seen by a
random camera, turned into MediaPipe-like landmarks with MediaPipe-like errors.

Error model (figures measured with MediaPipe on rendered open bodies, see docs/open_model.md):
2D noise about 1-2 % of body height per frame plus a per-sequence bias; shoulders ~1.7 %, hips
~0.6 %, ankles ~0.7 % of height above the true points; far-side limbs in side views get low
visibility and larger errors; world landmarks keep bone lengths (x0.98) but their depth is
compressed to 10-60 %; occasional whole-body left/right swaps and missed detections.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d
from scipy.spatial.transform import Rotation
from smplx.lbs import batch_rigid_transform, blend_shapes, vertices2joints

from ..body.smpl import SMPLBody
from ..model.landmark_features import LEFT_RIGHT_SWAP, landmark_features
from ..video.boxes import boxes_from_landmarks, build_track

__all__ = ["SynthConfig", "BodyPoser", "Camera", "sample_camera", "synthesize", "SyntheticSequence"]

# BlazePose indices by body part (left, right)
_SHOULDERS, _HIPS, _ANKLES = (11, 12), (23, 24), (27, 28)
_LEFT = np.array([1, 2, 3, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31])
_RIGHT = np.array(LEFT_RIGHT_SWAP)[_LEFT]
_ARM = {13, 14, 15, 16, 17, 18, 19, 20, 21, 22}
_LEG = {25, 26, 27, 28, 29, 30, 31, 32}


@dataclass(frozen=True)
class SynthConfig:
    """Camera and error model of the synthetic sequences (defaults: the shipped model's)."""

    fps: float = 30.0
    image_sizes: tuple[tuple[int, int], ...] = ((1280, 720), (1920, 1080), (720, 1280), (640, 480), (480, 640))
    distance: tuple[float, float] = (2.2, 9.0)  # metres, camera to the person
    close_extent: tuple[float, float] = (0.3, 1.0)  # partial views: metres of body the image height
    # covers (log-uniform; 0.35 = a head-and-shoulders shot)
    # close-up partial views (the person stays in place, as in webcam / talking-head shots); many
    # are rejected (limbs at the lens), so about 1 sequence in 5 ends up a close-up
    partial_prob: float = 0.5
    pitch_deg: tuple[float, float] = (-10.0, 35.0)  # camera elevation (positive: looking down)
    vfov_deg: tuple[float, float] = (35.0, 75.0)
    noise_2d: tuple[float, float] = (0.005, 0.015)  # per-frame sd, share of body height
    bias_2d: float = 0.006  # per-sequence per-landmark sd, share of body height
    shoulder_up: float = 0.0  # systematic offsets along the body's up direction, share of height (the open
    # body's shoulder landmark vertices already sit ~2% above the joints, where MediaPipe puts them)
    hip_up: float = 0.0
    ankle_up: float = 0.005
    depth_keep: tuple[float, float] = (0.1, 0.6)  # world landmarks: share of true depth kept
    image_z_gain: tuple[float, float] = (0.3, 5.0)  # image landmarks' z: gain on true depth (log-uniform;
    # MediaPipe's z is far larger than the true depth on close upper-body shots)
    world_noise: float = 0.025  # metres per frame
    swap_prob: float = 0.004  # per frame: whole-body left/right swap
    gap_prob: float = 0.1  # per sequence: a short run of frames with no detection
    shape_sd: float = 1.0  # betas ~ N(0, sd), clipped at +-2.5 sd


class BodyPoser:
    """Poses the open body for targets and landmarks (no full mesh is skinned).

    Args:
        body: the SMPL-format body (full mesh).
        landmark_ids: ``(33,)`` vertex ids of the BlazePose landmarks.
        joint_body: a body with the same joints on fewer vertices (faster; default ``body``).
    """

    def __init__(self, body: SMPLBody, landmark_ids: np.ndarray, joint_body: SMPLBody | None = None) -> None:
        self.body = body
        self.joint_body = joint_body if joint_body is not None else body
        self.ids = torch.as_tensor(np.asarray(landmark_ids), dtype=torch.long)

    @torch.no_grad()
    def __call__(self, betas: np.ndarray, rotmat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Args: betas ``(10,)`` (one shape for the sequence), rotmat ``(N, 24, 3, 3)``.

        Returns: SPIN joints ``(N, 49, 3)``, landmark vertices ``(N, 33, 3)`` and the rest-pose
        pelvis ``(3,)`` (the point the root rotates about), body frame, metres."""
        b = self.body
        n = rotmat.shape[0]
        be = torch.as_tensor(np.asarray(betas).reshape(1, -1), dtype=torch.float32)
        rot = torch.as_tensor(rotmat, dtype=torch.float32)
        joints = self.joint_body.pose(be.expand(n, -1), rot, need_verts=False).joints
        J = vertices2joints(b.J_regressor, b.v_template + blend_shapes(be, b.shapedirs))  # (1, 24, 3)
        _, A = batch_rigid_transform(rot, J.expand(n, -1, -1), b.parents, dtype=torch.float32)
        v_lm = (b.v_template[self.ids] + blend_shapes(be, b.shapedirs[self.ids])).expand(n, -1, -1)  # (N, 33, 3)
        pose_feature = (rot[:, 1:] - torch.eye(3)).reshape(n, -1)
        posedirs = b.posedirs.view(b.posedirs.shape[0], -1, 3)[:, self.ids].reshape(b.posedirs.shape[0], -1)
        lm = b._skin(v_lm, pose_feature, A, posedirs, b.lbs_weights[self.ids])
        return joints.numpy().astype(np.float64), lm.numpy().astype(np.float64), J[0, 0].numpy().astype(np.float64)


@dataclass(frozen=True)
class Camera:
    """Pinhole camera: ``x_cam = R (x_world - centre)``, OpenCV axes (x right, y down, z forward)."""

    R: np.ndarray  # (3, 3)
    centre: np.ndarray  # (3,)
    focal: float  # pixels
    size: tuple[int, int]  # (width, height)

    def project(self, x_cam: np.ndarray) -> np.ndarray:
        """``(..., 3)`` camera points -> ``(..., 2)`` pixels."""
        z = np.maximum(x_cam[..., 2:3], 1e-3)
        return x_cam[..., :2] * self.focal / z + np.array(self.size, np.float64) / 2.0


def sample_camera(rng: np.random.Generator, target: np.ndarray, cfg: SynthConfig, partial: bool) -> Camera:
    """A camera looking at ``target`` (world, +y up) from a random yaw, pitch and distance."""
    size = cfg.image_sizes[rng.integers(len(cfg.image_sizes))]
    vfov = np.deg2rad(rng.uniform(*cfg.vfov_deg))
    focal = size[1] / 2.0 / np.tan(vfov / 2.0)
    if partial:
        dist = max(np.exp(rng.uniform(*np.log(cfg.close_extent))) / (2 * np.tan(vfov / 2)), 0.35)
    else:
        dist = rng.uniform(*cfg.distance)
    yaw = rng.uniform(-np.pi, np.pi)
    pitch = np.deg2rad(rng.uniform(*cfg.pitch_deg))
    aim = np.asarray(target, np.float64).copy()
    if partial:
        # head-and-shoulders / chest (3/4) or legs (1/4)
        aim[1] += rng.uniform(0.5, 0.8) if rng.random() < 0.75 else -0.45 + rng.normal(0, 0.1)
    else:
        aim[1] += rng.normal(0, 0.15)
    # off-centre framing: up to a third of the half field of view
    aim[[0, 2]] += rng.normal(0, 0.12 * dist * np.tan(vfov / 2), size=2)
    d = np.array([np.cos(pitch) * np.sin(yaw), np.sin(pitch), np.cos(pitch) * np.cos(yaw)])
    centre = aim + dist * d
    f = -d
    right = np.cross(f, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    down = np.cross(f, right)
    return Camera(np.stack([right, down, f]), centre, float(focal), (int(size[0]), int(size[1])))


@dataclass
class SyntheticSequence:
    """One synthetic clip: network input, targets and the raw landmarks.

    features ``(N, 231)``; joints2D ``(N, 49, 3)`` crop coordinates + confidence; joints3D
    ``(N, 49, 3)`` metres, camera axes; pose ``(N, 72)`` axis-angle (root in camera axes); shape
    ``(N, 10)``; landmarks ``(N, 33, 3)`` pixels; visibility ``(N, 33)``; world ``(N, 33, 3)``;
    boxes ``(N, 4)``; height_px ``(N,)`` the body's height in pixels.
    """

    features: np.ndarray
    joints2D: np.ndarray
    joints3D: np.ndarray
    pose: np.ndarray
    shape: np.ndarray
    landmarks: np.ndarray
    visibility: np.ndarray
    world: np.ndarray
    boxes: np.ndarray
    height_px: np.ndarray


def _smoothstep(a: float, b: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - a) / (b - a), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def synthesize(rng: np.random.Generator, poser: BodyPoser, rotmat: np.ndarray, trans: np.ndarray,
               cfg: SynthConfig = SynthConfig(), betas: np.ndarray | None = None,
               height: float = 1.7) -> SyntheticSequence | None:
    """Render one motion into MediaPipe-like landmarks and GLoT targets.

    Args:
        rotmat: ``(N, 24, 3, 3)`` SMPL local rotations (pelvis: orientation in the world, +y up).
        trans: ``(N, 3)`` pelvis positions in the world.
        betas: ``(10,)`` shape (default: random).
        height: body height in metres (scales the error model).
    Returns:
        The sequence, or None when the person is never in view.
    """
    n = len(rotmat)
    if betas is None:
        betas = np.clip(rng.normal(0, cfg.shape_sd, 10), -2.5, 2.5)
    partial = rng.random() < cfg.partial_prob
    if partial:  # close shots: the person stays where they are (turning and moving in place)
        trans = trans.copy()
        trans[:, [0, 2]] = trans[:, [0, 2]].mean(0)
    cam = sample_camera(rng, trans.mean(0), cfg, partial)
    rot = rotmat.copy()
    rot[:, 0] = cam.R @ rotmat[:, 0]  # root orientation in camera axes
    joints, lm, pelvis = poser(betas, rot)
    # body frame (root rotated about the rest pelvis) -> camera: + R (pelvis_world - C) - pelvis_rest
    offset = (cam.R @ (trans - cam.centre).T).T - pelvis  # (N, 3)
    joints = joints + offset[:, None]
    lm = lm + offset[:, None]
    if (lm[..., 2] < 0.05).any() or (joints[..., 2] < 0.05).any():
        return None
    Z = joints[:, 39:40, 2]  # (N, 1) depth of the pelvis (MPII)
    h_px = (height * cam.focal / Z)[:, 0]  # (N,)

    uv = cam.project(lm)  # (N, 33, 2)
    up = uv[:, list(_SHOULDERS)].mean(1) - uv[:, list(_HIPS)].mean(1)
    up /= np.maximum(np.linalg.norm(up, axis=1, keepdims=True), 1e-6)  # (N, 2) image direction of the body's up
    off = np.zeros((33,))
    off[list(_SHOULDERS)], off[list(_HIPS)], off[list(_ANKLES)] = cfg.shoulder_up, cfg.hip_up, cfg.ankle_up
    off = off * rng.uniform(0.5, 1.5)
    # visibility: far-side limbs in side views, out-of-image points
    lat = lm[:, 23] - lm[:, 24]  # (N, 3) right hip -> left hip
    lat_z = lat[:, 2] / np.maximum(np.linalg.norm(lat, axis=1), 1e-6)  # > 0: the left side is farther
    far = np.zeros((n, 33))
    far[:, _LEFT] = np.clip(lat_z, 0, 1)[:, None]
    far[:, _RIGHT] = np.clip(-lat_z, 0, 1)[:, None]
    drop = np.array([0.93 if i in _ARM else 0.6 if i in _LEG else 0.4 for i in range(33)])
    vis = 0.99 - drop * _smoothstep(0.45, 0.95, far) - rng.uniform(0, 0.08, (n, 33))
    W, H = cam.size
    inside = (uv[..., 0] > 0) & (uv[..., 0] < W) & (uv[..., 1] > 0) & (uv[..., 1] < H)
    vis = np.where(inside, vis, vis * rng.uniform(0.02, 0.3, (n, 33)))
    vis = np.clip(gaussian_filter1d(vis, 1.0, axis=0), 0.0, 1.0)
    # 2D errors: systematic + per-sequence bias + per-frame noise (larger for guessed points)
    sd = rng.uniform(*cfg.noise_2d) * (1.0 + 0.8 * np.abs(lat_z))[:, None] * (1.0 + 2.0 * (1.0 - vis))
    err = (off[None, :, None] * up[:, None, :] + rng.normal(0, cfg.bias_2d, (1, 33, 2))
           + rng.normal(0, 1.0, (n, 33, 2)) * sd[..., None])
    uv = uv + err * h_px[:, None, None]
    hip_c = lm[:, list(_HIPS)].mean(1, keepdims=True)  # (N, 1, 3)
    z_img = (lm[..., 2] - hip_c[..., 2]) * cam.focal / Z * np.exp(rng.uniform(*np.log(cfg.image_z_gain)))
    z_img = z_img + rng.normal(0, 0.03, (n, 33)) * h_px[:, None]
    world = (lm - hip_c) * rng.uniform(0.95, 1.01)
    world[..., 2] *= rng.uniform(*cfg.depth_keep)
    world = world + rng.normal(0, 0.02, (1, 33, 3)) + rng.normal(0, cfg.world_noise, (n, 33, 3))
    landmarks = np.concatenate([uv, z_img[..., None]], axis=-1)

    swap = rng.random(n) < cfg.swap_prob * (1.0 + 3.0 * np.abs(lat_z))
    perm = np.array(LEFT_RIGHT_SWAP)
    landmarks[swap] = landmarks[swap][:, perm]
    world[swap] = world[swap][:, perm]
    vis[swap] = vis[swap][:, perm]
    detected = inside.sum(1) >= 8
    if rng.random() < cfg.gap_prob and n > 8:
        a = rng.integers(1, n - 6)
        detected[a:a + rng.integers(1, 6)] = False
    if not detected.any():
        return None
    landmarks[~detected] = np.nan
    world[~detected] = np.nan
    vis[~detected] = 0.0

    raw = boxes_from_landmarks(landmarks, vis)
    track = build_track(raw, detected, max_gap=n, min_segment=1)
    boxes = track.boxes
    if not np.isfinite(boxes).all():
        return None
    feats = landmark_features(landmarks, vis, world, boxes)

    uvj = cam.project(joints)  # (N, 49, 2)
    half = 1.2 * boxes[:, None, 2:3] / 2.0
    j2d = (uvj - boxes[:, None, :2]) / half
    conf = (np.abs(j2d) < 1.5).all(-1, keepdims=True)  # joints far outside the crop: no 2D supervision
    j2d = np.concatenate([j2d, conf], axis=-1)
    pose = Rotation.from_matrix(rot.reshape(-1, 3, 3)).as_rotvec().reshape(n, 72)
    return SyntheticSequence(features=feats, joints2D=j2d.astype(np.float32), joints3D=joints.astype(np.float32),
                             pose=pose.astype(np.float32), shape=np.repeat(betas[None], n, 0).astype(np.float32),
                             landmarks=landmarks.astype(np.float32), visibility=vis.astype(np.float32),
                             world=world.astype(np.float32), boxes=boxes.astype(np.float32),
                             height_px=h_px.astype(np.float32))
