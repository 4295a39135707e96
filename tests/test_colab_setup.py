"""The Colab set-up cell that opens every lesson (`CELL` in .ci/colab.py), run outside Colab.

What a notebook cannot hold: the cell only acts inside Colab, and installs packages. Each test runs the cell in a
fresh `python -S` (so the venv's own digit_course is invisible) with a stub `google.colab` imported first, pip
pointed at a package index served from this process on 127.0.0.1, installs redirected to a temporary
PIP_TARGET, and git's https://github.com/ rewritten to somewhere local, so the tests behave the same with or
without internet and never touch the virtual environment.
"""
import base64, hashlib, importlib.util, os, shutil, subprocess, sys, threading, zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from execnb.nbio import read_nb, write_nb

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location('colab', ROOT / '.ci' / 'colab.py')
colab = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(colab)
VERSION = colab.settings_version()
CELL = colab.CELL(VERSION)
GITHUB_SPEC = f'git+https://github.com/digit-course/digit-course@v{VERSION}'


class Index:
    "A package index on 127.0.0.1: serves `files` (path -> bytes), answers 404 to anything else, logs every path."
    def __init__(self):
        self.files, self.log = {}, []
        index = self
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                index.log.append(self.path)
                body = index.files.get(self.path.split('?')[0])
                self.send_response(404 if body is None else 200)
                self.send_header('Content-Type', 'text/html' if self.path.endswith('/') else 'application/octet-stream')
                self.send_header('Content-Length', str(len(body or b'')))
                self.end_headers()
                self.wfile.write(body or b'')
            def log_message(self, *args): pass
        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = f'http://127.0.0.1:{self.server.server_port}'
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self): self.server.shutdown(); self.server.server_close()

    def add_wheel(self, whl: Path):
        self.files[f'/files/{whl.name}'] = whl.read_bytes()
        self.files['/simple/digit-course/'] = f'<a href="/files/{whl.name}">{whl.name}</a>'.encode()


@pytest.fixture
def index():
    ix = Index()
    yield ix
    ix.close()


def make_wheel(dest: Path, name='digit_course', version=VERSION) -> Path:
    "A minimal, empty but valid wheel, built by hand."
    dist = f'{name}-{version}.dist-info'
    files = {f'{name}/__init__.py': b'',
             f'{dist}/METADATA': f'Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n'.encode(),
             f'{dist}/WHEEL': b'Wheel-Version: 1.0\nGenerator: test_colab_setup\nRoot-Is-Purelib: true\nTag: py3-none-any\n'}
    def digest(b): return base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b'=').decode()
    record = ''.join(f'{p},sha256={digest(b)},{len(b)}\n' for p, b in files.items()) + f'{dist}/RECORD,,\n'
    whl = dest / f'{name}-{version}-py3-none-any.whl'
    with zipfile.ZipFile(whl, 'w') as z:
        for p, b in files.items(): z.writestr(p, b)
        z.writestr(f'{dist}/RECORD', record)
    return whl


def make_git_repo(dest: Path) -> Path:
    "A git repository at dest/digit-course/digit-course, tagged v<VERSION>, whose build backend just hands pip a wheel."
    repo = dest / 'digit-course' / 'digit-course'
    repo.mkdir(parents=True)
    make_wheel(repo)
    (repo / 'pyproject.toml').write_text('[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n')
    (repo / 'backend.py').write_text(  # no setuptools needed, so nothing is fetched from an index
        "import pathlib, shutil\n"
        "def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):\n"
        "    whl = next(pathlib.Path(__file__).parent.glob('*.whl'))\n"
        "    shutil.copy(whl, wheel_directory)\n"
        "    return whl.name\n")
    git = ['git', '-C', str(repo), '-c', 'user.name=t', '-c', 'user.email=t@t', '-c', 'commit.gpgsign=false']
    for args in (['init', '-q'], ['add', '-f', '.'], ['commit', '-q', '-m', 'x'], ['tag', f'v{VERSION}']):
        subprocess.run(git + args, check=True, capture_output=True)
    return repo


