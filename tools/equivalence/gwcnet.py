"""Equivalence check: openstereo_nb's GwcNet (-gc and -g) against OpenStereo v1's GwcNet stages (CPU, fp32).

Not a test (CI has no copy of the reference). Get OpenStereo's v1 branch (github.com/XiandaGuo/OpenStereo,
branch v1) and point --ref at its `openstereo/` folder:
    python tools/equivalence/gwcnet.py --ref /path/to/OpenStereo-v1/openstereo           # ~4 min on 2 CPU cores
    python tools/equivalence/gwcnet.py --ref /path/to/OpenStereo-v1/openstereo --quick   # small shapes only
Only v1's four GwcNet files are loaded (with importlib), so nothing but torch is needed."""
import sys, types, importlib.util, time, argparse, copy
import torch, torch.nn as nn, torch.nn.functional as F

_p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_p.add_argument('--ref', required=True, help="OpenStereo v1's openstereo/ folder")
_p.add_argument('--quick', action='store_true', help="only the small shapes")
ARGS = _p.parse_args()
REF = ARGS.ref

def load(name, path):
    # load single files directly, so the package __init__s (CoEx -> timm, ...) are not imported
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec); sys.modules[name] = mod; spec.loader.exec_module(mod)
    return mod

# v1's disp processor does `from modeling.common.hourglass import Hourglass`: provide just that module
for pkg in ('modeling', 'modeling.common'):
    sys.modules.setdefault(pkg, types.ModuleType(pkg))
load('modeling.common.hourglass', f'{REF}/modeling/common/hourglass.py')
rb = load('ref_gwc_backbone', f'{REF}/modeling/backbone/gwcnet.py')
rc = load('ref_gwc_cost', f'{REF}/modeling/cost_processor/gwcnet.py')
rd = load('ref_gwc_disp', f'{REF}/modeling/disp_processor/gwcnet.py')

from openstereo_nb.modeling.models.gwcnet import GwcNet
from _common import randomise, maxdiff, n_params   # tools/equivalence/_common.py
from openstereo_nb.modeling.layers import gwc_volume, cat_fms

class RefModel(nn.Module):
    "v1's default BaseModel chain around v1's three GwcNet stages (maxdisp passed explicitly: see the notebook)"
    def __init__(self, max_disp, concat):
        super().__init__()
        kw = dict(maxdisp=max_disp, downsample=4, num_groups=40, use_concat_volume=concat)
        self.Backbone = rb.GwcNet(use_concat_volume=concat, concat_channels=12)
        self.CostProcessor = rc.GwcVolumeCostProcessor(**kw)
        self.DispProcessor = rd.GwcDispProcessor(concat_channels=12, **kw)
    def forward(self, inputs):
        inputs = dict(inputs)
        inputs.update(self.Backbone(inputs)); inputs.update(self.CostProcessor(inputs))
        return self.DispProcessor(inputs)

def ours(max_disp, concat):
    cfg = {'data_cfg': {'name': 'Synthetic'},
           'model_cfg': {'model': 'GwcNet', 'base_config': {'max_disp': max_disp, 'downsample': 4, 'num_groups': 40,
                                                             'use_concat_volume': concat, 'concat_channels': 12},
                         'backbone_cfg': {'type': 'GwcNet'}, 'cost_processor_cfg': {'type': 'GwcVolumeCostProcessor'},
                         'disp_processor_cfg': {'type': 'GwcDispProcessor'}},
           'loss_cfg': [{'log_prefix': 'disp', 'type': 'Weighted_Smooth_l1_Loss', 'weights': [0.5, 0.5, 0.7, 1.0]}],
           'trainer_cfg': {}}
    return GwcNet(cfg, is_training=True)

COST_GAIN = 40.
WEIGHTS = [0.5, 0.5, 0.7, 1.0]


def check_volumes():
    torch.manual_seed(1)
    l, r = torch.randn(2, 320, 6, 20), torch.randn(2, 320, 6, 20)
    cp = rc.GwcVolumeCostProcessor(maxdisp=48, downsample=4, num_groups=40)
    a = maxdiff(gwc_volume(l, r, 12, 40), cp.build_gwc_volume(l, r))
    l, r = torch.randn(2, 12, 6, 20), torch.randn(2, 12, 6, 20)
    b = maxdiff(cat_fms(l, r, max_disp=12), cp.build_concat_volume(l, r))
    print(f'gwc_volume vs v1 build_gwc_volume: max abs diff {a:.3g}; cat_fms vs v1 build_concat_volume: {b:.3g}')

