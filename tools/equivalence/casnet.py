"""Equivalence check: openstereo_nb's CasStereoNet (psmnet and gwcnet) against OpenStereo v1's casnet (CPU, fp32).

Not a test (CI has no copy of the reference). Get OpenStereo's v1 branch (github.com/XiandaGuo/OpenStereo,
branch v1) and point --ref at its `openstereo/` folder:
    python tools/equivalence/casnet.py --ref /path/to/OpenStereo-v1/openstereo            # 256x512, max_disp 192
    python tools/equivalence/casnet.py --ref /path/to/OpenStereo-v1/openstereo --quick    # 2x3x256x256 instead
Only v1's casnet/{submodule,cas_psm,cas_gwc}.py are loaded (with importlib), so nothing but torch is needed; v1's
model.py (which imports v1's BaseModel) is replaced by a few lines that build its `net` and loss the same way."""
import sys, types, importlib.util, time, argparse, warnings
import torch, torch.nn as nn, torch.nn.functional as F

_p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_p.add_argument('--ref', required=True, help="OpenStereo v1's openstereo/ folder")
_p.add_argument('--quick', action='store_true', help="2x3x256x256 instead of 1x3x256x512")
ARGS = _p.parse_args()
REF = ARGS.ref
warnings.filterwarnings('ignore')   # F.upsample / torch.meshgrid deprecation warnings from the reference

def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec); sys.modules[name] = mod; spec.loader.exec_module(mod)
    return mod

# a stand-in package so the files' relative `from .submodule import *` resolves, without v1's package __init__
pkg = types.ModuleType('ref_casnet'); pkg.__path__ = [f'{REF}/modeling/models/casnet']; sys.modules['ref_casnet'] = pkg
load('ref_casnet.submodule', f'{REF}/modeling/models/casnet/submodule.py')
rpsm = load('ref_casnet.cas_psm', f'{REF}/modeling/models/casnet/cas_psm.py')
rgwc = load('ref_casnet.cas_gwc', f'{REF}/modeling/models/casnet/cas_gwc.py')

from openstereo_nb.modeling.models.casnet import CasStereoNet, CasStereoLoss
from _common import randomise, maxdiff, n_params   # tools/equivalence/_common.py

# v1's CasStereoNet.__init__ settings and its loss (model.py), restated
V1 = dict(maxdisp=192, ndisps=[48, 24], disp_interval_pixel=[4, 1], using_ns=True, ns_size=3, grad_method='detach',
          cr_base_chs=[32, 32, 16])
DLOSSW = [0.5, 1.0, 2.0]

class RefModel(nn.Module):
    "v1's CasStereoNet: the net in `self.net` (so state-dict names carry the `net.` prefix)"
    def __init__(self, model_type):
        super().__init__()
        self.net = (rpsm.PSMNet if model_type == 'psmnet' else rgwc.GwcNet)(**V1)

def ref_loss(res, gt, mask):
    "v1's CasStereoLoss.stereo_loss, restated"
    total = torch.tensor(0.0)
    for k in [k for k in res if 'stage' in k]:
        d = res[k]
        l = (0.5 * F.smooth_l1_loss(d['pred0'][mask], gt[mask]) + 0.5 * F.smooth_l1_loss(d['pred1'][mask], gt[mask])
             + 0.7 * F.smooth_l1_loss(d['pred2'][mask], gt[mask]) + 1.0 * F.smooth_l1_loss(d['pred3'][mask], gt[mask]))
        total = total + DLOSSW[int(k.replace('stage', '')) - 1] * l
    return total

def ours(model_type):
    cfg = {'data_cfg': {'name': 'Synthetic'},
           'model_cfg': {'model': 'CasStereoNet', 'model_type': model_type, 'base_config': {'max_disp': 192}},
           'loss_cfg': [{'log_prefix': 'disp', 'type': 'CasStereoLoss'}], 'trainer_cfg': {}}
    return CasStereoNet(cfg, is_training=True)

