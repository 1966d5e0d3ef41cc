"""Online mode: webcam and live streams with bounded latency, every person."""
from .online import TRAINED_FPS, OnlineRunner, StreamFrame, StreamOptions

__all__ = ["OnlineRunner", "StreamFrame", "StreamOptions", "TRAINED_FPS"]
