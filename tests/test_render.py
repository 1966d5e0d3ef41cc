"""CPU renderer, projection, overlay panels and the mp4 writer (synthetic meshes, offline)."""
from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
import torch
import trimesh

from glot.camera import crop_cam_to_orig_img, project_weak_perspective
from glot.render import (FINAL_COLOR, GLOBAL_COLOR, MeshRenderer, PersonMesh, VideoWriter, camera_depth,
                         draw_skeleton, hstack_panels, overlay_frame, overlay_panels, person_mesh, person_shade,
                         project_orig_cam, rasterize, rasterize_people)
from glot.render.colors import NUM_SHADES

W, H = 160, 120


def _pixel_cam(scale_px: float, cx: float, cy: float, w: int = W, h: int = H) -> np.ndarray:
    """orig_cam mapping 1 m to ``scale_px`` pixels with the origin at pixel ``(cx, cy)``."""
    sx, sy = 2 * scale_px / w, 2 * scale_px / h
    return np.array([sx, sy, (2 * cx / w - 1) / sx, (2 * cy / h - 1) / sy])


# The identity-like camera for screen-space tests: 1 unit = 1 pixel, origin at pixel (0, 0).
PIX = _pixel_cam(1.0, 0.0, 0.0)


def test_projection_formula_and_pixel_hit():
    cam = np.array([0.4, 0.6, 0.3, -0.2])
    p = np.array([[0.25, -0.1, 0.7]], dtype=np.float32)
    u, v, d = project_orig_cam(p, cam, W, H)[0]
    assert u == pytest.approx((0.4 * (0.25 + 0.3) + 1) * W / 2, abs=1e-4)
    assert v == pytest.approx((0.6 * (-0.1 - 0.2) + 1) * H / 2, abs=1e-4)
    assert d == pytest.approx(0.7)
    # A point placed by the inverse formula at pixel (97.4, 49.6), i.e. near the centre of
    # column 97, row 49: a small triangle around it covers exactly that pixel.
    u, v = 97.4, 49.6
    q = np.array([(2 * u / W - 1) / cam[0] - cam[2], (2 * v / H - 1) / cam[1] - cam[3], 0.5])
    ex, ey = 0.45 / (cam[0] * W / 2), 0.45 / (cam[1] * H / 2)  # 0.45 px in metres
    tri = (q + np.array([[-ex, ey, 0], [ex, ey, 0], [0, -ey, 0]])).astype(np.float32)
    mask = MeshRenderer(np.array([[0, 1, 2]]), W, H, cull_back_faces=False).render_mask(tri, cam)
    assert np.argwhere(mask).tolist() == [[49, 97]]


def test_orig_cam_matches_crop_camera():
    """Through crop_cam_to_orig_img, pixels = box centre + crop projection * box size / 2."""
    cam = np.array([[0.9, 0.05, 0.2]])
    bbox = np.array([[300.0, 200.0, 180.0]])
    pts = np.array([[0.3, -0.4, 0.0], [-0.2, 0.5, 0.0]], dtype=np.float32)
    orig = crop_cam_to_orig_img(cam, bbox, 640, 480)[0]
    uv = project_orig_cam(pts, orig, 640, 480)[:, :2]
    crop = project_weak_perspective(torch.from_numpy(pts)[None], torch.tensor(cam, dtype=torch.float32))[0].numpy()
    expected = bbox[0, :2] + crop * bbox[0, 2] / 2
    np.testing.assert_allclose(uv, expected, atol=0.05)  # crop projection is perspective at 5000 px


def _quad(x0, y0, x1, y1, z0, z1=None):
    """Two front-facing triangles covering the pixel rectangle, depth linear in x from z0 to z1."""
    z1 = z0 if z1 is None else z1
    v = np.array([[x0, y0, z0], [x1, y0, z1], [x1, y1, z1], [x0, y1, z0]], dtype=np.float32)
    return v, np.array([[0, 2, 1], [0, 3, 2]])


def test_front_face_orientation():
    v, f = _quad(10, 10, 50, 50, 1.0)
    n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    assert (n[:, 2] < 0).all()  # normals point at the camera (-z)
    assert rasterize(project_orig_cam(v, PIX, W, H), f, W, H).face.size == 40 * 40


