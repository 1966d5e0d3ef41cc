"""Rendering: CPU mesh renderer, overlay panels, streaming mp4 writer.

Depends only on numpy, numba, OpenCV, PyAV and :mod:`glot.camera`; knows nothing of the model,
video stages, export or app (the GLB writers live in :mod:`glot.export`).
"""
from glot.render.colors import FINAL_COLOR, GLOBAL_COLOR, to_rgb01
from glot.render.mesh_renderer import MeshRenderer, face_normals, vertex_normals
from glot.render.overlay import PANEL_LABELS, draw_label, draw_skeleton, hstack_panels, overlay_panels
from glot.render.projection import project_orig_cam
from glot.render.rasterizer import Fragments, rasterize
from glot.render.synthetic import grid_sphere_faces, person_mesh
from glot.render.video_writer import VideoWriter, to_fraction
from glot.render.colors import person_shade  # several people per panel (#17)
from glot.render.labels import draw_tag
from glot.render.mesh_renderer import PersonMesh
from glot.render.overlay import overlay_frame
from glot.render.projection import camera_depth
from glot.render.rasterizer import ZBuffer, rasterize_people

__all__ = [
    "FINAL_COLOR", "GLOBAL_COLOR", "PANEL_LABELS", "Fragments", "MeshRenderer", "VideoWriter",
    "draw_label", "draw_skeleton", "face_normals", "grid_sphere_faces", "hstack_panels",
    "overlay_panels", "person_mesh", "project_orig_cam", "rasterize", "to_fraction", "to_rgb01",
    "vertex_normals",
    "PersonMesh", "ZBuffer", "camera_depth", "draw_tag", "overlay_frame", "person_shade", "rasterize_people",
]
