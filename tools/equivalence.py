"""Equivalence checks: openstereo_nb's zoo models against OpenStereo v1's code and the authors' releases (CPU).

Not a test (CI has no copy of the references). One table-driven tool: a row per (model, reference) pair — `gwcnet` is
checked against OpenStereo v1, `gwcnet:author` against the authors' release — in `tools/equivalence_models.py` (v1's
first zoo: PSMNet … LacGwcNet) and `tools/equivalence_zoo2.py` (IGEV, STTR, AANet, GANet, RAFT-Stereo), and this file
the machinery they share. Get OpenStereo's v1 branch (github.com/XiandaGuo/OpenStereo, branch v1) and
point --ref at its `openstereo/` folder; the authors' checkouts are given as --author NAME=PATH (NAME as in the row's
`author` field: `python tools/equivalence.py --list` shows them):
    python tools/equivalence.py --ref /path/to/OpenStereo-v1/openstereo --quick gwcnet msnet
    python tools/equivalence.py --author GwcNet=/path/to/GwcNet gwcnet:author
    python tools/equivalence.py --ref ... --author GwcNet=... --quick            # every row whose reference is given
    python tools/equivalence.py --ref ... --author RAFT-Stereo=... igev sttr aanet ganet raftstereo:author
It prints one table: row, case (variant and input shape), output compared, max abs diff ours vs reference, the
reference's own fp32-vs-fp64 difference (the fp32 floor) where measured, the tolerance and pass/fail. Rows whose
reference path is not given are listed as skipped. Only the reference's single files are loaded (with importlib, under
stub packages), so nothing beyond torch is needed (CoEx, IGEV: timm; AANet: torchvision). The CoEx rows (`Row.timm`)
want v1's timm 0.5.4: --timm DIR names a folder holding it, which those rows import instead of the installed timm.

v1 rows (`compare_v1`): ours is built, `randomise`d (non-trivial BN statistics, sharpened cost heads) and its state
dict loaded strictly into the reference (same keys, same order); then on seeded random inputs: the eval outputs, the
training outputs, the loss, the gradients and BN running statistics after one training pass, and the reference in
float64 for the floor. Author rows (`check_author`): the authors' network is built with random weights, saved the way
their training script saves it, loaded with `load_checkpoint(strict=True)`, and the tensors and the outputs the row
names compared (eval; some rows training outputs, losses, gradients, an fp32 floor too). What the references run only
on CUDA (AANet's deformable convolution, GANet's SGA/LGA) is replaced by stand-ins for the rows' run (see their docs).
Adding a family: one `Row(...)` in equivalence_models.py or equivalence_zoo2.py plus its small functions (see
equivalence_models.py's docstring).
The figures depend on the torch thread count (the order of the sums): each row runs with the count its figures were
measured with (`Row.threads`), unless --threads is given."""
import sys, types, importlib.util, time, argparse, copy, re, contextlib, dataclasses, os, tempfile, gc
from typing import Callable, Optional
import torch, torch.nn as nn, torch.nn.functional as F

# --- loading reference files --------------------------------------------------------------------------------------
def load(name, path):
    "Load one file as module `name` (registered in sys.modules, so relative imports of its siblings resolve)"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec); sys.modules[name] = mod; spec.loader.exec_module(mod)
    return mod

def package(name, path=None):
    "A bare package `name` (its __init__, which would import the whole reference framework, is not run)"
    pkg = types.ModuleType(name); pkg.__path__ = [path] if path else []; sys.modules[name] = pkg
    return pkg

def stub(name, **attrs):
    "A stand-in module holding just `attrs`"
    m = types.ModuleType(name); m.__dict__.update(attrs); sys.modules[name] = m
    return m

def import_author(path, *modules, stubs=None):
    """Import `modules` (e.g. 'models.gwcnet') from an author checkout; drops cached top-level packages of the same name
    first, then puts `stubs` ({module name: stand-in}) in their place"""
    tops = {m.split('.')[0] for m in modules}
    for k in [k for k in sys.modules if k.split('.')[0] in tops]: del sys.modules[k]
    sys.modules.update(stubs or {})
    sys.path.insert(0, path)
    try: return [importlib.import_module(m) for m in modules]
    finally: sys.path.remove(path)