def compare(H, W, max_disp, concat, B=1, seed=0, fp64=True):
    """ours vs v1 in fp32; with `fp64`, v1 also in float64, to show the fp32 rounding floor: v1's own fp32 error
    |v1 fp32 - v1 fp64| next to |ours fp32 - v1 fp32|"""
    name = 'gc' if concat else 'g'
    torch.manual_seed(seed)
    mine = randomise(ours(max_disp, concat), seed, COST_GAIN)
    ref = RefModel(max_disp, concat)
    ks_m, ks_r = list(mine.state_dict()), list(ref.state_dict())
    assert ks_m == ks_r, (set(ks_m) ^ set(ks_r))
    ref.load_state_dict(mine.state_dict(), strict=True)
    ref64 = copy.deepcopy(ref).double() if fp64 else None
    print(f'GwcNet-{name}: {len(ks_r)} state-dict keys equal, in order; parameters ours {n_params(mine):,} / v1 {n_params(ref):,}')
    g = torch.Generator().manual_seed(seed + 1)
    x = {'ref_img': torch.randn(B, 3, H, W, generator=g), 'tgt_img': torch.randn(B, 3, H, W, generator=g)}
    dbl = lambda d: {k: (v.double() if v.is_floating_point() else v) for k, v in d.items()}
    floor = lambda a, b: f' [v1 fp32 vs fp64: {maxdiff(a.double(), b):.3g}]' if b is not None else ''
    # eval
    mine.eval(); ref.eval()
    t = time.time()
    with torch.no_grad():
        dm = mine(x)['inference_disp']['disp_est']; dr = ref(x)['inference_disp']['disp_est']
        d64 = ref64.eval()(dbl(x))['inference_disp']['disp_est'] if fp64 else None
    ev = maxdiff(dm, dr)
    print(f'  {H}x{W} max_disp {max_disp} B={B} eval : max|diff| {ev:.3g}{floor(dr, d64)}  (disp mean {dr.mean():.2f} '
          f'std {dr.std():.2f} min {dr.min():.2f} max {dr.max():.2f}; {time.time()-t:.1f}s)')
    # train: BN batch statistics, the four estimates, and gradients of the weighted smooth-L1 loss
    mine.train(); ref.train()
    gt = torch.rand(B, H, W, generator=g) * (max_disp - 1)
    xt = {**x, 'disp_gt': gt, 'mask': (gt > 0) & (gt < max_disp)}
    t = time.time()
    def loss(o):
        m = o['mask']
        return sum(w * F.smooth_l1_loss(d[m], o['disp_gt'][m]) for w, d in zip(WEIGHTS, o['disp_ests']))
    om = {**mine(xt)['training_disp']['disp'], 'disp_gt': xt['disp_gt'], 'mask': xt['mask']}; loss(om).backward()
    orf = ref(xt)['training_disp']['disp']; loss(orf).backward()
    tr = [maxdiff(a, b) for a, b in zip(om['disp_ests'], orf['disp_ests'])]
    pr = dict(ref.named_parameters())
    named = [(n, p) for n, p in mine.named_parameters() if p.grad is not None]
    gd = max(maxdiff(p.grad, pr[n].grad) for n, p in named)
    gmax = max(pr[n].grad.abs().max().item() for n, _ in named)
    rsd = ref.state_dict()
    bn = max(maxdiff(v.float(), rsd[k].float()) for k, v in mine.state_dict().items())
    print(f'  {H}x{W} max_disp {max_disp} B={B} train: max|diff| d0 {tr[0]:.3g} d1 {tr[1]:.3g} d2 {tr[2]:.3g} d3 {tr[3]:.3g}; '
          f'grads: max|diff| {gd:.3g} (largest |grad| {gmax:.3g}); BN running stats diff after the train pass {bn:.3g} '
          f'(d3 std {orf["disp_ests"][3].std():.2f}; {time.time()-t:.1f}s)')
    if fp64:
        del om; o64 = ref64.train()(dbl(xt))['training_disp']['disp']; loss(o64).backward()
        p64 = dict(ref64.named_parameters())
        tr64 = [maxdiff(a.double(), b) for a, b in zip(orf['disp_ests'], o64['disp_ests'])]
        g64 = max(maxdiff(pr[n].grad.double(), p64[n].grad) for n, _ in named)
        print(f'  {H}x{W} max_disp {max_disp} B={B} train, v1 fp32 vs v1 fp64 (the fp32 floor): d0 {tr64[0]:.3g} '
              f'd1 {tr64[1]:.3g} d2 {tr64[2]:.3g} d3 {tr64[3]:.3g}; grads {g64:.3g}')
    return ev, tr, gd

if __name__ == '__main__':
    check_volumes()
    shapes = [(64, 128, 48, 2, True)] + ([] if ARGS.quick else [(256, 512, 192, 1, False)])
    for concat in (True, False):
        for H, W, D, B, fp64 in shapes: compare(H, W, D, concat, B, fp64=fp64)
