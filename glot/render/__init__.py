"""Rendering and export: CPU mesh renderer, overlay panels, streaming mp4 writer, GLB export.

Depends only on numpy, OpenCV, PyAV and :mod:`glot.camera` (GLB files are written directly);
knows nothing of the model, video stages or app.
"""
from glot.render.colors import FINAL_COLOR, GLOBAL_COLOR, to_rgb01
from glot.render.glb import mesh_to_glb, pair_to_glb, sequence_to_animated_glb, to_gltf_frame, write_frames_zip
from glot.render.mesh_renderer import MeshRenderer, face_normals, vertex_normals
from glot.render.overlay import PANEL_LABELS, draw_label, draw_skeleton, hstack_panels, overlay_panels
from glot.render.projection import project_orig_cam
from glot.render.rasterizer import Fragments, rasterize
from glot.render.synthetic import grid_sphere_faces, person_mesh
from glot.render.video_writer import VideoWriter, to_fraction

__all__ = [
    "FINAL_COLOR", "GLOBAL_COLOR", "PANEL_LABELS", "Fragments", "MeshRenderer", "VideoWriter",
    "draw_label", "draw_skeleton", "face_normals", "grid_sphere_faces", "hstack_panels", "mesh_to_glb",
    "overlay_panels", "pair_to_glb", "person_mesh", "project_orig_cam", "rasterize",
    "sequence_to_animated_glb", "to_fraction", "to_gltf_frame", "to_rgb01", "vertex_normals",
    "write_frames_zip",
]
