"""The Gradio app: UI layout and handlers (thin; the work is done by the pipeline)."""
