"Shared by the browser tests: which Chromium to drive (`find_chromium`, from `digit_course.deploy`), mouse strokes like a hand, and the digits they draw."
import contextlib, math, os, re, shutil, signal, subprocess, time, urllib.request
from pathlib import Path

import pytest

from digit_course.deploy import CHROMIUM_ARGS, CHROMIUM_NAMES, find_chromium  # which Chromium: lesson 08's plumbing

__all__ = ['CHROMIUM', 'CHROMIUM_ARGS', 'CHROMIUM_NAMES', 'ONE', 'FOUR_L', 'SMALL_SEVEN', 'ZERO', 'find_chromium', 'missing',
           'drag', 'draw_digits', 'web_app']


# Stroke paths in canvas pixels (the pads are 280x280), as lists of corner points.
ONE = [(140, 40), (143, 240)]
FOUR_L = [(70, 40), (70, 150), (200, 150)]                          # added to the 1: a 4
SMALL_SEVEN = [(25, 30), (105, 30), (60, 135)]                      # small, in the top-left corner
ZERO = [(140 + 60 * math.sin(a), 140 - 95 * math.cos(a)) for a in [i * 2 * math.pi / 36 for i in range(37)]]


def missing(reason):
    "Skip, unless DIGIT_COURSE_REQUIRE_BROWSER=1 (set by .ci/run), where a missing browser part is a failure."
    if os.environ.get('DIGIT_COURSE_REQUIRE_BROWSER') == '1': pytest.fail(f'{reason} (DIGIT_COURSE_REQUIRE_BROWSER=1)')
    pytest.skip(reason, allow_module_level=True)


# Every test module that imports this one drives a browser: without one, the module is skipped (or fails under
# DIGIT_COURSE_REQUIRE_BROWSER=1) with the reason.
CHROMIUM, _why = find_chromium()
if CHROMIUM is None: missing(_why)


def drag(page, box, points, steps=6):
    "Press the mouse at the first point, move through the others, release: like a hand."
    at = lambda x, y: (box['x'] + x, box['y'] + y)
    page.mouse.move(*at(*points[0]))
    page.mouse.down()
    for x, y in points[1:]: page.mouse.move(*at(x, y), steps=steps)
    page.mouse.up()


def draw_digits(page, box, label, clear, undo, screenshot):
    """Draw a 1, a small 7 in a corner and a 0 on a pad at `box`; after each, `label` must read `Prediction: d (p%)`.
    After the 1, one more stroke (an L: the 1 becomes a 4) must change the answer and `undo` must give the 1 back.
    `clear` and `undo` are locators of the pad's buttons; `screenshot(digit)` names the picture taken after each."""
    from playwright.sync_api import expect
    for digit, path in [(1, ONE), (7, SMALL_SEVEN), (0, ZERO)]:
        clear.click()
        expect(label).to_have_text('Draw a digit', timeout=20_000)
        drag(page, box, path)
        expect(label).to_have_text(re.compile(r'(Prediction|Unsure): '), timeout=20_000)
        page.screenshot(path=str(screenshot(digit)))
        text = label.inner_text()
        assert re.fullmatch(rf'Prediction: {digit} \(\d+%\)', text.strip()), f'drew a {digit}, the pad says {text!r}'
        if digit == 1:
            drag(page, box, FOUR_L)
            expect(label).not_to_have_text(text, timeout=20_000)
            undo.click()
            expect(label).to_have_text(text, timeout=20_000)


@contextlib.contextmanager
def web_app(port, log):
    "`digit-course app --no-browser --port N` in a subprocess, as a user starts it, logging to `log`; its URL."
    with open(log, 'w') as f:
        proc = subprocess.Popen([shutil.which('digit-course') or 'digit-course', 'app', '--no-browser', '--port', str(port)],
                                stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
    url = f'http://127.0.0.1:{port}/'
    try:
        deadline = time.time() + 30
        while True:
            if proc.poll() is not None: raise RuntimeError(f'digit-course app exited {proc.returncode}: {Path(log).read_text()}')
            try: urllib.request.urlopen(url, timeout=2); break
            except OSError:
                if time.time() > deadline: raise RuntimeError(f'digit-course app did not answer: {Path(log).read_text()}')
                time.sleep(0.2)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)  # as a service manager stops it
        proc.wait(timeout=10)
