"""The rasteriser against a brute-force reference, and the cached text of labels and tags."""
from __future__ import annotations

import numpy as np
import pytest

from glot.render import rasterize_people


def _reference_zbuffer(screens: np.ndarray, faces: np.ndarray, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Brute force over every face's pixel box in numpy: the rasteriser's documented rule (centre
    inside the triangle by the edge functions, evaluated from the box corner as the kernel states;
    smallest depth wins, ties to the smaller fragment id), without its loop structure."""
    depth = np.full((h, w), np.inf, np.float32)
    ids = np.full((h, w), -1, np.int64)
    n_faces = len(faces)
    for p, scr in enumerate(screens.astype(np.float64)):
        for f, (a, b, c) in enumerate(faces):
            (u0, v0, z0), (u1, v1, z1), (u2, v2, z2) = scr[a], scr[b], scr[c]
            x0 = max(int(np.ceil(min(u0, u1, u2) - 0.5)), 0)
            x1 = min(int(np.floor(max(u0, u1, u2) - 0.5)), w - 1)
            y0 = max(int(np.ceil(min(v0, v1, v2) - 0.5)), 0)
            y1 = min(int(np.floor(max(v0, v1, v2) - 0.5)), h - 1)
            area2 = (u1 - u0) * (v2 - v0) - (v1 - v0) * (u2 - u0)
            if x1 < x0 or y1 < y0 or not area2 < -1e-12:
                continue
            inv = 1.0 / area2
            ox, oy = x0 + 0.5, y0 + 0.5
            s = np.array([((u2 - u1) * (oy - v1) - (v2 - v1) * (ox - u1)) * inv,
                          ((u0 - u2) * (oy - v2) - (v0 - v2) * (ox - u2)) * inv,
                          ((u1 - u0) * (oy - v0) - (v1 - v0) * (ox - u0)) * inv])
            ca = np.array([(v1 - v2) * inv, (v2 - v0) * inv, (v0 - v1) * inv])
            cb = np.array([(u2 - u1) * inv, (u0 - u2) * inv, (u1 - u0) * inv])
            zs, za, zb = s @ [z0, z1, z2], ca @ [z0, z1, z2], cb @ [z0, z1, z2]
            dy, dx = np.mgrid[0:y1 - y0 + 1, 0:x1 - x0 + 1].astype(np.float64)
            inside = np.all([(s[i] + cb[i] * dy) + ca[i] * dx >= -1e-5 for i in range(3)], axis=0)
            z = ((zs + zb * dy) + za * dx).astype(np.float32)
            fid = p * n_faces + f
            for r, col in zip(*np.nonzero(inside)):
                y, x, zz = y0 + r, x0 + col, z[r, col]
                if zz < depth[y, x] or (zz == depth[y, x] and fid < ids[y, x]):
                    depth[y, x], ids[y, x] = zz, fid
    return depth, ids


def test_rasterizer_equals_a_brute_force_reference():
    """Random triangles from slivers to 25 px, of two meshes in one buffer, some on equal depths."""
    rng = np.random.default_rng(7)
    w, h, n = 48, 36, 400
    centre = rng.uniform([-4, -4], [w + 4, h + 4], (n, 1, 2))
    size = np.exp(rng.uniform(np.log(0.3), np.log(25), (n, 1, 1)))
    corners = centre + size * rng.normal(size=(n, 3, 2))
    corners[: n // 8, 2] = corners[: n // 8, 0] + 1e-3 * (corners[: n // 8, 1] - corners[: n // 8, 0])  # slivers
    depth = rng.choice([1.0, 2.0, 3.0], (n, 3, 1))  # flat triangles at equal depths: ties
    depth[n // 2:] = rng.uniform(1, 3, (n - n // 2, 3, 1))
    verts = np.concatenate([corners, depth], axis=2).reshape(-1, 3)
    faces = np.arange(3 * n).reshape(n, 3)
    faces = np.concatenate([faces, faces[:, ::-1]])  # both windings: half are front faces
    screens = np.stack([verts, verts + [0.7, -0.4, 0.0]]).astype(np.float32)  # two meshes
    zb = rasterize_people(screens, faces, w, h)
    want_depth, want_ids = _reference_zbuffer(screens, faces, w, h)
    got_ids = np.full((h, w), -1, np.int64)
    got_depth = np.full((h, w), np.inf, np.float32)
    hh, ww = zb.ids.shape
    got_ids[zb.y0:zb.y0 + hh, zb.x0:zb.x0 + ww] = zb.ids
    got_depth[zb.y0:zb.y0 + hh, zb.x0:zb.x0 + ww] = zb.depth
    assert (want_ids >= 0).sum() > 0.5 * w * h
    np.testing.assert_array_equal(got_ids, want_ids)
    np.testing.assert_array_equal(got_depth, want_depth)


@pytest.mark.parametrize("height", [120, 720])
def test_labels_look_like_opencv_text_and_clip_at_the_edges(height):
    """Labels are blended from a cached rendering of the text: the same pixels as OpenCV's two
    anti-aliased passes (dark outline, then the letters) to a few grey levels, on any background."""
    import cv2

    from glot.render import draw_label, draw_tag

    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (height, 2 * height, 3), np.uint8)
    got = draw_label(img.copy(), "final (local-corrected)")
    want = img.copy()
    scale = max(0.35, height / 900.0)
    thick = 1 if scale < 0.7 else 2
    (_, th), _ = cv2.getTextSize("final (local-corrected)", cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    for color, stroke in (((0, 0, 0), thick + 2), ((255, 255, 255), thick)):
        cv2.putText(want, "final (local-corrected)", (6, 6 + th), cv2.FONT_HERSHEY_SIMPLEX, scale, color, stroke,
                    cv2.LINE_AA)
    changed = (want != img).any(-1)
    assert changed.sum() > 200
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 6
    assert ((got >= 245).all(-1) & changed).any() and ((got <= 10).all(-1) & changed).any()  # white on black
    for anchor in ((-30.0, -10.0), (2 * height + 5.0, height + 5.0)):  # tags kept inside, labels clipped
        draw_tag(img, "#12", anchor, (200, 40, 40))
    draw_label(img, "global", (2 * height - 10, height - 4))  # mostly outside the image: no error
