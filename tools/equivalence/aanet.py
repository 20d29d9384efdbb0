"""Equivalence check: openstereo_nb's AANet and MultiAANetScaleLoss against OpenStereo v1's (CPU, fp32).

Not a test (CI has no copy of the reference). Get OpenStereo's v1 branch (github.com/XiandaGuo/OpenStereo,
branch v1) and point --ref at its `openstereo/` folder:
    python tools/equivalence/aanet.py --ref /path/to/OpenStereo-v1/openstereo           # a few minutes on 2 CPU cores
    python tools/equivalence/aanet.py --ref /path/to/OpenStereo-v1/openstereo --quick   # small shape only
v1's own files are loaded with importlib: `modeling/models/aanet/{submodule,aanet,model}.py` (v1's AANet model with
its own forward) and `modeling/losses/{base,l1_loss}.py`. v1's deformable convolution is a CUDA extension
(`libs/AANet/deform_conv`) that cannot run on a CPU: HERE ONLY, its module is replaced by a stand-in with the same
classes and parameter names (`ModulatedDeformConv`, `DeformConv`: `weight`, `bias`) computing with
`torchvision.ops.deform_conv2d` — the same op our layer uses, so this checks everything around it (offset/mask
split, layout, names, the network); the op itself is checked against the DCNv2 formula in the notebook. The other
package imports are stubbed: v1's BaseModel by a minimal one that calls `build_network`, `base_trainer` and `lamb`
by empty stand-ins, `utils` is v1's `utils/common.py` alone, `.cuda()` (v1's loss) a no-op. Needs torch, torchvision."""
import sys, types, importlib.util, time, argparse, copy, math
import torch, torch.nn as nn, torch.nn.functional as F
from torchvision.ops import deform_conv2d

torch.Tensor.cuda = lambda self, *a, **k: self          # v1's MultiAANetScaleLoss calls .cuda() on its weights
nn.Module.cuda = lambda self, *a, **k: self

def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec); sys.modules[name] = mod; spec.loader.exec_module(mod)
    return mod

def package(name, path=None):
    pkg = types.ModuleType(name); pkg.__path__ = [path] if path else []; sys.modules[name] = pkg
    return pkg

# --- the stand-in for v1's CUDA deformable convolution (equivalence script only) -------------------------------
class _StandInModulatedDeformConv(nn.Module):
    "v1's ModulatedDeformConv interface and parameters; forward by torchvision"
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 deformable_groups=1, bias=True):
        super().__init__()
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, kernel_size, kernel_size))
        nn.init.uniform_(self.weight, -1 / math.sqrt(in_channels * kernel_size ** 2), 1 / math.sqrt(in_channels * kernel_size ** 2))
        if bias: self.bias = nn.Parameter(torch.zeros(out_channels))
        else: self.register_parameter('bias', None)
    def forward(self, x, offset, mask):
        return deform_conv2d(x, offset, self.weight, self.bias, self.stride, self.padding, self.dilation, mask)

class _StandInDeformConv(_StandInModulatedDeformConv):
    def __init__(self, *a, bias=False, **k): super().__init__(*a, bias=False, **k)
    def forward(self, x, offset): return deform_conv2d(x, offset, self.weight, None, self.stride, self.padding, self.dilation)

def install_standin():
    package('libs'); package('libs.AANet')
    sys.modules['libs.AANet.deform_conv'] = types.SimpleNamespace(ModulatedDeformConv=_StandInModulatedDeformConv,
                                                                  DeformConv=_StandInDeformConv)

class V1BaseModel(nn.Module):
    "The part of v1's BaseModel that AANet uses: stores the config and calls build_network"
    def __init__(self, cfg):
        super().__init__()
        self.cfg, self.model_cfg = cfg, cfg['model_cfg']
        self.model_name, self.max_disp = self.model_cfg['model'], self.model_cfg['base_config']['max_disp']
        self.build_network()

def load_v1(ref):
    "v1's AANet model module and its losses module"
    install_standin()
    load('utils', f'{ref}/utils/common.py')
    package('modeling', f'{ref}/modeling'); package('modeling.common', f'{ref}/modeling/common')
    sys.modules['modeling.base_model'] = types.SimpleNamespace(BaseModel=V1BaseModel)
    sys.modules['base_trainer'] = types.SimpleNamespace(BaseTrainer=object)
    sys.modules['modeling.common.lamb'] = types.SimpleNamespace(Lamb=None)
    package('ref_aanet', f'{ref}/modeling/models/aanet')
    load('ref_aanet.submodule', f'{ref}/modeling/models/aanet/submodule.py')
    load('ref_aanet.aanet', f'{ref}/modeling/models/aanet/aanet.py')
    rmodel = load('ref_aanet.model', f'{ref}/modeling/models/aanet/model.py')
    package('ref_losses', f'{ref}/modeling/losses')
    load('ref_losses.base', f'{ref}/modeling/losses/base.py')
    rl = load('ref_losses.l1_loss', f'{ref}/modeling/losses/l1_loss.py')
    return rmodel, rl

