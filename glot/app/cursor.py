"""The shared frame cursor, in the browser: the overlay video and the frame slider follow each other.

Playing or scrubbing ``#overlay video`` sets the slider (``timeupdate``: frame = floor(time x fps),
fps read from the hidden ``#overlay-fps`` number, the overlay's constant rate), which moves the
viewer, the joints view and the plots' marker through the slider's change event; moving the slider
seeks the video to the middle of that frame. Each side ignores a change that is already in place,
so they never chase each other.
"""
from __future__ import annotations

__all__ = ["CURSOR_JS", "SEEK_JS"]

CURSOR_JS = """
() => {
  const fps = () => {
    const el = document.querySelector('#overlay-fps input');
    return (el && parseFloat(el.value)) || 30;
  };
  const attach = () => {
    const video = document.querySelector('#overlay video');
    if (!video || video.dataset.glotCursor) return;
    video.dataset.glotCursor = '1';
    video.addEventListener('timeupdate', () => {
      const box = document.querySelector('#frame-slider input[type=number]');
      if (!box) return;
      const max = parseInt(box.max || '0', 10);
      const f = Math.min(Math.floor(video.currentTime * fps() + 1e-3), isNaN(max) ? 1e9 : max);
      if (parseInt(box.value, 10) === f) return;
      box.value = String(f);
      box.dispatchEvent(new Event('input', {bubbles: true}));
      box.dispatchEvent(new Event('change', {bubbles: true}));
    });
  };
  new MutationObserver(attach).observe(document.body, {childList: true, subtree: true});
  attach();
}
"""

SEEK_JS = """
(frame, rate) => {
  const video = document.querySelector('#overlay video');
  const fps = rate || 30;
  if (video && Math.floor(video.currentTime * fps + 1e-3) !== frame) video.currentTime = (frame + 0.5) / fps;
}
"""
