"""Equivalence check: openstereo_nb's CFNet against OpenStereo v1's cfnet (CPU, fp32).

Not a test (CI has no copy of the reference). Get OpenStereo's v1 branch (github.com/XiandaGuo/OpenStereo,
branch v1) and point --ref at its `openstereo/` folder:
    python tools/equivalence/cfnet.py --ref /path/to/OpenStereo-v1/openstereo            # 1x3x256x512 and 2x3x64x128
    python tools/equivalence/cfnet.py --ref /path/to/OpenStereo-v1/openstereo --quick    # 2x3x64x128 only
Only v1's cfnet/{submodule,cfnet}.py are loaded (with importlib), so nothing but torch (and numpy) is needed; v1's
model.py (which imports v1's BaseModel) only wraps the network as `net`, which `RefModel` below does too.
v1 calls `Tensor.get_device()` (-1 on the CPU) and passes it to `torch.arange`: patched here to return the device."""
import sys, types, importlib.util, time, argparse, warnings, copy
import torch, torch.nn as nn, torch.nn.functional as F

_p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_p.add_argument('--ref', required=True, help="OpenStereo v1's openstereo/ folder")
_p.add_argument('--quick', action='store_true', help="only the small shape")
_p.add_argument('--large-only', action='store_true', help="only the SceneFlow crop (1x3x256x512, max_disp 192)")
_p.add_argument('--threads', type=int, default=2)
ARGS = _p.parse_args()
REF = f'{ARGS.ref}/modeling/models/cfnet'
warnings.filterwarnings('ignore')   # F.upsample deprecation warnings from the reference

def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec); sys.modules[name] = mod; spec.loader.exec_module(mod)
    return mod

# a stand-in package so `from .submodule import *` resolves, without v1's package __init__ / BaseModel
pkg = types.ModuleType('ref_cfnet'); pkg.__path__ = [REF]; sys.modules['ref_cfnet'] = pkg
rs = load('ref_cfnet.submodule', f'{REF}/submodule.py')
rc = load('ref_cfnet.cfnet', f'{REF}/cfnet.py')
torch.Tensor.get_device = lambda self: self.device   # v1 passes get_device() (-1 on the CPU) to torch.arange

import _common as common   # tools/equivalence/_common.py
from _common import maxdiff, n_params
from openstereo_nb.modeling.models.cfnet import CFNet
from openstereo_nb.modeling.layers import gwc_volume, cat_fms

WEIGHTS = [0.25, 0.35, 0.5, 0.5, 0.7, 1.0, 1.0, 1.4, 2]   # v1's configs (the authors' model_loss)

class RefModel(nn.Module):
    "v1's CFNet model: the network as `net` (so state-dict names start with `net.`)"
    def __init__(self, max_disp, replace_mish=False):
        super().__init__()
        self.net = rc.CFNet(max_disp, replace_mish)

def ours(max_disp, replace_mish=False):
    cfg = {'data_cfg': {'name': 'Synthetic'},
           'model_cfg': {'model': 'CFNet', 'replace_mish': replace_mish, 'find_unused_parameters': True,
                         'base_config': {'max_disp': max_disp}},
           'loss_cfg': [{'log_prefix': 'disp', 'type': 'Weighted_Smooth_l1_Loss', 'weights': WEIGHTS}], 'trainer_cfg': {}}
    return CFNet(cfg, is_training=True)

COST_GAIN = 10.

def randomise(model, seed):
    "Non-trivial BN statistics, sharpened heads, and non-zero gamma/beta so the uncertainty-to-range step (eq. 5) has all its terms"
    g = torch.Generator().manual_seed(seed)
    common.randomise(model, seed, COST_GAIN, head=r'classif.*\.2\.weight$', generator=g)
    with torch.no_grad():
        for n in ('gamma_s3', 'beta_s3', 'gamma_s2', 'beta_s2'):
            getattr(model.net, n).fill_(torch.rand(1, generator=g).item() + 0.2)
    return model


def check_pieces():
    torch.manual_seed(1)
    l, r = torch.randn(2, 160, 8, 24), torch.randn(2, 160, 8, 24)
    a = maxdiff(gwc_volume(l, r, 12, 40), rs.build_gwc_volume(l, r, 12, 40))
    l, r = torch.randn(2, 12, 8, 24), torch.randn(2, 12, 8, 24)
    b = maxdiff(cat_fms(l, r, 12), rs.build_concat_volume(l, r, 12))
    print(f'pieces: gwc_volume vs v1 build_gwc_volume {a:.3g}; cat_fms vs v1 build_concat_volume {b:.3g}')
    for relu in (False, True):   # same seed → same initial weights: same modules, same order, same init
        torch.manual_seed(3); mine = ours(192, relu)
        torch.manual_seed(3); ref = RefModel(192, relu)
        rsd = ref.state_dict()
        d = max(maxdiff(v.float(), rsd[k].float()) for k, v in mine.state_dict().items())
        print(f'replace_mish={relu}: initial weights from the same seed, max abs diff {d:.3g}; activations ours '
              f'{sorted({type(m).__name__ for m in mine.modules() if type(m).__name__ in ("Mish", "ReLU")})} / v1 '
              f'{sorted({type(m).__name__ for m in ref.modules() if type(m).__name__ in ("Mish", "ReLU")})}')

_V1_GWC = rc.build_gwc_volume

