"""The app in a real browser: Debian's Chromium driven by Playwright (no browser download)."""
from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import CARPHONE
from glot.testing.app_server import running_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run",
                 # software WebGL, so the 3D viewer draws without a GPU (for the screenshot)
                 "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]


def _chromium() -> Path:
    """Debian's Chromium; installed with apt when missing. Skips only when neither is possible."""
    if CHROMIUM.is_file():
        return CHROMIUM
    apt = shutil.which("apt-get")
    if apt is None:
        pytest.skip("no /usr/bin/chromium and no apt-get to install it (Debian/Ubuntu: apt-get install -y chromium)")
    r = subprocess.run(f"{apt} update -qq && {apt} install -y -qq chromium", shell=True, capture_output=True,
                       text=True, timeout=900)
    if r.returncode != 0 or not CHROMIUM.is_file():
        pytest.fail(f"apt-get install chromium failed: {r.stderr[-500:]}")
    return CHROMIUM


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """The app as a new user meets it: no licensed files, so the open default model runs."""
    sync_api = pytest.importorskip("playwright.sync_api")
    exe = _chromium()
    tmp = tmp_path_factory.mktemp("browser_app")
    with running_app(tmp, None) as url, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(exe), headless=True, args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.set_default_timeout(120_000)
        pg.goto(url + "/")
        pg.wait_for_selector("#run-btn")
        yield pg
        browser.close()


def _href(page, elem: str = "#viewer") -> str:
    return page.locator(f"{elem} a[data-testid=model3d-download-link]").get_attribute("href") or ""


def _set_number(page, elem: str, value: str) -> None:
    box = page.locator(f"{elem} input[type=number]")
    box.fill(value)
    box.press("Enter")


def _body_pixels(page, elem: str) -> int:
    """Pixels of the 3D viewer's canvas in the branch colours (the floor and background are grey)."""
    page.locator(f"{elem} canvas").scroll_into_view_if_needed()
    png = page.locator(f"{elem} canvas").screenshot()
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR).astype(int)
    return int(((img.max(-1) - img.min(-1)) > 40).sum())


def _wait_body(page, elem: str, least: int = 500, seconds: float = 30.0) -> int:
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        n = _body_pixels(page, elem)
        if n >= least:
            return n
        time.sleep(0.5)
    return n


