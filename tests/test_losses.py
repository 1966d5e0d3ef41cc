"""Training losses against values worked out by hand on a tiny batch (the official ``GLoTLoss``
reductions: confidence weighting, hip centring, the mean over every supervised row, zero-padded
velocities / accelerations counted in the mean, masks that multiply without renormalising)."""
from __future__ import annotations

import math

import pytest
import torch

from glot.model.outputs import BodyOutput, GLoTOutput
from glot.train import GLoTLoss, LossConfig, branch_losses

B, S = 2, 3
W = LossConfig(kp_2d=2.0, kp_3d=3.0, pose=5.0, shape=7.0, vel_2d=11.0, vel_3d=13.0)  # distinct weights
N2 = B * S * 49 * 2  # elements of the 2D means (every row, padded ones included)
T_ = (0.3, -0.2, 0.1)  # a whole-body translation: |t|^2 = 0.14
ANGLE = 0.7  # rotation of one joint about z: |I - Rz|_F^2 = 4 (1 - cos a)


def _body(kp_2d, kp_3d, rotmat, betas) -> BodyOutput:
    lead = kp_2d.shape[:-2]
    z = torch.zeros(*lead, 1)
    return BodyOutput(theta=z, verts=None, kp_2d=kp_2d, kp_3d=kp_3d, rotmat=rotmat, pose6d=z, betas=betas, cam=z)


def _batch(lead=(B, S), seed=0):
    """Targets with random joints and identity poses, and a prediction equal to them."""
    g = torch.Generator().manual_seed(seed)
    kp2 = torch.cat([torch.rand(*lead, 49, 2, generator=g), torch.ones(*lead, 49, 1)], dim=-1)
    kp3 = torch.randn(*lead, 49, 3, generator=g)
    theta = torch.zeros(*lead, 85)
    theta[..., 75:] = torch.randn(*lead, 10, generator=g)
    target = {"kp_2d": kp2, "kp_3d": kp3, "theta": theta, "w_3d": torch.ones(lead), "w_smpl": torch.ones(lead)}
    rot = torch.eye(3).expand(*lead, 24, 3, 3).clone()
    pred = _body(kp2[..., :2].clone(), kp3.clone(), rot, theta[..., 75:].clone())
    return pred, target


def _perturbed():
    """The tiny batch of the hand computations below (B = 2 samples, S = 3 frames)."""
    pred, tgt = _batch()
    # 2D: joint 30 of (0, 1) off by 0.1 in x with confidence 0.5; joint 5 of (1, 2) off by 0.2 in y;
    # joint 7 of (1, 0) off by 5 but with confidence 0
    tgt["kp_2d"][0, 1, 30, 2] = 0.5
    pred.kp_2d[0, 1, 30, 0] += 0.1
    pred.kp_2d[1, 2, 5, 1] += 0.2
    tgt["kp_2d"][1, 0, 7, 2] = 0.0
    pred.kp_2d[1, 0, 7, 0] += 5.0
    # 3D (frames without 3D: (1, 2)): (0, 0) translated as a whole; (0, 2), the last frame, LSP
    # joint 10 (SPIN 35) off by 0.3 in y; (1, 1) one hip (LSP joint 2 = SPIN 27) moved by 0.2 in x;
    # (1, 2) LSP joint 5 (SPIN 30) moved by (1, 1, 1)
    tgt["w_3d"][1, 2] = 0.0
    pred.kp_3d[0, 0] += torch.tensor(T_)
    pred.kp_3d[0, 2, 35, 1] += 0.3
    pred.kp_3d[1, 1, 27, 0] += 0.2
    pred.kp_3d[1, 2, 30] += 1.0
    # SMPL (frames without SMPL: (1, 0)): joint 4 of (0, 2) rotated by ANGLE about z in the target;
    # beta 3 of (0, 0) off by 0.5; (1, 0) wildly wrong but unsupervised
    tgt["w_smpl"][1, 0] = 0.0
    tgt["theta"][0, 2, 3 + 3 * 4 + 2] = ANGLE
    pred.betas[0, 0, 3] += 0.5
    pred.rotmat[1, 0, 0] = -torch.eye(3)
    pred.betas[1, 0] += 9.0
    return pred, tgt


