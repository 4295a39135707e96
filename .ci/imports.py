#!/usr/bin/env python3
"""The import graph between the package's modules, checked: no cycle, no reaching up, no private names, pages = modules.

    python .ci/imports.py

Reads every `digit_course/*.py` (imports inside functions count too: a late import is still a dependency) and
prints which module imports which. Fails on
- a cycle;
- a lesson's module importing the module of a later lesson (lessons are ordered by their notebook's number; the
  "Under the hood" modules, numbered after the core path, are plumbing every lesson may use, and may themselves
  use any lesson's module, as long as no cycle forms);
- a private name (`_x`) imported from another module;
- a notebook whose file name (without its number) differs from the module it exports (`#| default_exp`), so
  that every page is named after its module;
- `core` importing matplotlib or TensorFlow.
"""
import ast, json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / 'digit_course'
UNDER_THE_HOOD = 11   # notebooks numbered from here on are the "Under the hood" pages


def notebooks() -> dict:
    "module -> (number, notebook name), from each notebook's default_exp."
    out = {}
    for nb in sorted((ROOT / 'nbs').glob('[0-9]*.ipynb')):
        for c in json.loads(nb.read_text(encoding='utf-8'))['cells']:
            if m := re.search(r'^#\|\s*default_exp\s+(\S+)', ''.join(c['source']), re.M):
                out[m.group(1)] = (int(re.match(r'\d+', nb.name).group()), nb.name)
                break
    return out


def imports(path: Path) -> list:
    "(module, names) for every import of a sibling module in the file."
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ''
            if node.level == 1: target = mod.split('.')[0] if mod else None
            elif mod.startswith('digit_course.'): target = mod.split('.')[1]
            elif mod == 'digit_course': target = None
            else: continue
            if target is None: found += [(a.name, []) for a in node.names]   # from . import x / from digit_course import x
            else: found.append((target, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(a.name.split('.')[1], []) for a in node.names if a.name.startswith('digit_course.')]
    return found


def cycles(graph: dict) -> list:
    found, state = [], {}
    def visit(n, path):
        state[n] = 'open'
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 'open': found.append(path[path.index(m):] + [m])
            elif m not in state: visit(m, path + [m])
        state[n] = 'done'
    for n in sorted(graph):
        if n not in state: visit(n, [n])
    return found


def main() -> int:
    nbs = notebooks()
    modules = sorted(p.stem for p in PKG.glob('*.py') if p.stem not in ('__init__', '_modidx'))
    graph, problems = {}, []
    for mod in modules:
        path = PKG / f'{mod}.py'
        deps = imports(path)
        graph[mod] = {d for d, _ in deps if d != mod and d in modules}
        for d, names in deps:
            if d in modules and d != mod and (private := [n for n in names if n.startswith('_')]):
                problems.append(f"{mod} imports private names from {d}: {', '.join(private)}")
        if mod == 'core':
            text = path.read_text(encoding='utf-8')
            if re.search(r'^\s*(import|from)\s+(matplotlib|tensorflow|keras)\b', text, re.M):
                problems.append('core imports matplotlib, TensorFlow or Keras')
    order = {m: nbs.get(m, (None,))[0] for m in modules}
    print(f"  {'module':14s} {'notebook':24s} imports")
    for mod in sorted(modules, key=lambda m: (order[m] is None, order[m] or 0, m)):
        print(f"  {mod:14s} {nbs.get(mod, (0, '(none)'))[1]:24s} {', '.join(sorted(graph[mod], key=lambda m: order[m] or 0)) or '-'}")
        if mod not in nbs: problems.append(f"{mod}.py comes from no notebook")
        for d in graph[mod]:
            if order[mod] is not None and order[d] is not None and order[mod] < UNDER_THE_HOOD and UNDER_THE_HOOD > order[d] > order[mod]:
                problems.append(f"{mod} (lesson {order[mod]:02d}) reaches up to {d} (lesson {order[d]:02d})")
    for mod, (num, name) in nbs.items():
        page = re.sub(r'^\d+[a-z]?_', '', Path(name).stem)
        if page != mod and mod != '__init__': problems.append(f"{name} exports module {mod}: its page would be named {page}")
    for c in cycles(graph): problems.append('import cycle: ' + ' -> '.join(c))
    for p in problems: print(f"  FAILED: {p}")
    print(f"imports.py: {len(modules)} modules, {sum(map(len, graph.values()))} imports between them, "
          f"{'no problem' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


if __name__ == '__main__': sys.exit(main())
