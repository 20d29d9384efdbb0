"""Equivalence check: openstereo_nb's GANet (GANet-deep) against OpenStereo v1's `ganet/GANet_deep.py` (CPU, fp32).

Not a test (CI has no copy of the reference). Get OpenStereo's v1 branch (github.com/XiandaGuo/OpenStereo,
branch v1) and point --ref at its `openstereo/` folder:
    python tools/equivalence/ganet.py --ref /path/to/OpenStereo-v1/openstereo           # 240x528, max_disp 192 too
    python tools/equivalence/ganet.py --ref /path/to/OpenStereo-v1/openstereo --quick   # small shapes only
    ... --author /path/to/GANet   # also the authors' GANet_deep.py and GANet11.py (github.com/feihuzhang/GANet), small shape
v1's network imports the authors' CUDA extension (`libs.GANet.modules.GANet`), which cannot run here. This script
puts a stand-in module under that name before loading v1's file: SGA and LGA are OUR vectorised ops (so this checks
everything around them; the ops themselves are checked against loops from the paper's equations in the notebook),
GetCostVolume and DisparityRegression are CPU rewrites of the authors' loop and sum (independent of ours)."""
import sys, types, importlib.util, time, argparse
import torch, torch.nn as nn, torch.nn.functional as F

def build_ref_module(ref):
    "Load v1's GANet_deep.py with the CUDA extension replaced (see the module docstring)"
    from openstereo_nb.modeling.models.ganet import sga, lga
    ext = types.ModuleType('libs.GANet.modules.GANet')
    class SGA(nn.Module):
        def forward(self, x, g0, g1, g2, g3): return sga(x, g0, g1, g2, g3)
    class LGA(nn.Module):
        passes = 1
        def __init__(self, radius=2): super().__init__(); self.radius = radius
        def forward(self, x, g):
            for _ in range(self.passes): x = lga(x, g, self.radius)
            return x
    class LGA2(LGA): passes = 2
    class LGA3(LGA): passes = 3
    class GetCostVolume(nn.Module):   # the authors' loop over disparities, on the CPU
        def __init__(self, maxdisp): super().__init__(); self.maxdisp = maxdisp + 1
        def forward(self, x, y):
            B, C, H, W = x.shape
            cost = x.new_zeros(B, 2*C, self.maxdisp, H, W)
            for i in range(self.maxdisp):
                cost[:, :C, i, :, i:] = x[:, :, :, i:]
                cost[:, C:, i, :, i:] = y[:, :, :, :W - i]
            return cost
    class DisparityRegression(nn.Module):
        def __init__(self, maxdisp): super().__init__(); self.maxdisp = maxdisp + 1
        def forward(self, x):
            d = torch.arange(self.maxdisp, dtype=x.dtype).view(1, -1, 1, 1)
            return torch.sum(x * d, 1)
    for k, v in dict(SGA=SGA, LGA=LGA, LGA2=LGA2, LGA3=LGA3, GetCostVolume=GetCostVolume,
                     DisparityRegression=DisparityRegression).items(): setattr(ext, k, v)
    ext.MyNormalize = None   # imported by the authors' files, never used by the networks
    sbn = types.ModuleType('libs.sync_bn.modules.sync_bn')   # the authors' multi-GPU BatchNorm: plain BatchNorm on one device
    sbn.BatchNorm2d, sbn.BatchNorm3d = nn.BatchNorm2d, nn.BatchNorm3d
    for pkg in ('libs', 'libs.GANet', 'libs.GANet.modules', 'libs.sync_bn', 'libs.sync_bn.modules'):
        sys.modules.setdefault(pkg, types.ModuleType(pkg))
    sys.modules['libs.GANet.modules.GANet'], sys.modules['libs.sync_bn.modules.sync_bn'] = ext, sbn
    return load_file('ref_ganet_deep', f'{ref}/modeling/models/ganet/GANet_deep.py') if ref else None

def load_file(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec); sys.modules[name] = mod; spec.loader.exec_module(mod)
    return mod

class RefModel(nn.Module):
    "v1's `GANet` model holds the network in `self.net` and returns it as it is"
    def __init__(self, mod, max_disp): super().__init__(); self.net = mod.GANet(maxdisp=max_disp)
    def forward(self, x): return self.net(x['ref_img'], x['tgt_img'])

def build_ref(mod, max_disp): return RefModel(mod, max_disp)

def build_ours(max_disp):
    from openstereo_nb.modeling.models.ganet import GANet
    return GANet({'model_cfg': {'model': 'GANet', 'base_config': {'max_disp': max_disp}}, 'trainer_cfg': {}}, is_training=True)

def map_weights(ours, ref):
    "Same names on both sides: ours' state dict loads into v1's with strict=True"
    ks_m, ks_r = list(ours.state_dict()), list(ref.state_dict())
    assert ks_m == ks_r, set(ks_m) ^ set(ks_r)
    ref.load_state_dict(ours.state_dict(), strict=True)
    return len(ks_r)

def outputs_to_compare(model, x, is_ours):
    "eval: [disp]; train: [disp0, disp1, disp2]"
    out = model(x)
    if not is_ours: return list(out) if isinstance(out, (list, tuple)) else [out]
    return out['training_disp']['disp']['disp_ests'] if model.training else [out['inference_disp']['disp_est']]

