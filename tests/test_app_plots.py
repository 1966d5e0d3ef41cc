"""The app's figures are written as plotly JSON directly (no per-property validation); they must be
the figures plotly's own figure API builds from the same calls (traces, masked bands, the frame
marker, the heatmaps' subplot grid)."""
from __future__ import annotations

import base64
import json

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from glot.app import plots

UNIT = "mm/frame²"


def _decoded(obj):
    """JSON with plotly's typed arrays (``{"dtype", "bdata"}``) turned into lists: dtypes differ, values not."""
    if isinstance(obj, dict):
        if "bdata" in obj and "dtype" in obj:
            a = np.frombuffer(base64.b64decode(obj["bdata"]), dtype=np.dtype(obj["dtype"]).newbyteorder("<"))
            if "shape" in obj:
                a = a.reshape([int(v) for v in obj["shape"].split(",")])
            return np.where(np.isfinite(a), a, -1e300).astype(float).tolist()
        return {k: _decoded(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decoded(v) for v in obj]
    return obj


def _same(ours: go.Figure | str, ref: go.Figure) -> None:
    a = _decoded(json.loads(ours if isinstance(ours, str) else ours.to_json()))
    b = _decoded(json.loads(ref.to_json()))
    assert a["layout"] == b["layout"]
    assert a["data"] == b["data"]


def _joints(n=20, seed=0):
    rng = np.random.default_rng(seed)
    j = {"global": rng.random((n, 49, 3)), "final": rng.random((n, 49, 3))}
    j["final"][7] = np.nan  # a frame without the person
    return j


def _plotly_scatter_figure(ys: dict[str, np.ndarray], colors: dict[str, str], hover: dict[str, str], title: str,
                           unit: str, occluded, marker) -> go.Figure:
    """What ``go.Figure`` calls give for a line figure with masked bands and a marker."""
    fig = go.Figure()
    for name, y in ys.items():
        fig.add_trace(go.Scatter(x=np.arange(len(y)), y=y, mode="lines+markers", name=name,
                                 line=dict(color=colors[name], width=2), marker=dict(size=4), hovertemplate=hover[name]))
    idx = np.flatnonzero(occluded)
    for a, b in zip(idx[np.r_[True, np.diff(idx) > 1]], idx[np.r_[np.diff(idx) > 1, True]]):
        fig.add_vrect(x0=a - 0.5, x1=b + 0.5, fillcolor="grey", opacity=0.18, line_width=0,
                      annotation_text="masked", annotation_position="top left")
    fig.add_vline(x=marker, line_width=1.5, line_dash="dot", line_color="rgb(200,30,30)")
    fig.update_layout(title=title, template="plotly_white", margin=dict(l=60, r=20, t=50, b=45), height=320,
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0), hovermode="closest")
    fig.update_xaxes(title_text="frame")
    fig.update_yaxes(title_text=unit, rangemode="tozero")
    return fig


def test_acceleration_and_difference_figures_are_plotlys():
    j = _joints()
    occ = np.zeros(20, bool)
    occ[6:10] = occ[15:17] = True  # two masked blocks
    labels = plots.BRANCH_LABELS
    ys = {labels[b]: plots.frame_mean(plots.joint_acceleration(x)) for b, x in j.items()}
    colors = {labels[b]: plots._rgb(c) for b, c in (("global", plots.GLOBAL_COLOR), ("final", plots.FINAL_COLOR))}
    hover = {n: f"frame %{{x}}<br>%{{y:.1f}} {UNIT}<extra>{n}</extra>" for n in ys}
    ref = _plotly_scatter_figure(ys, colors, hover, "Mean joint acceleration per frame (lower = smoother)", UNIT, occ, 5)
    _same(plots.acceleration_figure(j, occ, marker=5), ref)
    _same(plots.acceleration_spec(j, occ).to_json(5), ref)  # what the page sends

    name = "|global − final|"
    diff = {name: plots.branch_difference(j["global"], j["final"])}
    ref = _plotly_scatter_figure(diff, {name: "rgb(90,90,90)"}, {name: "frame %{x}<br>%{y:.1f} mm<extra>global vs final</extra>"},
                                 "Difference between the branches (mean joint distance)", "mm", occ, 11)
    _same(plots.difference_spec(j, occ).to_json(11), ref)


def test_heatmap_figure_is_plotlys_subplots():
    j = _joints(30, seed=1)
    accs = {b: plots.joint_acceleration(x) for b, x in j.items()}
    finite = np.concatenate([a[np.isfinite(a)] for a in accs.values()])
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.03,
                        subplot_titles=[plots.BRANCH_LABELS[b] for b in accs])
    for k, (b, acc) in enumerate(accs.items()):
        fig.add_trace(go.Heatmap(z=acc.T, x=np.arange(30), y=list(plots.SPIN_JOINT_NAMES), zmin=0,
                                 zmax=float(np.percentile(finite, 99)), coloraxis="coloraxis",
                                 hovertemplate=f"frame %{{x}}<br>%{{y}}<br>%{{z:.1f}} {UNIT}<extra>{plots.BRANCH_LABELS[b]}</extra>"),
                      row=1, col=k + 1)
        fig.update_xaxes(title_text="frame", row=1, col=k + 1)
        fig.add_vline(x=12, line_width=1.5, line_dash="dot", line_color="rgb(255,80,80)", row=1, col=k + 1)
    fig.update_layout(title="Acceleration per joint", template="plotly_white", margin=dict(l=60, r=20, t=50, b=45),
                      height=620, legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0), hovermode="closest",
                      coloraxis=dict(colorscale="Viridis", colorbar=dict(title=UNIT)))
    fig.update_yaxes(tickfont=dict(size=9), autorange="reversed")
    _same(plots.heatmap_spec(j).to_json(12), fig)


def test_a_spec_moves_its_marker_without_changing_itself():
    spec = plots.acceleration_spec(_joints(), np.zeros(20, bool))
    before = json.dumps(spec.at(None), default=str)
    assert [s["x0"] for s in spec.at(3)["layout"]["shapes"]] == [3]
    assert [s["x0"] for s in spec.at(9)["layout"]["shapes"]] == [9]
    assert "shapes" not in spec.at(None)["layout"] and json.dumps(spec.at(None), default=str) == before


def test_live_figure_is_plotlys():
    from glot.app.live import live_spec

    rng = np.random.default_rng(2)

    class Session:  # what live_spec reads of a LiveSession: each person's rolling (frame, joints) history
        joints = {3: [(i, rng.random((49, 3))) for i in range(10, 30)], 7: [(i, rng.random((49, 3))) for i in (5, 6)]}

    fig = go.Figure()
    x = np.arange(10, 30)
    acc = plots.frame_mean(plots.joint_acceleration(np.stack([j for _, j in Session.joints[3]])))
    fig.add_scatter(x=x, y=acc, mode="lines", name="id 3", line=None, hovertemplate="frame %{x}: %{y:.1f} mm/frame²")
    fig.update_layout(height=260, margin={"l": 40, "r": 10, "t": 30, "b": 30}, title="Live joint acceleration (final)",
                      xaxis_title="frame", yaxis_title="mm/frame²")  # person 7 has too short a history
    _same(live_spec(Session).to_json(), fig)