@pytest.mark.parametrize("near_first", [True, False])
def test_occlusion_nearer_wins_regardless_of_order(near_first):
    near, nf = _quad(20, 20, 80, 80, 1.0)
    far, ff = _quad(50, 50, 120, 100, 2.0)
    parts = [(near, nf), (far, ff)] if near_first else [(far, ff), (near, nf)]
    verts = np.concatenate([parts[0][0], parts[1][0]])
    faces = np.concatenate([parts[0][1], parts[1][1] + 4])
    frags = rasterize(project_orig_cam(verts, PIX, W, H), faces, W, H)
    face = np.full((H, W), -1)
    face[frags.ys, frags.xs] = frags.face
    near_ids = {0, 1} if near_first else {2, 3}
    assert set(np.unique(face[50:80, 50:80])) <= near_ids  # overlap: nearer quad
    assert set(np.unique(face[85:100, 85:120])).isdisjoint(near_ids)  # far quad alone
    assert (face >= 0).sum() == 60 * 60 + 70 * 50 - 30 * 30


def test_per_pixel_depth_for_intersecting_surfaces():
    """A tilted quad pierces a flat one: each wins on its own side (a painter would fail)."""
    flat, ff = _quad(20, 20, 100, 100, 1.0)
    tilt, tf = _quad(20, 40, 100, 80, 0.0, 2.0)  # depth 0 at x=20 ... 2 at x=100, crosses 1 at x=60
    frags = rasterize(project_orig_cam(np.concatenate([flat, tilt]), PIX, W, H), np.concatenate([ff, tf + 4]), W, H)
    face = np.full((H, W), -1)
    face[frags.ys, frags.xs] = frags.face
    assert (face[40:80, 20:59] >= 2).all() and (face[40:80, 61:100] < 2).all()
    depth = np.full((H, W), np.nan, np.float32)
    depth[frags.ys, frags.xs] = frags.depth
    np.testing.assert_allclose(depth[50, 30], (30.5 - 20) / 80 * 2, atol=1e-4)


def _sphere(radius=0.5, center=(0.1, -0.2, 0.0), subdivisions=3):
    m = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    return (m.vertices + center).astype(np.float32), np.asarray(m.faces)


def test_mask_lies_where_vertices_project():
    verts, faces = _sphere()
    cam = np.array([0.6, 0.8, 0.2, 0.1])  # sx != sy: an ellipse on screen
    mask = MeshRenderer(faces, W, H).render_mask(verts, cam)
    uv = project_orig_cam(verts, cam, W, H)[:, :2]
    ys, xs = np.nonzero(mask)
    # Pixel centres are at i + 0.5: the covered range hugs the projected extent.
    assert abs(xs.min() + 0.5 - uv[:, 0].min()) <= 1.0 and abs(xs.max() + 0.5 - uv[:, 0].max()) <= 1.0
    assert abs(ys.min() + 0.5 - uv[:, 1].min()) <= 1.0 and abs(ys.max() + 0.5 - uv[:, 1].max()) <= 1.0
    centre = project_orig_cam(np.array([[0.1, -0.2, 0.0]]), cam, W, H)[0, :2]
    np.testing.assert_allclose([xs.mean() + 0.5, ys.mean() + 0.5], centre, atol=0.5)
    # The silhouette is the projected ellipse (semi-axes 0.5 * s * size / 2), sampled at pixel centres.
    gy, gx = np.mgrid[0:H, 0:W] + 0.5
    a, b = 0.5 * cam[0] * W / 2, 0.5 * cam[1] * H / 2
    ellipse = ((gx - centre[0]) / a) ** 2 + ((gy - centre[1]) / b) ** 2 <= 1.0
    assert (mask & ellipse).sum() / (mask | ellipse).sum() > 0.98


def test_person_is_upright_in_image():
    verts, faces = person_mesh(20, 24)
    mask = MeshRenderer(faces, W, H).render_mask(verts, _pixel_cam(60.0, 80.0, 60.0))
    rows = np.nonzero(mask.any(1))[0]
    head_row, feet_row = rows.min(), rows.max()
    assert head_row < 60 < feet_row
    # The head (top) is narrower than the torso: -y in the camera frame is up in the image.
    assert mask[head_row + 3].sum() < mask[60 - 20].sum()


