"""Equivalence check: openstereo_nb's CoExNet against OpenStereo v1's CoEx stages (CPU, fp32).

Not a test (CI has no copy of the reference). Get OpenStereo's v1 branch (github.com/XiandaGuo/OpenStereo, branch v1),
point --ref at its `openstereo/` folder, and --timm at a folder holding timm 0.5.4 (v1's pin), e.g. made with
`pip install --no-deps --target /tmp/site-timm timm==0.5.4` (timm is put on sys.path by this script only):
    python tools/equivalence/coex.py --ref /path/to/OpenStereo-v1/openstereo --timm /tmp/site-timm           # ~2 min, 2 CPU cores
    python tools/equivalence/coex.py --ref /path/to/OpenStereo-v1/openstereo --timm /tmp/site-timm --quick   # small shapes only
Only v1's four CoEx files (common/model_basics, backbone, cost_processor, disp_processor) are loaded (with importlib);
v1's `CoExNet` adds nothing to its BaseModel, whose default forward (backbone -> cost -> disp) `RefModel` restates.
timm models are created with pretrained=False (v1 asks for ImageNet weights)."""
import sys, types, importlib.util, time, argparse, copy
import torch, torch.nn as nn, torch.nn.functional as F

_p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_p.add_argument('--ref', required=True, help="OpenStereo v1's openstereo/ folder")
_p.add_argument('--timm', default=None, help="a folder holding timm 0.5.4 (if it is not importable already)")
_p.add_argument('--quick', action='store_true', help="only the small shapes")
ARGS = _p.parse_args()
if ARGS.timm: sys.path.insert(0, ARGS.timm)
import timm
_create = timm.create_model
timm.create_model = lambda *a, **kw: _create(*a, **{**kw, 'pretrained': False})   # nothing downloads
M = f'{ARGS.ref}/modeling'

def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec); sys.modules[name] = mod; spec.loader.exec_module(mod)
    return mod

# the stage files import `modeling.common.model_basics.CoEx`: give them bare packages, so that v1's package __init__s
# (which import its whole model zoo and their dependencies) are not run
for p in ('modeling', 'modeling.common', 'modeling.common.model_basics'):
    pkg = types.ModuleType(p); pkg.__path__ = [f"{ARGS.ref}/{p.replace('.', '/')}"]; sys.modules[p] = pkg
rbasic = load('modeling.common.model_basics.CoEx', f'{M}/common/model_basics/CoEx.py')
rbb = load('ref_coex_backbone', f'{M}/backbone/CoEx.py')
rcp = load('ref_coex_cost', f'{M}/cost_processor/CoEx.py')
rdp = load('ref_coex_disp', f'{M}/disp_processor/CoEx.py')

import _common as common   # tools/equivalence/_common.py
from _common import maxdiff, n_params
from openstereo_nb.modeling.models.coex import CoExNet, CoExFeature, topk_softargmin
from openstereo_nb.modeling.layers import corr_volume
from openstereo_nb.modeling.loss_aggregator import LossAggregator

def cfg(max_disp):
    return {'data_cfg': {'name': 'Synthetic'},
            'model_cfg': {'model': 'CoExNet',
                          'base_config': {'max_disp': max_disp, 'spixel_branch_channels': [32, 48], 'chans': [16, 24, 32, 96, 160]},
                          'backbone_cfg': {'type': 'CoExBackbone'},
                          'cost_processor_cfg': {'type': 'CoExCostProcessor', 'matching_weighted': False, 'matching_head': 1,
                                                 'gce': True, 'aggregation_disp_strides': 2,
                                                 'aggregation_channels': [16, 32, 48], 'aggregation_blocks_num': [2, 2, 2]},
                          'disp_processor_cfg': {'type': 'CoExDispProcessor', 'regression_topk': 2}},
            'loss_cfg': [{'log_prefix': 'disp', 'loss_term_weight': 0.77, 'type': 'Weighted_Smooth_l1_Loss', 'weights': [1.0, 0.3]}],
            'trainer_cfg': {}}

