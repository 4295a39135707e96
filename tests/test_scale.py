"""Two training processes as one cluster (lesson 08): `MultiWorkerMirroredStrategy` over loopback ports.

Starts two workers with `start_workers`, trains 200 steps, and checks that both end with identical weights (every
array, batch-norm statistics included) and a model that learned (above 95% on the 10,000 test digits).
"""
import re

import numpy as np

from digit_course.scale import start_workers


def test_two_workers_train_one_model(tmp_path):
    workers = start_workers(tmp_path, n=2, steps=200, log_every=100, timeout_s=60)
    outputs = [w.communicate(timeout=600)[0] for w in workers]
    for w, out in zip(workers, outputs): assert w.returncode == 0, out[-3000:]
    accs = [float(re.search(r'validation accuracy ([\d.]+)%', out).group(1)) / 100 for out in outputs]
    w0, w1 = (np.load(tmp_path / f'weights-{i}.npz') for i in range(2))
    assert len(w0.files) == 17 and all(np.array_equal(w0[k], w1[k]) for k in w0.files), 'the workers ended with different weights'
    assert accs[0] == accs[1] and accs[0] > 0.95, accs
    print(f"\n2 workers, 200 steps: identical weights, validation accuracy {accs[0]:.2%}")
