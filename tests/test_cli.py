"""The `digit-course` console script as a user runs it: a real process, real exit codes, real MNIST.

What a notebook cannot hold: the installed entry point and the absence of tracebacks on stderr.
"""
import json, os, re, shutil, subprocess, sys

import pytest

EXE = shutil.which('digit-course')
if EXE is None:  # a skip is fine on a learner's machine, never in CI
    if os.environ.get('CI'): raise RuntimeError('digit-course is not on PATH in CI (pip install -e .)')
    pytest.skip('digit-course is not installed (pip install -e .)', allow_module_level=True)


# TensorFlow's C++ log format (I0000 00:00:17.. 123 file.cc:45] ...) and its start-up banner lines
TF_LOG = re.compile(r'^[IWEF]\d{4} |^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] |absl::InitializeLog|oneDNN custom operations|cuInit|rebuild TensorFlow', re.M)


def run(*args, timeout=300, env=None):
    "The console script as a learner runs it: no log settings of our own, so what they would see is what we check."
    env = {**os.environ, **(env or {})}
    for k in ('DIGIT_COURSE_DEBUG', 'DIGIT_COURSE_TF_LOGS', 'TF_CPP_MIN_LOG_LEVEL'): env.pop(k, None)
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=timeout, env=env)


def assert_one_line_error(r, *words):
    assert r.returncode != 0, r
    assert 'Traceback' not in r.stderr, r.stderr
    assert not TF_LOG.search(r.stderr), r.stderr
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, r.stderr
    for w in words: assert w in lines[0], lines[0]


def test_help_teaches():
    r = run('--help')
    assert r.returncode == 0
    for cmd in ('data', 'train', 'evaluate', 'predict', 'bench', 'export', 'app'): assert cmd in r.stdout
    assert 'Start with' in r.stdout


def test_data_summarises_verified_mnist():
    r = run('data', '--json')
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout.strip().splitlines()[-1])
    assert (s['train'], s['test'], s['verified']) == (60000, 10000, True)
    assert s['train_class_counts'][1] == 6742


@pytest.mark.parametrize('args, words', [
    (['train', '--epochs', '0'], ['--epochs', 'at least 1']),
    (['train', '--batch-size', 'many'], ['--batch-size', 'whole number']),
    (['train', '--lr', '-1'], ['--lr', 'must be above 0']),
    (['train', '--model', 'resnet'], ['--model', 'invalid choice']),
    (['train', '--model', 'seed'], ['--model', "choose from 'digit', 'baseline'"]),
    (['bench', 'predict', '--n', '-5'], ['--n']),
    (['frobnicate'], ['invalid choice']),
])
def test_nonsense_flags_get_one_line(args, words):
    r = run(*args)
    assert r.returncode == 2
    assert_one_line_error(r, *words)


def test_missing_model(tmp_path):
    assert_one_line_error(run('evaluate', str(tmp_path / 'nope.keras')), 'no model file')


def test_corrupt_model(tmp_path):
    from digit_course.model import load_pretrained
    load_pretrained().save(tmp_path / 'whole.keras')
    bad = tmp_path / 'cut.keras'
    bad.write_bytes((tmp_path / 'whole.keras').read_bytes()[:2000])
    assert_one_line_error(run('evaluate', str(bad)), 'corrupt or truncated')


def test_model_with_wrong_input_shape(tmp_path):
    import keras
    m = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10, activation='softmax')])
    m.save(tmp_path / 'cifar.keras')
    assert_one_line_error(run('evaluate', str(tmp_path / 'cifar.keras')), 'expects input (32, 32, 3)')


def test_predict_unreadable_file(tmp_path):
    (tmp_path / 'notes.png').write_text('this is not an image')
    assert_one_line_error(run('predict', str(tmp_path / 'notes.png')), 'notes.png')
    assert_one_line_error(run('predict', str(tmp_path / 'missing.png')), 'missing.png')


def test_predict_real_digits(tmp_path):
    from PIL import Image
    from digit_course.mnist import load_mnist
    m = load_mnist(verbose=False)
    paths = []
    for i in range(5):  # MNIST test digits drawn dark-on-light, 4x larger, the way a scan looks
        img = Image.fromarray(255 - m.x_test[i]).resize((112, 112), Image.BICUBIC)
        paths.append(tmp_path / f'digit{i}.png'); img.save(paths[-1])
    r = run('predict', '--json', *map(str, paths))
    assert r.returncode == 0, r.stderr
    got = [row['digit'] for row in json.loads(r.stdout.strip().splitlines()[-1])]
    assert got == m.y_test[:5].tolist()


