"""Equivalence check: openstereo_nb's MSNet (2D and 3D) against OpenStereo v1's MSNet2D / MSNet3D (CPU, fp32).

Not a test (CI has no copy of the reference). Get OpenStereo's v1 branch (github.com/XiandaGuo/OpenStereo,
branch v1) and point --ref at its `openstereo/` folder:
    python tools/equivalence/msnet.py --ref /path/to/OpenStereo-v1/openstereo           # a few minutes on 2 CPU cores
    python tools/equivalence/msnet.py --ref /path/to/OpenStereo-v1/openstereo --quick   # small shapes only
Only v1's three network files (submodule.py, MSNet2D.py, MSNet3D.py) are loaded (with importlib), so nothing but
torch is needed; v1's `MSNet` model class only wraps the network as `net`, which `RefModel` below does too."""
import sys, types, importlib.util, time, argparse, copy
import torch, torch.nn as nn, torch.nn.functional as F

_p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_p.add_argument('--ref', required=True, help="OpenStereo v1's openstereo/ folder")
_p.add_argument('--quick', action='store_true', help="only the small shapes")
_p.add_argument('--large-only', action='store_true', help="only the SceneFlow crop (256x512, max_disp 192)")
ARGS = _p.parse_args()
REF = f'{ARGS.ref}/modeling/models/msnet'

def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec); sys.modules[name] = mod; spec.loader.exec_module(mod)
    return mod

# the network files import each other relatively (`from .submodule import ...`): give them a bare package, so the
# package's __init__ (which imports v1's BaseModel and its dependencies) is not run
pkg = types.ModuleType('ref_msnet'); pkg.__path__ = [REF]; sys.modules['ref_msnet'] = pkg
rs = load('ref_msnet.submodule', f'{REF}/submodule.py')
r2 = load('ref_msnet.MSNet2D', f'{REF}/MSNet2D.py')
r3 = load('ref_msnet.MSNet3D', f'{REF}/MSNet3D.py')

from openstereo_nb.modeling.models.msnet import MSNet, interweave_tensors
from _common import randomise, maxdiff, n_params   # tools/equivalence/_common.py
from openstereo_nb.modeling.layers import gwc_volume

class RefModel(nn.Module):
    "v1's MSNet model: the network as `net` (so state-dict names start with `net.`)"
    def __init__(self, max_disp, model_type):
        super().__init__()
        self.net = (r3.MSNet3D if model_type == '3D' else r2.MSNet2D)(max_disp)
    def forward(self, x): return self.net(x['ref_img'], x['tgt_img'])

def ours(max_disp, model_type):
    cfg = {'data_cfg': {'name': 'Synthetic'},
           'model_cfg': {'model': 'MSNet', 'model_type': model_type, 'base_config': {'max_disp': max_disp}},
           'loss_cfg': [{'log_prefix': 'disp', 'type': 'Weighted_Smooth_l1_Loss', 'weights': [0.5, 0.5, 0.7, 1.0]}],
           'trainer_cfg': {}}
    return MSNet(cfg, is_training=True)

COST_GAIN = 40.
WEIGHTS = [0.5, 0.5, 0.7, 1.0]


def check_pieces():
    torch.manual_seed(1)
    l, r = torch.randn(2, 320, 6, 20), torch.randn(2, 320, 6, 20)
    a = maxdiff(gwc_volume(l, r, 12, 40), rs.build_gwc_volume(l, r, 12, 40))
    l, r = torch.randn(2, 32, 6, 20), torch.randn(2, 32, 6, 20)
    b = maxdiff(interweave_tensors(l, r), rs.interweave_tensors(l, r))
    print(f'gwc_volume vs v1 build_gwc_volume: max abs diff {a:.3g}; interweave_tensors vs v1: {b:.3g}')
    for t in ('2D', '3D'):   # the same seed gives the same initial weights: same modules, same order, same init
        torch.manual_seed(3); mine = ours(192, t)
        torch.manual_seed(3); ref = RefModel(192, t)
        rsd = ref.state_dict()
        d = max(maxdiff(v.float(), rsd[k].float()) for k, v in mine.state_dict().items())
        print(f'MSNet{t}: initial weights from the same seed, max abs diff {d:.3g}')

