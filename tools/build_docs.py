"""Build the docs site into `_docs/` from the notebooks in `nbs/`.

    python tools/build_docs.py                      # Quarto when `quarto` is on PATH, else smalldocs (pure Python)
    python tools/build_docs.py --renderer smalldocs # force a renderer (quarto | smalldocs)
    python tools/build_docs.py --no-exec            # pages show saved outputs and API docs only (faster)

What it does, in order:
1. Processes every notebook with nbdev's own processors (as `nbdev_docs` does: a `show_doc` block for each exported
   symbol, directives such as `#| hide`, front matter) into `_proc/`. Unlike `nbdev_docs` it also runs every cell, so
   pages show their pictures and tables: cells flagged `#| cuda` or `#| eval: false` are skipped, `#| slow` cells run
   (the model-zoo table is one). A notebook saved with outputs (the live-view tutorial, saved with its widget state by
   `tools/execute_with_widgets.py`) is shown as saved. A cell that raises stops the build, naming notebook and cell.
2. Turns saved widget views into HTML that the jupyter-widgets HTML manager renders in the page, loaded from a local
   copy (npm package `@jupyter-widgets/html-manager`, fetched once with `npm pack` into `.cache/docs/`), not a CDN;
   KaTeX (maths) likewise.
3. Writes the sidebar from the notebook numbers (1x guides, 19 + 2x models, 0x library, 9x tools), so a new
   `nbs/2x_models.<family>.ipynb` appears under "Models" with no list to edit.
4. Renders the site with Quarto (`quarto render`, as `nbdev_docs` does) or with smalldocs into `_docs/`.
"""
import argparse, json, os, re, shutil, subprocess, sys, tarfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS, PROC, DOCS = ROOT/'nbs', ROOT/'_proc', ROOT/'_docs'
CACHE = ROOT/'.cache'/'docs'
HTML_MANAGER = '@jupyter-widgets/html-manager@1.0.15'   # ipywidgets 8 (widget protocol 2)
WIDGET_LIB = 'site_libs/jupyter-widgets'                 # where embed.js goes in the site
KATEX = 'katex@0.16.11'                                  # the version smalldocs links
KATEX_CDN = 'https://cdn.jsdelivr.net/npm/katex@0.16.11/dist'
MIME_VIEW, MIME_STATE = 'application/vnd.jupyter.widget-view+json', 'application/vnd.jupyter.widget-state+json'

SECTIONS = [  # (title, first number, last number) for the sidebar; notebooks are placed by their leading number
    ('Guides', 10, 18), ('Models', 19, 29), ('Config and data', 0, 3), ('Modeling and training', 4, 9),
    ('Tools', 90, 99)]

def log(*a): print(*a, flush=True)

# ---------------------------------------------------------------------------------------------------------------
# 1. processing (runs in worker processes)

def _number(name:str):
    m = re.match(r'(\d+)', name)
    return int(m.group(1)) if m else None

def _has_outputs(nb)->bool:
    return any(c.get('outputs') for c in nb.cells if c.cell_type == 'code')

def _escape_script(s:str)->str: return s.replace('</', '<\\/')

def embed_widgets(nb, lib:str=WIDGET_LIB)->int:
    "Replace widget-view outputs whose models are in the saved state with HTML the widget manager renders; returns how many"
    state = ((nb.metadata.get('widgets') or {}).get(MIME_STATE) or {})
    models = state.get('state') or {}
    n = 0
    for c in nb.cells:
        for o in (c.get('outputs') or []) if c.cell_type == 'code' else []:
            view = (o.get('data') or {}).get(MIME_VIEW)
            if not view or view.get('model_id') not in models: continue
            html = f'<script type="{MIME_VIEW}">{_escape_script(json.dumps(dict(view)))}</script>'
            if n == 0:  # the first view on the page brings the manager and the whole state
                html = (f'<script src="{lib}/embed.js"></script>\n'
                        f'<script type="{MIME_STATE}">{_escape_script(json.dumps(state))}</script>\n' + html)
            o['data'] = {'text/html': html}
            n += 1
    nb.metadata.pop('widgets', None)  # so Quarto adds no CDN scripts of its own
    return n

