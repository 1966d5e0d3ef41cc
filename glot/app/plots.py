"""Smoothness metrics of the two branches and their plotly figures.

All metrics come from the 49 SPIN joints ``joints3d`` ``(N, 49, 3)`` in metres; frames without a
person hold NaN and so do the metrics that touch them (plotly leaves gaps).
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..body.joints import SPIN_JOINT_NAMES
from ..render import FINAL_COLOR, GLOBAL_COLOR

__all__ = ["joint_acceleration", "frame_mean", "branch_difference", "acceleration_figure", "heatmap_figure",
           "difference_figure", "BRANCH_LABELS"]

BRANCH_LABELS = {"global": "global branch", "final": "final (local-corrected)"}
_COLORS = {"global": GLOBAL_COLOR, "final": FINAL_COLOR}
_ACC_UNIT = "mm/frame²"
_LAYOUT = dict(template="plotly_white", margin=dict(l=60, r=20, t=50, b=45), height=320,
               legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0), hovermode="closest")


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


def _shade(fig: go.Figure, occluded: np.ndarray | None) -> None:
    """Grey bands over the frames hidden from the global encoder (block masking)."""
    if occluded is None or not occluded.any():
        return
    idx = np.flatnonzero(occluded)
    starts = idx[np.r_[True, np.diff(idx) > 1]]
    ends = idx[np.r_[np.diff(idx) > 1, True]]
    for a, b in zip(starts, ends):
        fig.add_vrect(x0=a - 0.5, x1=b + 0.5, fillcolor="grey", opacity=0.18, line_width=0,
                      annotation_text="masked", annotation_position="top left")


def _marker(fig: go.Figure, frame: int | None) -> None:
    """The shared cursor: a vertical line at the frame shown by the video, slider and viewer."""
    if frame is not None:
        fig.add_vline(x=int(frame), line_width=1.5, line_dash="dot", line_color="rgb(200,30,30)")


def acceleration_figure(joints: dict[str, np.ndarray], occluded: np.ndarray | None = None,
                        marker: int | None = None) -> go.Figure:
    """Per-frame mean joint acceleration of each branch (``joints``: branch -> ``(N, J, 3)``)."""
    fig = go.Figure()
    for branch, j in joints.items():
        acc = frame_mean(joint_acceleration(j))
        fig.add_trace(go.Scatter(
            x=np.arange(len(acc)), y=acc, mode="lines+markers", name=BRANCH_LABELS[branch],
            line=dict(color=_rgb(_COLORS[branch]), width=2), marker=dict(size=4),
            hovertemplate=f"frame %{{x}}<br>%{{y:.1f}} {_ACC_UNIT}<extra>{BRANCH_LABELS[branch]}</extra>"))
    _shade(fig, occluded)
    _marker(fig, marker)
    fig.update_layout(title="Mean joint acceleration per frame (lower = smoother)", **_LAYOUT)
    fig.update_xaxes(title_text="frame")
    fig.update_yaxes(title_text=_ACC_UNIT, rangemode="tozero")
    return fig


def heatmap_figure(joints: dict[str, np.ndarray], marker: int | None = None) -> go.Figure:
    """Per-joint acceleration of each branch as heatmaps (rows: joints, columns: frames)."""
    from plotly.subplots import make_subplots

    names = list(SPIN_JOINT_NAMES)
    accs = {b: joint_acceleration(j) for b, j in joints.items()}
    finite = np.concatenate([a[np.isfinite(a)] for a in accs.values()])
    zmax = float(np.percentile(finite, 99)) if finite.size else 1.0  # outliers would wash out the scale
    fig = make_subplots(rows=1, cols=len(accs), shared_yaxes=True, horizontal_spacing=0.03,
                        subplot_titles=[BRANCH_LABELS[b] for b in accs])
    for k, (branch, acc) in enumerate(accs.items()):
        fig.add_trace(go.Heatmap(
            z=acc.T, x=np.arange(acc.shape[0]), y=names, zmin=0, zmax=max(zmax, 1e-6), coloraxis="coloraxis",
            hovertemplate=f"frame %{{x}}<br>%{{y}}<br>%{{z:.1f}} {_ACC_UNIT}<extra>{BRANCH_LABELS[branch]}</extra>"),
            row=1, col=k + 1)
        fig.update_xaxes(title_text="frame", row=1, col=k + 1)
        if marker is not None:
            fig.add_vline(x=int(marker), line_width=1.5, line_dash="dot", line_color="rgb(255,80,80)", row=1, col=k + 1)
    fig.update_layout(title="Acceleration per joint", coloraxis=dict(colorscale="Viridis",
                      colorbar=dict(title=_ACC_UNIT)), **{**_LAYOUT, "height": 620})
    fig.update_yaxes(tickfont=dict(size=9), autorange="reversed")
    return fig


def difference_figure(joints: dict[str, np.ndarray], occluded: np.ndarray | None = None,
                      marker: int | None = None) -> go.Figure:
    """Per-frame mean joint distance between the global and the final branch (mm)."""
    diff = branch_difference(joints["global"], joints["final"])
    fig = go.Figure(go.Scatter(
        x=np.arange(len(diff)), y=diff, mode="lines+markers", name="|global − final|",
        line=dict(color="rgb(90,90,90)", width=2), marker=dict(size=4),
        hovertemplate="frame %{x}<br>%{y:.1f} mm<extra>global vs final</extra>"))
    _shade(fig, occluded)
    _marker(fig, marker)
    fig.update_layout(title="Difference between the branches (mean joint distance)", **_LAYOUT)
    fig.update_xaxes(title_text="frame")
    fig.update_yaxes(title_text="mm", rangemode="tozero")
    return fig