def test_back_face_culling():
    v, f = _quad(10, 10, 50, 50, 1.0)
    flipped = f[:, ::-1]
    screen = project_orig_cam(v, PIX, W, H)
    assert rasterize(screen, flipped, W, H, cull_back_faces=True).face.size == 0
    assert rasterize(screen, flipped, W, H, cull_back_faces=False).face.size == 40 * 40
    # Closed mesh: culling keeps exactly the front surface (depth = the z-buffer's nearest).
    verts, faces = _sphere(subdivisions=2)
    cam = np.array([0.6, 0.8, 0.0, 0.0])
    culled = MeshRenderer(faces, W, H).rasterize(verts, cam)
    full = MeshRenderer(faces, W, H, cull_back_faces=False).rasterize(verts, cam)
    np.testing.assert_array_equal(culled.mask(), full.mask())
    np.testing.assert_allclose(culled.depth, full.depth, atol=1e-6)
    assert culled.depth.mean() < 0.0  # the near hemisphere of a sphere centred at z = 0


def test_lambert_headlight_shading():
    """Flat shading: a face toward the camera gets ambient + diffuse, one at 60 degrees half the diffuse."""
    r = MeshRenderer(np.array([[0, 2, 1]]), W, H, ambient=0.2, diffuse=0.8, smooth=False)
    img = np.zeros((H, W, 3), np.uint8)
    tri = np.array([[10, 10, 1], [60, 10, 1], [10, 60, 1]], dtype=np.float32)
    out = r.render(img, tri, PIX, color=(1.0, 0.5, 0.0), alpha=1.0)
    np.testing.assert_array_equal(out[15, 15], [255, 128, 0])
    c, s = np.cos(np.pi / 3), np.sin(np.pi / 3)
    tilted = tri.copy()
    tilted[:, 2] = 1 + (tilted[:, 0] - 10) * s / c  # surface tilted 60 degrees about y
    tilted[:, 0] = 10 + (tilted[:, 0] - 10)  # same screen footprint
    out = r.render(img, tilted, PIX, color=(1.0, 1.0, 1.0), alpha=1.0)
    assert out[15, 15, 0] == pytest.approx(255 * (0.2 + 0.8 * 0.5), abs=1)


def test_alpha_blend_leaves_background_untouched():
    verts, faces = _sphere()
    cam = np.array([0.6, 0.8, 0.2, 0.1])
    r = MeshRenderer(faces, W, H)
    img = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    before = img.copy()
    out = r.render(img, verts, cam, color=(0.9, 0.3, 0.2), alpha=0.6)
    mask = r.render_mask(verts, cam)
    np.testing.assert_array_equal(img, before)  # input not modified
    np.testing.assert_array_equal(out[~mask], img[~mask])
    assert (out[mask] != img[mask]).any(axis=1).mean() > 0.95
    # Blend formula on a flat quad facing the camera (shade = ambient + diffuse = 1).
    qv, qf = _quad(10, 10, 30, 30, 1.0)
    q = MeshRenderer(qf, W, H).render(img, qv, PIX, color=(1.0, 0.0, 0.0), alpha=0.5)
    expected = 0.5 * np.array([255.0, 0, 0]) + 0.5 * img[15:25, 15:25].astype(np.float32)
    np.testing.assert_allclose(q[15:25, 15:25], expected, atol=1.0)


def test_empty_and_offscreen_meshes():
    verts, faces = _sphere()
    r = MeshRenderer(faces, W, H)
    img = np.full((H, W, 3), 7, np.uint8)
    np.testing.assert_array_equal(r.render(img, verts + [100.0, 0, 0], np.array([0.6, 0.8, 0, 0])), img)
    with pytest.raises(ValueError):
        r.render(np.zeros((H + 1, W, 3), np.uint8), verts, np.array([0.6, 0.8, 0, 0]))


def test_overlay_panels_layout_and_passthrough():
    verts, faces = _sphere()
    cam = np.array([0.6, 0.8, 0.2, 0.1])
    r = MeshRenderer(faces, W, H)
    frame = np.random.default_rng(1).integers(0, 256, (H, W, 3), dtype=np.uint8)
    out = overlay_panels(r, frame, cam, verts, verts + [0.3, 0, 0])
    assert out.shape == (H, 3 * W, 3) and out.dtype == np.uint8
    body = slice(30, H)  # below the labels
    mask = r.render_mask(verts, cam)
    np.testing.assert_array_equal(out[body, :W], frame[body])
    assert not np.array_equal(out[body, W:2 * W], out[body, 2 * W:])  # two different meshes
    np.testing.assert_array_equal(out[body, W:2 * W][~mask[body]], frame[body][~mask[body]])
    assert (out[:20, :W] != frame[:20]).any()  # label drawn in the corner
    empty = overlay_panels(r, frame, None, None, None)
    for k in range(3):
        np.testing.assert_array_equal(empty[body, k * W:(k + 1) * W], frame[body])
    plain = hstack_panels([frame, frame], labels=None)
    assert plain.shape == (H, 2 * W, 3) and np.array_equal(plain[:, W:], frame)


