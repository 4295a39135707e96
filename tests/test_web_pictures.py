"""The web pad's pictures in a real (headless) Chromium, served by `digit-course app` as a user runs it.

The page reads photos and scans in JavaScript (preprocess.js, a port of `preprocess_digit`'s photo path). Here:
its 28x28 images against `preprocess_digit` on the robustness suite's phone photos, small digits, digits among other
marks and low-resolution scans made from validation digits (the same pixels handed to both), and the digit the page's
model reads from each; a 12-megapixel JPEG, a scan PNG and an EXIF-rotated JPEG uploaded through the file input, with
the time from file chosen to answer; a file that is no image, a cut-short JPEG and a 20000x20000 PNG, each one message
in the status line with the pad still working after; and a finger drawing on a phone without scrolling the page.
Figures are printed (run with -s to see them).
"""
import base64, inspect, io, re

import numpy as np
import pytest

from browser_helpers import CHROMIUM, CHROMIUM_ARGS, ONE, drag, missing, web_app
from digit_course.deploy import ORT_VERSION, find_ort

try: from playwright import sync_api
except ImportError: missing('the playwright package is not installed')
if not CHROMIUM.exists(): missing(f'{CHROMIUM} is missing (apt-get install chromium)')
if find_ort() is None: missing(f'no local onnxruntime-web {ORT_VERSION} (npm install --prefix ~/.cache/digit-course onnxruntime-web@{ORT_VERSION})')

from PIL import Image
from digit_course.handwriting import low_res, photo_of
from digit_course.preprocess import preprocess_digit

assert {'box', 'marks'} <= set(inspect.signature(photo_of).parameters), 'photo_of lacks box= or marks='

N = 100         # images per condition
TOLERANCE = 0.05  # the largest difference in any pixel of the 28x28 image for a picture to count as the same
ANSWER = re.compile(r'(Prediction: |Unsure: maybe )(\d)')


def _conditions():
    "The robustness suite's photo, small-digit, other-marks and scan conditions: name -> image maker (digit, rng)."
    c = {'phone photo': lambda d, r: photo_of(d, r)}
    for b in (16, 24, 32, 48, 64): c[f'small digit {b}px'] = (lambda b: lambda d, r: photo_of(d, r, box=b))(b)
    c['among other marks'] = lambda d, r: photo_of(d, r, marks=True)
    for px in (8, 10, 12, 16):
        for m in ('nearest', 'bilinear'): c[f'scan {px}px, {m}'] = (lambda px, m: lambda d, r: low_res(d, px, m))(px, m)
    return c


@pytest.fixture(scope='module')
def digits():
    from digit_course.mnist import load_mnist
    from digit_course.data import validation_split
    return validation_split(load_mnist(verbose=False))[2:]


@pytest.fixture(scope='module')
def app_url(tmp_path_factory, module_port):
    with web_app(module_port, tmp_path_factory.mktemp('app') / 'app.log') as url: yield url


@pytest.fixture(scope='module')
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try: yield b
        finally: b.close()


def _open(browser, url, **context):
    "A new page on the pad, its model loaded."
    page = browser.new_context(**(context or {'viewport': {'width': 900, 'height': 700}})).new_page()
    page.goto(url)
    sync_api.expect(page.locator('#prediction')).to_have_text('Draw a digit', timeout=60_000)
    return page


_PREPROCESS = """async (batch) => {
  const out = [], pad = window.digitPad;
  const bytes = b64 => Uint8Array.from(atob(b64), ch => ch.charCodeAt(0));
  const digit = async im => { if (im === null) return null; const p = await pad.probsOf(im); return p.indexOf(Math.max(...p)); };
  for (const {pixels, h, w, c, python} of batch) {
    const raw = bytes(pixels), data = new Uint8ClampedArray(h * w * 4);
    for (let i = 0; i < h * w; i++) {
      for (let k = 0; k < 3; k++) data[4 * i + k] = raw[c * i + (c === 1 ? 0 : k)];
      data[4 * i + 3] = 255;
    }
    const t0 = performance.now(), image = pad.preprocessPicture({data, width: w, height: h}), ms = performance.now() - t0;
    const py = python === null ? null : new Float32Array(bytes(python).buffer);
    let diff = null;
    if (image !== null && py !== null) { diff = 0; for (let i = 0; i < 784; i++) diff = Math.max(diff, Math.abs(image[i] - py[i])); }
    out.push({page: image !== null, python: py !== null, diff, pageDigit: await digit(image), pythonDigit: await digit(py), ms});
  }
  return out;
}"""