@contextlib.contextmanager
def patched(*patches):
    "Temporarily set attributes: patches are (object, name, value); a name the object lacked is removed again"
    old = [(o, n, getattr(o, n, _MISSING)) for o, n, _ in patches]
    for o, n, v in patches: setattr(o, n, v)
    try: yield
    finally:
        for o, n, v in reversed(old):
            if v is _MISSING: delattr(o, n)
            else: setattr(o, n, v)
_MISSING = object()

@contextlib.contextmanager
def package_from(folder, name):
    "While in force, `import name` (and its submodules) loads from `folder` (None: no change); the installed one comes back after"
    if folder is None: yield; return
    own = lambda k: k == name or k.startswith(name + '.')
    saved = {k: sys.modules.pop(k) for k in [k for k in sys.modules if own(k)]}
    sys.path.insert(0, folder)
    try: yield
    finally:
        sys.path.remove(folder)
        for k in [k for k in sys.modules if own(k)]: del sys.modules[k]
        sys.modules.update(saved)

# --- shared helpers -------------------------------------------------------------------------------------------------
def randomise(model, seed, cost_gain=1.0, head=r'\.classif.*\.2\.weight$', generator=None):
    "Non-trivial BN statistics and affine parameters, and the cost heads' last conv (names matching `head`) scaled by `cost_gain`; other weights keep their (seeded) init"
    g = generator if generator is not None else torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for k, v in model.state_dict().items():
            if k.endswith('running_mean'): v.copy_(torch.randn(v.shape, generator=g) * 0.2)
            elif k.endswith('running_var'): v.copy_(torch.rand(v.shape, generator=g) * 1.5 + 0.5)
            elif k.endswith('num_batches_tracked'): v.fill_(7)
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 0.8 + 0.6)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
        # sharpen the matching costs so the soft-argmin spreads over the disparity range (random weights otherwise
        # give a nearly uniform softmax and disparities near max_disp/2, which would hide a wrong mapping)
        for n, p in model.named_parameters():
            if head is not None and re.search(head, n): p.mul_(cost_gain)
    return model

def maxdiff(a, b): return (a - b).abs().max().item()
def n_params(m): return sum(p.numel() for p in m.parameters() if p.requires_grad)
def dbl(d): return {k: (v.double() if torch.is_tensor(v) and v.is_floating_point() else v) for k, v in d.items()}

def synthetic_cfg(model, loss_cfg, **model_cfg):
    "The config our models are built from: `model_cfg` entries beside `model`, one loss list"
    return {'data_cfg': {'name': 'Synthetic'}, 'model_cfg': {'model': model, **model_cfg}, 'loss_cfg': loss_cfg,
            'trainer_cfg': {}}

def smooth_l1(weights):
    "The weighted smooth-L1 loss over a list of estimates (v1's Weighted_Smooth_l1_Loss without the log)"
    def loss(ests, xt):
        m, gt = xt['mask'], xt['disp_gt']
        return sum(w * F.smooth_l1_loss(d[m], gt[m]) for w, d in zip(weights, ests))
    return loss

def default_gt(g, B, H, W, D):
    gt = torch.rand(B, H, W, generator=g) * (D - 1)
    return gt, (gt > 0) & (gt < D)

def randn_pair(g, B, H, W):
    "the default input pair: standard normal images"
    return {'ref_img': torch.randn(B, 3, H, W, generator=g), 'tgt_img': torch.randn(B, 3, H, W, generator=g)}

def describe(t):
    "the reference's spread (or its value, for a scalar), for a note"
    t = t.detach().float()
    return f'{t.item():.6g}' if t.numel() == 1 else f'std {t.std():.2f}'

