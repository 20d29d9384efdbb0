"""Equivalence check: openstereo_nb's PSMNet against OpenStereo v1's PSMNet stages (CPU, fp32).

Not a test (CI has no copy of the reference). Get OpenStereo's v1 branch (github.com/XiandaGuo/OpenStereo,
branch v1) and point --ref at its `openstereo/` folder:
    python tools/equivalence/psmnet.py --ref /path/to/OpenStereo-v1/openstereo     # ~2 min on 2 CPU cores
Only v1's three PSMNet.py files are loaded (with importlib), so nothing but torch is needed."""
import sys, importlib.util, time
import torch, torch.nn as nn

import argparse
_p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_p.add_argument('--ref', required=True, help="OpenStereo v1's openstereo/ folder")
REF = _p.parse_args().ref
sys.path.insert(0, REF)

def load(name, path):
    # load the single PSMNet files directly, so the package __init__s (CoEx -> timm, ...) are not imported
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod

rb = load('ref_psm_backbone', f'{REF}/modeling/backbone/PSMNet.py')
rc = load('ref_psm_cost', f'{REF}/modeling/cost_processor/PSMNet.py')
rd = load('ref_psm_disp', f'{REF}/modeling/disp_processor/PSMNet.py')

from openstereo_nb.modeling.models.psmnet import PSMNet
from _common import randomise, maxdiff   # tools/equivalence/_common.py
from openstereo_nb.modeling.layers import cat_fms

class RefModel(nn.Module):
    "v1's default BaseModel chain around v1's three PSMNet stages"
    def __init__(self, max_disp):
        super().__init__()
        self.Backbone = rb.PSMNet()
        self.CostProcessor = rc.PSMCostProcessor(max_disp=max_disp)
        self.DispProcessor = rd.PSMDispProcessor(max_disp=max_disp)
    def forward(self, inputs):
        inputs = dict(inputs)
        inputs.update(self.Backbone(inputs)); inputs.update(self.CostProcessor(inputs))
        return self.DispProcessor(inputs)

def ours(max_disp):
    cfg = {'data_cfg': {'name': 'Synthetic'},
           'model_cfg': {'model': 'PSMNet', 'base_config': {'max_disp': max_disp}, 'backbone_cfg': {'type': 'PSMNet'},
                         'cost_processor_cfg': {'type': 'PSMCostProcessor'}, 'disp_processor_cfg': {'type': 'PSMDispProcessor'}},
           'loss_cfg': [{'log_prefix': 'disp', 'type': 'Weighted_Smooth_l1_Loss', 'weights': [0.5, 0.7, 1.0]}],
           'trainer_cfg': {}}
    return PSMNet(cfg, is_training=True)

COST_GAIN = 40.


def check_cat_fms():
    torch.manual_seed(1)
    l, r = torch.randn(2, 5, 6, 20), torch.randn(2, 5, 6, 20)
    worst = 0.
    for kw in [dict(max_disp=12), dict(max_disp=7, start_disp=-3), dict(max_disp=9, dilation=2),
               dict(max_disp=30, start_disp=-25, dilation=3), dict(max_disp=25, dilation=4)]:
        worst = max(worst, maxdiff(cat_fms(l, r, **kw), rc.cat_fms(l, r, **kw)))
    print(f'cat_fms vs reference loop: max abs diff {worst:.3g}')

def compare(H, W, max_disp, B=1, seed=0):
    torch.manual_seed(seed)
    mine = randomise(ours(max_disp), seed, COST_GAIN, head=r'\.classif.*\.1\.weight$')
    ref = RefModel(max_disp)
    ks_m, ks_r = list(mine.state_dict()), list(ref.state_dict())
    assert ks_m == ks_r, (set(ks_m) ^ set(ks_r))
    ref.load_state_dict(mine.state_dict(), strict=True)
    g = torch.Generator().manual_seed(seed + 1)
    x = {'ref_img': torch.randn(B, 3, H, W, generator=g), 'tgt_img': torch.randn(B, 3, H, W, generator=g)}
    # eval
    mine.eval(); ref.eval()
    t = time.time()
    with torch.no_grad():
        dm = mine(x)['inference_disp']['disp_est']; dr = ref(x)['inference_disp']['disp_est']
    ev = maxdiff(dm, dr)
    print(f'{H}x{W} max_disp {max_disp} B={B} eval : max|diff| {ev:.3g}  (disp mean {dr.mean():.2f} std {dr.std():.2f} '
          f'min {dr.min():.2f} max {dr.max():.2f}; {time.time()-t:.1f}s)')
    # train: BN batch statistics, the three estimates, and gradients of the weighted smooth-L1 loss
    mine.train(); ref.train()
    gt = torch.rand(B, H, W, generator=g) * (max_disp - 1)
    xt = {**x, 'disp_gt': gt, 'mask': (gt > 0) & (gt < max_disp)}
    om = {**mine(xt)['training_disp']['disp'], 'disp_gt': xt['disp_gt'], 'mask': xt['mask']}; orf = ref(xt)['training_disp']['disp']
    tr = [maxdiff(a, b) for a, b in zip(om['disp_ests'], orf['disp_ests'])]
    def loss(o):
        m = o['mask']
        return sum(w * torch.nn.functional.smooth_l1_loss(d[m], o['disp_gt'][m]) for w, d in zip([0.5, .7, 1.], o['disp_ests']))
    loss(om).backward(); loss(orf).backward()
    pr = dict(ref.named_parameters())
    named = [(n, p) for n, p in mine.named_parameters() if p.grad is not None]
    gd = max(maxdiff(p.grad, pr[n].grad) for n, p in named)
    gmax = max(pr[n].grad.abs().max().item() for n, _ in named)
    bn = max(maxdiff(v.float(), ref.state_dict()[k].float()) for k, v in mine.state_dict().items())
    print(f'{H}x{W} max_disp {max_disp} B={B} train: max|diff| d1 {tr[0]:.3g} d2 {tr[1]:.3g} d3 {tr[2]:.3g}; '
          f'grads: max|diff| {gd:.3g} (largest |grad| {gmax:.3g}); BN running stats diff after the train pass {bn:.3g} '
          f'(d3 std {orf["disp_ests"][2].std():.2f})')
    return ev, tr

if __name__ == '__main__':
    torch.set_num_threads(max(1, torch.get_num_threads()))
    check_cat_fms()
    for H, W, D, B in [(256, 512, 192, 1), (256, 256, 48, 2), (320, 640, 192, 1)]:
        compare(H, W, D, B)
    try:
        RefModel(48).eval()({'ref_img': torch.randn(1, 3, 64, 128), 'tgt_img': torch.randn(1, 3, 64, 128)})
        print('reference runs at 64x128')
    except Exception as e: print(f'reference at 64x128 fails: {type(e).__name__}: {str(e)[:120]}')
