#!/usr/bin/env python3
"""Committed notebook outputs a learner would be alarmed by, checked in CI.

Fails (exit 1, one line per problem) on any output of any notebook in nbs/ that contains a TensorFlow/absl log
line, a path of the machine it ran on, or a traceback, and on a notebook without a kernelspec (JupyterLab would
ask which kernel to use). Learners and the site see committed outputs: silence the noise at its source (see
`quiet_tensorflow` in lesson 00), re-run the notebook, and commit clean outputs.

    python .ci/outputs.py [NOTEBOOK_OR_DIR ...]     default: nbs/
"""
import json, re, sys
from pathlib import Path

PROBLEMS = {
    'a TensorFlow log line': re.compile(r'^[IWEF]\d{4} |^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] |^(INFO|WARNING):tensorflow:|absl::InitializeLog|oneDNN custom operations|cuInit|rebuild TensorFlow|INFO: Created TensorFlow Lite|fully_quantize: ', re.M),
    'a machine path': re.compile(r'/root/|/home/[a-z_][\w.-]*/|/tmp/tmp'),
    'a traceback': re.compile(r'Traceback \(most recent call last\)'),
}

def output_text(o) -> str:
    data = o.get('data', {})
    parts = [o.get('text', ''), data.get('text/plain', ''), data.get('text/html', ''), data.get('text/markdown', ''),
             '\n'.join(o.get('traceback', []))]
    return '\n'.join(''.join(p) if isinstance(p, list) else p for p in parts)

def problems(path: Path) -> list:
    nb = json.loads(path.read_text(encoding='utf-8'))
    found = [] if nb.get('metadata', {}).get('kernelspec') else ['no kernelspec in the notebook metadata']
    for i, c in enumerate(nb.get('cells', [])):
        for o in c.get('outputs', []):
            if o.get('output_type') == 'error': found.append(f"cell {i}: an error output ({o.get('ename')})"); continue
            text = output_text(o)
            for what, pat in PROBLEMS.items():
                if m := pat.search(text):
                    line = text[text.rfind('\n', 0, m.start()) + 1:].split('\n', 1)[0]
                    found.append(f"cell {i}: {what}: {line.strip()[:120]}")
    return found

def model_file_problems(models: Path) -> list:
    "Machine paths in the shipped model's card and report (they are installed on every learner's machine)."
    return [f"{p.name}: a machine path: {m.group(0)}" for p in sorted(models.glob('*')) if p.suffix in ('.json', '.md')
            for m in [PROBLEMS['a machine path'].search(p.read_text(encoding='utf-8'))] if m]

def main(args):
    paths = [Path(a) for a in args] or [Path(__file__).resolve().parent.parent / 'nbs']
    nbs = sorted(q for p in paths for q in ([p] if p.suffix == '.ipynb' else p.glob('*.ipynb')) if not q.name.startswith('.'))
    bad = {p: f for p in nbs if (f := problems(p))}
    for p, f in bad.items():
        for line in f: print(f"{p.name}: {line}")
    shipped = model_file_problems(Path(__file__).resolve().parent.parent / 'digit_course' / 'models')
    for line in shipped: print(f"digit_course/models/{line}")
    if bad or shipped:
        sys.exit(f"{sum(map(len, bad.values()))} problem(s) in the committed outputs of {len(bad)} notebook(s), "
                 f"{len(shipped)} in the shipped model's files")
    print(f"  {len(nbs)} notebooks: every one has a kernelspec, and no output holds a TensorFlow log line, machine path "
          "or traceback; no machine path in the shipped model's card or report")

if __name__ == '__main__': main(sys.argv[1:])
