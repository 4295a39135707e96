"""What the web pad (lesson 08) runs when it has no local onnxruntime-web, in a real (headless) Chromium; and which
Chromium the browser tests drive.

The page is served by `WebPadServer` without its `ort/` folder, so it takes onnxruntime-web from the CDN; Playwright
answers the CDN's URLs from the local npm copy, so nothing leaves the machine. With the package's own files the pad
predicts. With one file changed (the script, the WebAssembly loader or the WebAssembly, each still a working file) the
page says which file failed its SHA-384 check, and none of the three runs: no `ort` global, no model fetched. With the
CDN unreachable the page says how to work offline. `browser_helpers.find_chromium` is checked in subprocesses with a
made-up PATH.
"""
import os, re, shutil, stat, subprocess, sys
from pathlib import Path

import pytest

from digit_course.deploy import ORT_CDN, ORT_FILES, ORT_VERSION, WebPadServer, find_ort

REPO = Path(__file__).resolve().parents[1]
TYPES = {'.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm'}
OFFLINE_HOW = f'npm install --prefix ~/.cache/digit-course onnxruntime-web@{ORT_VERSION}'


@pytest.fixture(scope='module')
def chromium():
    "A headless Chromium (Playwright), or the module's browser tests skipped with the reason."
    import browser_helpers as helpers  # skips, naming where it looked, when there is no Chromium
    sync_api = pytest.importorskip('playwright.sync_api', reason='the playwright package is not installed')
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(helpers.CHROMIUM), args=helpers.CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope='module')
def originals():
    "The three files of the pinned onnxruntime-web, from the local npm copy: name -> bytes."
    dist = find_ort()
    if dist is None: pytest.skip(f'no local onnxruntime-web {ORT_VERSION} ({OFFLINE_HOW})')
    return {name: (dist / name).read_bytes() for name in ORT_FILES}


@pytest.fixture(scope='module')
def cdn_pad():
    "The pad's URL, served without a local onnxruntime-web: the page must take it from the CDN."
    with WebPadServer() as server:
        shutil.rmtree(server.info['dir'] / 'ort', ignore_errors=True)
        yield server.url


def open_pad(browser, url, files):
    """Open the pad with the CDN's files answered from `files` (name -> bytes; a missing name: no network) and wait for
    it to load; returns (page, body's data-ready, #prediction's text, requested URLs, CSP violations in the console)."""
    page = browser.new_page()
    requests, violations = [], []
    page.on('request', lambda r: requests.append(r.url))
    page.on('console', lambda m: violations.append(m.text) if 'Content Security Policy' in m.text else None)
    page.route(re.compile(r'^(?!http://127\.0\.0\.1:)'), lambda route: route.abort('internetdisconnected'))  # nothing leaves
    def cdn(route):
        name = route.request.url.removeprefix(ORT_CDN)
        if name not in files: return route.abort('internetdisconnected')
        route.fulfill(status=200, body=files[name], headers={'Content-Type': TYPES[Path(name).suffix],
                                                              'Access-Control-Allow-Origin': '*'})  # as the CDN answers
    page.route(ORT_CDN + '**', cdn)  # the later route is asked first
    page.goto(url)
    page.wait_for_selector('body[data-ready]', timeout=60_000)
    return page, page.get_attribute('body', 'data-ready'), page.inner_text('#prediction'), requests, violations


def tampered(name, data: bytes) -> bytes:
    "A changed file of the same kind that still works: a script with one more statement, a module with one more section."
    if name.endswith('.wasm'):  # a custom section (id 0): valid WebAssembly, another file
        payload = bytes([8]) + b'tampered' + b'!' * 16
        return data + bytes([0, len(payload)]) + payload
    return b'globalThis.tampered = (globalThis.tampered || 0) + 1;\n' + data


def test_cdn_files_are_checked_then_run(chromium, originals, cdn_pad):
    page, ready, text, requests, violations = open_pad(chromium, cdn_pad, originals)
    try:
        assert ready == 'true', text
        assert page.evaluate('window.digitPad.runtime') == 'cdn'
        assert sorted(u for u in requests if u.startswith(ORT_CDN)) == sorted(ORT_CDN + n for n in ORT_FILES)
        assert not violations, violations  # the Content-Security-Policy lets the checked files run
        r = page.evaluate("""async () => {
            const c = document.getElementById('canvas'), ctx = c.getContext('2d');
            ctx.lineWidth = 20; ctx.beginPath(); ctx.moveTo(140, 40); ctx.lineTo(143, 240); ctx.stroke();
            return await window.digitPad.predict(); }""")
        assert r['digit'] == 1, r['probs']
    finally: page.close()


