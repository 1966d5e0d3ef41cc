"""The one writer of glTF bytes: GLB containers, and per-frame SMPL meshes for the viewer and Blender.

The low-level pieces (:class:`BinBuilder`, :func:`pack_glb`, :func:`pbr_material`) are shared with
the skinned motion file (:mod:`glot.export.motion`).

Frames: the meshes come in GLoT's camera-aligned SMPL frame (x right, y down, z away from the
camera). glTF is y up with the default camera looking along -z, so every export first rotates
the vertices by 180 degrees about x, ``(X, Y, Z) -> (X, -Y, -Z)`` (:func:`to_gltf_frame`): the
person then stands upright facing the viewer. The rotation is proper (det +1), so the faces'
counter-clockwise winding, which glTF uses for front faces, is kept.

Animated sequences (:func:`sequence_to_animated_glb`) store one mesh node per frame, all sharing
one index buffer, and a STEP scale animation that shows exactly one node at a time (scale 1 while
its frame is current, 0 otherwise). This plays in three.js / model-viewer / Blender without
morph-target limits; its size is ``N * V * 12`` bytes of positions (``* 2`` with normals), about
82 kB per SMPL frame, 165 kB with normals.
"""
from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from glot.render.colors import FINAL_COLOR, GLOBAL_COLOR, Color, to_rgb01
from glot.render.mesh_renderer import vertex_normals

__all__ = ["to_gltf_frame", "mesh_to_glb", "pair_to_glb", "write_frames_zip", "sequence_to_animated_glb", "unpack_glb",
           "BinBuilder", "pack_glb", "pbr_material", "GLTF_FROM_CAMERA", "GENERATOR"]

GENERATOR = "GLoT Studio (glot.export)"
_GLTF_FROM_CAMERA = np.array([1.0, -1.0, -1.0], dtype=np.float32)  # 180 deg about x
GLTF_FROM_CAMERA = np.diag(_GLTF_FROM_CAMERA.astype(np.float64))  # (3, 3) the same as a rotation matrix


def to_gltf_frame(verts: np.ndarray) -> np.ndarray:
    """``(..., 3)`` camera-frame vertices (y down, z forward) -> glTF frame (y up, viewer at +z)."""
    return np.asarray(verts, dtype=np.float32) * _GLTF_FROM_CAMERA


def mesh_to_glb(verts: np.ndarray, faces: np.ndarray, color: Color = FINAL_COLOR) -> bytes:
    """One mesh as GLB bytes.

    Args:
        verts: ``(V, 3)`` camera-frame vertices (metres).
        faces: ``(F, 3)`` vertex indices.
        color: base colour (see :mod:`glot.render.colors`).
    Returns:
        GLB file contents (glTF frame, smooth vertex normals included).
    """
    return _static_glb([("body", to_gltf_frame(verts), color)], faces)


def pair_to_glb(verts_a: np.ndarray, verts_b: np.ndarray, faces: np.ndarray,
                colors: tuple[Color, Color] = (GLOBAL_COLOR, FINAL_COLOR), offset: float = 0.8,
                names: tuple[str, str] = ("global", "final")) -> bytes:
    """Two meshes of one frame side by side (e.g. global and final branch) in two colours.

    Both are first centred on the mean vertex of ``verts_a`` (keeping their relative placement),
    then ``a`` moves by ``-offset / 2`` and ``b`` by ``+offset / 2`` along the viewer's x axis.

    Args:
        verts_a, verts_b: ``(V, 3)`` camera-frame vertices.
        faces: ``(F, 3)`` shared faces.
        colors: colours of ``a`` and ``b``.
        offset: distance between the two meshes in metres (0 overlays them).
        names: node names.
    Returns:
        GLB bytes with two named nodes.
    """
    centre = np.asarray(verts_a, dtype=np.float32).mean(0)
    parts = []
    for verts, color, name, sign in ((verts_a, colors[0], names[0], -1.0), (verts_b, colors[1], names[1], 1.0)):
        v = np.asarray(verts, dtype=np.float32) - centre
        v[:, 0] += sign * offset / 2.0
        parts.append((name, to_gltf_frame(v), color))
    return _static_glb(parts, faces)


