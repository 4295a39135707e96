#!/usr/bin/env python3
"""README helpers for CI and for machines without Quarto.

    python .ci/readme.py quickstart N   print line N of the Quick start sh block of README.md
    python .ci/readme.py check          the Quick start of README.md is the one in nbs/index.ipynb, three lines
    python .ci/readme.py write          write README.md from nbs/index.ipynb without Quarto
    python .ci/readme.py stale          warn (never fail) if README.md differs from what `write` would write

`quickstart` and `check` use only the standard library, so CI can read the set-up command before any
virtual environment exists. `write` needs nbdev: it runs nbdev's own docs processors on the notebook (what
`nbdev_readme` does before it calls Quarto) and then writes GitHub markdown in the shape Quarto's `gfm`
output has. Where Quarto is installed, `nbdev_readme` (part of `nbdev_prepare`) does the same job.
"""
import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / 'README.md'
INDEX_NB = ROOT / 'nbs' / 'index.ipynb'
N_COMMANDS = 3  # set-up, main job, tests

_heading = re.compile(r'^(#{1,6})\s+(.*?)\s*#*\s*$')
_fence = re.compile(r'^(```+|~~~+)\s*\{?\s*([\w.+-]*)')


def quickstart_commands(markdown: str, where: str) -> list:
    "The non-empty lines of the one shell block in the markdown section headed 'Quick start'."
    lines = markdown.splitlines()
    start = level = None
    for i, line in enumerate(lines):
        m = _heading.match(line)
        if m and m.group(2).strip().lower() == 'quick start':
            start, level = i + 1, len(m.group(1))
            break
    if start is None: sys.exit(f"{where}: no '## Quick start' section")
    end = len(lines)
    in_fence = False
    for i in range(start, len(lines)):
        if _fence.match(lines[i]): in_fence = not in_fence
        m = _heading.match(lines[i])
        if m and not in_fence and len(m.group(1)) <= level:
            end = i
            break
    section = lines[start:end]
    blocks, i = [], 0
    while i < len(section):
        m = _fence.match(section[i])
        if m:
            fence, lang, body = m.group(1), m.group(2), []
            i += 1
            while i < len(section) and not section[i].startswith(fence): body.append(section[i]); i += 1
            blocks.append((lang, body))
        elif section[i].startswith('    ') and (i == 0 or not section[i - 1].strip()):
            body = []  # an indented code block (older Quarto gfm writes shell blocks this way)
            while i < len(section) and (section[i].startswith('    ') or not section[i].strip()):
                body.append(section[i][4:]); i += 1
            blocks.append(('', body))
            continue
        i += 1
    if len(blocks) != 1: sys.exit(f"{where}: the Quick start section must hold exactly one code block, found {len(blocks)}")
    lang, body = blocks[0]
    if lang not in ('', 'sh', 'bash', 'shell', 'console'): sys.exit(f"{where}: the Quick start block is '{lang}', not sh")
    cmds = [l.strip() for l in body if l.strip()]
    if len(cmds) != N_COMMANDS:
        sys.exit(f"{where}: the Quick start block must hold {N_COMMANDS} one-line commands "
                 f"(set-up, main job, tests), found {len(cmds)}: {cmds}")
    return cmds


def notebook_markdown(path: Path) -> str:
    "The markdown cells of a notebook, joined."
    nb = json.loads(path.read_text(encoding='utf-8'))
    return '\n\n'.join(''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'markdown')


def check():
    readme = quickstart_commands(README.read_text(encoding='utf-8'), 'README.md')
    index = quickstart_commands(notebook_markdown(INDEX_NB), 'nbs/index.ipynb')
    if readme != index:
        sys.exit("README.md is out of date with nbs/index.ipynb (Quick start differs):\n"
                 f"  README.md:       {readme}\n  nbs/index.ipynb: {index}\n"
                 "Regenerate it: nbdev_readme (with Quarto) or python .ci/readme.py write")
    print("README.md Quick start matches nbs/index.ipynb:")
    for c in readme: print(f"  {c}")


def _text(x): return ''.join(x) if isinstance(x, list) else (x or '')


def _indent(s): return '\n'.join(('    ' + l) if l.strip() else '' for l in s.rstrip('\n').splitlines())


def _code_cell(cell) -> list:
    src = cell.source or ''
    opts = dict(re.findall(r'^#\|\s*([\w-]+)\s*:\s*(.*?)\s*$', src, re.M))
    code = '\n'.join(l for l in src.splitlines() if not l.lstrip().startswith('#|')).strip('\n')
    out = []
    if code.strip() and opts.get('echo', 'true').lower() != 'false': out.append(f'``` python\n{code}\n```')
    asis = opts.get('output', '').lower() == 'asis'
    for o in cell.get('outputs', []):
        if o.get('output_type') == 'stream':
            if o.get('name') == 'stdout' and _text(o.get('text')).strip(): out.append(_indent(_text(o.get('text'))))
        elif o.get('output_type') in ('execute_result', 'display_data'):
            data = o.get('data', {})
            if 'text/markdown' in data: out.append(_text(data['text/markdown']).strip())
            elif asis and 'text/plain' in data: out.append(_text(data['text/plain']).strip())
            elif any(k.startswith('image/') for k in data):
                print(f"warning: an image output in {INDEX_NB.name} is left out of README.md", file=sys.stderr)
            elif 'text/plain' in data: out.append(_indent(_text(data['text/plain'])))
    return out


def render() -> str:
    "README.md's text, rendered from the readme notebook by nbdev's processors, without Quarto."
    import yaml
    from execnb.nbio import read_nb
    from nbdev.config import get_config
    from nbdev.processors import FilterDefaults
    cfg = get_config()
    nb = read_nb(cfg.nbs_path / cfg.readme_nb)
    FilterDefaults()(nb)
    parts = []
    for cell in nb.cells:
        src = cell.get('source')
        if src is None: continue
        if cell.cell_type == 'raw' and src.lstrip().startswith('---'):
            fm = yaml.safe_load(src.strip().strip('-')) or {}
            if fm.get('title'): parts.append(f"{fm['title']}\n================")
            if fm.get('description'): parts.append(f"> {fm['description']}")
        elif cell.cell_type == 'markdown':
            if src.strip(): parts.append(src.strip())
        elif cell.cell_type == 'code': parts += _code_cell(cell)
    return '\n\n'.join(parts) + '\n'


def write():
    README.write_text(render(), encoding='utf-8')
    print(f"wrote {README} from {INDEX_NB}")


def stale():
    if README.read_text(encoding='utf-8') == render(): print("README.md is up to date with nbs/index.ipynb")
    else: print("warning: README.md differs from what `python .ci/readme.py write` makes of nbs/index.ipynb "
                "(expected if Quarto rendered it; otherwise regenerate it before committing)")


if __name__ == '__main__':
    import os; os.chdir(ROOT)  # nbdev finds settings.ini from the working directory
    args = sys.argv[1:]
    if args[:1] == ['quickstart'] and len(args) == 2 and args[1].isdigit():
        cmds = quickstart_commands(README.read_text(encoding='utf-8'), 'README.md')
        n = int(args[1])
        if not 1 <= n <= len(cmds): sys.exit(f"no Quick start line {n}")
        print(cmds[n - 1])
    elif args == ['check']: check()
    elif args == ['write']: write()
    elif args == ['stale']: stale()
    else: sys.exit(__doc__)
