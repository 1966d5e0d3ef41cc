"""Rotation conversions and cameras against the official reference outputs."""
import numpy as np
import torch

from glot.camera import crop_cam_to_orig_img, project_weak_perspective
from glot.geometry import axis_angle_to_rotmat, rot6d_to_rotmat, rotmat_to_axis_angle, rotmat_to_rot6d


def test_rot6d_to_rotmat_matches_official(ref):
    g = ref["geometry"]
    out = rot6d_to_rotmat(g["rot6d_in"])
    assert out.shape == (72, 3, 3)
    assert (out - g["rot6d_to_rotmat_out"]).abs().max() <= 1e-5


def test_rotmat_to_axis_angle_matches_official_including_near_pi(ref):
    g = ref["geometry"]
    out = rotmat_to_axis_angle(g["rotmat_in"])
    diff = (out - g["rotation_matrix_to_angle_axis_out"]).abs().max(dim=1).values
    kinds = g["rotmat_kind"]
    assert diff.max() <= 1e-5, [(k, float(d)) for k, d in zip(kinds, diff) if d > 1e-5]


def test_axis_angle_round_trip():
    torch.manual_seed(0)
    aa = torch.randn(100, 3)
    aa = aa / aa.norm(dim=1, keepdim=True) * torch.rand(100, 1) * 3.0  # angles < pi
    R = axis_angle_to_rotmat(aa)
    assert torch.allclose(R @ R.transpose(1, 2), torch.eye(3).expand(100, 3, 3), atol=1e-5)
    assert torch.allclose(rotmat_to_axis_angle(R), aa, atol=1e-4)
    assert torch.allclose(rot6d_to_rotmat(rotmat_to_rot6d(R)), R, atol=1e-6)


def test_crop_cam_to_orig_img_matches_official(ref):
    for case in ref["crop"]["convert_crop_cam_to_orig_img"]:
        out = crop_cam_to_orig_img(case["cam"].numpy(), case["bbox"].numpy(), case["img_width"], case["img_height"])
        np.testing.assert_allclose(out, case["orig_cam"].numpy(), rtol=0, atol=1e-9)


def test_weak_perspective_projection_centre_and_scale():
    # a point at the body origin projects to (tx, ty)-shifted centre; scale s doubles the offset
    pts = torch.tensor([[[0.0, 0.0, 0.0], [0.1, 0.0, 0.0]]])
    cam1 = torch.tensor([[1.0, 0.0, 0.0]])
    cam2 = torch.tensor([[2.0, 0.0, 0.0]])
    p1, p2 = project_weak_perspective(pts, cam1), project_weak_perspective(pts, cam2)
    assert torch.allclose(p1[0, 0], torch.zeros(2))
    assert abs(float(p2[0, 1, 0]) / float(p1[0, 1, 0]) - 2.0) < 1e-3