def write_frames_zip(path: str | Path, verts_seq: Iterable[np.ndarray], faces: np.ndarray,
                     color: Color = FINAL_COLOR, frame_ids: Sequence[int] | None = None,
                     name_format: str = "frame_{:06d}.glb") -> Path:
    """Write one GLB per frame into a zip, streaming (one frame in memory at a time).

    Args:
        path: zip file to write (parent folders are created).
        verts_seq: ``(N, V, 3)`` array or iterable of ``(V, 3)`` camera-frame vertices.
        faces: ``(F, 3)``.
        color: mesh colour.
        frame_ids: video frame index of each entry, used in the file names (default ``0..N-1``).
        name_format: entry name pattern taking the frame id.
    Returns:
        The zip path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for i, verts in enumerate(verts_seq):
            fid = i if frame_ids is None else int(frame_ids[i])
            zf.writestr(name_format.format(fid), mesh_to_glb(verts, faces, color))
    return path


# glTF enums: accessor component types and bufferView targets
_COMPONENT = {np.dtype(np.float32): 5126, np.dtype(np.uint32): 5125, np.dtype(np.uint16): 5123,
              np.dtype(np.uint8): 5121}
_NCOMP = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963


class BinBuilder:
    """Accumulates glTF bufferViews + accessors in one binary buffer (every view 4-byte aligned)."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.length = 0
        self.views: list[dict] = []
        self.accessors: list[dict] = []

    def add(self, array: np.ndarray, kind: str, target: int | None = None, minmax: bool = False) -> int:
        """Append ``array`` (float32, uint32, uint16 or uint8) as one accessor of type ``kind``.

        ``MAT4`` arrays are ``(n, 4, 4)`` matrices, written column-major as glTF wants.
        Returns the accessor index.
        """
        array = np.asarray(array)
        if kind == "MAT4":
            array = np.swapaxes(array.reshape(-1, 4, 4), 1, 2)  # row-major (n,4,4) -> column-major bytes
        data = np.ascontiguousarray(array).tobytes()
        view = {"buffer": 0, "byteOffset": self.length, "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        self.views.append(view)
        self.chunks.append(data + b"\0" * (-len(data) % 4))
        self.length += len(data) + (-len(data) % 4)
        ncomp = _NCOMP[kind]
        acc = {"bufferView": len(self.views) - 1, "componentType": _COMPONENT[array.dtype],
               "count": int(array.size // ncomp), "type": kind}
        if minmax:
            flat = array.reshape(-1, ncomp)
            acc["min"], acc["max"] = flat.min(0).tolist(), flat.max(0).tolist()
        self.accessors.append(acc)
        return len(self.accessors) - 1

    def buffers(self) -> list[dict]:
        return [{"byteLength": self.length}]

    def binary(self) -> bytes:
        return b"".join(self.chunks)


def pack_glb(gltf: dict, binary: bytes) -> bytes:
    """glTF JSON + one binary buffer -> GLB container bytes (both chunks padded to 4 bytes)."""
    js = json.dumps(gltf, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 4)
    binary += b"\0" * (-len(binary) % 4)
    total = 12 + 8 + len(js) + 8 + len(binary)
    return b"".join([struct.pack("<4sII", b"glTF", 2, total), struct.pack("<I4s", len(js), b"JSON"), js,
                     struct.pack("<I4s", len(binary), b"BIN\0"), binary])


def unpack_glb(data: bytes) -> tuple[dict, bytes]:
    """GLB container bytes (one JSON and one binary chunk, as :func:`pack_glb` writes) -> (glTF JSON, binary)."""
    magic, version, total = struct.unpack_from("<4sII", data, 0)
    n, kind = struct.unpack_from("<I4s", data, 12)
    if magic != b"glTF" or version != 2 or kind != b"JSON" or total != len(data):
        raise ValueError("not a GLB 2.0 file")
    gltf = json.loads(data[20:20 + n])
    if 20 + n == total:
        return gltf, b""
    m, kind = struct.unpack_from("<I4s", data, 20 + n)
    if kind != b"BIN\0":
        raise ValueError("GLB's second chunk is not BIN")
    return gltf, data[28 + n:28 + n + m]


def pbr_material(color: Color, name: str) -> dict:
    """A matte, non-metallic glTF material of ``color`` (see :mod:`glot.render.colors`)."""
    rgba = np.append(to_rgb01(color), 1.0).tolist()
    return {"name": name, "pbrMetallicRoughness": {"baseColorFactor": rgba, "metallicFactor": 0.0,
                                                   "roughnessFactor": 0.8}}


def _static_glb(parts: Sequence[tuple[str, np.ndarray, Color]], faces: np.ndarray) -> bytes:
    """Meshes sharing ``faces`` as one GLB: a named node, mesh and material per part.

    Args:
        parts: ``[(name, (V, 3) glTF-frame vertices, colour), ...]``.
        faces: ``(F, 3)`` vertex indices.
    Returns:
        GLB bytes with positions (min/max), smooth vertex normals and one shared index buffer.
    """
    faces = np.asarray(faces, dtype=np.int64)
    b = BinBuilder()
    idx = b.add(faces.astype(np.uint32).reshape(-1), "SCALAR", target=34963)
    meshes, nodes, materials = [], [], []
    for i, (name, verts, color) in enumerate(parts):
        v = np.ascontiguousarray(verts, dtype=np.float32)
        attrs = {"POSITION": b.add(v, "VEC3", target=34962, minmax=True),
                 "NORMAL": b.add(vertex_normals(v.astype(np.float64), faces).astype(np.float32), "VEC3", 34962)}
        meshes.append({"name": name, "primitives": [{"attributes": attrs, "indices": idx, "material": i}]})
        nodes.append({"name": name, "mesh": i})
        materials.append(pbr_material(color, name))
    gltf = {"asset": {"version": "2.0", "generator": GENERATOR}, "scene": 0,
            "scenes": [{"nodes": list(range(len(parts)))}], "nodes": nodes, "meshes": meshes,
            "materials": materials, "buffers": b.buffers(), "bufferViews": b.views,
            "accessors": b.accessors}
    return pack_glb(gltf, b.binary())


def sequence_to_animated_glb(verts_seq: np.ndarray, faces: np.ndarray, fps: float,
                             color: Color = FINAL_COLOR, include_normals: bool = True) -> bytes:
    """An animated GLB: one node per frame, shown in turn by a STEP scale animation.

    Args:
        verts_seq: ``(N, V, 3)`` camera-frame vertices.
        faces: ``(F, 3)`` shared faces.
        fps: playback frame rate.
        color: mesh colour.
        include_normals: store smooth vertex normals (doubles the size; flat shading without).
    Returns:
        GLB bytes: nodes ``frame_000000`` .. under a root ``sequence`` node, one animation ``play``
        of duration ``N / fps``.
    """
    verts_seq = np.asarray(verts_seq, dtype=np.float32)
    faces = np.asarray(faces, dtype=np.int64)
    n = len(verts_seq)
    if verts_seq.ndim != 3 or n == 0:
        raise ValueError(f"verts_seq must be (N, V, 3) with N >= 1, got {verts_seq.shape}")
    dt = 1.0 / float(fps)
    b = BinBuilder()
    idx = b.add(faces.astype(np.uint32).reshape(-1), "SCALAR", target=34963)
    meshes, nodes, samplers, channels = [], [], [], []
    for i, verts in enumerate(verts_seq):
        v = to_gltf_frame(verts)
        attrs = {"POSITION": b.add(v, "VEC3", target=34962, minmax=True)}
        if include_normals:
            attrs["NORMAL"] = b.add(vertex_normals(v.astype(np.float64), faces).astype(np.float32), "VEC3", 34962)
        meshes.append({"primitives": [{"attributes": attrs, "indices": idx, "material": 0}]})
        nodes.append({"name": f"frame_{i:06d}", "mesh": i, "scale": [1.0, 1.0, 1.0] if i == 0 else [0.0, 0.0, 0.0]})
        # Visible on [i*dt, (i+1)*dt); the last frame stays visible to the clip's end.
        times = [0.0, i * dt, (i + 1) * dt] if i > 0 else [0.0, dt]
        shown = [0.0, 1.0, 1.0 if i == n - 1 else 0.0] if i > 0 else [1.0, 1.0 if n == 1 else 0.0]
        t_acc = b.add(np.asarray(times, np.float32), "SCALAR", minmax=True)
        s_acc = b.add(np.repeat(np.asarray(shown, np.float32), 3), "VEC3")
        samplers.append({"input": t_acc, "output": s_acc, "interpolation": "STEP"})
        channels.append({"sampler": i, "target": {"node": i, "path": "scale"}})
    nodes.append({"name": "sequence", "children": list(range(n))})
    gltf = {
        "asset": {"version": "2.0", "generator": GENERATOR},
        "scene": 0,
        "scenes": [{"nodes": [n]}],
        "nodes": nodes,
        "meshes": meshes,
        "materials": [pbr_material(color, "body")],
        "animations": [{"name": "play", "samplers": samplers, "channels": channels}],
        "buffers": b.buffers(),
        "bufferViews": b.views,
        "accessors": b.accessors,
    }
    return pack_glb(gltf, b.binary())
