"""Test the docs site in `_docs/`: the pages are there, links resolve, every public symbol is documented, no page shows
a traceback, and key pages render in headless Chromium (title, API blocks, pictures, the live-view widget).

    python tools/test_docs.py                  # test _docs/ as built
    python tools/test_docs.py --build          # build it first (tools/build_docs.py), then test
    python tools/test_docs.py --shots DIR      # also keep a screenshot of each key page in DIR

Chromium comes from Debian (`apt-get install -y chromium`). Prints one line per failed check and ends with
"docs: N passed, N failed"; exits 1 on any failure."""
import argparse, html.parser, importlib, json, os, re, shutil, subprocess, sys, tempfile, time
from pathlib import Path
from urllib.parse import urlparse, unquote

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT/'_docs'
CHROME_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                '--disable-component-update', '--disable-sync', '--no-first-run', '--hide-scrollbars',
                '--virtual-time-budget=8000']

# key pages: page -> what the rendered page must show
KEY_PAGES = {
    'index.html':              dict(title='openstereo_nb'),
    'getting_started.html':    dict(title='Getting started', images=2),
    'tutorial.new_model.html': dict(title='How to create your own model'),
    'tutorial.live_view.html': dict(title='Watching a model train', widget=True, images=1),
    'datasets.html':           dict(title='Datasets', images=1),
    'openstereo_users.html':   dict(title='For OpenStereo users'),
    'zoo.html':                dict(title='Model zoo', table=True, api=True),
    'benchmarks.html':         dict(title='Benchmarks'),
    'viz.html':                dict(title='Disparity pictures', api=True, images=1),
    'show.html':               dict(title='show_batch and show_results', api=True, images=1),
    'io.html':                 dict(title='File formats', api=True),
    'modeling.base_model.html': dict(title='BaseModel', api=True),
    'models.psmnet.html':      dict(title='PSMNet', api=True),
}

class Page(html.parser.HTMLParser):
    "Links, ids, headings, images, code blocks and text of one HTML page"
    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.links, self.ids, self.imgs, self.code, self.text, self.scripts = [], set(), 0, [], [], []
        self.h1, self._in = '', []
        self.feed(text)
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if 'id' in a: self.ids.add(a['id'])
        if tag == 'a' and a.get('href'): self.links.append(a['href'])
        if tag in ('script', 'img', 'link') and (a.get('src') or a.get('href')) and tag != 'a':
            self.links.append(a.get('src') or a.get('href'))
        if tag == 'img': self.imgs += 1
        if tag == 'script' and a.get('src'): self.scripts.append(a['src'])
        if tag in ('h1', 'code', 'script', 'style'): self._in.append(tag); self.code.append('') if tag == 'code' else None
    def handle_endtag(self, tag):
        if self._in and self._in[-1] == tag: self._in.pop()
    def handle_data(self, d):
        if 'h1' in self._in: self.h1 += d
        if 'script' in self._in or 'style' in self._in: return
        if 'code' in self._in and self.code: self.code[-1] += d
        self.text.append(d)

class Checks:
    def __init__(self): self.passed, self.failed = 0, []
    def __call__(self, ok, what):
        if ok: self.passed += 1
        else: self.failed.append(what); print(f"FAIL {what}", flush=True)
        return ok

def chromium()->str:
    for b in ('chromium', 'chromium-browser', 'google-chrome'):
        if shutil.which(b): return shutil.which(b)
    sys.exit("headless Chromium not found: apt-get install -y chromium")

def browse(url:str, shot:Path=None, width=1280, height=1600)->str:
    "The page's DOM after its scripts ran (and a screenshot to `shot`), from a fresh headless Chromium"
    with tempfile.TemporaryDirectory() as prof:
        args = [chromium(), *CHROME_FLAGS, f'--user-data-dir={prof}', f'--window-size={width},{height}']
        if shot: subprocess.run(args + [f'--screenshot={shot}', url], capture_output=True, timeout=120)
        r = subprocess.run(args + ['--dump-dom', url], capture_output=True, text=True, timeout=120)
    return r.stdout

def expected_pages()->dict:
    "page -> why it must exist: the home page, the guides, one page per module, one per model notebook"
    from nbdev.config import get_config
    modidx = importlib.import_module(f"{get_config().lib_name}._modidx").d
    pages = {p: 'key page' for p in KEY_PAGES}
    for mod, syms in modidx['syms'].items():
        for sym, (url, _) in syms.items():
            pages[url.split('#')[0]] = f'module {mod}'
            break
    for nb in sorted((ROOT/'nbs').glob('2*_models.*.ipynb')):
        pages[re.sub(r'^\d+[a-z]?_', '', nb.stem) + '.html'] = f'model notebook {nb.name}'
    return pages

