"""`digit-course app`'s server (lesson 08's `WebPadServer`) against misbehaving clients, as real processes.

Idle connections are closed after a timeout and the threads stay bounded; a URL with a NUL byte gets a plain 400 and
no traceback; a request for a foreign Host (DNS rebinding) is refused; every response carries the security headers;
a server killed with SIGKILL leaves a `digit-pad-*` folder that the next start removes; a server without a local
onnxruntime-web says so in one line, with how to work offline.
"""
import os, shutil, signal, socket, subprocess, time, urllib.error, urllib.request
from pathlib import Path

import pytest

from digit_course.core import free_port

N_IDLE = 300


def _threads(pid) -> int:
    return int(next(l for l in Path(f'/proc/{pid}/status').read_text().splitlines() if l.startswith('Threads:')).split()[1])


def _start(port, tmpdir, log, **env):
    "`digit-course app --no-browser --port N` with its temporary folders in `tmpdir` (and `env`); returns the process once it answers."
    env = dict(os.environ, TMPDIR=str(tmpdir), **env)
    with open(log, 'a') as f:
        proc = subprocess.Popen([shutil.which('digit-course') or 'digit-course', 'app', '--no-browser', '--port', str(port)],
                                stdout=f, stderr=subprocess.STDOUT, env=env, cwd=tmpdir, start_new_session=True)
    deadline = time.time() + 30
    while True:
        if proc.poll() is not None: raise RuntimeError(f'digit-course app exited {proc.returncode}: {log.read_text()}')
        try: urllib.request.urlopen(f'http://127.0.0.1:{port}/', timeout=2); return proc
        except OSError:
            if time.time() > deadline: proc.kill(); raise RuntimeError(f'digit-course app did not answer: {log.read_text()}')
            time.sleep(0.2)


def _stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try: proc.wait(timeout=10)
        except subprocess.TimeoutExpired: proc.kill(); proc.wait()


@pytest.fixture(scope='module')
def app(tmp_path_factory, module_port):
    "A running `digit-course app`: (process, port, log file)."
    d = tmp_path_factory.mktemp('app')
    log = d / 'app.log'
    proc = _start(module_port, d, log)
    try: yield proc, module_port, log
    finally: _stop(proc)


def _raw(port, request: bytes) -> bytes:
    with socket.create_connection(('127.0.0.1', port), timeout=10) as s:
        s.sendall(request)
        data = b''
        while chunk := s.recv(65536): data += chunk
    return data


def _get(port, path='/', host=None):
    "(status, headers, body) of a GET, with `host` as the Host header when given."
    req = urllib.request.Request(f'http://127.0.0.1:{port}{path}', headers={'Host': host} if host else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r: return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e: return e.code, e.headers, e.read()


def test_idle_connections_are_closed(app):
    proc, port, _ = app
    base = _threads(proc.pid)
    socks = []
    try:
        for _ in range(N_IDLE): socks.append(socket.create_connection(('127.0.0.1', port), timeout=10))
        time.sleep(1)
        during = _threads(proc.pid)
        t0, deadline = time.time(), time.time() + 15
        while (after := _threads(proc.pid)) > base + 2 and time.time() < deadline: time.sleep(0.25)
        print(f"\nserver threads: {base} before, {during} with {N_IDLE} idle clients connected, "
              f"{after} {time.time() - t0 + 1:.1f} s later (the clients still connected)")
        assert after <= base + 2, f'{after} threads {N_IDLE} idle clients later (started with {base})'
        status, _, body = _get(port)
        assert status == 200 and b'id="prediction"' in body
    finally:
        for s in socks: s.close()


def test_nul_in_url_is_a_400_without_traceback(app):
    _, port, log = app
    before = log.read_text()
    for target in (b'/index.html%00.txt', b'/%ff%fe.js', b'/a%0d%0aSet-Cookie:x=1'):
        reply = _raw(port, b'GET ' + target + f' HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n'.encode())
        assert reply.startswith(b'HTTP/1.0 400 ') or reply.startswith(b'HTTP/1.1 400 '), (target, reply[:200])
    time.sleep(0.3)
    new = log.read_text()[len(before):]
    assert 'Traceback' not in new and len(new.splitlines()) <= 1, new


def test_foreign_host_is_refused(app):
    _, port, _ = app
    for host in ('evil.example', f'evil.example:{port}', f'127.0.0.1.evil.example:{port}', f'localhost:{port + 1}'):
        status, _, body = _get(port, host=host)
        assert status in (400, 421) and len(body) < 300, (host, status, body)
        assert b'id="prediction"' not in body
    for host in (f'127.0.0.1:{port}', f'localhost:{port}', f'LOCALHOST:{port}', f'[::1]:{port}'):
        assert _get(port, host=host)[0] == 200, host


def test_security_headers_on_every_response(app):
    _, port, _ = app
    for path, status in (('/', 200), ('/pad.js', 200), ('/no-such-file', 404)):
        got, h, _ = _get(port, path)
        assert got == status
        assert h['X-Content-Type-Options'] == 'nosniff', path
        assert h['Referrer-Policy'] == 'no-referrer', path
        csp = h['Content-Security-Policy'] or ''
        assert "default-src 'none'" in csp and "'wasm-unsafe-eval'" in csp and 'https://cdn.jsdelivr.net/' in csp, csp
    assert _get(port, host='evil.example')[1]['X-Content-Type-Options'] == 'nosniff'


def test_killed_servers_folder_is_removed_at_the_next_start(tmp_path):
    log = tmp_path / 'app.log'
    first = _start(free_port(), tmp_path, log)
    try:
        [folder] = [p for p in tmp_path.iterdir() if p.name.startswith('digit-pad-')]
        first.send_signal(signal.SIGKILL); first.wait(timeout=10)
        assert folder.is_dir()  # nothing cleaned up after SIGKILL
    finally: _stop(first)
    second = _start(free_port(), tmp_path, log)
    try:
        assert not folder.exists(), f'{folder.name} of the killed server is still there'
        assert len([p for p in tmp_path.iterdir() if p.name.startswith('digit-pad-')]) == 1
    finally: _stop(second)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith('digit-pad-')], 'SIGTERM left the folder behind'


def test_server_without_local_runtime_says_how_to_work_offline(app, tmp_path):
    cache = tmp_path / 'cache'  # an empty course cache, no ./node_modules, no $DIGIT_COURSE_ORT: no local onnxruntime-web
    log = tmp_path / 'app.log'
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv('DIGIT_COURSE_ORT', raising=False)
        proc = _start(free_port(), tmp_path, log, DIGIT_COURSE_CACHE=str(cache))
    try:
        lines = log.read_text().splitlines()
        said = [l for l in lines if l.startswith('No local onnxruntime-web')]
        assert len(said) == 1 and 'will load it from the CDN (https://cdn.jsdelivr.net/' in said[0], lines
        assert f'npm install --prefix {cache} onnxruntime-web@' in said[0] and 'digit-course app then serves it' in said[0], said
    finally: _stop(proc)
    from digit_course.deploy import find_ort
    if find_ort() is not None:  # the module's server found the local copy: not a word about it
        assert 'No local onnxruntime-web' not in app[2].read_text()
