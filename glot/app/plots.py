"""Smoothness metrics of the two branches and their plotly figures.

All metrics come from the 49 SPIN joints ``joints3d`` ``(N, 49, 3)`` in metres; frames without a
person hold NaN and so do the metrics that touch them (plotly leaves gaps).

The figures are built as plotly's JSON data (:class:`FigureSpec`), not through ``go.Figure``:
plotly validates and copies every property it is given (130 ms for the three figures of a
person on a 2-core CPU, at every slider move), while the same JSON written directly takes about a
millisecond. A spec is made once per person and run; the frame marker is added per frame
(:meth:`FigureSpec.at`). ``*_figure`` give the same figures as ``go.Figure`` objects.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from ..body.joints import SPIN_JOINT_NAMES
from ..render import FINAL_COLOR, GLOBAL_COLOR

__all__ = ["joint_acceleration", "frame_mean", "branch_difference", "FigureSpec", "template_json", "acceleration_spec",
           "heatmap_spec", "difference_spec", "acceleration_figure", "heatmap_figure", "difference_figure",
           "BRANCH_LABELS"]

BRANCH_LABELS = {"global": "global branch", "final": "final (local-corrected)"}
_COLORS = {"global": GLOBAL_COLOR, "final": FINAL_COLOR}
_ACC_UNIT = "mm/frame²"
_LAYOUT = dict(margin=dict(l=60, r=20, t=50, b=45), height=320,
               legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0), hovermode="closest")
_TEMPLATE = "plotly_white"
_MARKER = "rgb(200,30,30)"
_HEAT_MARKER = "rgb(255,80,80)"
_HEAT_SPACING = 0.03  # between the heatmap panels, as a fraction of the width


def joint_acceleration(joints3d: np.ndarray) -> np.ndarray:
    """Per-joint acceleration ``||x[t-1] - 2 x[t] + x[t+1]||`` in mm/frame².

    Args:
        joints3d: ``(N, J, 3)`` metres (NaN where no estimate).
    Returns:
        ``(N, J)``; the first and last frame, and frames next to a gap, are NaN.
    """
    x = np.asarray(joints3d, dtype=np.float64)
    acc = np.full(x.shape[:2], np.nan)
    if len(x) >= 3:
        acc[1:-1] = np.linalg.norm(x[:-2] - 2 * x[1:-1] + x[2:], axis=-1) * 1000.0
    return acc


def frame_mean(values: np.ndarray) -> np.ndarray:
    """Mean over the last axis ignoring NaN; all-NaN rows give NaN (without numpy's warning)."""
    ok = np.isfinite(values)
    count = ok.sum(-1)
    total = np.where(ok, values, 0.0).sum(-1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def branch_difference(joints_a: np.ndarray, joints_b: np.ndarray) -> np.ndarray:
    """Mean joint distance between two estimates, ``(N,)`` mm (``(N, J, 3)`` metres in)."""
    return np.linalg.norm(np.asarray(joints_a, np.float64) - np.asarray(joints_b, np.float64), axis=-1).mean(-1) * 1000.0


def _rgb(color) -> str:
    r, g, b = (int(round(c * 255)) for c in color)
    return f"rgb({r},{g},{b})"


@lru_cache(maxsize=None)
def template_json(name: str = _TEMPLATE) -> dict:
    """A plotly template as JSON data, made once (read-only: shared by every figure using it)."""
    return pio.templates[name].to_plotly_json()


def _typed(obj):
    """``obj`` with every numpy array in plotly's typed-array JSON (base64 bytes, as ``go.Figure.to_json``
    writes them: a fraction of the size of number lists)."""
    if isinstance(obj, np.ndarray):
        a = np.ascontiguousarray(obj, dtype=np.float64 if obj.dtype.kind == "f" else np.int32)
        return {"dtype": "f8" if a.dtype == np.float64 else "i4", "bdata": base64.b64encode(a.tobytes()).decode(),
                **({"shape": ", ".join(map(str, a.shape))} if a.ndim > 1 else {})}
    if isinstance(obj, dict):
        return {k: _typed(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_typed(v) for v in obj]
    return obj


@dataclass(frozen=True)
class FigureSpec:
    """A plotly figure as JSON data, and where its frame marker (the shared cursor) goes.

    ``marker_axes``: the subplots' axis suffixes (``""`` for ``x``/``y``, ``"2"`` for ``x2``/``y2``).
    Treat ``data`` and ``layout`` as read-only: :meth:`at` shares them.
    """

    data: tuple[dict, ...]  # traces; arrays as numpy
    layout: dict
    marker_axes: tuple[str, ...] = ("",)
    marker_color: str = _MARKER

    def at(self, frame: int | None) -> dict:
        """The figure (``{"data", "layout"}``) with the marker at ``frame`` (None: no marker)."""
        layout = self.layout
        if frame is not None:
            line = {"color": self.marker_color, "dash": "dot", "width": 1.5}
            marks = [{"line": line, "type": "line", "x0": int(frame), "x1": int(frame), "xref": f"x{a}", "y0": 0,
                      "y1": 1, "yref": f"y{a} domain"} for a in self.marker_axes]
            layout = {**layout, "shapes": [*layout.get("shapes", ()), *marks]}
        return {"data": list(self.data), "layout": layout}

    def to_json(self, frame: int | None = None) -> str:
        """:meth:`at` as plotly JSON (what ``gr.Plot`` sends), without plotly's validation."""
        return pio.to_json(_typed(self.at(frame)), validate=False)

    def figure(self, frame: int | None = None) -> go.Figure:
        return go.Figure(self.at(frame))


@lru_cache(maxsize=None)
def _viridis() -> tuple[tuple[float, str], ...]:
    """plotly's Viridis as an explicit colour scale (what ``colorscale="Viridis"`` validates to)."""
    import plotly.colors

    stops = plotly.colors.sequential.Viridis
    return tuple((k / (len(stops) - 1), c) for k, c in enumerate(stops))


def _layout(title: str, **extra) -> dict:
    return {"template": template_json(), **_LAYOUT, "title": {"text": title}, **extra}


def _shading(occluded: np.ndarray | None) -> dict:
    """Grey bands (and their labels) over the frames hidden from the global encoder (block masking)."""
    if occluded is None or not occluded.any():
        return {}
    idx = np.flatnonzero(occluded)
    starts = idx[np.r_[True, np.diff(idx) > 1]]
    ends = idx[np.r_[np.diff(idx) > 1, True]]
    shapes = [{"fillcolor": "grey", "line": {"width": 0}, "opacity": 0.18, "type": "rect", "x0": float(a - 0.5),
               "x1": float(b + 0.5), "xref": "x", "y0": 0, "y1": 1, "yref": "y domain"} for a, b in zip(starts, ends)]
    labels = [{"showarrow": False, "text": "masked", "x": float(a - 0.5), "xanchor": "left", "xref": "x", "y": 1,
               "yanchor": "top", "yref": "y domain"} for a in starts]
    return {"shapes": shapes, "annotations": labels}


def _line(y: np.ndarray, name: str, color: str, hover: str) -> dict:
    return {"hovertemplate": hover, "line": {"color": color, "width": 2}, "marker": {"size": 4},
            "mode": "lines+markers", "name": name, "x": np.arange(len(y)), "y": np.asarray(y), "type": "scatter"}


def acceleration_spec(joints: dict[str, np.ndarray], occluded: np.ndarray | None = None) -> FigureSpec:
    """Per-frame mean joint acceleration of each branch (``joints``: branch -> ``(N, J, 3)``)."""
    data = tuple(_line(frame_mean(joint_acceleration(j)), BRANCH_LABELS[b], _rgb(_COLORS[b]),
                       f"frame %{{x}}<br>%{{y:.1f}} {_ACC_UNIT}<extra>{BRANCH_LABELS[b]}</extra>")
                 for b, j in joints.items())
    layout = _layout("Mean joint acceleration per frame (lower = smoother)", **_shading(occluded),
                     xaxis={"title": {"text": "frame"}}, yaxis={"title": {"text": _ACC_UNIT}, "rangemode": "tozero"})
    return FigureSpec(data, layout)


def difference_spec(joints: dict[str, np.ndarray], occluded: np.ndarray | None = None) -> FigureSpec:
    """Per-frame mean joint distance between the global and the final branch (mm)."""
    diff = branch_difference(joints["global"], joints["final"])
    data = (_line(diff, "|global − final|", "rgb(90,90,90)", "frame %{x}<br>%{y:.1f} mm<extra>global vs final</extra>"),)
    layout = _layout("Difference between the branches (mean joint distance)", **_shading(occluded),
                     xaxis={"title": {"text": "frame"}}, yaxis={"title": {"text": "mm"}, "rangemode": "tozero"})
    return FigureSpec(data, layout)


def heatmap_spec(joints: dict[str, np.ndarray]) -> FigureSpec:
    """Per-joint acceleration of each branch as heatmaps side by side (rows: joints, columns: frames),
    one shared colour scale clipped at the 99th percentile (outliers would wash it out)."""
    accs = {b: joint_acceleration(j) for b, j in joints.items()}
    finite = np.concatenate([a[np.isfinite(a)] for a in accs.values()])
    zmax = max(float(np.percentile(finite, 99)) if finite.size else 1.0, 1e-6)
    n = len(accs)
    width = (1.0 - _HEAT_SPACING * (n - 1)) / n
    data, layout, titles = [], _layout("Acceleration per joint", height=620), []
    for k, (branch, acc) in enumerate(accs.items()):
        a = "" if k == 0 else str(k + 1)
        x0 = k * (width + _HEAT_SPACING)
        data.append({"coloraxis": "coloraxis", "x": np.arange(acc.shape[0]), "y": list(SPIN_JOINT_NAMES),
                     "z": acc.T, "zmax": zmax, "zmin": 0, "type": "heatmap", "xaxis": f"x{a}", "yaxis": f"y{a}",
                     "hovertemplate": f"frame %{{x}}<br>%{{y}}<br>%{{z:.1f}} {_ACC_UNIT}<extra>{BRANCH_LABELS[branch]}</extra>"})
        layout[f"xaxis{a}"] = {"anchor": f"y{a}", "domain": [x0, x0 + width], "title": {"text": "frame"}}
        layout[f"yaxis{a}"] = {"anchor": f"x{a}", "domain": [0.0, 1.0], "tickfont": {"size": 9}, "autorange": "reversed",
                               **({"matches": "y", "showticklabels": False} if k else {})}
        titles.append({"font": {"size": 16}, "showarrow": False, "text": BRANCH_LABELS[branch], "x": x0 + width / 2,
                       "xanchor": "center", "xref": "paper", "y": 1.0, "yanchor": "bottom", "yref": "paper"})
    layout["annotations"] = titles
    layout["coloraxis"] = {"colorscale": _viridis(), "colorbar": {"title": {"text": _ACC_UNIT}}}
    return FigureSpec(tuple(data), layout, marker_axes=tuple("" if k == 0 else str(k + 1) for k in range(n)),
                      marker_color=_HEAT_MARKER)


def acceleration_figure(joints: dict[str, np.ndarray], occluded: np.ndarray | None = None,
                        marker: int | None = None) -> go.Figure:
    """:func:`acceleration_spec` as a ``go.Figure``, marker at frame ``marker``."""
    return acceleration_spec(joints, occluded).figure(marker)


def heatmap_figure(joints: dict[str, np.ndarray], marker: int | None = None) -> go.Figure:
    """:func:`heatmap_spec` as a ``go.Figure``, marker at frame ``marker``."""
    return heatmap_spec(joints).figure(marker)


def difference_figure(joints: dict[str, np.ndarray], occluded: np.ndarray | None = None,
                      marker: int | None = None) -> go.Figure:
    """:func:`difference_spec` as a ``go.Figure``, marker at frame ``marker``."""
    return difference_spec(joints, occluded).figure(marker)
