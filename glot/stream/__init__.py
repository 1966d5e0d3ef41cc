"""Online mode: webcam and live streams with bounded latency, every person."""
from .online import LIVE_PEOPLE, TRAINED_FPS, OnlineRunner, StreamFrame, StreamOptions

__all__ = ["LIVE_PEOPLE", "OnlineRunner", "StreamFrame", "StreamOptions", "TRAINED_FPS"]