def run_cell(tmp_path, index, colab=True, github=None, site=None, stub_on_path=True):
    "Run the set-up cell in a fresh `python -S`; `colab`: import the stub google.colab first; `github`: what https://github.com/ means."
    stub = tmp_path / 'stub'
    (stub / 'google' / 'colab').mkdir(parents=True, exist_ok=True)
    (stub / 'google' / '__init__.py').write_text('')
    (stub / 'google' / 'colab' / '__init__.py').write_text('')
    (stub / 'google' / 'colab' / 'output.py').write_text(
        "import os\ndef enable_custom_widget_manager(): open(os.environ['WIDGET_MARKER'], 'w').write('on')\n")
    script = tmp_path / 'cell.py'
    script.write_text(('import google.colab\n' if colab else '') + CELL + '\n')
    keep = {k: v for k, v in os.environ.items() if not k.upper().startswith(('PIP_', 'GIT_', 'PYTHON')) and 'PROXY' not in k.upper()}
    env = {**keep,
           'PYTHONPATH': os.pathsep.join(map(str, ([stub] if stub_on_path else []) + ([site] if site else []))),
           'WIDGET_MARKER': str(tmp_path / 'widgets-on'),
           'PIP_CONFIG_FILE': os.devnull, 'PIP_INDEX_URL': f'{index.url}/simple/', 'PIP_NO_CACHE_DIR': '1',
           'PIP_DISABLE_PIP_VERSION_CHECK': '1', 'PIP_RETRIES': '0', 'PIP_TIMEOUT': '5', 'PIP_NO_INPUT': '1',
           'PIP_TARGET': str(tmp_path / 'target'), 'PIP_NO_DEPS': '1',
           'GIT_TERMINAL_PROMPT': '0', 'GIT_CONFIG_NOSYSTEM': '1', 'GIT_CONFIG_COUNT': '1',
           'GIT_CONFIG_KEY_0': f'url.{github or index.url + "/dead-github/"}.insteadOf',
           'GIT_CONFIG_VALUE_0': 'https://github.com/'}
    r = subprocess.run([sys.executable, '-S', str(script)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    r.lines = r.stdout.splitlines()
    r.widgets_on = (tmp_path / 'widgets-on').exists()
    return r


@pytest.mark.parametrize('stub_on_path', [False, True], ids=['no-stub', 'stub-not-imported'])
def test_outside_colab_the_cell_does_nothing(tmp_path, index, stub_on_path):
    r = run_cell(tmp_path, index, colab=False, stub_on_path=stub_on_path)
    assert (r.returncode, r.stdout, r.stderr) == (0, '', '')
    assert index.log == [] and not r.widgets_on and not (tmp_path / 'target').exists()


def test_pypi_first(tmp_path, index):
    index.add_wheel(make_wheel(tmp_path))
    r = run_cell(tmp_path, index)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.lines == [f'Installing digit_course {VERSION} from PyPI: pip install digit_course=={VERSION}',
                       f'digit_course {VERSION} installed from PyPI.']
    assert (tmp_path / 'target' / f'digit_course-{VERSION}.dist-info').is_dir()
    assert not any('dead-github' in p for p in index.log), index.log  # GitHub never tried
    assert r.widgets_on


def test_github_tag_when_pypi_has_nothing(tmp_path, index):
    make_git_repo(tmp_path / 'git')
    r = run_cell(tmp_path, index, github=(tmp_path / 'git').as_uri() + '/')
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.lines[0].endswith('from PyPI: pip install digit_course==' + VERSION)
    assert r.lines[1].startswith('  failed: ERROR')
    assert r.lines[2:] == [f'Installing digit_course {VERSION} from GitHub (tag v{VERSION}): pip install {GITHUB_SPEC}',
                           f'digit_course {VERSION} installed from GitHub (tag v{VERSION}).']
    assert (tmp_path / 'target' / f'digit_course-{VERSION}.dist-info').is_dir()
    assert r.widgets_on


def test_both_sources_fail_clearly(tmp_path, index):
    r = run_cell(tmp_path, index)
    assert r.returncode != 0
    installing = [l for l in r.lines if l.startswith('Installing')]
    assert installing == [f'Installing digit_course {VERSION} from PyPI: pip install digit_course=={VERSION}',
                          f'Installing digit_course {VERSION} from GitHub (tag v{VERSION}): pip install {GITHUB_SPEC}']
    assert len([l for l in r.lines if l.startswith('  failed: ')]) == 2, r.stdout
    # pip really asked the index, then git really asked "GitHub", in that order
    asked = [p for p in index.log if p.startswith(('/simple/digit-course/', '/dead-github/'))]
    assert asked and asked[0].startswith('/simple/') and asked[-1].startswith('/dead-github/digit-course/digit-course'), index.log
    assert 'Traceback' not in r.stderr
    assert r.stderr.strip() == r.stderr.strip().splitlines()[0], r.stderr  # one line
    assert f'Could not install digit_course {VERSION} from PyPI or from GitHub (tag v{VERSION})' in r.stderr
    assert 'internet' in r.stderr
    assert not r.widgets_on


def fake_install(site: Path, version: str) -> Path:
    "digit_course <version> as importlib.metadata sees it, in a folder for PYTHONPATH."
    dist = site / f'digit_course-{version}.dist-info'
    dist.mkdir(parents=True)
    (dist / 'METADATA').write_text(f'Metadata-Version: 2.1\nName: digit_course\nVersion: {version}\n')
    return site


def test_already_installed_skips_pip(tmp_path, index):
    r = run_cell(tmp_path, index, site=fake_install(tmp_path / 'site', VERSION))
    assert (r.returncode, r.lines) == (0, [f'digit_course {VERSION} is already installed.']), r.stderr
    assert index.log == [] and r.widgets_on


def test_another_version_installed_is_replaced(tmp_path, index):
    index.add_wheel(make_wheel(tmp_path))
    r = run_cell(tmp_path, index, site=fake_install(tmp_path / 'site', '0.0.0.dev0'))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.lines[-1] == f'digit_course {VERSION} installed from PyPI.' and r.widgets_on


def test_cell_shape():
    lines = CELL.splitlines()
    assert lines[:2] == ['#| notest', '#| hide'] and lines[2].startswith('# ')  # runs in Colab, not shown on the site
    assert [l for l in lines if l.startswith('VERSION')] == [f"VERSION = '{VERSION}'"]
    assert VERSION not in CELL.replace(f"VERSION = '{VERSION}'", '')  # the version is written once
    compile(CELL, 'setup-cell', 'exec')  # plain Python: a %pip magic would be a SyntaxError


def test_check_and_write_on_copies(tmp_path):
    "`write` makes `check` pass and is idempotent; `check` names each lesson whose cell is stale, a placeholder or missing."
    nbs = tmp_path / 'nbs'
    nbs.mkdir()
    for p in (ROOT / 'nbs').glob('*.ipynb'): shutil.copy(p, nbs)
    lessons = colab.lessons(nbs)
    assert len(lessons) >= 3 and all(p.name[0].isdigit() for p in lessons)
    def cli(*args): return subprocess.run([sys.executable, str(ROOT / '.ci' / 'colab.py'), *args, '--nbs', str(nbs)],
                                          capture_output=True, text=True, timeout=60)
    def cells(p): return [(c.cell_type, c.source) for c in read_nb(p).cells]
    def first_code(p): return next(c for c in read_nb(p).cells if c.cell_type == 'code')
    assert cli('write').returncode == 0
    assert cli('check').returncode == 0
    before = {p: p.read_bytes() for p in nbs.iterdir()}
    assert cli('write').returncode == 0
    assert before == {p: p.read_bytes() for p in nbs.iterdir()}  # idempotent
    assert all(first_code(p).source == CELL for p in lessons)

    stale, placeholder, missing = lessons[:3]
    expected = {p: cells(p) for p in (stale, placeholder, missing)}
    for p, edit in [(stale, lambda nb: first_code_of(nb).set_source(CELL.replace(f"'{VERSION}'", "'0.0.1'"))),
                    (placeholder, lambda nb: first_code_of(nb).set_source('#| notest\n# set-up cell: written by .ci/colab.py\n')),
                    (missing, lambda nb: nb.cells.remove(first_code_of(nb)))]:
        nb = read_nb(p); edit(nb); write_nb(nb, p)
    r = cli('check')
    assert r.returncode != 0
    assert f'{stale}: set-up cell pins 0.0.1, settings.ini has {VERSION}' in r.stderr
    assert f'{placeholder}: set-up cell pins no version' in r.stderr
    assert f'{missing}: no set-up cell' in r.stderr
    assert all(str(p) not in r.stderr for p in lessons[3:])  # one line per lesson at fault, and only those
    assert cli('write').returncode == 0 and cli('check').returncode == 0
    assert stale.read_bytes() == before[stale] and placeholder.read_bytes() == before[placeholder]  # rewritten in place
    assert cells(missing) == expected[missing]  # inserted again as the first code cell, everything else kept


def first_code_of(nb): return next(c for c in nb.cells if c.cell_type == 'code')