_re_export = re.compile(r'^#\|\s*export\s*$', re.M)

def document_constants(nb)->int:
    "After each exported cell, a code block showing its public constants (`NAME = ...`), which `show_doc` skips"
    import ast
    from execnb.nbio import mk_cell
    out, n = [], 0
    for c in nb.cells:
        out.append(c)
        if c.cell_type != 'code' or not _re_export.search(c.source): continue
        try: tree = ast.parse('\n'.join(l for l in c.source.splitlines() if not l.startswith('#|')))
        except SyntaxError: continue
        lines = [l for l in c.source.splitlines() if not l.startswith('#|')]
        block = []
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
            names = [n for t in targets for n in (t.elts if isinstance(t, ast.Tuple) else [t]) if isinstance(n, ast.Name)]
            if not any(re.fullmatch(r'[A-Z][A-Z0-9_]*', n.id) for n in names): continue
            src = lines[node.lineno - 1:node.end_lineno]
            block += src[:15] + (['    ...'] if len(src) > 16 else src[15:16])
        if block:
            body = '\n'.join(block)
            out.append(mk_cell(f"```python\n{body}\n```", cell_type='markdown'))
            n += 1
    nb.cells = out
    return n

_re_progress = re.compile(r'\s*(█|Epoch \d+/\d+ :.*)?\s*')

def clean_progress(nb):
    "Console progress bars in stream outputs (redrawn with carriage returns) reduced to what a terminal shows at the end"
    for c in nb.cells:
        for o in c.get('outputs', []) if c.cell_type == 'code' else []:
            if o.get('output_type') != 'stream': continue
            text = ''.join(o['text']) if isinstance(o['text'], list) else o['text']
            if '\r' not in text: continue
            lines = []
            for line in text.split('\n'):
                segs = [x for x in line.split('\r') if not _re_progress.fullmatch(x)]
                if segs or not line.strip(): lines.append(segs[-1] if segs else '')
            o['text'] = '\n'.join(lines)

_re_dash_heading = re.compile(r'^(#+ +)(.+?) +-\s*$', re.M)

def dash_headings(nb):
    "nbdev's `## Name -` headings: a heading alone in its cell is left for nbdev to drop; one heading prose loses the dash"
    for c in nb.cells:
        if c.cell_type != 'markdown' or _re_dash_heading.fullmatch(c.source.strip()): continue
        c.source = _re_dash_heading.sub(lambda m: m.group(1) + m.group(2), c.source)

def proc_one(args):
    "Process one notebook `src` into `dst` with nbdev's processors, running its cells unless `execute` is False"
    src, dst, execute, skip_flags = args
    os.environ['IN_TEST'] = '1'  # as nbdev_test and nbdev's docs processing do
    os.environ.setdefault('MPLBACKEND', 'Agg')
    from execnb.nbio import read_nb, write_nb
    from nbdev.processors import FilterDefaults, exec_show_docs
    from nbdev.process import NBProcessor

    class exec_all(exec_show_docs):
        "Run every code cell (not only those `show_doc` needs), skipping `eval: false` and flagged cells"
        def begin(self):
            super().begin()
            try:
                from ipywidgets import Widget
                Widget.close_all()  # widget state saved with this page only comes from this page
            except ImportError: pass
        def __call__(self, cell):
            if cell.cell_type != 'code' or not cell.source.strip() or not hasattr(self, 'k'): return
            d = getattr(cell, 'directives_', {}) or {}
            if d.get('eval:', [''])[0].lower() == 'false' or (skip_flags & d.keys()): return
            if 'nbdev_export' + '(' in cell.source: return
            self.k.cell(cell)
            if self.k.exc:
                raise RuntimeError(f"{src.name}: cell {cell.idx_} raised {self.k.exc[0].__name__ if isinstance(self.k.exc, tuple) else type(self.k.exc).__name__}"
                                   f":\n{cell.source}") from (self.k.exc[1] if isinstance(self.k.exc, tuple) else self.k.exc)

    nb = read_nb(src)
    document_constants(nb)
    dash_headings(nb)
    run = execute and not _has_outputs(nb)
    procs = FilterDefaults().procs()
    if run: procs = [exec_all if p is exec_show_docs else p for p in procs]
    t = time.time()
    cwd = os.getcwd()
    os.chdir(src.parent)  # notebooks run from nbs/, as under nbdev_test
    try: NBProcessor(nb=nb, procs=procs).process()
    finally: os.chdir(cwd)
    clean_progress(nb)
    nw = embed_widgets(nb)
    write_nb(nb, dst)
    return src.name, round(time.time() - t, 1), run, nw