def compare(H, W, max_disp, B=1, seed=0, grads=False):
    from _common import randomise, maxdiff, n_params   # tools/equivalence/_common.py
    torch.manual_seed(seed)
    mine = randomise(build_ours(max_disp), seed, 4.0, head=r'conv32x1\.weight$')
    ref = build_ref(REFMOD, max_disp)
    n = map_weights(mine, ref)
    print(f'GANet {H}x{W} max_disp {max_disp} B={B}: {n} state-dict keys equal, in order; parameters ours {n_params(mine):,} / v1 {n_params(ref):,}')
    g = torch.Generator().manual_seed(seed + 1)
    x = {'ref_img': torch.randn(B, 3, H, W, generator=g), 'tgt_img': torch.randn(B, 3, H, W, generator=g)}
    mine.eval(); ref.eval()
    t = time.time()
    with torch.no_grad(): dm, dr = outputs_to_compare(mine, x, True)[0], outputs_to_compare(ref, x, False)[0]
    ev = maxdiff(dm, dr)
    print(f'  eval : max|diff| {ev:.3g}  (v1 disp mean {dr.mean():.2f} std {dr.std():.2f} min {dr.min():.2f} max {dr.max():.2f}; {time.time()-t:.1f}s)')
    mine.train(); ref.train()
    gt = torch.rand(B, H, W, generator=g) * (max_disp - 1)
    xt = {**x, 'disp_gt': gt, 'mask': (gt > 0) & (gt < max_disp)}
    t = time.time()
    with torch.set_grad_enabled(grads):
        om, orf = outputs_to_compare(mine, xt, True), outputs_to_compare(ref, xt, False)
        tr = [maxdiff(a, b) for a, b in zip(om, orf)]
        msg = ''
        if grads:
            lw = (0.2, 0.6, 1.0); m = xt['mask']
            loss = lambda o: sum(w * F.smooth_l1_loss(d[m], gt[m]) for w, d in zip(lw, o))
            loss(om).backward(); loss(orf).backward()
            pr = dict(ref.named_parameters())
            named = [(k, p) for k, p in mine.named_parameters() if p.grad is not None]
            gd = max(maxdiff(p.grad, pr[k].grad) for k, p in named)
            gmax = max(pr[k].grad.abs().max().item() for k, _ in named)
            msg = f'; grads max|diff| {gd:.3g} (largest |grad| {gmax:.3g})'
    bn = max(maxdiff(v.float(), ref.state_dict()[k].float()) for k, v in mine.state_dict().items())
    print(f'  train: max|diff| disp0 {tr[0]:.3g} disp1 {tr[1]:.3g} disp2 {tr[2]:.3g}{msg}; BN running stats after the pass {bn:.3g} '
          f'(v1 disp2 std {orf[2].std():.2f}; {time.time()-t:.1f}s)')
    return ev, tr

def compare_author(author, file, model_name, H=48, W=96, max_disp=24, B=2, seed=0):
    "The authors' network, saved as their train.py saves it, loaded by load_checkpoint into ours; eval and train outputs"
    import tempfile
    from _common import randomise, maxdiff, n_params
    from openstereo_nb.config import MODELS
    from openstereo_nb.callbacks.checkpoint import load_checkpoint
    mod = load_file(f'author_{file}', f'{author}/models/{file}.py')
    torch.manual_seed(seed)
    theirs = randomise(mod.GANet(max_disp), seed, 4.0, head=r'conv32x1\.weight$')
    mine = MODELS[model_name]({'model_cfg': {'model': model_name, 'base_config': {'max_disp': max_disp}}, 'trainer_cfg': {}})
    with tempfile.TemporaryDirectory() as d:
        torch.save({'epoch': 10, 'state_dict': nn.DataParallel(theirs).state_dict(),
                    'optimizer': torch.optim.Adam(theirs.parameters(), lr=1e-3).state_dict()}, f'{d}/ckpt.pth')
        load_checkpoint(mine, f'{d}/ckpt.pth')
    g = torch.Generator().manual_seed(seed + 1)
    x = {'ref_img': torch.randn(B, 3, H, W, generator=g), 'tgt_img': torch.randn(B, 3, H, W, generator=g)}
    mine.eval(); theirs.eval()
    with torch.no_grad(): ev = maxdiff(mine(x)['inference_disp']['disp_est'], theirs(x['ref_img'], x['tgt_img']))
    mine.train(); theirs.train()
    gt = torch.rand(B, H, W, generator=g) * (max_disp - 1)
    with torch.no_grad():
        tm = mine({**x, 'disp_gt': gt, 'mask': gt > 0})['training_disp']['disp']['disp_ests']
        tr = [maxdiff(a, b) for a, b in zip(tm, theirs(x['ref_img'], x['tgt_img']))]
    print(f"authors' {file} -> {model_name}: {len(theirs.state_dict())} tensors loaded (strict), parameters {n_params(theirs):,} / "
          f"{n_params(mine):,}; {H}x{W} max_disp {max_disp} B={B}: eval max|diff| {ev:.3g}; train {' / '.join(f'{t:.3g}' for t in tr)}")

if __name__ == '__main__':
    _p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _p.add_argument('--ref', required=True, help="OpenStereo v1's openstereo/ folder")
    _p.add_argument('--quick', action='store_true', help="only the small shapes")
    _p.add_argument('--author', help="a checkout of github.com/feihuzhang/GANet: also compare with their networks")
    ARGS = _p.parse_args()
    REFMOD = build_ref_module(ARGS.ref)
    if ARGS.author:
        compare_author(ARGS.author, 'GANet_deep', 'GANet')
        compare_author(ARGS.author, 'GANet11', 'GANet11')
    compare(48, 96, 24, B=2, grads=True)
    if not ARGS.quick: compare(240, 528, 192, B=1)