def compare(H, W, max_disp, model_type, B=1, seed=0, fp64=True):
    """ours vs v1 in fp32; with `fp64`, v1 also in float64, to show the fp32 rounding floor"""
    torch.manual_seed(seed)
    mine = randomise(ours(max_disp, model_type), seed, COST_GAIN)
    ref = RefModel(max_disp, model_type)
    ks_m, ks_r = list(mine.state_dict()), list(ref.state_dict())
    assert ks_m == ks_r, (set(ks_m) ^ set(ks_r))
    ref.load_state_dict(mine.state_dict(), strict=True)
    ref64 = copy.deepcopy(ref).double() if fp64 else None
    print(f'MSNet{model_type}: {len(ks_r)} state-dict keys equal, in order; parameters ours {n_params(mine):,} / v1 {n_params(ref):,}')
    g = torch.Generator().manual_seed(seed + 1)
    x = {'ref_img': torch.randn(B, 3, H, W, generator=g), 'tgt_img': torch.randn(B, 3, H, W, generator=g)}
    dbl = lambda d: {k: (v.double() if v.is_floating_point() else v) for k, v in d.items()}
    floor = lambda a, b: f' [v1 fp32 vs fp64: {maxdiff(a.double(), b):.3g}]' if b is not None else ''
    mine.eval(); ref.eval()
    t = time.time()
    with torch.no_grad():
        dm = mine(x)['inference_disp']['disp_est']; dr = ref(x)[0]
        d64 = ref64.eval()(dbl(x))[0] if fp64 else None
    ev = maxdiff(dm, dr)
    print(f'  {H}x{W} max_disp {max_disp} B={B} eval : max|diff| {ev:.3g}{floor(dr, d64)}  (disp mean {dr.mean():.2f} '
          f'std {dr.std():.2f} min {dr.min():.2f} max {dr.max():.2f}; {time.time()-t:.1f}s)')
    mine.train(); ref.train()
    gt = torch.rand(B, H, W, generator=g) * (max_disp - 1)
    xt = {**x, 'disp_gt': gt, 'mask': (gt > 0) & (gt < max_disp)}
    t = time.time()
    def loss(ests):
        m = xt['mask']
        return sum(w * F.smooth_l1_loss(d[m], gt[m]) for w, d in zip(WEIGHTS, ests))
    em = mine(xt)['training_disp']['disp']['disp_ests']; loss(em).backward()
    er = ref(xt); loss(er).backward()
    tr = [maxdiff(a, b) for a, b in zip(em, er)]
    pr = dict(ref.named_parameters())
    named = [(n, p) for n, p in mine.named_parameters() if p.grad is not None]
    gd = max(maxdiff(p.grad, pr[n].grad) for n, p in named)
    gmax = max(pr[n].grad.abs().max().item() for n, _ in named)
    rsd = ref.state_dict()
    bn = max(maxdiff(v.float(), rsd[k].float()) for k, v in mine.state_dict().items())
    print(f'  {H}x{W} max_disp {max_disp} B={B} train: max|diff| d0 {tr[0]:.3g} d1 {tr[1]:.3g} d2 {tr[2]:.3g} d3 {tr[3]:.3g}; '
          f'grads: max|diff| {gd:.3g} (largest |grad| {gmax:.3g}); BN running stats diff after the train pass {bn:.3g} '
          f'(d3 std {er[3].std():.2f}; {time.time()-t:.1f}s)')
    if fp64:
        del em; e64 = ref64.train()(dbl(xt)); loss(e64).backward()
        p64 = dict(ref64.named_parameters())
        tr64 = [maxdiff(a.double(), b) for a, b in zip(er, e64)]
        g64 = max(maxdiff(pr[n].grad.double(), p64[n].grad) for n, _ in named)
        print(f'  {H}x{W} max_disp {max_disp} B={B} train, v1 fp32 vs v1 fp64 (the fp32 floor): d0 {tr64[0]:.3g} '
              f'd1 {tr64[1]:.3g} d2 {tr64[2]:.3g} d3 {tr64[3]:.3g}; grads {g64:.3g}')
    return ev, tr, gd

if __name__ == '__main__':
    torch.set_num_threads(2)
    if not ARGS.large_only: check_pieces()
    # MSNet2D at max_disp 48 would differ from v1 on purpose (v1 always builds 48 levels), so the small shape keeps 192
    shapes = ([] if ARGS.large_only else [(64, 256, 192, 2, True)]) + ([] if ARGS.quick else [(256, 512, 192, 1, False)])
    for t in ('2D', '3D'):
        for H, W, D, B, fp64 in shapes: compare(H, W, D, t, B, fp64=fp64)