# --- the table's rows ----------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Row:
    """One (model, reference) pair. `setup(path)` loads the reference and returns a namespace `ns` the other functions
    get. v1 rows: `ours(ns, case)` and `reference(ns, case)` build the two models for a case (a dict: H, W, D (max_disp),
    B, fp64, backward (False: the training pass without gradients) and the row's own keys such as the variant);
    `eval_ours/eval_ref(model, x)` and `train_ours/train_ref(model, xt)` return {output name: tensor} (train: and the
    loss). Author rows: `ours(ns, case)` returns (their network, ours, checkpoint layout, key map) and
    `author_check(ns, case, theirs, ours)` {output: (ours, theirs[, fp32 floor]) or a figure or a note}, with the
    generic part in `check_author`."""
    name: str
    title: str                                   # what the reference is
    ref: str = 'v1'                              # 'v1' (--ref) or the --author NAME
    setup: Callable = None
    cases: Callable = None                       # cases(quick) -> list of case dicts
    ours: Callable = None
    reference: Callable = None
    randomise: Callable = None                   # randomise(model, seed, case)
    eval_ours: Callable = None
    eval_ref: Callable = None
    train_ours: Callable = None                  # -> ({name: tensor}, loss)
    train_ref: Callable = None
    inputs: Callable = randn_pair                # inputs(g, B, H, W) -> {'ref_img', 'tgt_img'}
    gt: Callable = default_gt                    # gt(g, B, H, W, D) -> (disp_gt, mask) or a dict of training inputs
    pieces: Optional[Callable] = None            # pieces(ns) -> {name: diff}: the shared building blocks alone
    extra: Optional[Callable] = None             # extra(ns, ctx) -> {name: diff} after the training pass
    author_check: Optional[Callable] = None
    patches: Callable = lambda ns: ()            # (object, attr, value) in force while the row runs
    tol: dict = dataclasses.field(default_factory=dict)   # output-name regex -> tolerance (first match; default 1e-3)
    loss_diff: bool = True                       # compare the two losses (|ours - ref|)
    threads: int = 2                             # torch threads (the figures depend on it: the order of the sums)
    timm: bool = False                           # imports the --timm folder's timm (v1's pin, 0.5.4), not the installed one
    def tolerance(self, out):
        for pat, t in self.tol.items():
            if re.search(pat, out): return t
        return 1e-3

def case_name(c):
    keys = [k for k in c if k not in ('H', 'W', 'D', 'B', 'fp64', 'seed', 'backward', 'floor', 'ti', 'vi')]   # shown elsewhere
    v = ' '.join(f'{c[k]}' if isinstance(c[k], str) else f'{k}={c[k]}' for k in keys)
    return (v + ' ' if v else '') + (f"{c.get('B', 1)}x{c['H']}x{c['W']}" if 'H' in c else '') + (f" D{c['D']}" if 'D' in c else '')

# --- the generic comparisons -----------------------------------------------------------------------------------------
def compare_v1(row, ns, case, rec):
    "ours vs the reference in fp32 (eval, train outputs, loss, gradients, BN stats); with case['fp64'], the reference in float64 too"
    H, W, D, B, seed = case['H'], case['W'], case['D'], case.get('B', 1), case.get('seed', 0)
    ns.case = case
    torch.manual_seed(seed)
    mine = row.randomise(row.ours(ns, case), seed, case)
    ref = row.reference(ns, case)
    ks_m, ks_r = list(mine.state_dict()), list(ref.state_dict())
    assert ks_m == ks_r, (set(ks_m) ^ set(ks_r))
    ref.load_state_dict(mine.state_dict(), strict=True)
    ref64 = copy.deepcopy(ref).double() if case.get('fp64') else None
    cn = case_name(case)
    rec(cn, 'state-dict keys / params', None, note=f'{len(ks_r)} keys equal, in order; params {n_params(mine):,} / {n_params(ref):,}')
    g = torch.Generator().manual_seed(seed + 1)
    x = row.inputs(g, B, H, W)
    mine.eval(); ref.eval()
    t = time.time()
    with torch.no_grad():
        em, er = row.eval_ours(mine, x), row.eval_ref(ref, x)
        e64 = row.eval_ref(ref64.eval(), dbl(x)) if ref64 is not None else {}
    for k, v in em.items():
        rec(cn, f'eval {k}', maxdiff(v, er[k]), maxdiff(er[k].double(), e64[k]) if k in e64 else None,
            note=f'ref {describe(er[k])}')
    del em, er, e64
    rec(cn, 'eval time', None, note=f'{time.time() - t:.1f}s')
    gt = row.gt(g, B, H, W, D)
    xt = {**x, **(gt if isinstance(gt, dict) else dict(zip(('disp_gt', 'mask'), gt)))}
    t = time.time()
    bw = case.get('backward', True)
    def train_pass(m, f, inputs):
        m.train()
        with torch.set_grad_enabled(bw):
            o, l = f(m, inputs)
            if bw: l.backward()
        return o, l
    om, lm = train_pass(mine, row.train_ours, xt)
    om = {k: v.detach() for k, v in om.items()}; lm = lm.item(); gc.collect()
    orf, lr = train_pass(ref, row.train_ref, xt)
    pr = dict(ref.named_parameters())
    named = [(n, p) for n, p in mine.named_parameters() if p.grad is not None]
    o64, l64, g64 = {}, None, None
    if ref64 is not None:
        o64, l64 = train_pass(ref64, row.train_ref, dbl(xt))
        p64 = dict(ref64.named_parameters())
        g64 = max(maxdiff(pr[n].grad.double(), p64[n].grad) for n, _ in named) if bw else None
    for k, v in om.items():
        rec(cn, f'train {k}', maxdiff(v, orf[k]), maxdiff(orf[k].double(), o64[k]) if k in o64 else None)
    if row.loss_diff:
        rec(cn, 'train loss', abs(lm - lr.item()), abs(lr.item() - l64.item()) if l64 is not None else None,
            note=f'ours {lm:.6f} ref {lr.item():.6f}')
    if bw:
        gd = max(maxdiff(p.grad, pr[n].grad) for n, p in named)
        gmax = max(pr[n].grad.abs().max().item() for n, _ in named)
        rec(cn, 'grads', gd, g64, note=f'largest |grad| {gmax:.3g}')
    rsd = ref.state_dict()
    rec(cn, 'BN running stats', max(maxdiff(v.float(), rsd[k].float()) for k, v in mine.state_dict().items()))
    if row.extra is not None:
        for k, v in row.extra(ns, dict(mine=mine, ref=ref, named=named, pr=pr, orf=orf, xt=xt, case=case)).items():
            rec(cn, k, v)
    rec(cn, 'train time', None, note=f'{time.time() - t:.1f}s')

