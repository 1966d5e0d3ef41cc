"""SMPLBody.pose (the fast arrangement) against smplx's own lbs on the same buffers."""
import copy

import numpy as np
import pytest
import torch
from smplx.lbs import lbs, vertices2joints

from glot.body.joints import SPIN_JOINT_MAP
from glot.geometry import axis_angle_to_rotmat
from glot.testing import synthetic_smpl_arrays

from helpers_model import body_from_section


@pytest.fixture(scope="module")
def body():
    return body_from_section(synthetic_smpl_arrays(1500, seed=2))


def _smplx_reference(body, betas, rotmat, J_regressor=None):
    verts, J = lbs(betas, rotmat, body.v_template, body.shapedirs, body.posedirs,
                   body.J_regressor, body.parents, body.lbs_weights, pose2rot=False)
    if J_regressor is not None:
        return verts, vertices2joints(J_regressor, verts)[:, body.h36m_to_j14]
    extra_v = verts[:, body.vertex_joint_selector.extra_joints_idxs]
    extra_r = vertices2joints(body.J_regressor_extra, verts)
    return verts, torch.cat([J, extra_v, extra_r], dim=1)[:, torch.tensor(SPIN_JOINT_MAP)]


def _inputs(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 10, generator=g), axis_angle_to_rotmat(torch.randn(n, 24, 3, generator=g) * 0.6)


def test_pose_equals_smplx_lbs(body):
    betas, rot = _inputs(5)
    want_v, want_j = _smplx_reference(body, betas, rot)
    full = body.pose(betas, rot)
    joints_only = body.pose(betas, rot, need_verts=False)
    assert joints_only.verts is None and body._derived().sub is not None  # the vertex-subset path ran
    assert (full.verts - want_v).abs().max() <= 1e-5
    assert (full.joints - want_j).abs().max() <= 1e-5
    assert (joints_only.joints - want_j).abs().max() <= 1e-5


def test_pose_h36m_and_many_meshes(body):
    arr = synthetic_smpl_arrays(1500, seed=2)
    J = torch.from_numpy(arr["J_regressor_h36m"])
    betas, rot = _inputs(40, seed=1)  # several skinning chunks
    want_v, want_j = _smplx_reference(body, betas, rot, J)
    got = body.pose(betas, rot, J_regressor=J)
    assert (got.verts - want_v).abs().max() <= 1e-5
    assert (got.joints - want_j).abs().max() <= 1e-5 and got.joints.shape == (40, 14, 3)


def test_zero_pose_blend_shapes_and_buffer_changes(body):
    b = copy.deepcopy(body)
    with torch.no_grad():
        b.posedirs.zero_()  # as the open body: the pose-blend product is skipped
    betas, rot = _inputs(3, seed=2)
    want_v, _ = _smplx_reference(b, betas, rot)
    assert b._derived().posedirs is None
    assert (b.pose(betas, rot).verts - want_v).abs().max() <= 1e-5
    with torch.no_grad():
        b.v_template.add_(0.5)  # an in-place edit rebuilds the derived tensors
    want_v, want_j = _smplx_reference(b, betas, rot)
    got = b.pose(betas, rot)
    assert (got.verts - want_v).abs().max() <= 1e-5 and (got.joints - want_j).abs().max() <= 1e-5


def test_pose_keeps_gradients(body):
    betas, rot = _inputs(2, seed=3)
    betas.requires_grad_(True)
    with torch.inference_mode():
        body.pose(betas.detach(), rot)  # derived tensors made inside inference mode ...
    out = body.pose(betas, rot, need_verts=False).joints.sum()  # ... still usable with autograd
    out.backward()
    assert betas.grad is not None and np.isfinite(betas.grad.numpy()).all()


def test_full_mesh_gradients(body):
    betas, rot = _inputs(20, seed=4)
    rot.requires_grad_(True)
    body.pose(betas, rot).verts.square().sum().backward()
    assert rot.grad is not None and torch.isfinite(rot.grad).all()
