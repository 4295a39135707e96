#!/usr/bin/env python3
"""The Colab set-up cell that opens every lesson: one canonical text, pinned to the version in settings.ini.

    python .ci/colab.py check [--nbs DIR]   every lesson's first code cell is the canonical cell (CI runs this)
    python .ci/colab.py write [--nbs DIR]   rewrite that cell in every lesson (insert it where missing)
    python .ci/colab.py show                print the canonical cell

Lessons are `DIR/[0-9]*.ipynb` (not index.ipynb, not `_` scratch notebooks). After `nbdev_bump_version`, run
`write` and commit the notebooks. `CELL(version)` is imported by tests/test_colab_setup.py, which runs the
cell's logic outside Colab against a stub `google.colab`, a local package index and a dead GitHub.
"""
import argparse, configparser, hashlib, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPO_URL = 'https://github.com/digit-course/digit-course'
MARKER = "'google.colab' in sys.modules"
_version_line = re.compile(r"^VERSION = '([^']*)'$", re.M)


def CELL(version: str) -> str:
    "The canonical set-up cell for `version` of digit_course: plain Python, silent outside Colab."
    return f"""#| notest
#| hide
# Set-up for Colab: install the version of the course library this lesson was written for (from PyPI, else from
# GitHub at the matching tag) and turn on the widget manager the drawing pad needs. Elsewhere it does nothing.
VERSION = '{version}'
import importlib.metadata, subprocess, sys
if {MARKER}:
    try: installed = importlib.metadata.version('digit_course')
    except importlib.metadata.PackageNotFoundError: installed = None
    sources = {{'PyPI': f'digit_course=={{VERSION}}',
               f'GitHub (tag v{{VERSION}})': f'git+{REPO_URL}@v{{VERSION}}'}}
    if installed == VERSION: print(f'digit_course {{VERSION}} is already installed.')
    else:
        for source, spec in sources.items():
            print(f'Installing digit_course {{VERSION}} from {{source}}: pip install {{spec}}')
            pip = subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', spec], capture_output=True, text=True)
            if pip.returncode == 0: break
            errors = [line for line in pip.stderr.splitlines() if line.startswith('ERROR')]
            print('  failed:', errors[-1] if errors else f'pip exited with code {{pip.returncode}}')
        else:  # every source failed
            raise SystemExit(f"Could not install digit_course {{VERSION}} from {{' or from '.join(sources)}}. Check that "
                             "this runtime has internet and run this cell again; if it still fails, see the Install "
                             "section of {REPO_URL}")
        importlib.invalidate_caches()  # so that the new package imports without restarting the runtime
        print(f'digit_course {{VERSION}} installed from {{source}}.')
    from google.colab import output
    output.enable_custom_widget_manager()"""


def settings_version(root=ROOT) -> str:
    "The `version` in settings.ini."
    cfg = configparser.ConfigParser(delimiters=['='])
    cfg.read(Path(root) / 'settings.ini', encoding='utf-8')
    return cfg['DEFAULT']['version']


def lessons(nbs) -> list:
    "The lesson notebooks in `nbs`, in order, relative to the working directory where they are below it."
    nbs = Path(nbs).absolute()
    if nbs.is_relative_to(Path.cwd()): nbs = nbs.relative_to(Path.cwd())
    return sorted(p for p in nbs.glob('[0-9]*.ipynb') if not p.name.startswith('_'))


def first_code_cell(nb):
    return next((c for c in nb.cells if c.cell_type == 'code'), None)


def is_setup_cell(source: str) -> bool:
    "An existing set-up cell, canonical, old or a placeholder: `#| notest` first, and it mentions Colab."  # (`#| hide`: not on the site)
    return MARKER in source or (source.startswith('#| notest') and 'colab' in source.lower())


def problem(nb, version):
    "Why the notebook's first code cell is not the canonical set-up cell for `version` (None if it is)."
    cell = first_code_cell(nb)
    if cell is None: return 'no code cells, so no set-up cell'
    if cell.source == CELL(version): return None
    if not is_setup_cell(cell.source):
        return f'no set-up cell: the first code cell is {cell.source.splitlines()[0][:60]!r}' if cell.source else 'no set-up cell'
    m = _version_line.search(cell.source)
    if m is None: return f'set-up cell pins no version (an old cell or a placeholder); settings.ini has {version}'
    if m.group(1) != version: return f'set-up cell pins {m.group(1)}, settings.ini has {version}'
    return f'set-up cell pins {version} like settings.ini, but its text is not the canonical cell'


def check(nbs, version) -> int:
    from execnb.nbio import read_nb
    nbs_ = lessons(nbs)
    if not nbs_: print(f'colab.py check: no lesson notebooks in {nbs}', file=sys.stderr); return 1
    bad = [(p, why) for p in nbs_ if (why := problem(read_nb(p), version))]
    for p, why in bad: print(f'{p}: {why}', file=sys.stderr)
    if bad:
        print(f'colab.py check: {len(bad)} of {len(nbs_)} lessons lack the canonical Colab set-up cell for {version}; '
              f'run `python .ci/colab.py write` and commit the notebooks', file=sys.stderr)
        return 1
    print(f'colab.py check: all {len(nbs_)} lessons open with the Colab set-up cell for digit_course {version}')
    return 0


def write(nbs, version) -> int:
    from execnb.nbio import read_nb, write_nb, NbCell
    src = CELL(version)
    for p in lessons(nbs):
        nb = read_nb(p)
        cell = first_code_cell(nb)
        if cell is not None and cell.source == src: print(f'{p}: unchanged'); continue
        if cell is not None and is_setup_cell(cell.source):
            cell.set_source(src)
            cell.outputs, cell.execution_count = [], None  # outputs of the old text would be stale
            print(f'{p}: set-up cell rewritten for {version}')
        else:
            i = next((i for i, c in enumerate(nb.cells) if c.cell_type == 'code'), len(nb.cells))
            cid = hashlib.sha1(f'{p.name} colab set-up'.encode()).hexdigest()[:8]  # stable, so `write` is repeatable
            nb.cells.insert(i, NbCell(i, dict(cell_type='code', execution_count=None, id=cid, metadata={},
                                              outputs=[], source=src)))
            print(f'{p}: set-up cell inserted for {version}')
        write_nb(nb, p)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog='colab.py', description=__doc__.splitlines()[0])
    ap.add_argument('command', choices=['check', 'write', 'show'])
    ap.add_argument('--nbs', default=str(ROOT / 'nbs'), help="folder of lesson notebooks (default: the repository's nbs)")
    args = ap.parse_args(argv)
    version = settings_version()
    if args.command == 'show': print(CELL(version)); return 0
    return (check if args.command == 'check' else write)(args.nbs, version)


if __name__ == '__main__': sys.exit(main())