def test_each_term_equals_the_hand_computed_value():
    pred, tgt = _perturbed()
    got = branch_losses(pred, tgt, W)
    rows3d, rows_smpl = 5, 5  # supervised rows: the mean's denominator counts all of them
    expect = {
        # confidence-weighted squares over every 2D element; the zero-confidence joint is free
        "kp_2d": 2.0 * (0.5 * 0.1 ** 2 + 0.2 ** 2) / N2,
        # hip-centred: the translated frame costs nothing; the moved hip moves the centre by half
        # of it, so all 14 joints are off by 0.1 in x; the frame without 3D is ignored
        "kp_3d": 3.0 * (0.3 ** 2 + 14 * 0.1 ** 2) / (rows3d * 14 * 3),
        # velocities p[s+1] - p[s], zero-padded at the end, confidence of the first frame:
        # (0, 0->1) +0.1 conf 1, (0, 1->2) -0.1 conf 0.5, (1, 1->2) +0.2 conf 1, (1, 0->1) conf 0
        "vel_2d": 11.0 * (0.1 ** 2 + 0.5 * 0.1 ** 2 + 0.2 ** 2) / N2,
        # not centred: the translation shows as -t at (0, 0->1), the last frame's 0.3 at (0, 1->2)
        # and not after it (zero padding); the hip +-0.2 at (1, 0->1) and (1, 1->2); (1, 1->2) also
        # carries the (1, 1, 1) of frame (1, 2) (rows keep the first frame's 3D flag, as the official loss)
        "vel_3d": 13.0 * (14 * 0.14 + 0.3 ** 2 + 0.2 ** 2 + 0.2 ** 2 + 3.0) / (rows3d * 14 * 3),
        "pose": 5.0 * 4 * (1 - math.cos(ANGLE)) / (rows_smpl * 24 * 9),
        "shape": 7.0 * 0.5 ** 2 / (rows_smpl * 10),
    }
    assert set(got) == set(expect)
    for k, v in expect.items():
        assert float(got[k]) == pytest.approx(v, rel=1e-5, abs=1e-12), k


def test_masks_multiply_without_renormalising():
    pred, tgt = _perturbed()
    mask = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    got = branch_losses(pred, tgt, W, mask=mask, param_mask=mask)
    expect = {
        "kp_2d": 2.0 * (0.5 * 0.1 ** 2) / N2,  # (1, 2) is unmasked: dropped
        "kp_3d": 0.0,  # the errors, (0, 2) and (1, 1), are unmasked
        "vel_2d": 11.0 * (0.1 ** 2 + 0.5 * 0.1 ** 2) / N2,  # rows (0, 0), (0, 1) kept
        "vel_3d": 13.0 * (14 * 0.14 + 0.3 ** 2) / (5 * 14 * 3),  # rows (0, 0), (0, 1) kept, same denominator
        "pose": 0.0,  # (0, 2) unmasked
        "shape": 7.0 * 0.5 ** 2 / (5 * 10),
    }
    for k, v in expect.items():
        assert float(got[k]) == pytest.approx(v, rel=1e-5, abs=1e-12), k
    # keypoint mask only: the parameter terms see every supervised frame
    kp_only = branch_losses(pred, tgt, W, mask=mask)
    assert float(kp_only["pose"]) == pytest.approx(5.0 * 4 * (1 - math.cos(ANGLE)) / (5 * 24 * 9), rel=1e-5)


def test_acceleration_terms_pad_both_ends():
    pred, tgt = _perturbed()
    got = branch_losses(pred, tgt, LossConfig(kp_2d=0, kp_3d=0, pose=0, shape=0, vel_2d=11.0, vel_3d=13.0,
                                              use_accel=True))
    # only row 1 has an acceleration p0 - 2 p1 + p2; confidence of the middle frame (1):
    # (0): -0.2 at joint 30 (conf 0.5); (1): +0.2 at joint 5 (conf 1) and +5 at joint 7 (conf 1 at frame 1)
    assert float(got["vel_2d"]) == pytest.approx(11.0 * (0.5 * 0.2 ** 2 + 0.2 ** 2 + 25.0) / N2, rel=1e-5)
    # 3D: (0): +t on all 14 joints, at LSP joint 10 t + (0, 0.3, 0) = (0.3, 0.1, 0.1);
    # (1): -2 * 0.2 at the hip and (1, 1, 1) at joint 5; 5 supervised rows
    expect = 13 * 0.14 + 0.11 + 0.4 ** 2 + 3.0
    assert float(got["vel_3d"]) == pytest.approx(13.0 * expect / (5 * 14 * 3), rel=1e-5)


def test_no_smpl_rows_no_parameter_terms():
    pred, tgt = _perturbed()
    tgt["w_smpl"][:] = 0.0
    assert set(branch_losses(pred, tgt, W)) == {"kp_2d", "kp_3d", "vel_2d", "vel_3d"}
    tgt["w_3d"][:] = 0.0  # 2D-only data: 3D terms are zero (not NaN)
    got = branch_losses(pred, tgt, W)
    assert float(got["kp_3d"]) == 0.0 and float(got["vel_3d"]) == 0.0