def test_draw_skeleton():
    img = np.zeros((H, W, 3), np.uint8)
    joints = np.array([[20.0, 20.0], [100.0, 20.0], [60.0, 90.0]])
    out = draw_skeleton(img, joints, bones=[(0, 1), (1, 2)], confidence=np.array([1.0, 1.0, 0.0]),
                        joint_color=(255, 0, 0), bone_color=(0, 255, 0))
    assert img.max() == 0  # copy
    np.testing.assert_array_equal(out[20, 20], [255, 0, 0])
    np.testing.assert_array_equal(out[20, 60], [0, 255, 0])  # bone 0-1
    assert out[60:95, 55:65].max() == 0 and out[50:60, 75:85].max() == 0  # joint 2 hidden, bone 1-2 skipped


@pytest.mark.parametrize("fps", [Fraction(30000, 1001), 25.0])
def test_video_writer_round_trip(tmp_path, fps):
    path = tmp_path / "sub" / "clip.mp4"
    n = 9
    with VideoWriter(path, fps=fps) as w:
        for i in range(n):
            w.write(np.full((47, 65, 3), 20 * i + 10, np.uint8))  # odd size -> padded to even
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264" and s.average_rate == Fraction(fps)
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == n and frames[0].shape == (48, 66, 3)
    np.testing.assert_allclose([f.mean() for f in frames], [20 * i + 10 for i in range(n)], atol=3)


def test_video_writer_rejects_size_change(tmp_path):
    with VideoWriter(tmp_path / "a.mp4", fps=10) as w:
        w.write(np.zeros((32, 32, 3), np.uint8))
        with pytest.raises(ValueError):
            w.write(np.zeros((32, 34, 3), np.uint8))


# ---------------------------------------------------------------- several people per panel


def test_people_share_one_zbuffer_nearer_hides_farther():
    """Two overlapping spheres: the nearer one wins exactly where they overlap, whatever the order."""
    verts, faces = _sphere(radius=0.5, center=(0.0, 0.0, 0.0))
    r = MeshRenderer(faces, W, H)
    img = np.random.default_rng(2).integers(0, 256, (H, W, 3), dtype=np.uint8)
    near = PersonMesh(verts, np.array([0.6, 0.8, -0.3, 0.0]), (0.9, 0.2, 0.2), depth=2.0)
    far = PersonMesh(verts, np.array([0.6, 0.8, 0.2, 0.1]), (0.2, 0.9, 0.2), depth=3.0)
    m_near, m_far = r.render_mask(near.verts, near.orig_cam), r.render_mask(far.verts, far.orig_cam)
    overlap = m_near & m_far
    assert overlap.sum() > 200 and (m_far & ~m_near).sum() > 200  # a real overlap, and a visible rest
    alone_near = r.render(img, near.verts, near.orig_cam, near.color)
    alone_far = r.render(img, far.verts, far.orig_cam, far.color)
    out = r.render_people(img, [far, near])
    np.testing.assert_array_equal(out[m_near], alone_near[m_near])  # incl. the overlap: nearer on top
    np.testing.assert_array_equal(out[m_far & ~m_near], alone_far[m_far & ~m_near])
    np.testing.assert_array_equal(out[~(m_near | m_far)], img[~(m_near | m_far)])  # nothing else changes
    np.testing.assert_array_equal(r.render_people(img, [near, far]), out)  # order does not matter
    # Swap the depths: now the other sphere shows in the overlap.
    swapped = r.render_people(img, [PersonMesh(near.verts, near.orig_cam, near.color, depth=4.0), far])
    np.testing.assert_array_equal(swapped[overlap], alone_far[overlap])


def test_people_depth_from_camera_scale():
    """Without explicit depths, the person drawn larger (larger sx) is the nearer one."""
    verts, faces = _sphere(radius=0.5, center=(0.0, 0.0, 0.0))
    r = MeshRenderer(faces, W, H)
    big, small = np.array([0.8, 1.0, 0.0, 0.0]), np.array([0.5, 0.66, 0.3, 0.0])
    assert camera_depth(big, W, H) < camera_depth(small, W, H)
    assert camera_depth(big, W, H) == pytest.approx(camera_depth(big, 2 * W, 2 * H))  # resize-invariant
    img = np.zeros((H, W, 3), np.uint8)
    out = r.render_people(img, [(verts, small, (0.0, 1.0, 0.0)), (verts, big, (1.0, 0.0, 0.0))], alpha=1.0)
    overlap = r.render_mask(verts, big) & r.render_mask(verts, small)
    assert overlap.sum() > 200
    assert (out[overlap][:, 0] > 0).all() and (out[overlap][:, 1] == 0).all()  # red (big) in front