# ---------------------------------------------------------------------------------------------------------------
# 2. the widget manager

def npm_files(spec:str, keep)->Path:
    "Files of npm package `spec` whose path under `package/` `keep` accepts, fetched once with `npm pack` into .cache/docs"
    out = CACHE/spec.replace('/', '+')
    if out.is_dir(): return out
    if not shutil.which('npm'): sys.exit(f"npm is needed once to fetch {spec} (served with the pages, not from a CDN) into {CACHE}")
    CACHE.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(['npm', 'pack', spec, '--pack-destination', str(CACHE), '--json'], capture_output=True, text=True)
    if r.returncode: sys.exit(f"npm pack {spec} failed:\n{r.stderr}")
    tgz = CACHE/json.loads(r.stdout)[0]['filename'].replace('@', '').replace('/', '-')
    tmp = out.with_name(out.name + '.tmp')
    shutil.rmtree(tmp, ignore_errors=True); tmp.mkdir()
    with tarfile.open(tgz) as tf:
        for m in tf.getmembers():
            rel = m.name.split('/', 1)[1] if '/' in m.name else m.name
            if m.isfile() and (keep(rel) or rel in ('package.json', 'LICENSE')):
                m.name = rel
                tf.extract(m, tmp, filter='data')
    tgz.unlink()
    tmp.rename(out)
    return out

def widget_manager()->Path:
    "The html-manager's `embed.js` (renders saved widget state in a page), its fonts and licences"
    d = npm_files(HTML_MANAGER, lambda p: p.startswith('dist/') and not p.endswith(('.map', '-amd.js')))
    if not (d/'LICENSE').exists():
        pkg = json.loads((d/'package.json').read_text())
        (d/'LICENSE').write_text(f"{pkg['name']} {pkg['version']}, licence {pkg['license']} "
                                 f"(see dist/embed.js.LICENSE.txt for the bundled packages).\n")
    return d/'dist'

def katex()->Path:
    "KaTeX's scripts, style and fonts, for the pages with maths (smalldocs links them from a CDN otherwise)"
    return npm_files(KATEX, lambda p: p.startswith('dist/') and (p.endswith(('katex.min.js', 'katex.min.css', 'auto-render.min.js'))
                                                               or p.startswith('dist/fonts/')))

# ---------------------------------------------------------------------------------------------------------------
# 3. sidebar and site config

def _output_name(nb_path:Path)->str:
    "The page name nbdev gives a notebook (`01_io.ipynb` -> `io`), read from the front matter nbdev wrote"
    nb = json.loads(nb_path.read_text())
    c = nb['cells'][0] if nb['cells'] else None
    if c and c['cell_type'] == 'raw':
        m = re.search(r'^output-file:\s*(\S+)\.html\s*$', ''.join(c['source']), re.M)
        if m: return m.group(1)
    return re.sub(r'^\d+[a-z]?_', '', nb_path.stem)

