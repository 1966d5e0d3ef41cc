"""The app in a real browser: Debian's Chromium driven by Playwright (no browser download)."""
from __future__ import annotations

import re
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import CARPHONE
from test_app_server import REPO, running_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run",
                 # software WebGL, so the 3D viewer draws without a GPU (for the screenshot)
                 "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
SCREENSHOT = REPO / "docs" / "app_screenshot.png"


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
def page(pipeline_assets, tmp_path_factory):
    sync_api = pytest.importorskip("playwright.sync_api")
    exe = _chromium()
    tmp = tmp_path_factory.mktemp("browser_app")
    with running_app(tmp, pipeline_assets) as url, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(exe), headless=True, args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.set_default_timeout(60_000)
        pg.goto(url + "/")
        pg.wait_for_selector("#run-btn")
        yield pg
        browser.close()


def _href(page) -> str:
    return page.locator("#viewer a[data-testid=model3d-download-link]").get_attribute("href") or ""


def _set_number(page, elem: str, value: str) -> None:
    box = page.locator(f"{elem} input[type=number]")
    box.fill(value)
    box.press("Enter")


def test_upload_run_inspect(page, tmp_path):
    # upload -> the first frame appears for choosing a person; two clicks make a box
    page.locator("#video-in input[type=file]").set_input_files(str(CARPHONE))
    page.wait_for_selector("#video-in video")
    img = page.locator("#person-img img")
    page.get_by_text("Person to follow").click()
    img.wait_for()
    bb = img.bounding_box()
    src = img.get_attribute("src")
    img.click(position={"x": bb["width"] * 0.2, "y": bb["height"] * 0.1})
    # the first corner is marked before the second click (a click while one is pending is dropped)
    page.wait_for_function("s => document.querySelector('#person-img img').src !== s", arg=src)
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
    page.wait_for_selector("#overlay video[src]", timeout=180_000)
    page.wait_for_selector("#status:has-text('Done')")
    # plots hold data
    for plot in ("#acc-plot", "#diff-plot", "#heat-plot"):
        page.wait_for_selector(f"{plot} .js-plotly-plot")
    assert page.locator("#acc-plot .scatterlayer .trace").count() == 2
    assert page.locator("#diff-plot .scatterlayer .trace").count() == 1
    assert page.locator("#heat-plot .heatmaplayer > *").count() == 2
    assert page.locator("#acc-plot .shapelayer path").count() >= 1  # the masked block is shaded
    assert "frames with a person" in page.locator("#run-table").inner_text()
    downloads = page.locator("#downloads").inner_text().replace("\n", "")
    for name in ("results.npz", "overlay.mp4", "meshes_final.zip", "summary.json"):
        assert name in downloads
    # the viewer shows frame 0; the slider moves it
    page.wait_for_function("() => (document.querySelector('#viewer a[data-testid=model3d-download-link]')||{}).href"
                           "?.includes('frame_000000.glb')")
    joints_before = page.locator("#joints-img img").get_attribute("src")
    _set_number(page, "#frame-slider", "9")
    page.wait_for_function("() => document.querySelector('#viewer a[data-testid=model3d-download-link]')"
                           ".href.includes('frame_000009.glb')")
    page.wait_for_selector("#frame-caption:has-text('frame 9')")
    assert "masked from the global encoder" in page.locator("#frame-caption").inner_text()
    assert page.locator("#joints-img img").get_attribute("src") != joints_before
    assert re.search(r"frame_000009\.glb$", _href(page))
    # a viewport as tall as the page (a full-page capture resizes it and resets the WebGL canvas)
    height = page.evaluate("() => document.documentElement.scrollHeight")
    page.set_viewport_size({"width": 1400, "height": height})
    page.wait_for_timeout(3000)  # let the 3D viewer draw
    page.screenshot(path=str(tmp_path / "app.png"))
    if os.environ.get("GLOT_UPDATE_SCREENSHOT"):  # refresh the README picture on request only
        shutil.copyfile(tmp_path / "app.png", SCREENSHOT)
    assert (tmp_path / "app.png").stat().st_size > 50_000