def test_rasterize_people_per_pixel_depth_across_people():
    """A tilted quad (person 1) pierces a flat one (person 0): each wins on its own side, so people
    are z-buffered per pixel, not sorted whole (a painter's order would fail one side)."""
    flat, f = _quad(20, 20, 100, 100, 1.0)
    tilt, _ = _quad(20, 40, 100, 80, 0.0, 2.0)  # depth crosses 1 at x = 60
    screens = np.stack([project_orig_cam(flat, PIX, W, H), project_orig_cam(tilt, PIX, W, H)])
    zb = rasterize_people(screens, f, W, H)
    person = np.full((H, W), -1)
    person[zb.y0:zb.y0 + zb.ids.shape[0], zb.x0:zb.x0 + zb.ids.shape[1]] = np.where(zb.ids >= 0, zb.ids // 2, -1)
    assert (person[40:80, 20:59] == 1).all() and (person[40:80, 61:100] == 0).all()
    assert (person[20:40, 20:100] == 0).all() and (person[80:100, 20:100] == 0).all()
    assert (person >= 0).sum() == 80 * 80 and (person[:20] < 0).all()
    np.testing.assert_array_equal(zb.mesh_mask(1), person == 1)


def test_person_shades_are_distinct_shades_of_the_branch_colour():
    import colorsys

    for base in (GLOBAL_COLOR, FINAL_COLOR):
        shades = np.array([person_shade(base, i) for i in range(NUM_SHADES)])
        np.testing.assert_allclose(shades[0], base, atol=1e-6)  # one person: the branch colour itself
        d = np.linalg.norm(shades[:, None] - shades[None], axis=-1) * 255
        assert d[~np.eye(NUM_SHADES, dtype=bool)].min() >= 30  # distinguishable
        hue0 = colorsys.rgb_to_hls(*base)[0]
        for s in shades:  # same colour family
            dh = abs(colorsys.rgb_to_hls(*s)[0] - hue0)
            assert min(dh, 1 - dh) < 0.07
        np.testing.assert_allclose(person_shade(base, NUM_SHADES + 3), shades[3])  # ids wrap around
    g = np.array([person_shade(GLOBAL_COLOR, i) for i in range(NUM_SHADES)])
    f = np.array([person_shade(FINAL_COLOR, i) for i in range(NUM_SHADES)])
    assert (np.linalg.norm(g[:, None] - f[None], axis=-1) * 255).min() > 40  # branches stay apart


def test_person_label_drawn_above_the_head():
    verts, faces = person_mesh(20, 24)
    r = MeshRenderer(faces, W, H)
    cam = _pixel_cam(40.0, 80.0, 70.0)  # body 68 px tall, head near row 36
    img = np.full((H, W, 3), 90, np.uint8)
    mask = r.render_mask(verts, cam)
    plain = r.render_people(img, [PersonMesh(verts, cam, (0.9, 0.5, 0.3))])
    np.testing.assert_array_equal(plain[~mask], img[~mask])  # no label: only the mesh changes
    tagged = r.render_people(img, [PersonMesh(verts, cam, (0.9, 0.5, 0.3), label="#7")])
    changed = (tagged != plain).any(-1)
    ys, xs = np.nonzero(changed)
    head_row = np.nonzero(mask.any(1))[0].min()
    assert changed.sum() > 20 and ys.max() < head_row  # the tag sits above the head
    assert abs(xs.mean() - 80) < 6  # centred on the head
    assert (tagged[changed] != img[changed]).any()


def test_overlay_frame_all_people_in_branch_shades():
    """Flat quads facing the camera, opaque: each panel shows its people in person_shade(branch, id)."""
    r = MeshRenderer(np.array([[0, 2, 1], [0, 3, 2]]), W, H)
    frame = np.random.default_rng(3).integers(0, 256, (H, W, 3), dtype=np.uint8)
    qa, _ = _quad(10, 40, 50, 90, 0.0)
    qb, _ = _quad(90, 40, 140, 90, 0.0)
    people = [PersonMesh(qa, PIX, track_id=2, depth=1.0), PersonMesh(qb, PIX, track_id=5, depth=1.0)]
    out = overlay_frame(r, frame, [people, people[:1]], alpha=1.0)
    assert out.shape == (H, 3 * W, 3) and out.flags.c_contiguous
    body = slice(30, H)
    np.testing.assert_array_equal(out[body, :W], frame[body])  # input panel untouched below its label
    for k, branch, ids in ((1, GLOBAL_COLOR, (2, 5)), (2, FINAL_COLOR, (2,))):
        panel = out[:, k * W:(k + 1) * W]
        for tid, (y, x) in zip((2, 5), ((60, 30), (60, 115))):
            if tid in ids:
                expected = np.floor(np.array(person_shade(branch, tid), np.float32) * 255 + 0.5)
                np.testing.assert_array_equal(panel[y, x], expected)
            else:
                np.testing.assert_array_equal(panel[y, x], frame[y, x])
    assert not np.array_equal(out[60, W + 30], out[60, W + 115])  # two people, two shades
    assert (out[25:40, W + 10:W + 50] != frame[25:40, 10:50]).any()  # id tag above person 2
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as ex:
        np.testing.assert_array_equal(overlay_frame(r, frame, [people, people[:1]], alpha=1.0, executor=ex), out)
    empty = overlay_frame(r, frame, [[], []])
    for k in range(3):
        np.testing.assert_array_equal(empty[body, k * W:(k + 1) * W], frame[body])


def test_kernels_are_not_cached_in_the_repository():
    import glot.render

    verts, faces = _sphere()
    MeshRenderer(faces, W, H).render(np.zeros((H, W, 3), np.uint8), verts, np.array([0.6, 0.8, 0, 0]))
    from pathlib import Path

    pycache = Path(glot.render.__file__).parent / "__pycache__"
    assert not list(pycache.glob("*.nbi")) and not list(pycache.glob("*.nbc"))


# ---------------------------------------------------------------- background encoder


def _clip(n=12, h=48, w=64):
    yy, xx = np.mgrid[0:h, 0:w]
    return [np.stack([(xx * 4 + 9 * i) % 256, (yy * 5) % 256, np.full_like(xx, 20 * i % 256)], -1).astype(np.uint8)
            for i in range(n)]


def _decode(path):
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def test_background_writer_writes_the_same_frames(tmp_path):
    # ultrafast: bit-exact from run to run (veryfast's output varies between identical runs here)
    frames = _clip()
    for name, bg in (("plain.mp4", False), ("bg.mp4", True)):
        with VideoWriter(tmp_path / name, fps=25, preset="ultrafast", background=bg, queue_size=2) as w:
            for f in frames:
                w.write(f)
        assert w.frame_count == len(frames)
    plain, bg = _decode(tmp_path / "plain.mp4"), _decode(tmp_path / "bg.mp4")
    assert len(plain) == len(bg) == len(frames)
    for a, b, src in zip(plain, bg, frames):
        np.testing.assert_array_equal(a, b)
        assert np.abs(a.astype(int) - src).mean() < 6  # and they are the frames that were written


def test_background_writer_propagates_encoder_errors(tmp_path):
    # An invalid x264 setting fails in the worker at the first frame: write or close raises, the
    # worker is joined and no partial file is left.
    w = VideoWriter(tmp_path / "bad.mp4", fps=25, preset="no-such-preset", background=True, queue_size=1)
    errors = []
    try:
        for f in _clip(30):
            w.write(f)
    except RuntimeError as err:  # raised by write once the worker has failed ...
        errors.append(str(err))
    try:
        w.close()
    except RuntimeError as err:  # ... and by close, which joins the worker
        errors.append(str(err))
    assert errors and all("encoding bad.mp4 failed" in e and "avcodec_open2" in e for e in errors)
    w.close()  # idempotent
    assert not w._worker.is_alive() and not (tmp_path / "bad.mp4").exists()
    # A failure mid-stream (the encoder dies at frame 3) also surfaces, without blocking the producer.
    w = VideoWriter(tmp_path / "mid.mp4", fps=25, background=True, queue_size=1)
    encode = w._encode

    def failing(frame, calls=[0]):  # noqa: B006 (call counter)
        calls[0] += 1
        if calls[0] == 3:
            raise OSError("disk full")
        encode(frame)

    w._encode = failing
    with pytest.raises(RuntimeError, match="disk full"):
        with w:
            for f in _clip(40):
                w.write(f)
    assert not w._worker.is_alive() and not (tmp_path / "mid.mp4").exists()