def compare(H, W, max_disp, B=1, seed=0, relu=False, swap_gwc=False, fp64=False):
    """ours vs v1 in fp32; with `swap_gwc`, v1's per-disparity loop `build_gwc_volume` is replaced by the shared,
    vectorised `gwc_volume` (equal up to the order of the group mean's additions) to isolate that one difference"""
    rc.build_gwc_volume = gwc_volume if swap_gwc else _V1_GWC
    torch.manual_seed(seed)
    mine = randomise(ours(max_disp, relu), seed)
    ref = RefModel(max_disp, relu)
    ks_m, ks_r = list(mine.state_dict()), list(ref.state_dict())
    assert ks_m == ks_r, (set(ks_m) ^ set(ks_r))
    ref.load_state_dict(mine.state_dict(), strict=True)
    print(f'{B}x3x{H}x{W} max_disp {max_disp} replace_mish={relu}{" [v1 with gwc_volume]" if swap_gwc else ""}: {len(ks_r)} state-dict keys equal, in order; '
          f'parameters ours {n_params(mine):,} / v1 {n_params(ref):,}')
    g = torch.Generator().manual_seed(seed + 1)
    x = {'ref_img': torch.randn(B, 3, H, W, generator=g), 'tgt_img': torch.randn(B, 3, H, W, generator=g)}
    mine.eval(); ref.eval()
    t = time.time()
    with torch.no_grad():
        dm = mine(x)['inference_disp']['disp_est']; rr = ref.net(x['ref_img'], x['tgt_img'])
    dr = rr[0][0]
    om = mine.net(x['ref_img'], x['tgt_img'])
    ev = maxdiff(dm, dr)
    frac = ((dm - dr).abs() > 1e-4).float().mean().item()
    print(f'  eval : disp_est max|diff| {ev:.3g} (pixels off by > 1e-4: {100 * frac:.2f}%); 1/4 stage {maxdiff(om[1][0], rr[1][0]):.3g}; 1/8 stage '
          f'{maxdiff(om[2][0], rr[2][0]):.3g} (disp_est mean {dr.mean():.2f} std {dr.std():.2f} min {dr.min():.2f} '
          f'max {dr.max():.2f}; {time.time()-t:.1f}s)')
    del om
    if fp64:   # the fp32 floor: v1 against itself in float64 (same weights, same input)
        ref64 = copy.deepcopy(ref).double().eval()
        with torch.no_grad(): d64 = ref64.net(x['ref_img'].double(), x['tgt_img'].double())[0][0]
        f64 = ((dr.double() - d64).abs() > 1e-4).float().mean().item()
        print(f'  eval, v1 fp32 vs v1 fp64: disp_est max|diff| {maxdiff(dr.double(), d64):.3g} (pixels off by > 1e-4: {100 * f64:.2f}%)')
        del ref64
    mine.train(); ref.train()
    gt = torch.rand(B, H, W, generator=g) * (max_disp - 1)
    xt = {**x, 'disp_gt': gt, 'mask': (gt > 0) & (gt < max_disp)}
    t = time.time()
    def loss(ests):
        m = xt['mask']
        return sum(w * F.smooth_l1_loss(d[m], gt[m]) for w, d in zip(WEIGHTS, ests))
    em = mine(xt)['training_disp']['disp']['disp_ests']; lm = loss(em); lm.backward()
    er = ref.net(xt['ref_img'], xt['tgt_img']); lr = loss(er); lr.backward()
    tr = [maxdiff(a, b) for a, b in zip(em, er)]
    pr = dict(ref.named_parameters())
    named = [(n, p) for n, p in mine.named_parameters() if p.grad is not None]
    no_grad_m = sorted(n for n, p in mine.named_parameters() if p.grad is None)
    no_grad_r = sorted(n for n, p in ref.named_parameters() if p.grad is None)
    gd = max(maxdiff(p.grad, pr[n].grad) for n, p in named)
    gmax = max(pr[n].grad.abs().max().item() for n, _ in named)
    rsd = ref.state_dict()
    bn = max(maxdiff(v.float(), rsd[k].float()) for k, v in mine.state_dict().items())
    print(f'  train: 9 estimates max|diff| {" / ".join(f"{d:.3g}" for d in tr)}; loss {lm.item():.6f} vs {lr.item():.6f}; '
          f'grads max|diff| {gd:.3g} (largest |grad| {gmax:.3g}); BN running stats after the pass {bn:.3g}; '
          f'{time.time()-t:.1f}s')
    print(f'  parameters without a gradient: ours {len(no_grad_m)}, v1 {len(no_grad_r)}, same names: {no_grad_m == no_grad_r} '
          f'({", ".join(n.replace("net.", "") for n in no_grad_m if "gamma" in n or "beta" in n)}, combine3/redir3 ...)')
    print(f'  estimates std: {" / ".join(f"{e.std():.1f}" for e in er)}')
    return ev, tr, gd

if __name__ == '__main__':
    torch.set_num_threads(ARGS.threads)
    if not ARGS.large_only: check_pieces()
    shapes = ([] if ARGS.large_only else [(64, 128, 192, 2)]) + ([] if ARGS.quick else [(256, 512, 192, 1)])
    for H, W, D, B in shapes:
        for swap in (False, True): compare(H, W, D, B, swap_gwc=swap, fp64=not swap)
    if not ARGS.large_only:
        for swap in (False, True): compare(64, 128, 64, 2, relu=True, swap_gwc=swap)