def dp_state_dict(net): return nn.DataParallel(net).state_dict()       # `module.` names, as saved from nn.DataParallel
def adam_state(net): return torch.optim.Adam(net.parameters(), lr=0.001, betas=(0.9, 0.999)).state_dict()

# what the authors' training scripts save: a layout's name, or a row's own function of their network
LAYOUTS = {'model': lambda net: {'epoch': 15, 'model': dp_state_dict(net), 'optimizer': adam_state(net)},
           'model.module': lambda net: {'epoch': 15, 'model': net.state_dict(), 'optimizer': adam_state(net)},
           'state_dict': lambda net: {'epoch': 10, 'state_dict': {'module.' + k: v for k, v in net.state_dict().items()},
                                      'train_loss': 1.0},                                             # PSMNet's
           'bare': dp_state_dict}                                                     # a bare DataParallel state dict

def load_author_checkpoint(theirs, mine, layout, keymap):
    "`theirs` saved in `layout`, loaded into `mine` by load_checkpoint(strict=True); the largest difference of a loaded tensor"
    from openstereo_nb.callbacks.checkpoint import load_checkpoint
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, 'checkpoint.ckpt')
        torch.save((LAYOUTS[layout] if isinstance(layout, str) else layout)(theirs), path)
        load_checkpoint(mine, path, strict=True)
    our_sd = mine.state_dict()
    return max(maxdiff(our_sd[keymap(k)].double(), v.double()) for k, v in theirs.state_dict().items() if keymap(k) is not None)

def check_author(row, ns, case, rec):
    """their network with random weights -> their checkpoint file -> load_checkpoint(strict=True) -> every tensor, then
    the outputs; a list of layouts: the first is loaded into ours, the others into copies of it (they must load too)"""
    cn = case_name(case)
    theirs, mine, layout, keymap = row.ours(ns, case)   # builds both (theirs first, seeded as the case says)
    first, *more = layout if isinstance(layout, list) else [layout]
    blank = copy.deepcopy(mine) if more else None
    rec(cn, 'loaded tensors', load_author_checkpoint(theirs, mine, first, keymap),
        note=f'{len(theirs.state_dict())} tensors in theirs, {len(mine.state_dict())} in ours')
    for lay in more:
        rec(cn, f'loaded tensors, layout {lay if isinstance(lay, str) else lay.__name__}',
            load_author_checkpoint(theirs, copy.deepcopy(blank), lay, keymap))
    theirs.eval(); mine.eval()
    t = time.time()
    for k, v in row.author_check(ns, case, theirs, mine).items():
        if isinstance(v, str): rec(cn, k, None, note=v)            # a note
        elif not isinstance(v, tuple): rec(cn, k, v)               # a figure
        else: rec(cn, k, maxdiff(v[0], v[1]), *v[2:], note=f'theirs {describe(v[1])}')   # (ours, theirs[, floor])
    rec(cn, 'outputs time', None, note=f'{time.time() - t:.1f}s')

