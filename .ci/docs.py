#!/usr/bin/env python3
"""Docs checks for CI, everything `nbdev_docs` does before it calls Quarto (which cannot be installed here).

The site config in nbs/ parses, sidebar.yml lists exactly the notebooks (in teaching order, by hand), and
nbdev's own docs processing (`nbdev.doclinks._build_modidx` then `nbdev.serve.proc_nbs`) succeeds on every
notebook, writing _proc/, and the processed page of every lesson still shows the code of each function and
class it exports (nbdev's docs processing deletes the source of `#| export` cells: teaching code is `#| exports`;
only the names in PLUMBING may stay hidden). A file, not a heredoc: proc_nbs starts its workers with 'spawn', which re-imports
the main module. `--allow-missing` lets sidebar.yml name lessons not written yet (while a course grows).
"""
import ast, json, re, sys, yaml
from nbdev.config import get_config
import nbdev.doclinks
from nbdev.serve import proc_nbs

def mixed_import_cells(nb_path):
    "Cells that hold imports and other code: nbdev runs every import cell while processing docs, alone."
    found = []
    for i, c in enumerate(json.loads(nb_path.read_text(encoding='utf-8'))['cells']):
        src = ''.join(c['source']) if c['cell_type'] == 'code' else ''
        if not src or re.search(r'^#\|\s*(export|exporti|exports|eval:\s*false)', src, re.M): continue
        if 'nbdev_export()' in src or 'google.colab' in src: continue  # skipped by nbdev / harmless set-up
        try: body = ast.parse('\n'.join(l for l in src.splitlines() if not l.lstrip().startswith(('%', '!')))).body
        except SyntaxError: continue
        if any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in body) and \
           not all(isinstance(n, (ast.Import, ast.ImportFrom)) for n in body): found.append(i)
    return found

PLUMBING = {'uploaded_files', 'upload_predictor',  # exported names a page may leave out: plumbing a learner need not read,
            'ink_side_up', 'paper_under', 'block_size', 'unblock', 'find_digit',  # the photo steps of ink_of and finding the digit on a page, which lesson 07 teaches from pictures,
            'OnnxModel', 'OnnxPredictor',  # the ONNX predictor, which lesson 08 shows at work,
            'plot_conv_filters', 'plot_feature_maps', 'plot_settings',  # plotting code whose pictures the lesson shows,
            'atomic_path', 'folder_lock',  # the safe writing of run_training, which lesson 09 describes in words,
            'find_chromium'}  # and which Chromium the browser checks drive

def exported_defs(nb_path):
    "Public functions and classes defined in a notebook's `#| export` and `#| exports` cells, in order."
    names = []
    for c in json.loads(nb_path.read_text(encoding='utf-8'))['cells']:
        src = ''.join(c['source']) if c['cell_type'] == 'code' else ''
        if not re.match(r'#\|\s*exports?\b', src): continue
        body = ast.parse('\n'.join(l for l in src.splitlines() if not l.lstrip().startswith('#|')))
        names += [n.name for n in body.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not n.name.startswith('_')]
    return [n for n in names if n not in PLUMBING]

def hidden_code(nb_path, proc_path):
    "Exported functions and classes whose `def`/`class` line is missing from the processed page."
    page = '\n'.join(''.join(c['source']) for c in json.loads(proc_path.read_text(encoding='utf-8'))['cells'])
    return [n for n in exported_defs(nb_path) if not re.search(rf'^\s*(?:async\s+)?(?:def|class)\s+{n}\b', page, re.M)]

def main():
    nbs = get_config().nbs_path
    for f in ('_quarto.yml', 'nbdev.yml', 'sidebar.yml'):
        yaml.safe_load((nbs/f).read_text())
        print(f"  {f}: valid YAML")
    assert (nbs/'styles.css').exists(), "nbs/styles.css is missing"
    notebooks = sorted(p.name for p in nbs.glob('*.ipynb') if not p.name.startswith(('_', '.')))
    def flat(items):  # sections hold contents of their own
        for it in items: yield from (flat(it['contents']) if isinstance(it, dict) else [it])
    listed = list(flat(yaml.safe_load((nbs/'sidebar.yml').read_text())['website']['sidebar']['contents']))
    missing = [f for f in listed if isinstance(f, str) and not (nbs/f).exists()]
    unlisted = [f for f in notebooks if f not in listed]
    if unlisted or (missing and '--allow-missing' not in sys.argv):
        sys.exit(f"sidebar.yml lists missing files {missing}, leaves out notebooks {unlisted}")
    if missing: print(f"  warning: sidebar.yml lists lessons not written yet: {missing}")
    print(f"  sidebar.yml lists every notebook, in order: {' '.join(listed)}")
    mixed = {f: c for f in notebooks if (c := mixed_import_cells(nbs/f))}
    if mixed:
        print("  hint: these cells mix imports with other code; nbdev executes every cell with an import while "
              "processing docs, without the cells before it, so keep imports in cells of their own: " +
              "; ".join(f"{f} cells {c}" for f, c in mixed.items()))
    nbdev.doclinks._build_modidx()
    cache = proc_nbs(str(nbs), force=True)  # raises if a notebook's processing fails
    not_done = [f for f in notebooks if not (cache/f).exists()]
    if not_done: sys.exit(f"proc_nbs did not process {not_done}")
    print(f"  proc_nbs processed {len(notebooks)} notebooks into {cache}: {' '.join(notebooks)}")
    # index.ipynb exports the package face (__init__.py: names re-exported from the lessons' modules), not code to teach
    hidden = {f: h for f in notebooks if f != 'index.ipynb' and (h := hidden_code(nbs/f, cache/f))}
    if hidden:
        sys.exit("the site would hide the code these lessons teach (make their cells `#| exports`, or add the name to "
                 "PLUMBING in .ci/docs.py if nobody needs to read it): " + "; ".join(f"{f}: {', '.join(h)}" for f, h in hidden.items()))
    shown = sum(len(exported_defs(nbs/f)) for f in notebooks)
    print(f"  every processed page shows the code of the functions its lesson teaches ({shown} of them; hidden on purpose: {', '.join(sorted(PLUMBING))})")

if __name__ == '__main__': main()  # proc_nbs starts worker processes with 'spawn'
