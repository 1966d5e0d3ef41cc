"""Online mode: webcam and live streams with bounded latency."""
from .online import OnlineRunner, StreamFrame, StreamOptions

__all__ = ["OnlineRunner", "StreamFrame", "StreamOptions"]