COST_GAIN = 10.


def compare(model_type, H, W, B=1, seed=0):
    torch.manual_seed(seed)
    mine = randomise(ours(model_type), seed, COST_GAIN)
    ref = RefModel(model_type)
    ks_m, ks_r = list(mine.state_dict()), list(ref.state_dict())
    assert ks_m == ks_r, (set(ks_m) ^ set(ks_r))
    ref.load_state_dict(mine.state_dict(), strict=True)
    print(f'CasStereoNet {model_type}: {len(ks_r)} state-dict keys equal, in order; parameters ours {n_params(mine):,} / '
          f'v1 {n_params(ref):,}')
    g = torch.Generator().manual_seed(seed + 1)
    x = {'ref_img': torch.randn(B, 3, H, W, generator=g), 'tgt_img': torch.randn(B, 3, H, W, generator=g)}
    # eval
    mine.eval(); ref.eval()
    t = time.time()
    with torch.no_grad():
        dm = mine(x)['inference_disp']['disp_est']; rr = ref.net(x['ref_img'], x['tgt_img'])
    dr = rr['stage2']['pred']
    print(f'  {B}x3x{H}x{W} eval : disp_est max|diff| {maxdiff(dm, dr):.3g}  (v1 disp mean {dr.mean():.2f} std {dr.std():.2f} '
          f'min {dr.min():.2f} max {dr.max():.2f}; stage 1 std {rr["stage1"]["pred"].std():.2f}; {time.time()-t:.1f}s)')
    ev = maxdiff(dm, dr)
    # train: BN batch statistics, the eight estimates, the loss and gradients
    mine.train(); ref.train()
    gt = torch.rand(B, H, W, generator=g) * 191
    mask = (gt > 0) & (gt < 192)
    t = time.time()
    om = mine({**x, 'disp_gt': gt, 'mask': mask})['training_disp']['disp']
    lm, _ = CasStereoLoss()(**om, disp_gt=gt, mask=mask); lm.backward()
    orf = ref.net(x['ref_img'], x['tgt_img'])
    lr_ = ref_loss(orf, gt, mask); lr_.backward()
    est = om['disp_ests']
    assert list(est) == list(orf), (list(est), list(orf))
    tr = {f'{s}.pred{j}': maxdiff(est[s][f'pred{j}'], orf[s][f'pred{j}']) for s in ('stage1', 'stage2') for j in range(4)}
    pr = dict(ref.named_parameters())
    named = [(n, p) for n, p in mine.named_parameters() if p.grad is not None]
    gd = max(maxdiff(p.grad, pr[n].grad) for n, p in named)
    gmax = max(pr[n].grad.abs().max().item() for n, _ in named)
    rsd = ref.state_dict()
    bn = max(maxdiff(v.float(), rsd[k].float()) for k, v in mine.state_dict().items())
    print(f'  {B}x3x{H}x{W} train: max|diff| ' + ' '.join(f'{k} {v:.3g}' for k, v in tr.items()))
    print(f'  loss ours {lm.item():.6f} v1 {lr_.item():.6f} (diff {abs(lm.item() - lr_.item()):.3g}); grads max|diff| {gd:.3g} '
          f'(largest |grad| {gmax:.3g}); BN running stats diff after the train pass {bn:.3g} '
          f'(stage2 pred3 std {orf["stage2"]["pred3"].std():.2f}; {time.time()-t:.1f}s)')
    return ev, tr, gd

if __name__ == '__main__':
    torch.set_num_threads(2)
    # v1's PSM features average-pool 64-pixel windows at 1/4 resolution: it needs inputs of 256+ pixels each way,
    # and batch 2 at 256x256 (a pooled 1x1 map in training-mode BatchNorm needs more than one value)
    shapes = [(256, 256, 2)] if ARGS.quick else [(256, 512, 1)]
    for mt in ('psmnet', 'gwcnet'):
        for H, W, B in shapes: compare(mt, H, W, B)