def test_evaluate_shipped_model_matches_card():
    from digit_course.model import MODELS_DIR
    card = json.loads((MODELS_DIR / 'digit_cnn.json').read_text())
    r = run('evaluate', '--json')
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout.strip().splitlines()[-1])
    assert rep['n'] == 10000
    assert abs(rep['accuracy'] - card['test_acc']) < 1e-4


def test_train_one_epoch_prints_no_tensorflow_log(tmp_path):
    "A learner's first `digit-course train`: progress and results on screen, none of TensorFlow's C++ log lines."
    r = run('train', '--epochs', '1', '--out', str(tmp_path / 'run'), timeout=900)
    assert r.returncode == 0, r.stderr
    assert not TF_LOG.search(r.stdout + r.stderr), (r.stdout + r.stderr)[-3000:]
    assert '\x1b[' not in r.stdout and '\x08' not in r.stdout, 'a redirected train printed progress-bar escape codes'
    assert 'validation accuracy' in r.stdout and 'the test set was not used' in r.stdout and (tmp_path / 'run' / 'model.keras').exists()
    report = json.loads((tmp_path / 'run' / 'report.json').read_text())
    assert report['settings']['epochs'] == 1 and report['valid_acc'] > 0.97 and 'test_acc' not in report
    assert report['data_source'] in ('path', 'cache', 'keras-cache', 'keras-download', 'pypi-wheel')  # no machine path


def test_train_on_two_devices(tmp_path):
    "`digit-course train --devices 2` on a CPU: two logical devices under MirroredStrategy, batch and rate scaled."
    r = run('train', '--devices', '2', '--epochs', '2', '--n-train', '10000', '--quiet', '--out', str(tmp_path / 'd2'))
    assert r.returncode == 0, r.stderr
    assert 'on 2 devices' in r.stdout and 'INFO:tensorflow' not in r.stdout + r.stderr, r.stdout + r.stderr
    assert not TF_LOG.search(r.stderr), r.stderr[-2000:]
    report = json.loads((tmp_path / 'd2' / 'report.json').read_text())
    assert report['settings']['devices'] == 2 and report['settings']['batch_size'] == 128 and report['valid_acc'] > 0.8


