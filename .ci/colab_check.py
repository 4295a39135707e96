#!/usr/bin/env python3
"""The course where learners run it: Colab's runtime, the package installed from its wheel, every lesson run.

    python .ci/colab_check.py --wheel dist/digit_course-X-py3-none-any.whl [--env DIR] [--jobs N] [LESSON ...]

1. Makes a virtual environment (`--env`, default a temporary folder) from a pinned package list
   (`--packages`, default .ci/colab-packages.txt: Colab's versions of what the course touches, with the
   list's source and date in the file).
2. Installs the wheel there the way a lesson's set-up cell installs the package (a plain `pip install`),
   and fails if that changed the version of any package Colab ships (say, ipywidgets 7 to 8).
3. Puts a stand-in `google.colab` in that environment, imported when the kernel starts as Colab does,
   so that each lesson's set-up cell takes its Colab branch, finds the package installed, and turns on
   the custom widget manager.
4. Runs every lesson (`nbs/[0-9]*.ipynb`, or the ones named) top to bottom in a kernel of that
   environment, under the test switch (IN_TEST=1), `#| slow` and `#| eval: false` cells left out, and
   fails on any error, on any TensorFlow log line in any output, and on a set-up cell that did not
   report the package as installed.

Colab runs Python 3.13; these machines have 3.11, so the environment is 3.11 (the script says so).
The runner itself needs nbclient and nbformat (the dev environment has them); the kernel needs only
what the package list and the wheel bring. Exit status 0 when every lesson passes.
"""
import argparse, concurrent.futures, importlib.util, json, os, re, shutil, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / 'nbs'
KERNEL = 'colab-check'
SKIP = re.compile(r'^#\|\s*(slow\b|eval:\s*false)', re.M)   # the cells a test run leaves out
_outputs = importlib.util.spec_from_file_location('outputs', ROOT / '.ci' / 'outputs.py')
outputs = importlib.util.module_from_spec(_outputs); _outputs.loader.exec_module(outputs)
TF_LOG = outputs.PROBLEMS['a TensorFlow log line']

STUB = '''"A stand-in for Colab's own module, enough for the course's set-up cell (.ci/colab_check.py)."
'''
STUB_OUTPUT = '''"A stand-in for google.colab.output: records that the custom widget manager was turned on."
import os

def enable_custom_widget_manager():
    with open(os.environ['COLAB_CHECK_MARKS'], 'a') as f: f.write('widget manager\\n')
'''


def say(msg): print(msg, flush=True)


def pinned(packages: Path) -> dict:
    "name -> version of every `name==version` line."
    out = {}
    for line in packages.read_text().splitlines():
        line = line.split('#')[0].strip()
        if '==' in line:
            name, version = line.split('==')
            out[canonical(name)] = version.strip()
    return out


def canonical(name): return re.sub(r'[-_.]+', '-', name).lower().strip()


def installed(py) -> dict:
    out = subprocess.run([str(py), '-m', 'pip', 'list', '--format', 'json', '--disable-pip-version-check'],
                         capture_output=True, text=True, check=True).stdout
    return {canonical(p['name']): p['version'] for p in json.loads(out)}


def pip(py, *args):
    r = subprocess.run([str(py), '-m', 'pip', *args, '-q', '--disable-pip-version-check'], capture_output=True, text=True)
    if r.returncode: sys.exit(f"colab_check: pip {' '.join(args)} failed:\n{r.stderr[-3000:]}")