def test_pictures_match_python(app_url, browser, digits):
    x_va, y_va = digits
    page = _open(browser, app_url)
    b64 = lambda a: base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()
    rows, failed = [], []
    for name, make in _conditions().items():
        rng = np.random.default_rng(0)
        res, batch = [], []
        for d in x_va[:N]:
            img = make(d, rng)
            py = preprocess_digit(img)
            batch.append(dict(pixels=b64(img), h=img.shape[0], w=img.shape[1], c=1 if img.ndim == 2 else img.shape[2],
                              python=None if py is None else b64(py.astype(np.float32))))
            if len(batch) == 20: res += page.evaluate(_PREPROCESS, batch); batch = []
        if batch: res += page.evaluate(_PREPROCESS, batch)
        same_none = np.array([r['page'] == r['python'] for r in res])
        diff = np.array([r['diff'] if r['diff'] is not None else 0.0 if r['page'] == r['python'] else np.inf for r in res])
        agree = np.mean([r['pageDigit'] == r['pythonDigit'] for r in res])
        right = np.mean([r['pageDigit'] == y for r, y in zip(res, y_va[:N])])
        ms = np.median([r['ms'] for r in res])
        largest = np.max([r['diff'] for r in res if r['diff'] is not None], initial=0.0)
        rows.append((name, len(res), largest, (diff <= TOLERANCE).mean(), (diff <= 1e-4).mean(), (~same_none).sum(), agree, right, ms))
        if (diff <= TOLERANCE).mean() < 0.99 or agree < 0.99 or not same_none.all(): failed.append(name)
    print(f"\nweb pad pictures against preprocess_digit ({N} validation digits a condition; tolerance {TOLERANCE} a pixel):")
    print(f"  {'condition':22s} {'n':>4s} {'largest diff':>12s} {'<= 0.05':>7s} {'<= 1e-4':>7s} {'None differs':>12s} "
          f"{'same digit':>10s} {'page right':>10s} {'page ms':>8s}")
    for name, n, largest, within, exact, nones, agree, right, ms in rows:
        print(f"  {name:22s} {n:4d} {largest:12.1e} {within:7.1%} {exact:7.1%} {nones:12d} {agree:10.1%} {right:10.1%} {ms:8.1f}")
    n, share = sum(r[1] for r in rows), lambda k: sum(r[1] * r[k] for r in rows) / sum(r[1] for r in rows)
    print(f"  {'all':22s} {n:4d} {max(r[2] for r in rows):12.1e} {share(3):7.1%} {share(4):7.1%} "
          f"{sum(r[5] for r in rows):12d} {share(6):10.1%} {share(7):10.1%}")
    assert not failed, f'the page and preprocess_digit differ on {failed}'
    page.context.close()


def _upload(page, path, timeout=60_000):
    "Choose a file in the page's upload button; the page's record of it once answered (or refused)."
    page.evaluate('() => { window.digitPad.lastPicture = null; }')
    page.set_input_files('#upload', str(path))
    page.wait_for_function('() => window.digitPad.lastPicture !== null', timeout=timeout)
    return page.evaluate('() => window.digitPad.lastPicture')


def _saved(img, path, **kw):
    Image.fromarray(img).save(path, **kw)
    return path


