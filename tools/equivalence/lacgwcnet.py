"""Equivalence check: openstereo_nb's LacGwcNet against OpenStereo v1's LacGwcNet (CPU, fp32).

Not a test (CI has no copy of the reference). Get OpenStereo's v1 branch (github.com/XiandaGuo/OpenStereo,
branch v1) and point --ref at its `openstereo/` folder:
    python tools/equivalence/lacgwcnet.py --ref /path/to/OpenStereo-v1/openstereo            # ~10 min on 2 CPU cores
    python tools/equivalence/lacgwcnet.py --ref /path/to/OpenStereo-v1/openstereo --quick    # the small shape only
Only v1's network files in modeling/models/lacgwc/ are loaded (with importlib), and its model.py with a stand-in for
v1's BaseModel (so that v1's own `LacGwcLoss` is used); nothing but torch is needed. v1's `LacGwcNet` only wraps the
network as `net`, which `RefModel` below does too."""
import sys, types, importlib.util, time, argparse, gc, warnings
import torch, torch.nn as nn, torch.nn.functional as F

_p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_p.add_argument('--ref', required=True, help="OpenStereo v1's openstereo/ folder")
_p.add_argument('--quick', action='store_true', help="only the small shape")
_p.add_argument('--large-only', action='store_true', help="only the SceneFlow crop (1x3x256x512, max_disp 192)")
ARGS = _p.parse_args()
REF = f'{ARGS.ref}/modeling/models/lacgwc'
warnings.filterwarnings('ignore', category=UserWarning)   # v1's meshgrid / grid_sample / backward-hook notices

def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec); sys.modules[name] = mod; spec.loader.exec_module(mod)
    return mod

# the network files import each other relatively: give them a bare package, so that its __init__ (v1's model class,
# which imports v1's BaseModel and the whole framework) is not run; model.py gets a stand-in `modeling.base_model`
pkg = types.ModuleType('ref_lac'); pkg.__path__ = [REF]; sys.modules['ref_lac'] = pkg
for n in ('affinity_feature', 'submodule', 'U_net', 'loss_functions', 'deformable_refine', 'stackhourglass'):
    load(f'ref_lac.{n}', f'{REF}/{n}.py')
stub = types.ModuleType('modeling.base_model'); stub.BaseModel = nn.Module
sys.modules.setdefault('modeling', types.ModuleType('modeling')); sys.modules['modeling.base_model'] = stub
rmodel = load('ref_lac.model', f'{REF}/model.py')
rsh = sys.modules['ref_lac.stackhourglass']

import _common as common   # tools/equivalence/_common.py
from _common import maxdiff, n_params
from openstereo_nb.modeling.models.lacgwcnet import LacGwcNet, LacGwcLoss, local_similarity, sample_at_offsets

class RefModel(nn.Module):
    "v1's LacGwcNet: the network built as v1's build_network does, as `net`"
    def __init__(self, max_disp):
        super().__init__()
        self.net = rsh.PSMNet(maxdisp=max_disp, struct_fea_c=4, fuse_mode='separate',
                              affinity_settings={'win_w': 3, 'win_h': 3, 'dilation': [1, 2, 4, 8]}, udc=True, refine='csr')
    def forward(self, x): return self.net(x['ref_img'], x['tgt_img'])

def ours(max_disp):
    cfg = {'data_cfg': {'name': 'Synthetic'}, 'model_cfg': {'model': 'LacGwcNet', 'base_config': {'max_disp': max_disp}},
           'loss_cfg': [{'log_prefix': 'disp', 'type': 'LacGwcLoss'}], 'trainer_cfg': {}}
    return LacGwcNet(cfg, is_training=True)

COST_GAIN = 40.

def randomise(model, seed):
    "Non-trivial BN statistics; the cost heads sharpened so the estimates spread over the disparity range"
    return common.randomise(model, seed, COST_GAIN, head=r'\.classif.*\.2\.weight$')


def check_pieces():
    torch.manual_seed(1)
    f = torch.randn(2, 64, 12, 20)
    AF = sys.modules['ref_lac.affinity_feature'].AffinityFeature
    a = max(maxdiff(local_similarity(f, d), AF(3, 3, d, 0)(f)) for d in (1, 2, 4, 8))
    x, off = torch.randn(2, 24, 16, 20), torch.randn(2, 4, 16, 20) * 3
    GV = sys.modules['ref_lac.deformable_refine'].GetValueV2
    b = maxdiff(sample_at_offsets(x, off), GV(stride=1)(x, off))
    print(f'local_similarity vs v1 AffinityFeature: {a:.3g}; sample_at_offsets vs v1 GetValueV2: {b:.3g}')
    torch.manual_seed(3); mine = ours(192)
    torch.manual_seed(3); ref = RefModel(192)
    rsd = ref.state_dict()
    d = max(maxdiff(v.float(), rsd[k].float()) for k, v in mine.state_dict().items())
    print(f'initial weights from the same seed, max abs diff {d:.3g}')