def test_upload_run_inspect(page, tmp_path):
    # upload -> the first frame appears for choosing a person; two clicks make a box
    page.locator("#video-in input[type=file]").set_input_files(str(CARPHONE))
    page.wait_for_selector("#video-in video")
    img = page.locator("#person-img img")
    page.get_by_text("Person to show first").click()
    img.wait_for()
    bb = img.bounding_box()
    src = img.get_attribute("src")
    img.click(position={"x": bb["width"] * 0.2, "y": bb["height"] * 0.1})
    # the first corner is marked, and its picture loaded, before the second click: under load, a click
    # on the new picture before it had loaded never reached the server (about half the runs)
    page.wait_for_function("s => { const i = document.querySelector('#person-img img');"
                           " return i.src !== s && i.complete && i.naturalWidth > 0; }", arg=src)
    img.click(position={"x": bb["width"] * 0.8, "y": bb["height"] * 0.9})
    box = page.locator("#person-box textarea, #person-box input").first
    page.wait_for_function("() => /\\d+, \\d+, \\d+, \\d+/.test("
                           "document.querySelector('#person-box textarea, #person-box input').value)")
    x0, y0, x1, y1 = (int(v) for v in box.input_value().split(","))
    assert 20 < x0 < 50 and 120 < x1 < 160 and y0 < 30 and y1 > 110  # 176 x 144 pixels
    # settings: 16 frames, a block of masked frames
    page.get_by_label("Max frames").fill("16")
    page.get_by_label("contiguous block (simulated occlusion)").check()
    _set_number(page, "#mask-ratio", "0.25")
    page.click("#run-btn")
    page.wait_for_selector("#preview img")  # the live preview
    page.wait_for_selector("#overlay video[src]", timeout=300_000)
    page.wait_for_selector("#status:has-text('Done')")
    # plots hold data, with the cursor's marker at the shown frame
    for plot in ("#acc-plot", "#diff-plot", "#heat-plot"):
        page.wait_for_selector(f"{plot} .js-plotly-plot")
    assert page.locator("#acc-plot .scatterlayer .trace").count() == 2
    assert page.locator("#diff-plot .scatterlayer .trace").count() == 1
    assert page.locator("#heat-plot .heatmaplayer > *").count() == 2
    assert "people tracked" in page.locator("#run-table").inner_text()
    downloads = page.locator("#downloads").inner_text().replace("\n", "")
    for name in ("results.npz", "overlay.mp4", "motion_final.glb", "motion_global.glb", "motion_final.bvh",
                 "motion_global.bvh", "summary.json"):
        assert name in downloads
    assert page.locator("#person-thumbs img").count() == 1
    # the viewer draws the first result at once (no slider move needed)
    page.wait_for_function("() => (document.querySelector('#viewer a[data-testid=model3d-download-link]')||{}).href"
                           "?.includes('frame_000000_id')")
    assert _wait_body(page, "#viewer") >= 500
    # the whole motion plays in the second viewer
    assert _href(page, "#motion").endswith("motion_final.glb")
    assert _wait_body(page, "#motion") >= 500
    # the slider moves the viewer, the joints view, the caption and the plots' marker, and seeks the video
    joints_before = page.locator("#joints-img img").get_attribute("src")
    _set_number(page, "#frame-slider", "9")
    page.wait_for_function("() => document.querySelector('#viewer a[data-testid=model3d-download-link]')"
                           ".href.includes('frame_000009_id')")
    page.wait_for_selector("#frame-caption:has-text('frame 9 ')")
    assert "masked from the global encoder" in page.locator("#frame-caption").inner_text()
    assert page.locator("#joints-img img").get_attribute("src") != joints_before
    assert re.search(r"frame_000009_id\d+\.glb$", _href(page))
    assert _wait_body(page, "#viewer") >= 500
    marker = "() => document.querySelector('#acc-plot .js-plotly-plot').layout.shapes.some(s => s.x0 === {})"
    page.wait_for_function(marker.format(9))
    t = page.evaluate("() => document.querySelector('#overlay video').currentTime")
    assert abs(t - 9.5 / 29.97) < 0.02, t
    # playing / scrubbing the video moves the slider and everything it drives
    page.evaluate("() => { const v = document.querySelector('#overlay video'); v.currentTime = 0.45; }")
    page.wait_for_function("() => document.querySelector('#frame-slider input[type=number]').value === '13'")
    page.wait_for_selector("#frame-caption:has-text('frame 13 ')")
    page.wait_for_function(marker.format(13))
    page.wait_for_function("() => document.querySelector('#viewer a[data-testid=model3d-download-link]')"
                           ".href.includes('frame_000013_id')")
    # a viewport as tall as the page (a full-page capture resizes it and resets the WebGL canvas)
    height = page.evaluate("() => document.documentElement.scrollHeight")
    page.set_viewport_size({"width": 1400, "height": height})
    page.wait_for_timeout(2000)
    page.screenshot(path=str(tmp_path / "app.png"))  # the README's picture is made by tools/app_screenshot.py
    assert (tmp_path / "app.png").stat().st_size > 50_000
    page.set_viewport_size({"width": 1400, "height": 1000})


def test_two_people_selector_and_everyone(page, tmp_path):
    from glot.render import VideoWriter
    from glot.video import iter_frames

    clip = tmp_path / "two_people.mp4"
    frames = [fr.image for fr in iter_frames(CARPHONE) if fr.index < 24]
    with VideoWriter(clip, fps=25, preset="ultrafast", crf=12) as w:
        for k, img in enumerate(frames):
            w.write(np.concatenate([img, frames[(k + 9) % len(frames)]], axis=1))
    page.locator("#video-in button[aria-label='Clear']").first.click()  # the previous clip goes
    page.locator("#video-in input[type=file]").set_input_files(str(clip))
    page.wait_for_function("() => document.querySelector('#video-in video')?.src?.includes('two_people')")
    page.get_by_label("Max frames").fill("0")
    page.get_by_label("none ★").check()
    page.locator("#person-box textarea, #person-box input").first.fill("")
    page.click("#run-btn")
    page.wait_for_selector("#status:has-text('2 people tracked')", timeout=300_000)
    page.wait_for_function("() => document.querySelectorAll('#person-thumbs img').length === 2")
    labels = page.locator("#person-select label").all_inner_texts()
    assert len(labels) == 3 and labels[-1].strip() == "everyone"
    first = page.locator("#frame-caption").inner_text()
    ids = [re.match(r"id (\d+)", lab.strip()).group(1) for lab in labels[:2]]
    shown = re.search(r"id (\d+)", first).group(1)
    other = ids[1] if shown == ids[0] else ids[0]
    page.locator("#person-thumbs img").nth(ids.index(other)).click()  # a thumbnail selects its person
    page.wait_for_selector(f"#frame-caption:has-text('id {other} ')")
    page.wait_for_function(f"() => document.querySelector('#viewer a[data-testid=model3d-download-link]')"
                           f".href.includes('_id{other}.glb')")
    assert _href(page, "#motion").endswith(f"motion_final_{other}.glb")
    page.locator("#person-select label").last.click()  # everyone
    page.wait_for_selector("#frame-caption:has-text('2 people')")
    page.wait_for_function("() => document.querySelector('#viewer a[data-testid=model3d-download-link]')"
                           ".href.includes('_all.glb')")
    assert _wait_body(page, "#viewer") >= 500
