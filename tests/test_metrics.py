"""Metrics against the official evaluate.py procedure (fixture section ``metrics``)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from glot.train.metrics import (
    align_by_pelvis, batch_similarity_transform, compute_accel, compute_error_accel, compute_errors,
    evaluate_frames, similarity_transform,
)

MM_TOL = 1e-3  # mm
M_TOL = 1e-6  # metres (= 1e-3 mm)


@pytest.fixture(scope="module")
def m(ref):
    return ref["metrics"]


def _aligned(m):
    return align_by_pelvis(m["pred_j3ds"].clone()), align_by_pelvis(m["target_j3ds"].clone())


def test_per_frame_errors_match_reference(m):
    out = evaluate_frames(m["pred_j3ds"], m["target_j3ds"], m["pred_verts"], m["target_verts"])
    np.testing.assert_allclose(out.mpjpe, m["mpjpe"].numpy(), rtol=0, atol=MM_TOL)
    np.testing.assert_allclose(out.mpjpe_pa, m["mpjpe_pa"].numpy(), rtol=0, atol=MM_TOL)
    np.testing.assert_allclose(out.mpvpe, m["mpvpe"].numpy(), rtol=0, atol=MM_TOL)
    np.testing.assert_allclose(out.accel_err, m["accel_err"].numpy(), rtol=0, atol=MM_TOL)
    np.testing.assert_allclose(out.accel_err_full, m["accel_err_full"].numpy(), rtol=0, atol=MM_TOL)
    means = {"mpjpe": out.mpjpe.mean(), "mpjpe_pa": out.mpjpe_pa.mean(), "mpvpe": out.mpvpe.mean(),
             "accel_err": out.accel_err.mean()}
    for k, v in m["mean"].items():
        assert abs(means[k] - v) < MM_TOL, k


def test_procrustes_batch_and_single(m):
    pred, target = _aligned(m)
    s_batch = batch_similarity_transform(pred, target)
    torch.testing.assert_close(s_batch, m["S1_hat_batch"], rtol=0, atol=M_TOL)
    s_single = torch.stack([similarity_transform(p, t) for p, t in zip(pred, target)])
    torch.testing.assert_close(s_single, m["S1_hat_single"], rtol=0, atol=M_TOL)


def test_accel_and_visibility(m):
    pred, target = _aligned(m)
    np.testing.assert_allclose(compute_accel(pred), m["compute_accel_pred"].numpy(), rtol=0, atol=M_TOL)
    vis = m["vis"].numpy()
    assert not vis.all()  # the mask really drops frames
    got = compute_error_accel(joints_gt=target, joints_pred=pred, vis=vis)
    np.testing.assert_allclose(got, m["compute_error_accel_vis"].numpy(), rtol=0, atol=M_TOL)


def test_compute_errors_numpy_path(m):
    err, err_pa = compute_errors(m["target_j3ds"].double().numpy(), m["pred_j3ds"].double().numpy())
    np.testing.assert_allclose(err, m["compute_errors"]["errors"].numpy(), rtol=0, atol=M_TOL)
    np.testing.assert_allclose(err_pa, m["compute_errors"]["errors_pa"].numpy(), rtol=0, atol=M_TOL)


def test_target_vertices_from_theta(m, smpl_assets):
    """PVE targets are rebuilt from ``target_theta`` with the body (axis-angle, pose2rot)."""
    from glot.config import GLoTConfig
    from glot.train import build_model
    from glot.train.evaluation import target_vertices

    body = build_model(GLoTConfig(d_model=32, num_head=4, short_d_model=32, short_n_layers=1), smpl_assets).body
    verts = target_vertices(body, m["target_theta"])
    np.testing.assert_allclose(verts, m["target_verts"].numpy(), rtol=0, atol=1e-5)
    pve = evaluate_frames(m["pred_j3ds"], m["target_j3ds"], m["pred_verts"], verts).mpvpe
    np.testing.assert_allclose(pve, m["mpvpe"].numpy(), rtol=0, atol=MM_TOL)


def test_valid_frames_restrict_the_scores(m):
    valid = np.ones(24, bool)
    valid[[0, 5, 23]] = False
    out = evaluate_frames(m["pred_j3ds"], m["target_j3ds"], valid=valid)
    np.testing.assert_allclose(out.mpjpe, m["mpjpe"].numpy()[valid], rtol=0, atol=MM_TOL)
    # frames 0 and N-1 never carry an acceleration error
    np.testing.assert_allclose(out.accel_err, m["accel_err_full"].numpy()[np.flatnonzero(valid)], rtol=0, atol=MM_TOL)
