"""Benchmark the CPU mesh renderer: ms per 640x480 frame for an SMPL-sized mesh (incl. blending).

Usage: ``python benchmarks/bench_render.py [--frames 60] [--save out.png]``
Also times the GLB writers (``mesh_to_glb``, ``pair_to_glb``) on the same mesh.
The mesh is :func:`glot.render.synthetic.person_mesh` (6,890 vertices, 13,776 faces), scaled to
cover half the frame height and turned a little every frame.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from glot.render import MeshRenderer, person_mesh


def _rot_y(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]], dtype=np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--body-frac", type=float, default=0.5, help="body height / frame height")
    parser.add_argument("--save", default="", help="write the last frame to this PNG")
    args = parser.parse_args()
    w, h = args.width, args.height
    verts, faces = person_mesh()
    # Body height 1.7 m -> body_frac of the frame height: sy * 1.7 * h / 2 = body_frac * h.
    sy = 2.0 * args.body_frac / 1.7
    orig_cam = np.array([sy * h / w, sy, 0.1, 0.0])
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    print(f"mesh: {len(verts)} vertices, {len(faces)} faces; frame {w}x{h}; body {args.body_frac:.0%} of the height")
    for smooth in (True, False):
        renderer = MeshRenderer(faces, w, h, smooth=smooth)
        renderer.render(image, verts, orig_cam)  # warm-up
        times = []
        for i in range(args.frames):
            v = verts @ _rot_y(0.05 * i).T
            t0 = time.perf_counter()
            out = renderer.render(image, v, orig_cam, color=(0.9, 0.6, 0.4), alpha=0.8)
            times.append(time.perf_counter() - t0)
        ms = np.array(times) * 1e3
        n_pix = int(renderer.render_mask(verts, orig_cam).sum())
        print(f"render({'smooth' if smooth else 'flat'}): median {np.median(ms):.1f} ms, "
              f"mean {ms.mean():.1f} ms, p90 {np.percentile(ms, 90):.1f} ms  ({n_pix} mesh pixels)")
    # GLB export (the app writes one per frame and branch; the viewer one pair per frame)
    from glot.render import mesh_to_glb, pair_to_glb

    for label, fn in (("mesh_to_glb", lambda v: mesh_to_glb(v, faces)),
                      ("pair_to_glb", lambda v: pair_to_glb(v, v, faces))):
        times = []
        for i in range(min(args.frames, 30)):
            t0 = time.perf_counter()
            size = len(fn(verts @ _rot_y(0.05 * i).T))
            times.append(time.perf_counter() - t0)
        print(f"{label}: median {np.median(times) * 1e3:.1f} ms per file ({size / 1e3:.0f} kB)")
    if args.save:
        import cv2

        cv2.imwrite(args.save, out[..., ::-1])


if __name__ == "__main__":
    main()