def compare(H, W, max_disp, B=1, seed=0):
    torch.manual_seed(seed)
    mine = randomise(ours(max_disp), seed)
    ref = RefModel(max_disp)
    ks_m, ks_r = list(mine.state_dict()), list(ref.state_dict())
    assert ks_m == ks_r, (set(ks_m) ^ set(ks_r))
    ref.load_state_dict(mine.state_dict(), strict=True)
    print(f'{len(ks_r)} state-dict keys equal, in order; parameters ours {n_params(mine):,} / v1 {n_params(ref):,}')
    g = torch.Generator().manual_seed(seed + 1)
    x = {'ref_img': torch.randn(B, 3, H, W, generator=g), 'tgt_img': torch.randn(B, 3, H, W, generator=g)}
    mine.eval(); ref.eval()
    t = time.time()
    with torch.no_grad():
        dm = mine(x)['inference_disp']['disp_est']; dr = ref(x)
        off, _ = ref.net.refine_module.offset_conv(ref.net.refine_module.feature_net(x['ref_img']))
    ev = maxdiff(dm, dr)
    print(f'  {B}x3x{H}x{W} max_disp {max_disp} eval : max|diff| {ev:.3g}  (disp mean {dr.mean():.2f} std {dr.std():.2f} '
          f'min {dr.min():.2f} max {dr.max():.2f}; CSR offsets |mean| {off.abs().mean():.2f} px, max {off.abs().max():.1f}; '
          f'{time.time()-t:.1f}s)')
    del dm, dr
    gt = torch.rand(B, H, W, generator=g) * (max_disp - 1)
    mask = (gt > 0) & (gt < max_disp)
    xt = {**x, 'disp_gt': gt, 'mask': mask}
    t = time.time()
    # ours first; keep its outputs and gradients, free the graph, then v1's
    mine.train()
    res = mine(xt)['training_disp']['disp']
    lm, info = LacGwcLoss()(**res, disp_gt=gt, mask=mask); lm.backward()
    em = [e.detach() for e in res['disp_ests']]; pm = [p.detach() for p in res['distributions']]
    del res; gc.collect()
    ref.train()
    er = ref(xt)
    lr_ = rmodel.LacGwcLoss(max_disp)({'disp': {'disp_ests': er, 'disp_gt': gt, 'mask': mask}})[0]; lr_.backward()
    preds = [maxdiff(a, er[i]) for a, i in zip(em, (0, 1, 2, 7))]
    dists = [maxdiff(a, er[i]) for a, i in zip(pm, (3, 4, 5, 6))]
    pr = dict(ref.named_parameters())
    named = [(n, p) for n, p in mine.named_parameters() if p.grad is not None]
    assert {n for n, _ in named} == {n for n, p in ref.named_parameters() if p.grad is not None}
    gd = max(maxdiff(p.grad, pr[n].grad) for n, p in named)
    gmax = max(pr[n].grad.abs().max().item() for n, _ in named)
    gcsr = max(maxdiff(p.grad, pr[n].grad) for n, p in named if 'offset_conv' in n)
    rsd = ref.state_dict()
    bn = max(maxdiff(v.float(), rsd[k].float()) for k, v in mine.state_dict().items())
    print(f'  {B}x3x{H}x{W} max_disp {max_disp} train: max|diff| pred1 {preds[0]:.3g} pred2 {preds[1]:.3g} pred3 {preds[2]:.3g} '
          f'refined {preds[3]:.3g}; distributions {max(dists):.3g}; loss ours {lm.item():.6f} v1 {lr_.item():.6f} '
          f'(diff {abs(lm.item() - lr_.item()):.3g}); grads max|diff| {gd:.3g} (largest |grad| {gmax:.3g}; offset convs '
          f'{gcsr:.3g}); BN running stats after the pass {bn:.3g}  (refined std {er[7].std():.2f}; {time.time()-t:.1f}s)')
    return ev, preds, gd

if __name__ == '__main__':
    torch.set_num_threads(2)
    if not ARGS.large_only:
        check_pieces()
        compare(64, 128, 48, B=2)
    if not ARGS.quick: compare(256, 512, 192, B=1)
