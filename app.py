"""GLoT Studio web app (Gradio). ``python app.py`` serves it on 127.0.0.1:7860."""
from glot.app.ui import build_demo, launch

demo = build_demo()

if __name__ == "__main__":
    launch(demo)