class RefModel(nn.Module):
    "v1's CoExNet: its BaseModel builds the three stages from the config (`get_valid_args`) and chains them"
    def __init__(self, max_disp):
        super().__init__()
        self.Backbone = rbb.CoExBackbone(spixel_branch_channels=[32, 48])
        self.CostProcessor = rcp.CoExCostProcessor(max_disp=max_disp, gce=True, matching_weighted=False,
                                                   spixel_branch_channels=[32, 48], matching_head=1, aggregation_disp_strides=2,
                                                   aggregation_channels=[16, 32, 48], aggregation_blocks_num=[2, 2, 2],
                                                   chans=[16, 24, 32, 96, 160])
        self.DispProcessor = rdp.CoExDispProcessor(max_disp=max_disp, regression_topk=2, chans=[16, 24, 32, 96, 160])
    def forward(self, inputs):
        inputs = dict(inputs)
        inputs.update(self.Backbone(inputs)); inputs.update(self.CostProcessor(inputs))
        return self.DispProcessor(inputs)

COST_GAIN = 10.

def randomise(model, seed):
    "Non-trivial BN statistics; the final 3D deconv scaled so the top-k picks differ per pixel"
    return common.randomise(model, seed, COST_GAIN, head=r'^CostProcessor\.cost_agg\.conv_up\.0\.conv\.weight$')


def check_pieces():
    torch.manual_seed(1)
    x, y = torch.randn(2, 48, 9, 30), torch.randn(2, 48, 9, 30)
    ref = rcp.CostVolume(12, False, 1)(x, y)[:, :, :-1]
    print(f'corr_volume(sum) vs v1 CostVolume (unfold, D+1 levels, last dropped): max abs diff {maxdiff(corr_volume(x, y, 12, reduction="sum").unsqueeze(1), ref):.3g}')
    cost = torch.randn(2, 1, 12, 5, 7)
    r = rdp.Regression(48, 2); r.train()
    spg = torch.rand(2, 9, 20, 28).softmax(1)
    d1, d4 = r(cost, spg)
    print(f'topk_softargmin (k=2) vs v1 Regression at 1/4: max abs diff {maxdiff(topk_softargmin(cost, 2).squeeze(1) * 4, d4):.3g}')
    # the MobileNetV2 trunk against timm 0.5.4 itself: timm's state dict loads by name, and with the stem activation
    # timm's own forward applies (v1 omits it, see the notebook) the features are timm's
    tm = _create('mobilenetv2_100', pretrained=False, features_only=True).eval()
    randomise_bn(tm, 5)
    ours = CoExFeature(stem_act=True).eval(); ours.load_timm_state_dict(tm.state_dict())
    x = torch.randn(1, 3, 128, 192)
    out5 = []   # timm's 1/32 feature comes after its seventh stage; CoEx stops after the sixth (blocks[5])
    hook = tm.blocks[5].register_forward_hook(lambda m, i, o: out5.append(o))
    with torch.no_grad(): a, b = ours(x), tm(x)[1:4]
    hook.remove(); b.append(out5[0])
    print(f'CoExFeature(stem_act=True) with timm mobilenetv2_100 weights vs timm 0.5.4 (1/4, 1/8, 1/16, blocks[5]): '
          f'max abs diff {max(maxdiff(u, v) for u, v in zip(a, b)):.3g}')

def randomise_bn(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) * 1.5 + 0.5)

