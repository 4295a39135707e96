"""The MNIST cache as real processes meet it: a folder they may not write to, a setting that names a file, a cache
write killed halfway, and what `digit-course data` shows.

What a notebook cannot hold: a read-only folder as an unprivileged process sees it (root writes anywhere), `kill -9`, and the
command line. Every process gets a HOME and a cache folder of its own; the real cache is only read, once, to copy it.
"""
import os, shutil, signal, subprocess, sys, tempfile, threading
from pathlib import Path

import numpy as np
import pytest

import digit_course
from digit_course.mnist import load_mnist, mnist_cache_dir

ROOT = Path(digit_course.__file__).parent.parent  # so that every process below imports this code, not an installed copy
LOAD = "from digit_course.mnist import load_mnist; print('SOURCE', load_mnist().source)"


@pytest.fixture
def tmp():
    "A folder every user may enter (pytest's own tmp_path is private to root)."
    d = Path(tempfile.mkdtemp(prefix='mnist-cache-test-')); d.chmod(0o755)
    yield d
    for p in [d, *d.rglob('*')]:
        if p.is_dir() and not p.is_symlink(): p.chmod(0o755)  # a read-only folder cannot be emptied by an ordinary user
    shutil.rmtree(d)


@pytest.fixture(scope='module')
def mnist_file():
    "A valid MNIST .npz that every user can read, to play Keras's ~/.keras/datasets/mnist.npz."
    d = Path(tempfile.mkdtemp(prefix='mnist-cache-test-')); d.chmod(0o755)
    copy, real = d / 'mnist.npz', mnist_cache_dir() / 'mnist.npz'
    if real.is_file(): shutil.copyfile(real, copy)  # only read: the real cache is never changed
    else: np.savez(copy, **load_mnist(verbose=False).arrays())
    copy.chmod(0o644)
    yield copy
    shutil.rmtree(d)


def home_with_keras_copy(tmp, mnist_file) -> Path:
    "A home folder whose ~/.keras/datasets/mnist.npz is valid, as on Colab or after the Keras example."
    keras = tmp / 'home' / '.keras' / 'datasets'; keras.mkdir(parents=True)
    for p in (tmp / 'home', keras.parent, keras): p.chmod(0o755)
    try: os.link(mnist_file, keras / 'mnist.npz')  # the same bytes, no copy; every write under test is a new file anyway
    except OSError: shutil.copyfile(mnist_file, keras / 'mnist.npz')
    return tmp / 'home'


def environment(home, cache=None) -> dict:
    env = {**os.environ, 'HOME': str(home), 'PYTHONDONTWRITEBYTECODE': '1',
           'PYTHONPATH': os.pathsep.join([str(ROOT), *filter(None, [os.environ.get('PYTHONPATH')])])}
    for k in ('DIGIT_COURSE_CACHE', 'XDG_CACHE_HOME'): env.pop(k, None)
    if cache is not None: env['DIGIT_COURSE_CACHE'] = str(cache)
    return env


def python(code, env, unprivileged=False, timeout=120):
    "Run `code` in a new Python process; `unprivileged`: without the capabilities that let root ignore a folder's mode."
    cmd = [sys.executable, '-c', code]
    if unprivileged:  # root without the two capabilities that let it write anywhere: a folder's mode now binds it too
        cmd = ['setpriv', '--bounding-set=-dac_override,-dac_read_search', *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)


