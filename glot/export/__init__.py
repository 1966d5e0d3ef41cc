"""Export: the one writer of glTF bytes, and motion files people can use elsewhere.

* :mod:`glot.export.gltf`: GLB container and per-frame meshes (``mesh_to_glb``, ``pair_to_glb``,
  ``write_frames_zip``, ``sequence_to_animated_glb``);
* :mod:`glot.export.motion`: one person's skinned, animated body (``write_motion_glb``);
* :mod:`glot.export.bvh`: the same motion as BVH (``write_motion_bvh``);
* :mod:`glot.export.rig`: the :class:`Motion` input type and the rest-pose rig in the person's shape;
* :mod:`glot.export.notices`: licence notices for the files' ``copyright`` field.

Depends on numpy, scipy, :mod:`glot.body` and the render package's colours and normals; knows
nothing of the pipeline, video or the app. Frames, conventions and licences: ``docs/export.md``.
"""
from glot.export.bvh import EULER_ORDER, motion_to_bvh, write_motion_bvh
from glot.export.gltf import mesh_to_glb, pair_to_glb, sequence_to_animated_glb, to_gltf_frame, write_frames_zip
from glot.export.motion import CameraView, motion_to_glb, write_motion_glb
from glot.export.notices import OPEN_BODY_NOTICE, SMPL_NOTICE
from glot.export.rig import Motion, Rig, build_rig, hold_indices

__all__ = [
    "CameraView", "EULER_ORDER", "Motion", "OPEN_BODY_NOTICE", "Rig", "SMPL_NOTICE", "build_rig", "hold_indices",
    "mesh_to_glb", "motion_to_bvh", "motion_to_glb", "pair_to_glb", "sequence_to_animated_glb", "to_gltf_frame",
    "write_frames_zip", "write_motion_bvh", "write_motion_glb",
]
