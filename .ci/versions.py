#!/usr/bin/env python3
"""The shipped model in every TensorFlow and Keras the package admits: the floor, Colab's, the newest.

    python .ci/versions.py --wheel WHL --floor-env DIR [--env NAME=PYTHON ...]

Makes the floor environment (`--floor-env`: the lowest TensorFlow and Keras settings.ini declares, pinned in
.ci/floor-packages.txt, then the wheel), and in it and in each `--env` (an interpreter that already has the
wheel installed: Colab's environment from colab_check.py, and a plain `pip install` of the wheel, which takes
the newest versions) loads `load_pretrained()` and scores it on the 10,000 MNIST test digits, from outside the
repository. Fails unless every environment scores the accuracy on the model's card within 0.1 point, on all
10,000 digits and on the first 1,000 (against the newest environment's figure there), and names the same digit
for each of the first 1,000 as the first environment does.
"""
import argparse, json, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOLERANCE = 0.001   # 0.1 point

PROBE = r'''
import json, sys, numpy as np
from digit_course.core import quiet_tensorflow; quiet_tensorflow()
import tensorflow as tf, keras
from digit_course.mnist import load_mnist
from digit_course.data import to_model_input
from digit_course.model import load_pretrained
m = load_mnist(verbose=False)
probs = load_pretrained().predict(to_model_input(m.x_test), batch_size=1000, verbose=0)
digits = probs.argmax(1)
print(json.dumps(dict(tensorflow=tf.__version__, keras=keras.__version__, numpy=np.__version__,
                      acc_10000=float((digits == m.y_test).mean()), acc_1000=float((digits[:1000] == m.y_test[:1000]).mean()),
                      digits=digits[:1000].tolist(), probs=probs[:1000].round(6).tolist())))
'''


def say(msg): print(msg, flush=True)


def make_floor(env: Path, wheel: Path) -> Path:
    t0 = time.time()
    subprocess.run([sys.executable, '-m', 'venv', '--clear', str(env)], check=True)
    py = env / 'bin' / 'python'
    for args in (['--upgrade', 'pip'], ['-r', str(ROOT / '.ci' / 'floor-packages.txt')], [str(wheel)]):
        r = subprocess.run([str(py), '-m', 'pip', 'install', '-q', '--disable-pip-version-check', *args], capture_output=True, text=True)
        if r.returncode: sys.exit(f"versions.py: pip install {' '.join(args)} failed in the floor environment:\n{r.stderr[-3000:]}")
    say(f"  floor environment made in {time.time() - t0:.0f} s")
    return py


def probe(py) -> dict:
    with tempfile.TemporaryDirectory() as d:   # outside the repository: the installed package, not the clone
        r = subprocess.run([str(py), '-c', PROBE], capture_output=True, text=True, cwd=d)
    if r.returncode: sys.exit(f"versions.py: load_pretrained() failed with {py}:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog='versions.py', description=__doc__.splitlines()[0])
    ap.add_argument('--wheel', required=True, help='the built digit_course wheel')
    ap.add_argument('--floor-env', required=True, help='where to make the floor environment')
    ap.add_argument('--env', action='append', default=[], metavar='NAME=PYTHON', help='another environment with the wheel installed')
    args = ap.parse_args(argv)
    card = json.loads((ROOT / 'digit_course' / 'models' / 'digit_cnn.json').read_text())
    envs = dict(e.split('=', 1) for e in args.env)
    envs = {'floor': make_floor(Path(args.floor_env).resolve(), Path(args.wheel).resolve()), **envs}
    results = {name: probe(py) for name, py in envs.items()}
    ref_name, ref = list(results.items())[-1]   # the last one named: the newest
    problems = []
    say(f"\n  {'environment':12s} {'TensorFlow':>10s} {'Keras':>7s} {'numpy':>7s} {'10,000 digits':>14s} {'first 1,000':>12s} {'same digits':>12s} {'max |dp|':>9s}")
    for name, r in results.items():
        same = float(np.mean([a == b for a, b in zip(r['digits'], ref['digits'])]))
        dp = float(np.abs(np.array(r['probs']) - np.array(ref['probs'])).max())
        say(f"  {name:12s} {r['tensorflow']:>10s} {r['keras']:>7s} {r['numpy']:>7s} {r['acc_10000']:>14.2%} {r['acc_1000']:>12.1%} {same:>12.1%} {dp:>9.1e}")
        if abs(r['acc_10000'] - card['test_acc']) > TOLERANCE:
            problems.append(f"{name}: {r['acc_10000']:.2%} on the 10,000 test digits, the card says {card['test_acc']:.2%}")
        if abs(r['acc_1000'] - ref['acc_1000']) > TOLERANCE:
            problems.append(f"{name}: {r['acc_1000']:.1%} on the first 1,000, {ref_name} {ref['acc_1000']:.1%}")
        if same < 1: problems.append(f"{name}: names another digit than {ref_name} for {1 - same:.1%} of the first 1,000")
    for p in problems: say(f"  FAILED {p}")
    say(f"versions.py: the shipped model {'loads and scores the same' if not problems else 'DIFFERS'} in "
        f"{len(results)} environments (card: {card['test_acc']:.2%} on the 10,000 test digits)")
    return 1 if problems else 0


if __name__ == '__main__':
    import numpy as np
    sys.exit(main())
