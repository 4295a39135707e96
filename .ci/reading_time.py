#!/usr/bin/env python3
"""How long the course takes to read, lesson by lesson, checked against the lesson map's limits.

    python .ci/reading_time.py [--max-core MIN] [--max-lesson MIN]

Reading time of a notebook = words of prose / 200 + visible lines of code / 10, in minutes. Prose is every
markdown cell (exercise solutions and questionnaires included); visible code is every non-blank line of a code
cell that the site and a learner see: not `#| hide` cells, and not `#| export` cells (whose source the site
leaves out). A lesson is every notebook with the same number (06, 06a, 06b). The core path is lessons 00 to 07,
the course a learner needs for the pad and real handwriting. Fails if the core path takes more than
`--max-core` minutes (default 360) or any lesson more than `--max-lesson` (default 60).
"""
import argparse, json, re, sys
from pathlib import Path

NBS = Path(__file__).resolve().parent.parent / 'nbs'
HIDDEN = re.compile(r'^#\|\s*(hide|export)\s*$', re.M)
CORE = [f'{n:02d}' for n in range(8)]


def measure(path: Path) -> dict:
    words = lines = 0
    for c in json.loads(path.read_text(encoding='utf-8'))['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'markdown': words += len(src.split())
        elif c['cell_type'] == 'code' and not HIDDEN.search(src): lines += sum(1 for l in src.splitlines() if l.strip())
    return dict(words=words, code=lines, minutes=words / 200 + lines / 10)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog='reading_time.py', description=__doc__.splitlines()[0])
    ap.add_argument('--max-core', type=float, default=360)
    ap.add_argument('--max-lesson', type=float, default=60)
    args = ap.parse_args(argv)
    rows = {p.name: measure(p) for p in sorted(NBS.glob('*.ipynb')) if not p.name.startswith(('_', '.'))}
    lessons = {}
    print(f"  {'notebook':28s} {'words':>7s} {'code':>6s} {'minutes':>8s}")
    for name, r in rows.items():
        print(f"  {name:28s} {r['words']:7,d} {r['code']:6,d} {r['minutes']:8.1f}")
        if m := re.match(r'(\d\d)[a-z]?_', name): lessons[m.group(1)] = lessons.get(m.group(1), 0) + r['minutes']
    core = sum(v for k, v in lessons.items() if k in CORE)
    total = sum(r['minutes'] for r in rows.values())
    print(f"\n  lessons: " + ', '.join(f"{k} {v:.0f} min" for k, v in lessons.items()))
    print(f"  core path (lessons {CORE[0]} to {CORE[-1]}): {core:.0f} min = {core / 60:.1f} h; whole course: {total / 60:.1f} h")
    problems = [f"the core path takes {core:.0f} minutes, more than {args.max_core:.0f}"] if core > args.max_core else []
    problems += [f"lesson {k} takes {v:.0f} minutes, more than {args.max_lesson:.0f}" for k, v in lessons.items() if v > args.max_lesson]
    for p in problems: print(f"  FAILED: {p}")
    return 1 if problems else 0


if __name__ == '__main__': sys.exit(main())