def public_symbols()->dict:
    "module -> (its page, its `__all__` as (name, object) pairs), for every exported module"
    from nbdev.config import get_config
    lib = get_config().lib_name
    modidx = importlib.import_module(f"{lib}._modidx").d
    out = {}
    for mod, syms in modidx['syms'].items():
        if not syms: continue
        m = importlib.import_module(mod)
        page = next(iter(syms.values()))[0].split('#')[0]
        out[mod] = (page, [(n, getattr(m, n)) for n in getattr(m, '__all__', []) if not n.startswith('_')])
    return out

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', action='store_true', help='build the site first (tools/build_docs.py)')
    ap.add_argument('--shots', default=None, help='folder for screenshots of the key pages')
    a = ap.parse_args()
    if a.build:
        r = subprocess.run([sys.executable, str(ROOT/'tools'/'build_docs.py')])
        if r.returncode: print("docs: 0 passed, 1 failed"); sys.exit("the docs build failed")
    if not (DOCS/'index.html').exists(): sys.exit(f"no site in {DOCS}: run python tools/build_docs.py")
    ck, t0 = Checks(), time.time()

    # 1. pages, links, tracebacks (every page)
    pages = {p.relative_to(DOCS).as_posix(): Page(p.read_text(errors='replace')) for p in DOCS.rglob('*.html')}
    for p, why in expected_pages().items(): ck(p in pages, f"{p} is missing ({why})")
    bad_links = []
    for name, pg in pages.items():
        base = (DOCS/name).parent
        for href in pg.links:
            u = urlparse(href)
            if u.scheme or href.startswith(('mailto:', 'javascript:', '//')): continue
            target = (base/unquote(u.path)).resolve() if u.path else DOCS/name
            if target.is_dir(): target = target/'index.html'
            if not target.exists(): bad_links.append(f"{name}: {href} (no such file)"); continue
            if u.fragment and target.suffix == '.html':
                rel = target.relative_to(DOCS.resolve()).as_posix() if target.is_relative_to(DOCS.resolve()) else None
                tp = pages.get(rel)
                if tp is not None and unquote(u.fragment) not in tp.ids: bad_links.append(f"{name}: {href} (no such anchor)")
        text = ''.join(pg.text)
        remote = [u for u in pg.scripts if urlparse(u).scheme or u.startswith('//')]
        ck(not remote, f"{name} loads scripts from the network: {remote}")  # the widget manager included: a local copy
        ck('Traceback (most recent call last)' not in text and 'cell-output-error' not in
           (DOCS/name).read_text(errors='replace'), f"{name} shows a traceback")
    for b in sorted(set(bad_links)): ck(False, f"broken link {b}")
    ck(True, f"{sum(len(p.links) for p in pages.values())} links in {len(pages)} pages checked")

    # 2. every public symbol: functions and classes have a rendered signature, their description and an example on
    #    their module's page; constants are shown (defined or used in visible code)
    import inspect
    typo = str.maketrans({'’': "'", '‘': "'", '“': '"', '”': '"', '–': '-', '—': '-', '…': '...'})
    def squash(t): return re.sub(r'\s+', ' ', re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', t).replace('`', '').replace('*', '').translate(typo)).strip()
    for mod, (page, syms) in public_symbols().items():
        pg = pages.get(page)
        if not ck(pg is not None, f"{mod}: no page {page}"): continue
        code, text = '\n'.join(pg.code), squash(''.join(pg.text))
        for n, obj in syms:
            uses = len(re.findall(rf'\b{re.escape(n)}\b', code))
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                ck(uses >= 1 or re.search(rf'\b{re.escape(n)}\b', text), f"{page}: constant {mod}.{n} is not mentioned"); continue
            sig = re.search(rf'(def|class)\s+{re.escape(n)}\b', code) or re.search(rf'^\s*{re.escape(n)}\s*[=(]', code, re.M)
            ck(n.lower() in {i.lower() for i in pg.ids}, f"{page}: no API heading for {mod}.{n}")
            ck(bool(sig), f"{page}: no rendered signature for {mod}.{n}")
            doc = (inspect.getdoc(obj) or '').split('\n')[0]
            ck(bool(doc) and squash(doc)[:60] in text, f"{page}: no description for {mod}.{n}")
            ck(uses >= 2, f"{page}: no example using {mod}.{n}")

    # 3. key pages in headless Chromium
    shots = Path(a.shots) if a.shots else None
    if shots: shots.mkdir(parents=True, exist_ok=True)
    for p, want in KEY_PAGES.items():
        if p not in pages: continue
        dom = browse((DOCS/p).resolve().as_uri(), shots/(p.replace('.html', '.png')) if shots else None)
        if not ck(len(dom) > 1000, f"{p}: Chromium rendered nothing"): continue
        pg = Page(dom)
        if 'title' in want: ck(pg.h1.strip() == want['title'], f"{p}: title {pg.h1.strip()!r}, expected {want['title']!r}")
        if want.get('api'): ck('def ' in '\n'.join(pg.code) or 'class ' in '\n'.join(pg.code), f"{p}: no API block")
        if want.get('table'): ck(re.search(r'<table[^>]*class="[^"]*dataframe', dom) is not None, f"{p}: no table")
        if want.get('images'): ck(pg.imgs >= want['images'], f"{p}: {pg.imgs} pictures, expected at least {want['images']}")
        if want.get('widget'):  # the manager replaced the widget-view script with live DOM
            ck('widget-vbox' in dom and 'widget-image' in dom, f"{p}: the live-view widget did not render")
            ck('Error displaying widget' not in dom, f"{p}: the widget manager shows an error")
    print(f"docs tests took {time.time() - t0:.0f} s" + (f"; screenshots in {shots}" if shots else ''))
    print(f"docs: {ck.passed} passed, {len(ck.failed)} failed")
    sys.exit(1 if ck.failed else 0)

if __name__ == '__main__': main()
