"""GLoT Studio web app (Gradio). ``python app.py [--host H] [--port P]`` serves it on 127.0.0.1:7860
(or ``$GLOT_HOST``/``$GLOT_PORT``); Hugging Face Spaces imports ``demo``."""
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # the launcher's choice; the library sets nothing

from glot.app.ui import build_demo, launch  # noqa: E402

demo = build_demo()

if __name__ == "__main__":
    launch(demo)