def make_env(env: Path, packages: Path, wheel: Path) -> Path:
    "The environment: the pinned packages, then the wheel as the set-up cell installs it, then the stand-ins."
    t0 = time.time()
    subprocess.run([sys.executable, '-m', 'venv', '--clear', str(env)], check=True)
    py = env / 'bin' / 'python'
    pip(py, 'install', '--upgrade', 'pip')
    pip(py, 'install', '-r', str(packages))
    want = pinned(packages)
    have = installed(py)
    off = {n: (v, have.get(n)) for n, v in want.items() if have.get(n) != v}
    if off: sys.exit(f"colab_check: the package list did not install as pinned: {off}")
    say(f"  {len(want)} pinned packages installed in {time.time() - t0:.0f} s "
        f"(tensorflow {want.get('tensorflow')}, keras {want.get('keras')}, ipywidgets {want.get('ipywidgets')})")
    t0 = time.time()
    pip(py, 'install', str(wheel))   # what the set-up cell does: pip install digit_course==VERSION
    after = installed(py)
    changed = {n: (v, after.get(n)) for n, v in want.items() if after.get(n) != v}
    if changed:
        sys.exit("colab_check: installing the wheel changed packages the runtime ships: " +
                 ', '.join(f"{n} {a} -> {b}" for n, (a, b) in changed.items()) +
                 ". Ask settings.ini for what the package really needs.")
    new = sorted(f"{n} {v}" for n, v in after.items() if n not in have)
    say(f"  wheel installed in {time.time() - t0:.0f} s; it added {', '.join(new)}; no pinned package changed")
    site = Path(subprocess.run([str(py), '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                               capture_output=True, text=True, check=True).stdout.strip())
    colab = site / 'google' / 'colab'             # `google` is a namespace package (protobuf lives there too)
    colab.mkdir(parents=True, exist_ok=True)
    (colab / '__init__.py').write_text(STUB); (colab / 'output.py').write_text(STUB_OUTPUT)
    startup = env / 'ipython' / 'profile_default' / 'startup'
    startup.mkdir(parents=True, exist_ok=True)
    (startup / '00-colab.py').write_text('import google.colab  # Colab imports it in every kernel\n')
    subprocess.run([str(py), '-m', 'ipykernel', 'install', '--prefix', str(env), '--name', KERNEL,
                    '--display-name', 'Python 3 (Colab check)'], check=True, capture_output=True)
    return py


def lesson_notebook(path: Path):
    "The lesson as a test runs it: outputs cleared, slow and never-evaluated cells left out."
    import nbformat
    nb = nbformat.read(path, as_version=4)
    kept = [c for c in nb.cells if not (c.cell_type == 'code' and SKIP.search(c.source))]
    for c in kept:
        if c.cell_type == 'code': c.outputs, c.execution_count = [], None
    nb.cells = kept
    return nb


def output_texts(cell):
    for o in cell.get('outputs', []):
        yield outputs.output_text(o)


def run_lesson(path: Path, env: Path, version: str, timeout: int) -> dict:
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    marks = env / f'marks-{path.stem}.txt'
    marks.unlink(missing_ok=True)
    nb = lesson_notebook(path)
    t0 = time.time()
    res = dict(lesson=path.name, cells=sum(c.cell_type == 'code' for c in nb.cells), problems=[])
    client = NotebookClient(nb, kernel_name=KERNEL, timeout=timeout, resources={'metadata': {'path': str(path.parent)}})
    try: client.execute(env={**os.environ, 'COLAB_CHECK_MARKS': str(marks)})
    except CellExecutionError as e:
        lines = [l for l in re.sub(r'\x1b\[[0-9;]*m', '', str(e)).strip().splitlines() if l.strip()]
        res['problems'].append(f"error: {lines[-1][:300] if lines else e.__class__.__name__}")
        if os.environ.get('COLAB_CHECK_VERBOSE'): res['problems'] += lines[:60]
    except Exception as e:
        res['problems'].append(f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}")
    res['seconds'] = round(time.time() - t0)
    code = [c for c in nb.cells if c.cell_type == 'code']
    for i, c in enumerate(code):
        for text in output_texts(c):
            if m := TF_LOG.search(text):
                line = text[text.rfind('\n', 0, m.start()) + 1:].split('\n', 1)[0]
                res['problems'].append(f"a TensorFlow log line in the output of code cell {i}: {line.strip()[:160]}")
    setup = next((c for c in code if "'google.colab' in sys.modules" in c.source), None)
    said = ''.join(output_texts(setup)) if setup is not None else ''
    if setup is None: res['problems'].append('no Colab set-up cell')
    elif f'digit_course {version} is already installed.' not in said:
        res['problems'].append(f"the set-up cell did not find digit_course {version} installed: {said.strip()[:200]!r}")
    if setup is not None and 'widget manager' not in (marks.read_text() if marks.exists() else ''):
        res['problems'].append('the set-up cell did not turn on the custom widget manager')
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog='colab_check.py', description=__doc__.splitlines()[0])
    ap.add_argument('lessons', nargs='*', help='lesson notebooks to run (default: every nbs/[0-9]*.ipynb)')
    ap.add_argument('--wheel', required=True, help='the built digit_course wheel')
    ap.add_argument('--packages', default=str(ROOT / '.ci' / 'colab-packages.txt'), help='the pinned package list')
    ap.add_argument('--env', help='where to make the environment (default: a temporary folder, removed at the end)')
    ap.add_argument('--reuse', action='store_true', help='use --env as it is (made by an earlier run)')
    ap.add_argument('--jobs', type=int, default=2, help='lessons run at once (default 2)')
    ap.add_argument('--timeout', type=int, default=1200, help='seconds one cell may take (default 1200)')
    args = ap.parse_args(argv)
    wheel = Path(args.wheel).resolve()
    version = wheel.name.split('-')[1]
    packages = Path(args.packages).resolve()
    lessons = [Path(p).resolve() for p in args.lessons] or sorted(NBS.glob('[0-9]*.ipynb'))
    t0 = time.time()
    say(f"colab_check: {packages.name}, digit_course {version} from {wheel.name}, {len(lessons)} lessons")
    if packages.name == 'colab-packages.txt':
        say(f"  Python {sys.version.split()[0]} here: Colab's runtime has Python 3.13, which these machines cannot install, "
            "so the packages are Colab's and the interpreter is not")
    tmp = None
    if args.env: env = Path(args.env).resolve()
    else: env = Path(tmp := tempfile.mkdtemp(prefix='colab-check-')) / 'env'
    try:
        if not args.reuse: make_env(env, packages, wheel)
        os.environ.update(IN_TEST='1', IPYTHONDIR=str(env / 'ipython'), PYDEVD_DISABLE_FILE_VALIDATION='1',
                          JUPYTER_PATH=os.pathsep.join(filter(None, [str(env / 'share' / 'jupyter'), os.environ.get('JUPYTER_PATH')])))
        os.environ.pop('PYTHONPATH', None)
        os.environ['PATH'] = os.pathsep.join([str(env / 'bin'), os.environ['PATH']])  # `digit-course` is the one in the environment
        os.environ['VIRTUAL_ENV'] = str(env)
        where = subprocess.run([str(env / 'bin' / 'python'), '-c', 'import digit_course; print(digit_course.__file__)'],
                               capture_output=True, text=True, cwd=NBS).stdout.strip()
        if not where.startswith(str(env)): sys.exit(f"colab_check: the kernel would import digit_course from {where!r}, not from the environment")
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
            results = list(ex.map(lambda p: run_lesson(p, env, version, args.timeout), lessons))
        want, have = pinned(packages), installed(env / 'bin' / 'python')
        changed = [f"{n} {v} -> {have.get(n)}" for n, v in want.items() if have.get(n) != v]  # a lesson's own installs
    finally:
        if tmp: shutil.rmtree(tmp, ignore_errors=True)
    say(f"\n  {'lesson':28s} {'cells':>5s} {'seconds':>7s}  result")
    for r in results:
        say(f"  {r['lesson']:28s} {r['cells']:5d} {r['seconds']:7d}  {'ok' if not r['problems'] else 'FAILED'}")
        for p in r['problems']: say(f"      {p}")
    if changed: say(f"  FAILED: the lessons changed packages the runtime ships: {', '.join(changed)}")
    bad = [r for r in results if r['problems']]
    say(f"\ncolab_check: {len(results) - len(bad)} of {len(results)} lessons ran without an error or a TensorFlow log line "
        f"({packages.name}, {time.time() - t0:.0f} s)")
    return 1 if bad or changed else 0


if __name__ == '__main__': sys.exit(main())
