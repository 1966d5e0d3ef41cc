"""The motion BVH read back with an independent BVH library (bvhio): hierarchy, frame time, and
world joint positions equal to smplx's posed joints (+ translation) within 1 mm."""
from __future__ import annotations

import numpy as np
import pytest

from glot.body.joints import SMPL_JOINT_NAMES
from glot.export import write_motion_bvh
from helpers_export import C, reference_joints, shown_frame
from helpers_export import body, scene  # noqa: F401 (module fixtures)

try:
    import bvhio
except ImportError as e:  # a missing reader fails the tests, it does not skip them
    raise ImportError("bvhio is a test requirement: pip install -r requirements-dev.txt (make install-dev)") from e


@pytest.mark.parametrize("scale", [1.0, 100.0])
def test_bvh_joint_positions(tmp_path, body, scene, scale):
    m = scene.motion
    path = write_motion_bvh(tmp_path / "motion_final.bvh", body, m, fps=scene.fps, scale=scale)
    container = bvhio.readAsBvh(str(path))
    assert container.FrameCount == m.num_frames
    assert container.FrameTime == pytest.approx(1.0 / scene.fps, rel=1e-6)
    root = bvhio.readAsHierarchy(str(path))
    joints = {j.Name: j for j, _, _ in root.layout()}
    assert set(SMPL_JOINT_NAMES) <= set(joints) and len(joints) == 24
    parents = body.parents.numpy()
    for j, name in enumerate(SMPL_JOINT_NAMES[1:], start=1):
        assert joints[name].Parent.Name == SMPL_JOINT_NAMES[parents[j]]
    frames = [0, 2, 4, 9]  # 0: before the first sighting, 4: in a gap (both hold a pose)
    want = reference_joints(body, m, [shown_frame(m, k) for k in frames])  # camera frame, metres
    for i, k in enumerate(frames):
        root.loadPose(k)
        got = np.stack([np.array(joints[n].PositionWorld) for n in SMPL_JOINT_NAMES]) / scale @ C.T
        err = np.linalg.norm(got - want[i], axis=1)
        assert err.max() < 1e-3, (k, err.max())


def test_bvh_declares_its_conventions(tmp_path, body, scene):
    text = write_motion_bvh(tmp_path / "m.bvh", body, scene.motion, fps=25.0).read_text()
    assert "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation" in text
    assert text.count("CHANNELS 3 Zrotation Xrotation Yrotation") == 23
    assert "Frame Time: 0.04000000" in text
    rows = text.split("Frame Time:")[1].strip().splitlines()[1:]
    assert len(rows) == scene.motion.num_frames and all(len(r.split()) == 6 + 3 * 23 for r in rows)
