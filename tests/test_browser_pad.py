"""The drawing pad as a person uses it: JupyterLab in a real (headless) Chromium, digits drawn with the mouse.

Starts its own JupyterLab on a loopback port with a random token, opens a notebook that shows `DigitPad()`
with the shipped model, draws a 1, a 7 (small, in a corner) and a 0 along known stroke paths, reads the
prediction off the page after each, checks Undo and Clear, and saves screenshots to tests/artifacts/.
"""
import io, json, os, re, secrets, signal, subprocess, sys, time, urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / 'tests' / 'artifacts'

from browser_helpers import CHROMIUM, CHROMIUM_ARGS, draw_digits, missing

try: from playwright import sync_api
except ImportError: missing('the playwright package is not installed')
pytest.importorskip('jupyterlab', reason='jupyterlab is not installed')
if not CHROMIUM.exists(): missing(f'{CHROMIUM} is missing (apt-get install chromium)')

NOTEBOOK_CELL = f"""import sys
sys.path.insert(0, {str(REPO)!r})
from digit_course.pad import DigitPad
pad = DigitPad()
pad"""


def _write_notebook(path):
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "id": "pad", "metadata": {}, "outputs": [],
                     "source": NOTEBOOK_CELL}],
          "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}},
          "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))


def _quiet_settings(settings_dir):
    "User settings that keep the 'Jupyter news' toast from covering the page."
    d = settings_dir / '@jupyterlab' / 'apputils-extension'
    d.mkdir(parents=True)
    (d / 'notification.jupyterlab-settings').write_text('{"fetchNews": "false", "checkForUpdates": false}')


def _start_lab(root, port, token, log):
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(root / '.settings'),
               JUPYTERLAB_WORKSPACES_DIR=str(root / '.workspaces'))
    env.pop('IN_TEST', None)
    cmd = [sys.executable, '-m', 'jupyter', 'lab', '--allow-root', '--no-browser', '--ip=127.0.0.1', f'--port={port}',
           f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={root}']
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None: raise RuntimeError(f'JupyterLab exited with code {proc.returncode}')
        try:
            urllib.request.urlopen(f'http://127.0.0.1:{port}/api/status?token={token}', timeout=2)
            return proc
        except OSError:
            time.sleep(0.5)
    raise RuntimeError('JupyterLab did not answer within 60 s')


def _stop_lab(proc):
    if proc.poll() is not None: return
    proc.send_signal(signal.SIGTERM)  # the server shuts its kernels down on SIGTERM
    try: proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _darkest(canvas):
    "The darkest pixel value (0..255) inside the canvas as the browser shows it, its 1 px border excluded."
    from PIL import Image
    img = Image.open(io.BytesIO(canvas.screenshot())).convert('L')
    return img.crop((3, 3, img.width - 3, img.height - 3)).getextrema()[0]


def test_draw_digits_in_jupyterlab(tmp_path, port):
    expect = sync_api.expect
    token = secrets.token_hex(16)
    _write_notebook(tmp_path / 'pad.ipynb')
    _quiet_settings(tmp_path / '.settings')
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with open(tmp_path / 'jupyter.log', 'w') as log:
        proc = _start_lab(tmp_path, port, token, log)
    page = None
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={'width': 1280, 'height': 900})
                page.goto(f'http://127.0.0.1:{port}/lab/tree/pad.ipynb?token={token}')
                expect(page.get_by_text(re.compile(r'Python 3 \(ipykernel\) \| Idle'))).to_be_visible(timeout=90_000)
                page.locator('.jp-Cell .jp-InputArea-editor').first.click()
                page.keyboard.press('Shift+Enter')

                label = page.locator('.digit-pad-prediction')
                expect(label).to_have_text('Draw a digit', timeout=90_000)  # model loaded, pad shown
                canvas = page.locator('.jp-OutputArea-output canvas').first
                expect(canvas).to_be_visible()
                box = canvas.bounding_box()
                assert abs(box['width'] - 280) <= 4, f"canvas is {box['width']} px wide, expected 280"
                clear = page.locator('.widget-button', has_text='Clear')

                draw_digits(page, box, label, clear, page.locator('.widget-button', has_text='Undo'),
                            lambda d: ARTIFACTS / f'pad_{d}.png')

                assert _darkest(canvas) < 50, 'the last drawing is not visible on the canvas'
                clear.click()
                expect(label).to_have_text('Draw a digit', timeout=20_000)
                page.wait_for_timeout(300)  # let the canvas repaint
                page.screenshot(path=str(ARTIFACTS / 'pad_cleared.png'))
                assert _darkest(canvas) > 200, 'Clear left ink on the canvas'
            finally:
                browser.close()
    finally:
        _stop_lab(proc)
