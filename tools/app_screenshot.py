"""Make the README's picture of the app from a real run: the open default model on an example clip.

Starts ``python app.py`` (no licensed files: the open model runs), drives Debian's Chromium with
Playwright through a whole run of ``assets/examples/pedestrians.mp4``, selects the most prominent
person and a frame in the middle of the clip, and saves the page down to the tables (not the long downloads
list) as ``docs/app_screenshot.png``.

Usage: ``python tools/app_screenshot.py [--clip PATH] [--out docs/app_screenshot.png] [--frame K]``
(needs ``/usr/bin/chromium`` and the test requirements: ``make install-dev``).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from glot.testing.app_server import running_app  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", default=str(REPO / "assets" / "examples" / "pedestrians.mp4"))
    ap.add_argument("--out", default=str(REPO / "docs" / "app_screenshot.png"))
    ap.add_argument("--frame", type=int, default=None, help="frame to show (default: the middle of the clip)")
    ap.add_argument("--width", type=int, default=1400)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="glot_screenshot_") as tmp, \
            running_app(Path(tmp), None, timeout=300) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": args.width, "height": 1000})
        page.set_default_timeout(600_000)
        page.goto(url + "/")
        page.wait_for_selector("#run-btn")
        page.locator("#video-in input[type=file]").set_input_files(args.clip)
        page.wait_for_selector("#video-in video")
        page.click("#run-btn")
        page.wait_for_selector("#status:has-text('Done')")
        slider = page.locator("#frame-slider input[type=number]")
        top = "() => Math.max(0, ...[...document.querySelectorAll('#frame-slider input')].map(e => +e.max || 0))"
        page.wait_for_function(f"() => ({top})() > 1")  # the slider's range arrives with the results
        last = int(page.evaluate(top))
        frame = args.frame if args.frame is not None else last // 2
        slider.fill(str(frame))
        slider.press("Enter")
        page.wait_for_selector(f"#frame-caption:has-text('frame {frame} ')")
        page.evaluate("() => document.querySelector('#overlay video').pause()")
        height = page.evaluate("() => document.documentElement.scrollHeight")
        page.set_viewport_size({"width": args.width, "height": height})
        time.sleep(4)  # the 3D viewers draw (software WebGL)
        bottom = page.locator("#downloads").bounding_box()  # the page down to the tables (downloads: a long list)
        page.screenshot(path=args.out, clip={"x": 0, "y": 0, "width": args.width, "height": bottom["y"]})
        browser.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
