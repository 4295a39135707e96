#!/usr/bin/env python3
"""Smoke test of an installed digit_course wheel: what a user gets from `pip install digit_course`.

    cd "$(mktemp -d)" && /path/to/venv/bin/python /path/to/repo/.ci/smoke.py

Run it with the interpreter of a fresh virtual environment holding the built wheel (not an editable install),
from a directory outside the repository. It checks that digit_course is imported from site-packages, that the
shipped model loads and reads the first 500 MNIST test digits at >= 98%, that the web pad's files are in the
wheel, and that `digit-course --help` works.
Exit status 0 when all pass; otherwise one `smoke: FAILED ...` line and exit status 1.
"""
import importlib.metadata, json, subprocess, sys, time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
N_DIGITS, MIN_ACC = 500, 0.98
T0 = time.time()


def ok(msg): print(f'smoke: [{time.time() - T0:5.1f}s] ok  {msg}', flush=True)
def fail(msg): print(f'smoke: FAILED {msg}', file=sys.stderr, flush=True); sys.exit(1)


def check_installed():
    import digit_course
    where = Path(digit_course.__file__).resolve().parent
    if where.is_relative_to(REPO): fail(f'digit_course was imported from the repository ({where}), not from the installed wheel')
    if 'site-packages' not in where.parts: fail(f'digit_course was imported from {where}, not from site-packages')
    dist = importlib.metadata.distribution('digit_course')
    direct = json.loads(dist.read_text('direct_url.json') or '{}')
    if direct.get('dir_info', {}).get('editable'): fail('digit_course is an editable install; install the built wheel')
    if digit_course.__version__ != dist.version:
        fail(f'digit_course.__version__ is {digit_course.__version__} but the installed distribution is {dist.version}')
    ok(f'digit_course {dist.version} from {where}')


def check_face():
    "`from digit_course import ...` gives the package's face, and TensorFlow is not imported until a model is built."
    probe = ("import sys, numpy as np\n"
             "from digit_course import Predictor, Prediction, load_pretrained, load_mnist, preprocess_digit, predict_files\n"
             "early = sorted({'tensorflow', 'keras'} & set(sys.modules))\n"
             "img = preprocess_digit(np.pad(np.ones((20, 4)), 40))\n"
             "print(early, sorted({'tensorflow', 'keras'} & set(sys.modules)), img.shape)")
    r = subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True, timeout=300)
    if r.returncode: fail(f'the package face does not import: {(r.stderr.strip().splitlines() or [""])[-1]}')
    if r.stdout.strip() != '[] [] (28, 28)': fail(f'the package face imported TensorFlow before a model was built: {r.stdout.strip()}')
    ok('from digit_course import Predictor, load_pretrained, load_mnist, preprocess_digit: no TensorFlow until a model is built')


def import_tensorflow_quietly():
    "Import TensorFlow behind the package's own filter for its C++ log lines (lesson 00's `quiet_tensorflow`)."
    from digit_course.core import quiet_tensorflow
    quiet_tensorflow()
    try: import tensorflow as tf
    except Exception as e: fail(f'TensorFlow does not import: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""}')
    ok(f'tensorflow {tf.__version__} imports')


def check_model_and_mnist():
    from digit_course.model import load_pretrained, PRETRAINED_WEIGHTS
    from digit_course.mnist import load_mnist
    from digit_course.data import to_model_input
    import digit_course
    if not Path(PRETRAINED_WEIGHTS).resolve().is_relative_to(Path(digit_course.__file__).resolve().parent):
        fail(f'the shipped model is looked up outside the installed package: {PRETRAINED_WEIGHTS}')
    try: model = load_pretrained()
    except Exception as e: fail(f'load_pretrained() could not load the shipped model: {str(e).splitlines()[0]}')
    ok(f'load_pretrained(): {model.name}, {model.count_params():,} parameters, from {Path(PRETRAINED_WEIGHTS).name} in the wheel')
    try: mnist = load_mnist(verbose=False)
    except Exception as e: fail(f'load_mnist() failed: {str(e).splitlines()[0]}')
    ok(f'load_mnist(): {len(mnist.x_train):,} training and {len(mnist.x_test):,} test digits')
    probs = model.predict(to_model_input(mnist.x_test[:N_DIGITS]), verbose=0)
    acc = float((probs.argmax(axis=1) == mnist.y_test[:N_DIGITS]).mean())
    if acc < MIN_ACC: fail(f'the shipped model reads {acc:.1%} of the first {N_DIGITS} test digits; expected at least {MIN_ACC:.0%}')
    ok(f'model.predict(): {acc:.1%} of the first {N_DIGITS} test digits correct (>= {MIN_ACC:.0%})')
    from digit_course import Predictor  # the public path from a raw image to a digit
    from PIL import Image
    photo = Image.fromarray(255 - mnist.x_test[0]).resize((112, 112))  # dark ink on light paper, 4x larger
    r = Predictor(model)(photo)
    if r.digit != int(mnist.y_test[0]): fail(f'Predictor read the first test digit ({mnist.y_test[0]}) as {r.digit}')
    ok(f'Predictor on an enlarged dark-on-light test digit: {r}')


def check_web_pad():
    "The web pad's page and ONNX model are package data: `write_web_pad` must find them in the wheel."
    import tempfile
    from digit_course.deploy import write_web_pad
    with tempfile.TemporaryDirectory() as d:
        try: info = write_web_pad(d)
        except Exception as e: fail(f'write_web_pad() failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""}')
        names = sorted(p.name for p in Path(d).iterdir())
        for need in ('index.html', 'pad.js', 'preprocess.js', 'pad.css', 'digit_cnn.onnx'):
            if need not in names: fail(f'the web pad written from the wheel lacks {need}: {names}')
    ok(f"write_web_pad(): {', '.join(names)} (onnxruntime-web: {info['runtime']})")


def check_console_script():
    exe = Path(sys.executable).parent / 'digit-course'  # the one installed beside this interpreter, not another on PATH
    if not exe.exists(): fail(f'the console script digit-course is not installed beside {sys.executable}')
    r = subprocess.run([str(exe), '--help'], capture_output=True, text=True, timeout=120)
    if r.returncode != 0: fail(f'`digit-course --help` exited {r.returncode}: {(r.stderr.strip().splitlines() or [""])[-1]}')
    if 'usage' not in r.stdout.lower(): fail('`digit-course --help` printed no usage')
    ok('digit-course --help')


if __name__ == '__main__':
    print(f'smoke: python {sys.version.split()[0]} at {sys.executable}; working directory {Path.cwd()}')
    check_installed()
    check_face()
    import_tensorflow_quietly()
    check_model_and_mnist()
    check_web_pad()
    check_console_script()
    print(f'smoke: passed in {time.time() - T0:.1f}s')