def all_rows()->list:
    "Every row: v1's first zoo and its authors' releases (equivalence_models.py), then the later models (equivalence_zoo2.py)"
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from equivalence_models import ROWS as V1_ZOO
    from equivalence_zoo2 import ROWS as ZOO2
    return V1_ZOO + ZOO2

# --- the command ---------------------------------------------------------------------------------------------------
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('rows', nargs='*', help="rows to run (default: all); a model name alone selects its v1 row, NAME:author its author row, NAME:* both")
    p.add_argument('--ref', help="OpenStereo v1's openstereo/ folder")
    p.add_argument('--author', action='append', default=[], metavar='NAME=PATH', help="an authors' checkout, for the rows whose reference is NAME")
    p.add_argument('--quick', action='store_true', help='only the small shapes')
    p.add_argument('--large-only', action='store_true', help='only the shapes --quick leaves out (no pieces)')
    p.add_argument('--timm', help="a folder holding timm 0.5.4, v1's pin: the rows marked `timm` (CoEx) import it, the others the installed one")
    p.add_argument('--threads', type=int, help="torch threads (default: the row's, as the figures were measured)")
    p.add_argument('--list', action='store_true', help='list the rows and exit')
    p.add_argument('--csv', help='also write the table here')
    args = p.parse_args(argv)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    ROWS = all_rows()
    import pandas as pd
    rows = {r.name: r for r in ROWS}
    if args.list:
        for r in ROWS: print(f'{r.name:22s} {"--ref" if r.ref == "v1" else "--author " + r.ref + "=PATH":36s} {r.title}')
        return
    want = []
    for a in args.rows or list(rows):
        sel = [n for n in rows if n == a or (a.endswith(':*') and n.split(':')[0] == a[:-2])]
        if not sel: p.error(f'no row {a!r} (see --list)')
        want += [n for n in sel if n not in want]
    paths = {'v1': args.ref, **dict(a.split('=', 1) for a in args.author)}
    pd.set_option('display.width', 250, 'display.max_rows', None, 'display.max_colwidth', 70)
    results = []
    for name in want:
        row = rows[name]
        path = paths.get(row.ref)
        def rec(case, out, diff, floor=None, note=''):
            tol = row.tolerance(out) if diff is not None else None
            ok = '' if diff is None else ('pass' if diff <= max(tol, floor or 0) else 'FAIL')
            results.append(dict(row=name, reference=row.title, case=case, output=out, max_abs_diff=diff, fp32_floor=floor,
                                tol=tol, result=ok, note=note))
            print(f'{name:16s} {case:28s} {out:34s} {"" if diff is None else f"{diff:.3g}":>10s} '
                  f'{"" if floor is None else f"[floor {floor:.3g}]":>18s} {ok:4s} {note}', flush=True)
        if not path:
            rec('', 'skipped', None, note=f'no {"--ref" if row.ref == "v1" else "--author " + row.ref + "=PATH"} given'); results[-1]['result'] = 'skipped'
            continue
        t = time.time()
        torch.set_num_threads(args.threads or row.threads)
        with package_from(args.timm if row.timm else None, 'timm'):
            ns = row.setup(path)
            with patched(*row.patches(ns)):
                if row.pieces is not None and not row.author_check and not args.large_only:
                    for k, v in row.pieces(ns).items(): rec('pieces', k, v)
                cases = row.cases(args.quick)
                if args.large_only: cases = [c for c in row.cases(False) if c not in row.cases(True)]
                for case in cases:
                    (check_author if row.author_check else compare_v1)(row, ns, case, rec)
        rec('', 'total time', None, note=f'{time.time() - t:.0f}s')
    df = pd.DataFrame(results)
    for c in ('max_abs_diff', 'fp32_floor', 'tol'): df[c] = pd.to_numeric(df[c]).astype(float)
    fmt = lambda v: '' if v is None or v != v else f'{v:.3g}'
    print('\n' + df.drop(columns=['reference']).to_string(index=False, na_rep='', formatters={'max_abs_diff': fmt, 'fp32_floor': fmt, 'tol': fmt}))
    if args.csv: df.to_csv(args.csv, index=False)
    bad = df[df.result == 'FAIL']
    print(f'\n{len(want)} rows: {len(df[df.result == "pass"])} figures pass, {len(bad)} fail; skipped: '
          f'{", ".join(df[df.result == "skipped"].row) or "none"}')
    return 1 if len(bad) else 0

if __name__ == '__main__':
    sys.exit(main())