V1_BASE = {'num_downsample': 2, 'feature_type': 'aanet', 'no_feature_mdconv': False, 'feature_pyramid': False,
           'feature_pyramid_network': True, 'feature_similarity': 'correlation', 'aggregation_type': 'adaptive',
           'num_scales': 3, 'num_fusions': 6, 'deformable_groups': 2, 'mdconv_dilation': 2, 'refinement_type': 'stereodrnet',
           'no_intermediate_supervision': False, 'num_stage_blocks': 1, 'num_deform_blocks': 3}
LOSS_CFG = dict(loss_term_weight=1, scales=5, downscale=1, loss='L1', maxdisp=192, mask=False)

def config(max_disp=192):
    return {'data_cfg': {'name': 'Synthetic'},
            'model_cfg': {'model': 'AANet', 'find_unused_parameters': False, 'base_config': {'max_disp': max_disp, **V1_BASE}},
            'loss_cfg': [{'log_prefix': 'disparity_pyramid', 'type': 'MultiAANetScaleLoss', **LOSS_CFG,
                          'weights': [[1/3, 2/3, 1.0, 1.0, 1.0]]}], 'trainer_cfg': {}}

def build_ref(rmodel, max_disp=192): return rmodel.AANet(config(max_disp))

def build_ours(max_disp=192, seed=0):
    from openstereo_nb.modeling.models.aanet import AANet
    torch.manual_seed(seed)
    return AANet(config(max_disp), is_training=True)

def randomise(model, seed, offset_std=0.02, cost_gain=4.0):
    """Non-trivial BN statistics and affine parameters; the offset convs (zero-initialised in the aggregation, which
    would make every deformable conv a plain one and hide a wrong offset layout) get random weights, giving offsets
    of a few pixels; the aggregation's final 1×1 convs are scaled by `cost_gain` to sharpen the soft-argmin"""
    from _common import randomise as common_randomise
    g = torch.Generator().manual_seed(seed + 100)
    common_randomise(model, seed, cost_gain, head=r'aggregation\.final_conv\.\d+\.weight$')
    with torch.no_grad():
        for n, p in model.named_parameters():
            if 'offset_conv' in n: p.copy_(torch.randn(p.shape, generator=g) * (offset_std if n.endswith('weight') else 0.5))
    return model

def map_weights(mine, ref):
    "Our state dict into v1's model: the names are the same, one to one and in order"
    ks_m, ks_r = list(mine.state_dict()), list(ref.state_dict())
    assert ks_m == ks_r, (set(ks_m) ^ set(ks_r))
    ref.load_state_dict(mine.state_dict(), strict=True)
    return len(ks_r)

def outputs_to_compare(mine, ref, x, training):
    "(ours, v1's) disparity maps: eval the estimate, training the five pyramid maps"
    if training:
        return mine(x)['training_disp']['disparity_pyramid']['disp_ests'], ref(dict(x))['training_disp']['disparity_pyramid']['disp_ests']
    return [mine(x)['inference_disp']['disp_est']], [ref(dict(x))['inference_disp']['disp_est']]

def maxdiff(a, b): return (a - b).abs().max().item()
def n_params(m): return sum(p.numel() for p in m.parameters() if p.requires_grad)
def stats(t): return f'mean {t.mean():.2f} std {t.std():.2f} min {t.min():.2f} max {t.max():.2f}'