def test_upload_photos_and_scans(app_url, browser, digits, tmp_path):
    x_va, y_va = digits
    rng = np.random.default_rng
    files = [  # (what, file, label): 12-megapixel phone photos (a large digit, and a small one read again at full size), a scan
        ('4000x3000 photo, 600 px digit', _saved(photo_of(x_va[0], rng(7), (3000, 4000), box=600), tmp_path / 'photo.jpg', quality=90), y_va[0]),
        ('4000x3000 photo, 80 px digit', _saved(photo_of(x_va[1], rng(1), (3000, 4000), box=80), tmp_path / 'small.jpg', quality=90), y_va[1]),
        ('112x112 scan PNG (12 px)', _saved(low_res(x_va[2], 12, 'bilinear'), tmp_path / 'scan.png'), y_va[2])]
    page = _open(browser, app_url)
    label = page.locator('#prediction')
    print()
    for what, path, digit in files:
        times = []
        for _ in range(2):  # the first pictures meet a cold page (its code not yet compiled), the repeats a warm one
            got = _upload(page, path)
            times.append(got['ms'])
            assert 'error' not in got, got
            m = ANSWER.match(label.inner_text())
            assert m and int(m[2]) == digit == got['digit'], f'{what}: a {digit}, the page says {label.inner_text()!r}'
        python = preprocess_digit(path)  # the same file, decoded by Pillow
        diff = np.abs(np.float32(got['image']).reshape(28, 28) - python).max()
        print(f"{what}: read as {got['width']}x{got['height']}, answer {label.inner_text()!r}, "
              f"{times[0]:.0f} ms from file chosen to answer (then {times[1]:.0f} ms); "
              f"largest difference from preprocess_digit on the file {diff:.3f}")
        assert page.locator('#picture-view').is_visible(), 'no thumbnail of the picture'
    drag(page, page.locator('#canvas').bounding_box(), ONE)  # drawing goes back to the canvas
    sync_api.expect(label).to_have_text(re.compile(r'Prediction: 1 '), timeout=20_000)
    assert page.locator('#picture-view').is_hidden()
    page.context.close()


def test_exif_rotated_photo(app_url, browser, digits, tmp_path):
    "A phone photo stored sideways with EXIF Orientation 6 (rotate 90 degrees clockwise to show) is read as shown."
    from PIL import ImageOps
    x_va, y_va = digits
    i = 3
    shown = photo_of(x_va[i], np.random.default_rng(3), (400, 300), box=120)  # portrait, 300 wide, 400 high
    exif = Image.Exif(); exif[0x0112] = 6
    path = tmp_path / 'sideways.jpg'
    Image.fromarray(np.rot90(shown)).save(path, quality=95, exif=exif)  # the pixels stored a quarter turn anticlockwise
    with Image.open(path) as im:
        assert im.size == (400, 300) and ImageOps.exif_transpose(im).size == (300, 400)
        stored = np.asarray(im)
    page = _open(browser, app_url)
    got = _upload(page, path)
    upright, sideways = preprocess_digit(path), preprocess_digit(stored)  # Python reads the file upright
    image = np.float32(got['image']).reshape(28, 28)
    d_up, d_side = np.abs(image - upright).max(), np.abs(image - sideways).max()
    print(f"\nEXIF-rotated JPEG: read as {got['width']}x{got['height']} (stored 400x300), answer "
          f"{page.locator('#prediction').inner_text()!r} (a {y_va[i]}); largest difference from preprocess_digit "
          f"on the file {d_up:.3f}, from the stored pixels unrotated {d_side:.3f}")
    assert (got['width'], got['height']) == (300, 400)
    assert got['digit'] == y_va[i]
    assert d_up < d_side
    page.context.close()