def compare(H, W, max_disp, B=1, seed=0, fp64=False):
    torch.manual_seed(seed)
    mine = randomise(CoExNet(cfg(max_disp), is_training=True), seed)
    ref = RefModel(max_disp)
    ks_m, ks_r = list(mine.state_dict()), list(ref.state_dict())
    assert ks_m == ks_r, (set(ks_m) ^ set(ks_r))
    ref.load_state_dict(mine.state_dict(), strict=True)
    rsd0 = copy.deepcopy(ref.state_dict())
    print(f'{H}x{W} max_disp {max_disp} B={B}: {len(ks_r)} state-dict keys equal, in order; parameters ours {n_params(mine):,} / v1 {n_params(ref):,}')
    g = torch.Generator().manual_seed(seed + 1)
    x = {'ref_img': torch.randn(B, 3, H, W, generator=g), 'tgt_img': torch.randn(B, 3, H, W, generator=g)}
    mine.eval(); ref.eval()
    t = time.time()
    with torch.no_grad():
        dm = mine(x)['inference_disp']['disp_est']; dr = ref(x)['inference_disp']['disp_est']
    ev = maxdiff(dm, dr)
    print(f'  eval : disp_est max|diff| {ev:.3g}  (v1 disp mean {dr.mean():.2f} std {dr.std():.2f} min {dr.min():.2f} '
          f'max {dr.max():.2f}; {time.time()-t:.1f}s)')
    mine.train(); ref.train()
    gt = torch.rand(B, H, W, generator=g) * (max_disp - 1)
    xt = {**x, 'disp_gt': gt, 'mask': (gt > 0) & (gt < max_disp)}
    agg = LossAggregator(cfg(max_disp)['loss_cfg'])
    t = time.time()
    om = mine(xt)['training_disp']; lm, _ = agg(om, xt); lm.backward()
    orf = ref(xt)['training_disp']; lr, _ = agg(orf); lr.backward()
    tr = [maxdiff(a, b) for a, b in zip(om['disp']['disp_ests'], orf['disp']['disp_ests'])]
    pr = dict(ref.named_parameters())
    named = [(n, p) for n, p in mine.named_parameters() if p.grad is not None]
    unused = [n for n, p in mine.named_parameters() if p.grad is None]
    assert all(pr[n].grad is None for n in unused), 'a parameter unused here is used in v1'
    gd = max(maxdiff(p.grad, pr[n].grad) for n, p in named)
    gmax = max(pr[n].grad.abs().max().item() for n, _ in named)
    rsd = ref.state_dict()
    bn = max(maxdiff(v.float(), rsd[k].float()) for k, v in mine.state_dict().items())
    print(f'  train: disp_ests max|diff| full-res {tr[0]:.3g}, 1/4 upsampled {tr[1]:.3g}; loss {lm.item():.6f} vs {lr.item():.6f}; '
          f'grads max|diff| {gd:.3g} (largest |grad| {gmax:.3g}; {len(unused)} tensors without a gradient in both: '
          f'{sorted(set(n.split(".")[0] + "." + n.split(".")[1] + "." + n.split(".")[2] for n in unused))}); '
          f'BN running stats diff after the train pass {bn:.3g} ({time.time()-t:.1f}s)')
    if fp64:   # the fp32 rounding floor: v1 in fp32 against v1 in float64, same weights and inputs
        ref64 = copy.deepcopy(ref).double().eval(); ref64.load_state_dict(rsd0)
        dbl = lambda d: {k: (v.double() if v.is_floating_point() else v) for k, v in d.items()}
        with torch.no_grad(): e64 = ref64(dbl(x))['inference_disp']['disp_est']
        ref64.train(); t64 = ref64(dbl(xt))['training_disp']['disp']['disp_ests']
        print(f'  v1 fp32 vs v1 float64 (the fp32 floor): eval {maxdiff(dr.double(), e64):.3g}; train full-res '
              f'{maxdiff(orf["disp"]["disp_ests"][0].double(), t64[0]):.3g}, 1/4 upsampled {maxdiff(orf["disp"]["disp_ests"][1].double(), t64[1]):.3g}')
    return ev, tr, gd

if __name__ == '__main__':
    torch.set_num_threads(2)
    check_pieces()
    shapes = [(64, 128, 64, 2, True), (100, 164, 64, 1, True)] + ([] if ARGS.quick else [(256, 512, 192, 1, False)])
    for H, W, D, B, fp64 in shapes: compare(H, W, D, B, fp64=fp64)