def check_pieces(rmodel, rl):
    from openstereo_nb.modeling.models.aanet import MultiAANetScaleLoss, aanet_disp_warp, aanet_cost_pyramid
    sub = sys.modules['ref_aanet.submodule']
    torch.manual_seed(1)
    img, d = torch.randn(2, 3, 24, 40), torch.rand(2, 1, 24, 40) * 9
    print(f'aanet_disp_warp vs v1 disp_warp: max abs diff {maxdiff(aanet_disp_warp(img, d), sub.disp_warp(img, d)[0]):.3g}')
    l = [torch.randn(2, 128, 12 // 2**s, 40 // 2**s) for s in range(3)]; r = [torch.randn_like(t) for t in l]
    print(f'aanet_cost_pyramid vs v1 CostVolumePyramid: max abs diff '
          f'{max(maxdiff(a, b) for a, b in zip(aanet_cost_pyramid(l, r, 64), sub.CostVolumePyramid(64)(l, r))):.3g}')
    gt = torch.rand(2, 48, 96) * 230; gt[:, :, :10] = 0
    ests = [torch.rand(2, 48 // s, 96 // s) * 200 / s for s in (12, 6, 3, 2, 1)]
    a = MultiAANetScaleLoss(**LOSS_CFG, weights=[[1/3, 2/3, 1.0, 1.0, 1.0]])(ests, gt)[0]
    b = rl.MultiAANetScaleLoss(**LOSS_CFG, weights=[[0.33, 0.66, 1.0, 1.0, 1.0]])(ests, gt)[0]
    print(f'MultiAANetScaleLoss vs v1 (v1 config weights [[0.33, 0.66, ...]], which v1 ignores): {a.item():.7f} vs {b.item():.7f}, diff {abs(a - b).item():.3g}')
    torch.manual_seed(3); mine = build_ours(192, seed=3)
    torch.manual_seed(3); ref = build_ref(rmodel)
    rsd = ref.state_dict()
    print(f'initial weights from the same seed: max abs diff {max(maxdiff(v.float(), rsd[k].float()) for k, v in mine.state_dict().items()):.3g}')

def compare(rmodel, rl, H, W, B=1, seed=0, max_disp=192):
    mine = randomise(build_ours(max_disp, seed), seed)
    ref = build_ref(rmodel, max_disp)
    n = map_weights(mine, ref)
    print(f'{n} state-dict keys equal, in order; parameters ours {n_params(mine):,} / v1 {n_params(ref):,}')
    g = torch.Generator().manual_seed(seed + 1)
    x = {'ref_img': torch.randn(B, 3, H, W, generator=g), 'tgt_img': torch.randn(B, 3, H, W, generator=g)}
    gt = torch.rand(B, H, W, generator=g) * (max_disp + 30); gt[:, :, : W // 10] = 0
    x_gt = {**x, 'disp_gt': gt, 'mask': (gt > 0) & (gt < max_disp)}   # v1's eval output reads disp_gt and mask
    pad, xp = None, x_gt
    if H % 12 or W % 12:   # v1 cannot take this size: it gets the pair padded as our eval forward pads it
        from openstereo_nb.modeling.base_model import pad_to_divisor, crop_pad
        try:
            with torch.no_grad(): ref.eval()(dict(x_gt)); print(f'  v1 runs at {H}x{W}')
        except RuntimeError as e: print(f'  v1 at {H}x{W} fails: {str(e).splitlines()[0]}')
        xp, pad = pad_to_divisor(x_gt, 12)
        print(f'  so in eval v1 gets the pair padded to {tuple(xp["ref_img"].shape[-2:])} (edge pixels, top and right; pad {pad}) '
              f'and its estimate cropped, ours gets {H}x{W} and pads inside; in training both get the padded pair')
    mine.eval(); ref.eval()
    t = time.time()
    with torch.no_grad():
        dm = mine(x)['inference_disp']['disp_est']
        dr = ref(dict(x_gt if pad is None else xp))['inference_disp']['disp_est']
        if pad is not None: dr = crop_pad(dr, pad)
    ev = maxdiff(dm, dr)
    print(f'  {B}x3x{H}x{W} eval : disp_est max|diff| {ev:.3g} ({stats(dr)}; {time.time()-t:.1f}s)')
    mine.train(); ref.train()
    x_gt, gt = xp, xp['disp_gt']
    t = time.time()
    om = mine(x_gt)['training_disp']['disparity_pyramid']['disp_ests']
    orf = ref(dict(x_gt))['training_disp']['disparity_pyramid']['disp_ests']
    from openstereo_nb.modeling.models.aanet import MultiAANetScaleLoss
    lm = MultiAANetScaleLoss(**LOSS_CFG, weights=[[1/3, 2/3, 1.0, 1.0, 1.0]])(om, gt)[0]
    lr_ = rl.MultiAANetScaleLoss(**LOSS_CFG, weights=[[0.33, 0.66, 1.0, 1.0, 1.0]])(orf, gt)[0]
    lm.backward(); lr_.backward()
    tr = [maxdiff(a, b) for a, b in zip(om, orf)]
    pr = dict(ref.named_parameters())
    named = [(k, p) for k, p in mine.named_parameters() if p.grad is not None]
    gd = max(maxdiff(p.grad, pr[k].grad) for k, p in named)
    gmax = max(pr[k].grad.abs().max().item() for k, _ in named)
    rsd = ref.state_dict()
    bn = max(maxdiff(v.float(), rsd[k].float()) for k, v in mine.state_dict().items())
    print(f'  {B}x3x{H}x{W} train: max|diff| per map (1/12, 1/6, 1/3, 1/2, 1) {", ".join(f"{d:.3g}" for d in tr)}; '
          f'loss {lm.item():.6f} vs v1 {lr_.item():.6f} (diff {abs(lm - lr_).item():.3g}); grads max|diff| {gd:.3g} '
          f'(largest |grad| {gmax:.3g}); state dict after the pass (BN running stats) {bn:.3g} ({stats(orf[-1])}; {time.time()-t:.1f}s)')
    return ev, tr, gd, bn

if __name__ == '__main__':
    _p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _p.add_argument('--ref', required=True, help="OpenStereo v1's openstereo/ folder")
    _p.add_argument('--quick', action='store_true', help="only the small shape")
    ARGS = _p.parse_args()
    rmodel, rl = load_v1(ARGS.ref)
    check_pieces(rmodel, rl)
    shapes = [(48, 96, 2)] + ([] if ARGS.quick else [(288, 576, 1), (256, 512, 1)])
    for H, W, B in shapes: compare(rmodel, rl, H, W, B)