def sidebar(pages:list)->dict:
    "Sidebar contents: the home page, then one section per number range"
    contents = [p for p in pages if p.startswith('index.')]
    by_sec = {t: [] for t, *_ in SECTIONS}
    other = []
    for p in sorted(p for p in pages if not p.startswith('index.')):
        n = _number(p)
        sec = next((t for t, lo, hi in SECTIONS if n is not None and lo <= n <= hi), None)
        (by_sec[sec] if sec else other).append(p)
    for t, *_ in SECTIONS:
        if by_sec[t]: contents.append({'section': t, 'contents': by_sec[t]})
    if other: contents.append({'section': 'More', 'contents': other})
    return {'website': {'sidebar': {'contents': contents}}}

def link_md(folder:Path, names:dict):
    "Point Markdown links at notebooks (`12_tutorial.live_view.ipynb`, or its `.html`) to their pages, as Quarto does"
    pat = re.compile(r'\]\((' + '|'.join(re.escape(Path(k).stem) for k in sorted(names, key=len, reverse=True)) + r')\.(?:ipynb|html)(#[^)]*)?\)')
    def fix(t): return pat.sub(lambda m: f"]({Path(names[m.group(1) + '.ipynb']).stem}.html{m.group(2) or ''})", t)
    for p in folder.glob('*.ipynb'):
        nb = json.loads(p.read_text())
        for c in nb['cells']:
            if c['cell_type'] == 'markdown': c['source'] = fix(''.join(c['source']))
            for o in c.get('outputs', []):
                if 'text/markdown' in (o.get('data') or {}):
                    o['data']['text/markdown'] = fix(''.join(o['data']['text/markdown']))
        p.write_text(json.dumps(nb, indent=1, ensure_ascii=False))

def nbdev_yml(cfg)->str:
    return (f"project:\n  output-dir: _docs\n\nwebsite:\n  title: \"{cfg.title}\"\n"
            f"  site-url: \"{cfg.doc_host}{cfg.doc_baseurl}\"\n  description: \"{cfg.description}\"\n"
            f"  repo-branch: {cfg.branch}\n  repo-url: \"{cfg.git_url}\"\n")

