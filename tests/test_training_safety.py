"""`digit-course train --out D` keeps its folder whole (issue 26), checked as a user meets it: real processes, real kills.

- two trainings into one folder: the second is refused at once, the first's files are its own;
- a kill -9: nothing half-written under a final name, and the run resumes;
- a damaged backup: the run goes on from the one before it, or stops with a message that names the file and `--fresh`;
- a symbolic link in the folder is never written through;
- `--devices 16 --n-train 1000`: a clear error before TensorFlow's.
"""
import json, os, re, shutil, signal, subprocess, time
from pathlib import Path

import pytest

EXE = shutil.which('digit-course')
if EXE is None:  # as in test_cli.py: a skip is fine on a learner's machine, never in CI
    if os.environ.get('CI'): raise RuntimeError('digit-course is not on PATH in CI (pip install -e .)')
    pytest.skip('digit-course is not installed (pip install -e .)', allow_module_level=True)

TF_LOG = re.compile(r'^[IWEF]\d{4} |^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] |absl::InitializeLog|oneDNN custom operations|cuInit|rebuild TensorFlow', re.M)


def run(*args, timeout=600):
    "The console script as a learner runs it (test_cli.py's `run`)."
    env = dict(os.environ)
    for k in ('DIGIT_COURSE_DEBUG', 'DIGIT_COURSE_TF_LOGS', 'TF_CPP_MIN_LOG_LEVEL'): env.pop(k, None)
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=timeout, env=env)


def assert_one_line_error(r, *words):
    "test_cli.py's: a failure, in one line on stderr, no traceback, no TensorFlow log, with these words."
    assert r.returncode == 1, (r.returncode, r.stderr[-3000:])
    assert 'Traceback' not in r.stderr and not TF_LOG.search(r.stderr), r.stderr[-3000:]
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, r.stderr[-3000:]
    for w in words: assert w in lines[0], lines[0]

TINY = ['--n-train', '500', '--quiet']  # each run: a few seconds of training, most of the time is TensorFlow starting


def train(out, *more, **kw):
    return run('train', '--out', str(out), *TINY, *more, **kw)


def wait_for(cond, proc, timeout=300, what='it'):
    t0 = time.monotonic()
    while not cond():
        assert proc.poll() is None, f"the run ended before {what}: {proc.communicate()[1][-3000:]}"
        assert time.monotonic() - t0 < timeout, f"no {what} after {timeout} s"
        time.sleep(0.05)


def epochs_backed_up(out):
    try: return json.loads((Path(out) / 'backup' / 'state.json').read_text())['epoch']
    except (OSError, ValueError, KeyError): return 0