def test_bad_pictures_get_one_message(app_url, browser, tmp_path):
    notes = tmp_path / 'notes.txt'; notes.write_text('a shopping list, not a picture\n')
    buf = io.BytesIO(); Image.fromarray(np.uint8(np.random.default_rng(0).integers(0, 256, (300, 400, 3)))).save(buf, 'jpeg')
    cut = tmp_path / 'cut.jpg'; cut.write_bytes(buf.getvalue()[:len(buf.getvalue()) // 2])
    huge = tmp_path / 'huge.png'; Image.new('1', (20000, 20000)).save(huge)  # 400 megapixels, 48 KB compressed
    cases = [(notes, 'That file is not a picture we can read (notes.txt: not an image format this browser reads)'),
             (cut, 'That file is not a picture we can read (cut.jpg: the JPEG data is damaged or cut short)'),
             (huge, 'That picture is 20000x20000 pixels; the largest we read is 50 megapixels')]
    page = _open(browser, app_url)
    label, canvas = page.locator('#prediction'), page.locator('#canvas')
    print()
    for path, message in cases:
        got = _upload(page, path)
        assert 'error' in got
        sync_api.expect(label).to_have_text(message)
        assert 'error' in (label.get_attribute('class') or '')
        text = page.evaluate('() => document.body.innerText')
        assert text.count('picture we can read') + text.count('the largest we read') == 1, 'more than one message'
        assert label.bounding_box()['y'] + label.bounding_box()['height'] <= canvas.bounding_box()['y'] + 1, \
            'the message is not above the canvas'
        assert page.locator('#picture-view').is_hidden()
        print(f"{path.name} ({path.stat().st_size:,} bytes): {label.inner_text()!r}")
        drag(page, canvas.bounding_box(), ONE)  # the pad still works
        sync_api.expect(label).to_have_text(re.compile(r'Prediction: 1 '), timeout=20_000)
        assert 'error' not in (label.get_attribute('class') or '')
        page.click('#clear')
        sync_api.expect(label).to_have_text('Draw a digit')
    page.context.close()


def _touch_drag(cdp, points, steps=8):
    "A finger pressed at the first point, moved through the others and lifted (viewport coordinates, CSS pixels)."
    cdp.send('Input.dispatchTouchEvent', {'type': 'touchStart', 'touchPoints': [{'x': points[0][0], 'y': points[0][1]}]})
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        for k in range(1, steps + 1):
            x, y = x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps
            cdp.send('Input.dispatchTouchEvent', {'type': 'touchMove', 'touchPoints': [{'x': x, 'y': y}]})
    cdp.send('Input.dispatchTouchEvent', {'type': 'touchEnd', 'touchPoints': []})


def test_finger_draws_without_scrolling(app_url, browser):
    phone = dict(viewport={'width': 390, 'height': 664}, device_scale_factor=3, is_mobile=True, has_touch=True)
    page = _open(browser, app_url, **phone)
    label = page.locator('#prediction')
    size = page.evaluate('() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight, innerWidth, innerHeight]')
    assert size[0] <= size[2], f'the page is wider than the phone: {size}'
    assert size[1] > size[3], f'the page should be taller than the phone for this test: {size}'
    assert page.locator('#camera-button').is_visible() and page.locator('#upload-button').is_visible()
    page.evaluate('() => window.scrollTo(0, 60)')
    page.wait_for_function('() => window.scrollY === 60')
    cdp = page.context.new_cdp_session(page)
    box = page.locator('#canvas').bounding_box()
    assert box['y'] >= 0 and box['y'] + box['height'] <= size[3], 'the canvas is not all on the screen'
    _touch_drag(cdp, [(box['x'] + x, box['y'] + y) for x, y in ONE])  # a 1, drawn downwards
    sync_api.expect(label).to_have_text(re.compile(r'Prediction: 1 '), timeout=20_000)
    page.wait_for_timeout(300)
    after = page.evaluate('() => window.scrollY')
    strokes = page.evaluate('() => window.digitPad.state.strokes.length')
    # the same gesture on the text above the canvas scrolls the page: the emulated finger does scroll where it may
    lead = page.locator('.lead').bounding_box()
    y = lead['y'] + lead['height'] - 10
    _touch_drag(cdp, [(lead['x'] + 40, y), (lead['x'] + 40, y - 150)])
    page.wait_for_timeout(500)
    scrolled = page.evaluate('() => window.scrollY')
    print(f"\nfinger on a 390x664 phone screen (page {size[0]}x{size[1]}): answer {label.inner_text()!r}, {strokes} stroke, "
          f"scrollY 60 -> {after} while drawing; the same swipe off the canvas scrolls to {scrolled}")
    assert strokes == 1 and after == 60
    assert scrolled != 60
    page.context.close()
