"""The web pad (lesson 08) in a real (headless) Chromium, served by `digit-course app` as a user runs it.

Draws a 1, a 7 (small, in a corner) and a 0 with the mouse and reads the answer off #prediction, checks Undo and
Clear; then puts 500 re-drawn MNIST test digits on the page's pad and compares the page's preprocessing with
`preprocess_digit` and its predictions with the Python `Predictor`, printing the figures and the page's latency.
Also checks that the page's pinned onnxruntime-web version and the SHA-384 hashes of the three files it loads match the npm
package's files.
"""
import base64, hashlib
from pathlib import Path

import numpy as np
import pytest

from browser_helpers import CHROMIUM, CHROMIUM_ARGS, draw_digits, missing, web_app
from digit_course.deploy import ORT_FILES, ORT_VERSION, WEB_DIR, browser_predictions, find_ort

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / 'tests' / 'artifacts'

try: from playwright import sync_api
except ImportError: missing('the playwright package is not installed')
ORT = find_ort()
if ORT is None: missing(f'no local onnxruntime-web {ORT_VERSION} (npm install --prefix ~/.cache/digit-course onnxruntime-web@{ORT_VERSION})')


@pytest.fixture(scope='module')
def app_url(tmp_path_factory, module_port):
    "`digit-course app --no-browser --port N` in a subprocess, as a user starts it (`web_app`), serving the local runtime; its URL."
    log = tmp_path_factory.mktemp('app') / 'app.log'
    with web_app(module_port, log) as url:
        assert 'onnxruntime-web: local' in log.read_text()
        yield url


def test_pinned_runtime_matches_the_package():
    js = (WEB_DIR / 'pad.js').read_text()
    assert f"const ORT_VERSION = '{ORT_VERSION}';" in js
    for name in ORT_FILES:  # the script, the WebAssembly loader (.mjs) and the WebAssembly (.wasm)
        digest = base64.b64encode(hashlib.sha384((ORT / name).read_bytes()).digest()).decode()
        assert f"'{name}': 'sha384-{digest}'," in js, f'pad.js has the wrong SHA-384 for {name}'


def test_draw_digits_on_the_web_pad(app_url):
    expect = sync_api.expect
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={'width': 900, 'height': 700})
            page.goto(app_url)
            label = page.locator('#prediction')
            expect(label).to_have_text('Draw a digit', timeout=60_000)  # the runtime and the model are loaded
            assert page.evaluate('window.digitPad.runtime') == 'local'
            box = page.locator('#canvas').bounding_box()
            assert abs(box['width'] - 280) <= 4, f"canvas is {box['width']} px wide, expected 280"
            draw_digits(page, box, label, page.locator('#clear'), page.locator('#undo'), lambda d: ARTIFACTS / f'web_pad_{d}.png')
            page.click('#clear')
            expect(label).to_have_text('Draw a digit')
            assert page.evaluate("document.getElementById('bars').innerText").count('0%') == 10
            assert page.evaluate("document.getElementById('canvas').getContext('2d').getImageData(0, 0, 280, 280)"
                                 ".data.reduce((a, b) => Math.max(a, b), 0)") == 0, 'Clear left ink on the canvas'
        finally:
            browser.close()


def test_page_matches_python(app_url):
    from digit_course.mnist import load_mnist
    from digit_course.predict import Predictor
    from digit_course.preprocess import preprocess_digit, redraw_like_people
    m = load_mnist(verbose=False)
    n = 500
    canvases = redraw_like_people(m.x_test[:n], seed=1)
    page = browser_predictions(app_url, canvases, chromium=str(CHROMIUM))
    python = np.stack([preprocess_digit(c) for c in canvases])
    predictor = Predictor()
    python_digits = np.array([predictor.probs_of(im).argmax() for im in python])
    diff = np.abs(page['images'] - python).max(axis=(1, 2))
    agree = float((page['probs'].argmax(1) == python_digits).mean())
    p50, p99 = np.percentile(page['ms'], [50, 99])
    print(f"\nweb pad parity on {n} re-drawn test digits: largest pixel difference {diff.max():.1e}, "
          f"images within 1e-4: {(diff < 1e-4).mean():.1%}; same digit as Predictor: {agree:.1%}; "
          f"pen-up to probabilities: median {p50:.1f} ms, p99 {p99:.1f} ms")
    assert np.isfinite(diff).all(), 'the page found no digit where preprocess_digit found one'
    assert (diff < 1e-4).mean() >= 0.99 and agree >= 0.99