def test_second_run_into_a_folder_in_use_is_refused(tmp_path):
    "Issue 26.1: run B (--lr 0.02) into run A's folder while A trains: B refused at once, A's files and report its own."
    d = tmp_path / 'D'
    a = subprocess.Popen([EXE, 'train', '--out', str(d), '--epochs', '3', *TINY], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(d.is_dir, a, what='its folder')  # A has reached run_training
        t0 = time.monotonic()
        b = train(d, '--epochs', '3', '--lr', '0.02')
        refused_s = time.monotonic() - t0
        still_training = a.poll() is None
        out_a, err_a = a.communicate(timeout=600)
    finally:
        if a.poll() is None: a.kill(); a.wait()
    assert still_training, 'run A ended before run B was refused: make A longer'
    assert_one_line_error(b, f'{d} is in use by another training run', 'wait until it has finished, or train into another folder (--out)')
    assert a.returncode == 0, err_a[-3000:]
    report = json.loads((d / 'report.json').read_text())
    assert report['settings']['lr'] == 0.005 and f"{report['valid_acc']:.2%}" in out_a  # A's report, the accuracy A printed
    assert sorted(p.name for p in d.iterdir()) == ['checkpoint', 'model.keras', 'report.json', 'training_curves.png']
    print(f"\nrun B refused {refused_s:.1f} s after it started (TensorFlow's start included)")


def test_a_kill_leaves_no_half_written_file(tmp_path):
    "Issue 26.6: a process killed (-9) in the middle of `atomic_path`'s write leaves the old file whole, and the next run removes the rest."
    from digit_course.scale import atomic_path, _remove_partials
    final = tmp_path / 'model.keras'
    final.write_bytes(b'the old model')
    pid = os.fork()
    if pid == 0:  # the child: half a file written, then killed as by kill -9
        with atomic_path(final) as tmp:
            tmp.write_bytes(b'half of a new mo')
            os.kill(os.getpid(), signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert final.read_bytes() == b'the old model'
    left = [p.name for p in tmp_path.iterdir() if p != final]
    assert len(left) == 1 and left[0].startswith('.partial-') and left[0].endswith('-model.keras'), left
    _remove_partials(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ['model.keras']


@pytest.fixture(scope='module')
def killed_run(tmp_path_factory):
    "A real `digit-course train` killed with SIGKILL once two epochs (of three) are backed up: two backups in `backup/`."
    d = tmp_path_factory.mktemp('killed') / 'D'
    p = subprocess.Popen([EXE, 'train', '--out', str(d), '--epochs', '3', *TINY], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try: wait_for(lambda: epochs_backed_up(d) >= 2, p, what='two epochs backed up')
    finally: p.kill(); p.wait()
    assert p.returncode == -signal.SIGKILL, p.returncode
    return d


def copy_of(run_dir, tmp_path):
    d = tmp_path / 'D'
    shutil.copytree(run_dir, d, symlinks=True)
    return d


def test_killed_run_resumes_over_a_damaged_newest_backup(killed_run, tmp_path):
    "Issue 26.5: after a kill, the newest weights file cut short: the run resumes from the backup before it, says so, and finishes."
    d = copy_of(killed_run, tmp_path)
    newest = d / 'backup' / json.loads((d / 'backup' / 'state.json').read_text())['weights']
    newest.write_bytes(newest.read_bytes()[:newest.stat().st_size // 2])
    r = train(d, '--epochs', '3')
    assert r.returncode == 0, r.stderr[-3000:]
    assert f'{newest} is damaged (cut short' in r.stderr and 'continuing from the backup of epoch 1' in r.stderr, r.stderr
    assert 'Resuming from the backup' in r.stdout and 'continuing with epoch 2' in r.stdout, r.stdout
    assert sorted(p.name for p in d.iterdir()) == ['checkpoint', 'model.keras', 'report.json', 'training_curves.png']
    assert len(json.loads((d / 'report.json').read_text())['history']['loss']) == 3


def test_garbage_state_falls_back_to_the_backup_before(killed_run, tmp_path):
    "Issue 26.5: random bytes in state.json: the other backup (previous-state.json) is resumed."
    d = copy_of(killed_run, tmp_path)
    (d / 'backup' / 'state.json').write_bytes(os.urandom(64) + b'\x89')
    r = train(d, '--epochs', '3')
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"{d / 'backup' / 'state.json'} is damaged (not readable JSON)" in r.stderr, r.stderr
    assert 'continuing with epoch 2' in r.stdout, r.stdout


@pytest.mark.parametrize('damage', ['truncated weights', 'garbage state'])  # `{}` in state.json: the notebook's tests
def test_damaged_only_backup_names_the_file_and_fresh(killed_run, tmp_path, damage):
    "Issue 26.5: with no backup to fall back on, one line that names the damaged file, says so and points to --fresh."
    d = copy_of(killed_run, tmp_path)
    backup = d / 'backup'
    (backup / 'previous-state.json').unlink(missing_ok=True)  # the only backup left: the newest
    state = json.loads((backup / 'state.json').read_text())
    if damage == 'truncated weights':
        bad = backup / state['weights']
        bad.write_bytes(bad.read_bytes()[:bad.stat().st_size // 2])
        words = [f'{bad} is damaged (cut short: ']
    else:
        bad = backup / 'state.json'; bad.write_bytes(b'\x89PNG\r\n' + os.urandom(200))
        words = [f'{bad} is damaged (not readable JSON)']
    r = train(d, '--epochs', '3')
    assert_one_line_error(r, *words, 'cannot be resumed', '--fresh')
    assert not (d / 'report.json').exists()


def test_symlink_in_the_folder_is_not_written_through(tmp_path):
    "Issue 26.6: `model.keras` a link to a file elsewhere: refused before training, the file it points to unchanged."
    d, precious = tmp_path / 'D', tmp_path / 'precious.keras'
    d.mkdir(); precious.write_bytes(b'my best model')
    (d / 'model.keras').symlink_to(precious)
    r = train(d, '--epochs', '1')
    assert_one_line_error(r, f'{d / "model.keras"} is a symbolic link (to {precious})', 'never through a link', '--out')
    assert precious.read_bytes() == b'my best model' and (d / 'model.keras').is_symlink()
    assert sorted(p.name for p in d.iterdir()) == ['model.keras']


def test_sixteen_devices_on_a_thousand_images(tmp_path):
    "Issue 26.8: `--devices 16 --n-train 1000`: a clear one-line error before TensorFlow's `AddN` one, and no folder left."
    r = run('train', '--devices', '16', '--n-train', '1000', '--epochs', '1', '--quiet', '--out', str(tmp_path / 'D'))
    assert_one_line_error(r, '16 devices take 2,048 images a step (16 x batch size 128), more than the 1,000 training images',
                          '--batch-size', '--devices', '--n-train')
    assert 'AddN' not in r.stderr and not (tmp_path / 'D').exists()
