"""Gradio UI (placeholder until the full app lands): shows which model files were found."""
from __future__ import annotations

import os

import gradio as gr

from ..assets import asset_report


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="GLoT Studio") as demo:
        gr.Markdown("# GLoT Studio\nVideo-based 3D human pose and shape (GLoT, CVPR 2023).")
        rows = [[name, path or "missing"] for name, path in asset_report().items()]
        gr.Dataframe(value=rows, headers=["file", "found at"], label="Model files")
    return demo


def launch(demo: gr.Blocks) -> None:
    demo.queue(default_concurrency_limit=2).launch(
        server_name=os.environ.get("GLOT_HOST", "127.0.0.1"),
        server_port=int(os.environ.get("GLOT_PORT", "7860")),
    )