def test_predict_imports_no_widget_library(tmp_path):
    "`digit-course predict` runs in a terminal: it must not pull in ipywidgets or ipycanvas (nor need them installed)."
    from PIL import Image
    from digit_course.mnist import load_mnist
    Image.fromarray(255 - load_mnist(verbose=False).x_test[0]).save(tmp_path / 'seven.png')
    probe = ("import sys; from digit_course.cli import main; code = main(['predict', sys.argv[1]]); "
             "print(sorted(m for m in ('ipywidgets', 'ipycanvas') if m in sys.modules)); sys.exit(code)")
    r = subprocess.run([sys.executable, '-c', probe, str(tmp_path / 'seven.png')], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    answer, loaded = r.stdout.strip().splitlines()
    assert answer.startswith(f"{tmp_path / 'seven.png'}: 7 (") and loaded == '[]', r.stdout


def test_evaluate_robustness_json():
    "`digit-course evaluate --robustness --json` prints one JSON object: per condition, accuracy and n."
    r = run('evaluate', '--robustness', '--json', '--n', '20')
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    from digit_course.handwriting import ROBUSTNESS_CONDITIONS, SUITE_FEWER
    assert list(res) == ROBUSTNESS_CONDITIONS
    assert all(set(v) == {'accuracy', 'n'} and v['n'] == 20 // SUITE_FEWER.get(k, 1) and 0 <= v['accuracy'] <= 1 for k, v in res.items())
    assert res['clean']['accuracy'] >= 0.95
    assert_one_line_error(run('evaluate', '--robustness', '--n', '0'), '--n', 'at least 1')


def _without(tmp_path, *modules):
    "A PYTHONPATH entry under which importing each of `modules` fails, as on a machine that lacks them."
    for mod in modules:
        (tmp_path / 'blocked' / mod).mkdir(parents=True)
        (tmp_path / 'blocked' / mod / '__init__.py').write_text(f'raise ImportError("No module named {mod!r}")')
    return {'PYTHONPATH': os.pathsep.join([str(tmp_path / 'blocked'), os.environ.get('PYTHONPATH', '')])}


def test_export_writes_each_format(tmp_path):
    "`digit-course export` writes SavedModel, ONNX and int8 LiteRT, each loadable, with no log lines on the screen."
    import numpy as np
    from digit_course.deploy import LiteRTModel
    from digit_course.predict import OnnxModel
    for fmt, extra, path in [('savedmodel', [], 'digit_cnn_savedmodel/saved_model.pb'), ('onnx', [], 'digit_cnn.onnx'),
                             ('litert', ['--quantize', 'int8'], 'digit_cnn_int8.tflite')]:
        r = run('export', '--format', fmt, '--out', str(tmp_path), *extra)
        assert r.returncode == 0, r.stderr
        assert (tmp_path / path).is_file() and r.stdout.startswith(f'wrote {tmp_path / path.split("/")[0]}'), r.stdout
        assert not TF_LOG.search(r.stderr) and 'INFO' not in r.stdout + r.stderr, r.stdout + r.stderr
    blank = np.zeros((2, 28, 28, 1), np.float32)
    for runner in (OnnxModel(tmp_path / 'digit_cnn.onnx'), LiteRTModel(tmp_path / 'digit_cnn_int8.tflite')):
        assert np.allclose(runner(blank).sum(1), 1, atol=0.02)
    assert_one_line_error(run('export', '--format', 'litert', '--quantize', 'int9', '--out', str(tmp_path)), 'int9')


def test_export_names_the_missing_extra(tmp_path):
    r = run('export', '--format', 'onnx', '--out', str(tmp_path), env=_without(tmp_path, 'tf2onnx'))
    assert_one_line_error(r, 'tf2onnx', 'pip install "digit_course[deploy]"')


def test_app_serves_the_page_without_tensorflow(tmp_path, port):
    "`digit-course app --no-browser --port N` serves page, scripts and model on a machine without TensorFlow."
    import signal, time, urllib.request
    env = {k: v for k, v in os.environ.items() if k != 'DIGIT_COURSE_DEBUG'}
    env.update(_without(tmp_path, 'tensorflow', 'keras'))
    proc = subprocess.Popen([EXE, 'app', '--no-browser', '--port', str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        base, deadline = f'http://127.0.0.1:{port}/', time.time() + 30
        while True:
            try: page = urllib.request.urlopen(base, timeout=2).read().decode(); break
            except OSError:
                assert proc.poll() is None and time.time() < deadline, proc.communicate()
                time.sleep(0.2)
        assert 'id="prediction"' in page
        for f, kind in [('pad.js', 'text/javascript'), ('preprocess.js', 'text/javascript'), ('digit_cnn.onnx', 'application/octet-stream')]:
            assert urllib.request.urlopen(base + f).headers['Content-Type'] == kind
    finally:
        proc.send_signal(signal.SIGTERM)  # as a service manager stops it (SIGINT is ignored in background jobs)
        out, err = proc.communicate(timeout=10)
    assert out.startswith(f'Serving the digit pad at {base}'), out
    assert 'Traceback' not in err, err
    r = run('app', '--port', '99999')
    assert_one_line_error(r, '--port', 'between 0 and 65535')


def test_predict_reports_every_file(tmp_path):
    "One bad file does not lose the others: each good file gets its answer, each bad one a line naming it, and the exit status is 1."
    from PIL import Image
    from digit_course.mnist import load_mnist
    m = load_mnist(verbose=False)
    seven, two = tmp_path / 'seven.png', tmp_path / 'two.png'
    Image.fromarray(255 - m.x_test[0]).resize((112, 112)).save(seven); Image.fromarray(255 - m.x_test[1]).resize((112, 112)).save(two)
    six = tmp_path / 'six_upside_down.jpg'           # a phone's way: pixels stored upside down, EXIF says "turn me round"
    exif = Image.Exif(); exif[0x0112] = 3
    Image.fromarray(255 - m.x_test[11]).resize((112, 112)).rotate(180).save(six, quality=95, exif=exif)
    (tmp_path / 'zero.png').write_bytes(b'')
    (tmp_path / 'notes.png').write_text('not an image')
    files = [seven, tmp_path / 'zero.png', two, tmp_path / 'notes.png', six, tmp_path / 'missing.png', tmp_path]
    r = run('predict', *map(str, files))
    assert r.returncode == 1 and 'Traceback' not in r.stderr and not TF_LOG.search(r.stderr), r.stderr
    assert f'{seven}: 7 (' in r.stdout and f'{two}: 2 (' in r.stdout and f'{six}: 6 (' in r.stdout, r.stdout
    assert '4 of 7 files could not be read' in r.stderr, r.stderr
    for name in ('zero.png', 'notes.png', 'missing.png', f'{tmp_path} is a folder'): assert name in r.stderr, r.stderr
    rows = json.loads(run('predict', '--json', *map(str, files)).stdout.strip().splitlines()[-1])
    assert [('error' in row, row.get('digit')) for row in rows] == [(False, 7), (True, None), (False, 2), (True, None), (False, 6), (True, None), (True, None)]


def test_predict_reads_files_before_tensorflow(tmp_path):
    "A missing file or a blank page is answered without loading TensorFlow (which takes seconds and most of the memory)."
    from PIL import Image
    Image.new('L', (400, 300), 255).save(tmp_path / 'blank.png')
    probe = ("import sys; from digit_course.cli import main; code = main(sys.argv[1:]); "
             "print(code, 'tensorflow' in sys.modules)")
    for args, code in ([str(tmp_path / 'nope.png')], 1), ([str(tmp_path / 'blank.png')], 0):
        r = subprocess.run([sys.executable, '-c', probe, 'predict', *args], capture_output=True, text=True, timeout=300)
        assert r.stdout.split()[-2:] == [str(code), 'False'], (r.stdout, r.stderr)


@pytest.mark.skipif(not os.path.exists('/usr/bin/time'), reason='GNU time is not installed (apt-get install time)')
def test_predict_huge_picture_memory(tmp_path):
    "A 194 KB PNG declaring 13000x13000 pixels is decoded and reduced within a few hundred MB (peak resident memory, GNU time -v)."
    from PIL import Image
    Image.new('L', (13000, 13000), 255).save(tmp_path / 'huge.png')
    r = subprocess.run(['/usr/bin/time', '-v', EXE, 'predict', str(tmp_path / 'huge.png')], capture_output=True, text=True, timeout=300)
    peak_mb = int(re.search(r'Maximum resident set size \(kbytes\): (\d+)', r.stderr).group(1)) / 1024
    print(f"\npeak memory of `digit-course predict` on a {(tmp_path / 'huge.png').stat().st_size / 1e3:.0f} KB 13000x13000 PNG: {peak_mb:.0f} MB")
    assert r.returncode == 0 and 'no digit found' in r.stdout, r.stderr
    assert peak_mb < 500


PLAIN_SCRIPTS = {  # the library in a script of one's own, as a newcomer first uses it (issue 26)
    'predict': ("from digit_course import Predictor, load_pretrained, load_mnist\n"
                "print(Predictor(load_pretrained())(load_mnist(verbose=False).x_test[0]).digit)", '7'),
    'train': ("from digit_course import train\nfrom digit_course.mnist import load_mnist\nfrom digit_course.model import digit_cnn\n"
              "res = train.train(digit_cnn(), load_mnist(verbose=False), epochs=1, n_train=300, verbose=0)\n"
              "print(res.best_epoch)", '1'),
}


@pytest.mark.parametrize('name', PLAIN_SCRIPTS)
def test_plain_script_prints_no_tensorflow_log(tmp_path, name):
    "Importing the library in a plain script: TensorFlow's start-up and training log lines are filtered; DIGIT_COURSE_TF_LOGS=1 shows them."
    script, answer = PLAIN_SCRIPTS[name]
    env = {k: v for k, v in os.environ.items() if k not in ('DIGIT_COURSE_DEBUG', 'DIGIT_COURSE_TF_LOGS', 'TF_CPP_MIN_LOG_LEVEL', 'IN_TEST')}
    def python(**more):
        return subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, timeout=300, cwd=tmp_path, env={**env, **more})
    shown = python(DIGIT_COURSE_TF_LOGS='1')
    assert shown.returncode == 0, shown.stderr[-3000:]
    if not TF_LOG.search(shown.stderr): pytest.skip('TensorFlow writes no log line on this machine: nothing to filter')
    r = python()
    assert r.returncode == 0 and r.stdout.split() == [answer], (r.stdout, r.stderr[-3000:])
    assert not TF_LOG.search(r.stderr), r.stderr[-3000:]


def test_train_that_diverges_says_so(tmp_path):
    "A learning rate that makes the run diverge (--lr 1): exit status 1, one line that says so and what to try, the run's files kept."
    out = tmp_path / 'run'
    r = run('train', '--n-train', '500', '--epochs', '1', '--lr', '1', '--quiet', '--out', str(out))
    assert_one_line_error(r, 'digit-course train: error: the run diverged: ', 'learning rate, 1, is most likely too high',
                          '--lr 0.1', '--fresh', f"files are kept in {out}")
    assert sorted(p.name for p in out.iterdir()) == ['checkpoint', 'model.keras', 'report.json', 'training_curves.png']
    assert 'far above the 2.30 of guessing' in json.loads((out / 'report.json').read_text())['diverged']
