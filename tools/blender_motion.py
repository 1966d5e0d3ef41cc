"""Blender (the ``bpy`` wheel, requirements-dev.txt) on GLoT Studio's motion files, headless.

    python tools/blender_motion.py fbx motion_final.glb motion_final.fbx
    python tools/blender_motion.py render motion_final.glb [motion_global.glb ...] preview.png [--frame 60]

``fbx``: imports the glTF and exports an FBX with the armature, skinned mesh and baked animation
(Unity, Maya, MotionBuilder ...). ``render``: imports the files (side by side along x when more
than one), adds a light and a three-quarter camera and renders one frame with Cycles on the CPU
(the picture in docs/export.md). Blender is GPL; the files it reads and writes stay under their
body's licence (docs/export.md).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import struct
import sys
from pathlib import Path


def _reset():
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    return bpy


def _import(bpy, path: Path):
    before = set(bpy.context.scene.objects)
    bpy.ops.import_scene.gltf(filepath=str(path))
    new = [o for o in bpy.context.scene.objects if o not in before]
    for o in new:  # the importer's bone-shape helper and the video camera are not wanted here
        if o.type == "CAMERA" or (o.type == "MESH" and o.find_armature() is None and o.parent is None
                                  and o.name.startswith("Icosphere")):
            bpy.data.objects.remove(o)
    return next(o for o in new if o.name in bpy.data.objects and o.type == "ARMATURE")


def clip_fps(glb: Path) -> float:
    """The motion's mean frame rate: (keyframes - 1) / duration of its animation's time track."""
    data = glb.read_bytes()
    (length,) = struct.unpack_from("<I", data, 12)
    gltf = json.loads(data[20:20 + length])
    times = gltf["accessors"][gltf["animations"][0]["samplers"][0]["input"]]
    return (times["count"] - 1) / times["max"][0] if times["count"] > 1 else 24.0


def to_fbx(glb: Path, fbx: Path) -> None:
    bpy = _reset()
    scene = bpy.context.scene
    fps = clip_fps(glb)  # one FBX frame per video frame (Blender bakes at the scene's rate)
    scene.render.fps = max(1, round(fps))
    scene.render.fps_base = scene.render.fps / fps
    _import(bpy, glb)
    action = bpy.data.actions[0]
    scene.frame_start, scene.frame_end = 0, int(round(action.frame_range[1]))
    bpy.ops.export_scene.fbx(filepath=str(fbx), use_selection=False, object_types={"ARMATURE", "MESH"},
                             add_leaf_bones=False, bake_anim=True, bake_anim_use_all_actions=False,
                             bake_anim_use_nla_strips=False, path_mode="COPY")


def render(glbs: list[Path], png: Path, frame: float, size: tuple[int, int], samples: int) -> None:
    bpy = _reset()
    from mathutils import Vector

    scene = bpy.context.scene
    armatures = [_import(bpy, g) for g in glbs]
    scene.frame_set(int(frame))
    depsgraph = bpy.context.evaluated_depsgraph_get()
    # people side by side 0.9 m apart, pelvis 1 m above the origin (they keep their own pose)
    pelvis = [a.matrix_world @ a.evaluated_get(depsgraph).pose.bones["pelvis"].head for a in armatures]
    for i, a in enumerate(armatures):
        shift = (i - (len(armatures) - 1) / 2.0) * 0.9
        a.location = (shift - pelvis[i].x, -pelvis[i].y, 1.0 - pelvis[i].z)
    bpy.context.view_layer.update()
    depsgraph = bpy.context.evaluated_depsgraph_get()
    lowest = min((o.matrix_world @ v.co).z for a in armatures for o in a.children if o.type == "MESH"
                 for v in o.evaluated_get(depsgraph).data.vertices)
    bpy.ops.mesh.primitive_plane_add(size=8, location=(0.0, 0.0, lowest))

    target = Vector((0.0, 0.0, 0.8))
    cam = bpy.data.objects.new("preview", bpy.data.cameras.new("preview"))
    cam.data.lens = 50
    scene.collection.objects.link(cam)
    cam.location = (2.2, -4.4, 1.7)
    cam.rotation_euler = (target - cam.location).to_track_quat("-Z", "Y").to_euler()
    scene.camera = cam
    sun = bpy.data.objects.new("sun", bpy.data.lights.new("sun", type="SUN"))
    sun.data.energy = 3.0
    sun.rotation_euler = (math.radians(40), math.radians(10), math.radians(30))
    scene.collection.objects.link(sun)
    world = bpy.data.worlds.new("world")
    world.color = (0.8, 0.82, 0.86)
    scene.world = world
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.render.resolution_x, scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.compression = 100
    scene.render.filepath = str(png.resolve())
    bpy.ops.render.render(write_still=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_fbx = sub.add_parser("fbx", help="glTF -> FBX")
    p_fbx.add_argument("glb", type=Path)
    p_fbx.add_argument("fbx", type=Path)
    p_png = sub.add_parser("render", help="render one frame of one or more motion files")
    p_png.add_argument("files", type=Path, nargs="+", help="GLB files, then the PNG to write")
    p_png.add_argument("--frame", type=float, default=0.0, help="Blender frame (seconds x 24: the importer keeps the scene's 24 fps)")
    p_png.add_argument("--size", default="480x360")
    p_png.add_argument("--samples", type=int, default=16)
    args = parser.parse_args(argv)
    if importlib.util.find_spec("bpy") is None:
        print("Blender's Python module is missing: pip install -r requirements-dev.txt (bpy)", file=sys.stderr)
        return 2
    inputs = [args.glb] if args.command == "fbx" else args.files[:-1]
    if args.command == "render" and not inputs:
        parser.error("render needs one or more GLB files and then the PNG to write")
    missing = [str(p) for p in inputs if not p.is_file()]
    if missing:
        parser.error(f"no such file: {', '.join(missing)}")
    if args.command == "fbx":
        to_fbx(args.glb, args.fbx)
    else:
        *glbs, png = args.files
        w, h = (int(x) for x in args.size.split("x"))
        render(glbs, png, args.frame, (w, h), args.samples)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