@pytest.mark.parametrize('name', ORT_FILES)
def test_a_changed_cdn_file_is_refused(chromium, originals, cdn_pad, name):
    files = {**originals, name: tampered(name, originals[name])}
    page, ready, text, requests, _ = open_pad(chromium, cdn_pad, files)
    try:
        assert ready == 'error', text
        assert f'{ORT_CDN}{name} is not the file this page was written for' in text and 'SHA-384' in text, text
        assert page.evaluate("typeof ort === 'undefined' && globalThis.tampered === undefined"), 'a file from the CDN ran'
        assert page.evaluate('window.digitPad.state.session') is None
        assert not [u for u in requests if u.endswith('digit_cnn.onnx')], 'the model was fetched'
    finally: page.close()


def test_offline_page_says_how_to_work_offline(chromium, cdn_pad):
    page, ready, text, _, _ = open_pad(chromium, cdn_pad, {})
    try:
        assert ready == 'error', text
        assert text.startswith(f'Could not load the model: could not load {ORT_CDN}'), text
        assert OFFLINE_HOW in text and 'digit-course app then serves it' in text, text
    finally: page.close()


def _chromium_found(tmp_path, **env) -> subprocess.CompletedProcess:
    "Import browser_helpers in a fresh Python with PATH and Playwright's browser folder in `tmp_path` (and `env`)."
    (tmp_path / 'bin').mkdir(exist_ok=True)
    env = {'HOME': os.environ.get('HOME', '/'), 'PYTHONPATH': os.pathsep.join([str(REPO), str(REPO / 'tests')]),
           'PATH': str(tmp_path / 'bin'), 'PLAYWRIGHT_BROWSERS_PATH': str(tmp_path / 'playwright'), **env}
    return subprocess.run([sys.executable, '-c', 'import browser_helpers as b; print(b.CHROMIUM)'], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


def _program(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('#!/bin/sh\nexit 0\n'); path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_chromium_is_found_where_the_system_has_it(tmp_path):
    chrome = _program(tmp_path / 'bin' / 'google-chrome')
    res = _chromium_found(tmp_path)
    assert res.stdout.strip() == str(chrome), res.stderr[-2000:]
    mine = _program(tmp_path / 'elsewhere' / 'my-chromium')
    res = _chromium_found(tmp_path, DIGIT_COURSE_CHROMIUM=str(mine))
    assert res.stdout.strip() == str(mine), res.stderr[-2000:]
    res = _chromium_found(tmp_path, DIGIT_COURSE_CHROMIUM=str(tmp_path / 'no-such-chromium'))
    assert 'Skipped' in res.stderr and f'DIGIT_COURSE_CHROMIUM={tmp_path}/no-such-chromium is no executable file' in res.stderr


def test_playwrights_own_chromium_is_the_last_resort(tmp_path):
    pytest.importorskip('playwright.sync_api', reason='the playwright package is not installed')
    res = _chromium_found(tmp_path)  # nothing anywhere: a skip that says where it looked and what to set
    assert res.returncode != 0 and 'Skipped: no Chromium found' in res.stderr, res.stderr[-2000:]
    assert all(w in res.stderr for w in ('$DIGIT_COURSE_CHROMIUM', 'chromium-browser', 'google-chrome', "Playwright's own",
                                         'set DIGIT_COURSE_CHROMIUM=')), res.stderr[-2000:]
    where = subprocess.run([sys.executable, '-c', 'from playwright.sync_api import sync_playwright\n'
                            'with sync_playwright() as p: print(p.chromium.executable_path)'],
                           env={'HOME': os.environ.get('HOME', '/'), 'PLAYWRIGHT_BROWSERS_PATH': str(tmp_path / 'playwright')},
                           capture_output=True, text=True, timeout=120).stdout.strip()
    bundled = _program(Path(where))  # as `playwright install chromium` would put it
    res = _chromium_found(tmp_path)
    assert res.stdout.strip() == str(bundled), res.stderr[-2000:]