def test_glot_loss_splits_global_and_local_branches():
    T = 5
    pred_g, tgt = _batch((B, T), seed=1)
    pred_g.kp_2d[0, 0, 12, 0] += 0.3  # frame 0: only the global branch sees it
    pred_g.kp_2d[1, 3, 12, 1] += 0.1  # frame 3
    mask = torch.zeros(B, T, dtype=torch.bool)
    mask[0, 0] = True  # hidden from the global encoder: supervised; (1, 3) visible: not
    centre = slice(T // 2 - 1, T // 2 + 2)  # the local branch predicts frames 1, 2, 3
    pred_l, _ = _batch((B, T), seed=1)
    pred_l = pred_l.map(lambda t: t[:, centre].clone())
    pred_l.kp_2d[1, 2, 12, 1] += 0.1  # its third frame is frame 3
    out = GLoTOutput(final=pred_l, global_=pred_g, mask=mask, debug=None)
    w = LossConfig(kp_2d=1.0, kp_3d=0, pose=0, shape=0, vel_2d=0, vel_3d=0)
    total, terms = GLoTLoss(w)(out, {**tgt, "features": torch.zeros(B, T, 4)})
    assert float(terms["kp_2d_global"]) == pytest.approx(0.3 ** 2 / (B * T * 98), rel=1e-5)
    assert float(terms["kp_2d_local"]) == pytest.approx(0.1 ** 2 / (B * 3 * 98), rel=1e-5)
    assert float(total) == pytest.approx(sum(float(v) for v in terms.values()), rel=1e-6)
    # "none": no mask on the global branch, both offsets count
    _, plain = GLoTLoss(LossConfig(kp_2d=1.0, kp_3d=0, pose=0, shape=0, vel_2d=0, vel_3d=0, global_mask="none"))(
        out, tgt)
    assert float(plain["kp_2d_global"]) == pytest.approx((0.3 ** 2 + 0.1 ** 2) / (B * T * 98), rel=1e-5)


def test_cross_window_terms_equal_the_hand_computed_values():
    from glot.train.losses import chain_losses

    K, T = 3, 4  # 3 consecutive windows of 4 frames: a chain of 6; centre frames 2, 3, 4
    g = torch.Generator().manual_seed(2)
    chain = {"kp_3d": torch.randn(1, T + K - 1, 49, 3, generator=g),
             "kp_2d": torch.cat([torch.rand(1, T + K - 1, 49, 2, generator=g), torch.ones(1, T + K - 1, 49, 1)], -1),
             "w_3d": torch.ones(1, T + K - 1)}
    chain["kp_2d"][0, 3, 12, 2] = 0.5  # confidence of the middle centre frame at joint 12
    kp3 = chain["kp_3d"][0, T // 2:T // 2 + K].clone()  # window k predicts frame T//2 + k
    kp2 = chain["kp_2d"][0, T // 2:T // 2 + K, :, :2].clone()
    kp3[1, 35, 1] += 0.3  # window 1: LSP joint 10 off by 0.3 in y
    kp3[2, 27, 0] += 0.2  # window 2: a hip off by 0.2 in x -> after centring all 14 joints by 0.1
    kp2[1, 12, 0] += 0.1
    z = torch.zeros(K, 1)
    final = BodyOutput(theta=z, verts=None, kp_2d=kp2, kp_3d=kp3, rotmat=z, pose6d=z, betas=z, cam=z)
    cfg = LossConfig(chain_vel_3d=2.0, chain_accel_3d=3.0, chain_accel_2d=5.0)
    got = chain_losses(final, chain, cfg)
    # velocities (K - 1 = 2 rows): +0.3, then -0.3 and the centred hip (14 x 0.1^2)
    assert float(got["chain_vel_3d"]) == pytest.approx(2.0 * (0.09 + 0.09 + 0.14) / (2 * 14 * 3), rel=1e-5)
    # acceleration (1 row): -2 * 0.3 at joint 10, the hip's 0.1 on 14 joints
    assert float(got["chain_accel_3d"]) == pytest.approx(3.0 * (0.36 + 0.14) / (1 * 14 * 3), rel=1e-5)
    assert float(got["chain_accel_2d"]) == pytest.approx(5.0 * 0.5 * 0.2 ** 2 / (1 * 49 * 2), rel=1e-5)
    chain["w_3d"][0, 4] = 0.0  # a centre frame without 3D: the sample gives no 3D term
    got = chain_losses(final, chain, cfg)
    assert float(got["chain_vel_3d"]) == 0.0 and float(got["chain_accel_3d"]) == 0.0