# ---------------------------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--renderer', choices=['auto', 'quarto', 'smalldocs'], default='auto')
    ap.add_argument('--no-exec', action='store_true', help="don't run the notebooks' cells")
    ap.add_argument('--skip-flags', default='cuda', help="cells with these flags don't run (space separated)")
    ap.add_argument('--workers', type=int, default=min(2, os.cpu_count() or 1))
    a = ap.parse_args()
    renderer = a.renderer if a.renderer != 'auto' else ('quarto' if shutil.which('quarto') else 'smalldocs')
    t0 = time.time()
    os.chdir(ROOT)
    from nbdev.config import get_config
    from nbdev.doclinks import _build_modidx, nbglob
    cfg = get_config()
    lib = widget_manager(); katex()
    _build_modidx()  # doc links from the exported modules, as nbdev_docs does first

    shutil.rmtree(PROC, ignore_errors=True); PROC.mkdir()
    nbs = [p for p in sorted(NBS.glob('*.ipynb')) if not p.name.startswith(('_', '.'))]
    skip = set(a.skip_flags.split())
    jobs = [(p, PROC/p.name, not a.no_exec, skip) for p in nbs]
    log(f"== processing {len(jobs)} notebooks ({'running their cells' if not a.no_exec else 'not running cells'}, "
        f"{a.workers} workers; skipped flags: {' '.join(sorted(skip)) or 'none'})")
    if a.workers > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed
        # fork, as nbdev_test does: notebooks' DataLoader workers and pickled classes behave as under the tests
        # (IPython's shell replaces `__main__` in a worker, so the worker function is found through its module)
        sys.path.insert(0, str(Path(__file__).parent))
        import build_docs
        with ProcessPoolExecutor(a.workers, mp_context=mp.get_context('fork')) as ex:
            futs = {ex.submit(build_docs.proc_one, j): j[0].name for j in jobs}
            res = []
            for f in as_completed(futs):
                try: res.append(f.result())
                except Exception as e: sys.exit(f"docs build failed: {e}")
                log(f"  {res[-1][0]}: {res[-1][1]} s")
    else:
        try: res = [proc_one(j) for j in jobs]
        except Exception as e: sys.exit(f"docs build failed: {e}")
    for name, secs, ran, nw in res:
        if not ran or nw: log(f"  {name}: {'shown with its saved outputs' if not ran else 'ran'}{f', {nw} widget views' if nw else ''}")
    for f in ['_quarto.yml', 'styles.css']:
        if (NBS/f).exists(): shutil.copy2(NBS/f, PROC/f)
    for f in NBS.iterdir():  # pictures and other files pages link to
        if f.is_file() and f.suffix.lower() in ('.png', '.jpg', '.jpeg', '.svg', '.gif'): shutil.copy2(f, PROC/f.name)
    (PROC/'nbdev.yml').write_text(nbdev_yml(cfg))

    if renderer == 'smalldocs':  # smalldocs names a page after its file: give each notebook nbdev's page name
        pages = []
        for p in sorted(PROC.glob('*.ipynb')):
            new = PROC/(_output_name(p) + '.ipynb')
            if new != p: p.rename(new)
            pages.append(new.name)
        order = {_output_name(NBS/j[0].name) + '.ipynb': j[0].name for j in jobs}
        pages = sorted(pages, key=lambda q: order.get(q, q))
        link_md(PROC, {k: v for v, k in order.items()})
        side = sidebar([order.get(q, q) for q in pages])
        rename = {v: k for k, v in order.items()}
        def _ren(c): return [{**x, 'contents': _ren(x['contents'])} if isinstance(x, dict) else rename.get(x, x) for x in c]
        side['website']['sidebar']['contents'] = _ren(side['website']['sidebar']['contents'])
    else:
        side = sidebar([p.name for p in sorted(PROC.glob('*.ipynb'))])
    import yaml
    (PROC/'sidebar.yml').write_text(yaml.safe_dump(side, sort_keys=False))

    log(f"== rendering with {renderer}")
    shutil.rmtree(PROC/'_docs', ignore_errors=True)
    cmd = ['quarto', 'render', '--no-cache'] if renderer == 'quarto' else [sys.executable, '-m', 'smalldocs.cli', 'render', '.']
    r = subprocess.run(cmd, cwd=PROC, capture_output=True, text=True)
    out = (r.stdout + r.stderr).strip()
    if r.returncode: sys.exit(f"{' '.join(cmd)} failed:\n{out}")
    noise = [l for l in out.splitlines() if 'output-file is not read' not in l]  # smalldocs: we renamed the files instead
    if noise: log('\n'.join(noise))
    shutil.rmtree(DOCS, ignore_errors=True)
    shutil.move(str(PROC/'_docs'), str(DOCS))
    shutil.copytree(lib, DOCS/WIDGET_LIB, dirs_exist_ok=True)
    shutil.copy2(lib.parent/'LICENSE', DOCS/WIDGET_LIB/'LICENSE')
    kx = katex()
    shutil.copytree(kx/'dist', DOCS/'site_libs'/'katex', dirs_exist_ok=True)
    shutil.copy2(kx/'LICENSE', DOCS/'site_libs'/'katex'/'LICENSE')
    for page in DOCS.rglob('*.html'):  # maths from the local copy
        t = page.read_text()
        if KATEX_CDN in t:
            rel = os.path.relpath(DOCS/'site_libs'/'katex', page.parent)
            page.write_text(t.replace(KATEX_CDN, rel))
    n = len(list(DOCS.glob('*.html')))
    log(f"docs: {n} pages in {DOCS.relative_to(ROOT)}/ in {time.time() - t0:.0f} s ({renderer})")

if __name__ == '__main__': main()