def test_a_cache_folder_that_cannot_be_written_costs_a_warning_not_the_load(tmp, mnist_file):
    home, cache = home_with_keras_copy(tmp, mnist_file), tmp / 'read-only-cache'
    cache.mkdir(); cache.chmod(0o555)
    unprivileged = False
    if os.geteuid() == 0:  # root writes into a folder whatever its mode: load without that power, as a learner would
        if not shutil.which('setpriv'): pytest.skip('running as root and setpriv (util-linux) is missing: cannot make a folder unwritable')
        unprivileged = True
    probe = f"""
import sys
try: open({str(cache / 'probe')!r}, 'w')
except PermissionError: pass
else: sys.exit('the cache folder is writable for this process: the test would prove nothing')
""" + LOAD
    r = python(probe, environment(home, cache), unprivileged)
    assert r.returncode == 0, r.stderr
    assert 'SOURCE keras-cache' in r.stdout, r.stdout
    assert r.stdout.splitlines()[0].endswith('verified, not cached'), r.stdout
    warning = r.stderr.strip().splitlines()
    assert len(warning) == 1, r.stderr
    assert f'could not be cached in {cache}' in warning[0] and 'set DIGIT_COURSE_CACHE to a folder you can write to' in warning[0], warning
    assert not any(cache.iterdir())


def test_a_cache_setting_that_names_a_file_is_a_value_error(tmp, mnist_file):
    home, afile = home_with_keras_copy(tmp, mnist_file), tmp / 'not-a-folder'
    afile.write_text('a file where the cache folder should be')
    expected = f'the MNIST cache folder {afile} is a file, not a folder: set DIGIT_COURSE_CACHE to a folder you can write to'
    r = python("from digit_course.mnist import load_mnist\ntry: load_mnist()\nexcept ValueError as e: print('ValueError:', e)",
               environment(home, afile))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f'ValueError: {expected}'), r.stdout  # and before anything was loaded
    # the command line says the same, in one line, without a traceback
    r = python("import sys; from digit_course.cli import main; sys.exit(main(['data']))", environment(home, afile))
    assert r.returncode == 1 and 'Traceback' not in r.stderr, r.stderr
    assert r.stderr.strip() == f'digit-course data: error: {expected}, or move the file away', r.stderr


def test_a_killed_cache_write_leaves_nothing_behind(tmp, mnist_file):
    home, cache = home_with_keras_copy(tmp, mnist_file), tmp / 'cache'
    env = environment(home, cache)
    paused = """
import time, numpy as np
savez = np.savez
def savez_then_hang(f, **arrays):  # the whole file written, not yet renamed into place: then the writer is killed
    savez(f, **arrays); f.flush(); print('written', flush=True); time.sleep(300)
np.savez = savez_then_hang
from digit_course.mnist import load_mnist
load_mnist(verbose=False)
"""
    writer = subprocess.Popen([sys.executable, '-c', paused], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    watchdog = threading.Timer(120, writer.kill); watchdog.start()
    try:
        assert writer.stdout.readline().strip() == 'written', writer.stderr.read()
        partial, = cache.glob('.mnist-*')
        assert partial.stat().st_size > 50_000_000 and not (cache / 'mnist.npz').exists()
        # a load while that write is still going on leaves it alone
        r = python(LOAD, env)
        assert r.returncode == 0, r.stderr
        assert partial.exists()
        writer.send_signal(signal.SIGKILL)  # kill -9: no except clause, no finally, no atexit runs in the writer
        writer.wait()
    finally:
        watchdog.cancel()
        if writer.poll() is None: writer.kill(); writer.wait()
    r = python(LOAD, env)  # the next load removes what the killed writer left
    assert r.returncode == 0, r.stderr
    assert 'SOURCE cache' in r.stdout, r.stdout
    assert sorted(p.name for p in cache.iterdir()) == ['mnist.npz']


def test_the_data_command_writes_the_home_folder_as_tilde(tmp, mnist_file):
    home = home_with_keras_copy(tmp, mnist_file)
    r = python("import sys; from digit_course.cli import main; sys.exit(main(['data']))", environment(home))
    assert r.returncode == 0, r.stderr
    assert '  cache:  ~/.cache/digit-course/mnist.npz' in r.stdout.splitlines(), r.stdout
    assert "  source: keras-cache (~/.keras/datasets/mnist.npz)" in r.stdout.splitlines(), r.stdout
    assert str(home) not in r.stdout, r.stdout
