"""GLoT Studio web app (Gradio). ``python app.py [--host H] [--port P]`` serves it on 127.0.0.1:7860, or
where ``$GRADIO_SERVER_NAME``/``$GRADIO_SERVER_PORT`` (a Hugging Face Space: 0.0.0.0:7860) or
``$GLOT_HOST``/``$GLOT_PORT`` say; tools that import the app use the module-level ``demo``."""
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # the launcher's choice; the library sets nothing

from glot.app.ui import build_demo, launch  # noqa: E402

demo = build_demo()

if __name__ == "__main__":
    launch(demo)
