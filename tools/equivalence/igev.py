"""Equivalence check: openstereo_nb's IGEV against OpenStereo v1's IGEV (`modeling/models/igev/`), CPU, fp32.

Not a test (CI has no copy of the reference). Point --ref at the `openstereo/` folder of OpenStereo's v1 branch:
    python tools/equivalence/igev.py --ref /path/to/OpenStereo-v1/openstereo           # 1x3x256x512, 22 iterations
    python tools/equivalence/igev.py --ref /path/to/OpenStereo-v1/openstereo --quick   # 1x3x64x128, 3 iterations
v1's IGEV files are loaded as a package with importlib (its model.py, which needs v1's BaseModel, is not). v1's
`Feature` asks timm for pretrained weights and an `act1` that timm >= 0.9 folds into `bn1`: `timm.create_model` is
wrapped here so that nothing downloads (pretrained=False) and `act1` is an identity (bn1 already applies ReLU6)."""
import sys, types, importlib.util, time, argparse
import torch, torch.nn as nn, timm

def load_ref(ref):
    "v1's `igev` folder as the package `ref_igev`; returns its `igev_stereo` module"
    create = timm.create_model
    def no_download(name, pretrained=False, **kw):
        m = create(name, pretrained=False, **kw)
        if not hasattr(m, 'act1'): m.act1 = nn.Identity()
        return m
    timm.create_model = no_download
    d = f'{ref}/modeling/models/igev'
    pkg = types.ModuleType('ref_igev'); pkg.__path__ = [d]; sys.modules['ref_igev'] = pkg
    for name in ('utils', 'submodule', 'extractor', 'geometry', 'update', 'igev_stereo'):
        spec = importlib.util.spec_from_file_location(f'ref_igev.{name}', f'{d}/{name}.py')
        mod = importlib.util.module_from_spec(spec); sys.modules[f'ref_igev.{name}'] = mod; spec.loader.exec_module(mod)
    # model.py (for v1's IGEVLoss) imports v1's BaseModel and Odict: stand-ins suffice, only the loss is used
    for name, attrs in (('modeling', {}), ('modeling.base_model', {'BaseModel': nn.Module}), ('utils', {'Odict': dict})):
        m = sys.modules.setdefault(name, types.ModuleType(name)); m.__dict__.update(attrs)
    spec = importlib.util.spec_from_file_location('ref_igev.model', f'{d}/model.py')
    mod = importlib.util.module_from_spec(spec); sys.modules['ref_igev.model'] = mod; spec.loader.exec_module(mod)
    return sys.modules['ref_igev.igev_stereo']

def base_config(max_disp, iters):
    return {'max_disp': max_disp, 'hidden_dims': [128, 128, 128], 'n_gru_layers': 3, 'n_downsample': 2, 'slow_fast_gru': True,
            'corr_levels': 2, 'corr_radius': 4, 'train_iters': iters, 'valid_iters': iters}

def build_ref(ref, max_disp, iters):
    "v1's `IGEV` wrapper reduced to what matters here: the network as `self.net`"
    rs = load_ref(ref)
    class RefIGEV(nn.Module):
        def __init__(self):
            super().__init__(); self.net = rs.IGEVStereo(base_config(max_disp, iters))
        def forward(self, x): return self.net(x['ref_img'], x['tgt_img'])
    return RefIGEV()

def build_ours(max_disp, iters):
    from openstereo_nb.modeling.models.igev import IGEV
    cfg = {'data_cfg': {'name': 'Synthetic'}, 'model_cfg': {'model': 'IGEV', 'base_config': base_config(max_disp, iters)},
           'loss_cfg': [{'log_prefix': 'disp', 'type': 'IGEVLoss'}], 'trainer_cfg': {}}
    return IGEV(cfg, is_training=True)

def map_weights(mine, ref):
    "Same names, same order: v1's state dict loads into ours with strict=True"
    ks_m, ks_r = list(mine.state_dict()), list(ref.state_dict())
    assert ks_m == ks_r, sorted(set(ks_m) ^ set(ks_r))[:10]
    ref.load_state_dict(mine.state_dict(), strict=True)
    return len(ks_m)

def outputs_to_compare(mine, ref, x):
    "name → (ours, v1's) for every disparity both give, in the current mode"
    om = mine(x)
    if not mine.training: return {'eval disp': (om['inference_disp']['disp_est'], ref(x).squeeze(1))}
    init, preds = ref(x)
    td = om['training_disp']['disp']
    out = {'train init': (td['disp_init'], init.squeeze(1))}
    out.update({f'train iter {i}': (a, b.squeeze(1)) for i, (a, b) in enumerate(zip(td['disp_ests'], preds))})
    return out

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--ref', required=True, help="OpenStereo v1's openstereo/ folder")
    p.add_argument('--quick', action='store_true', help="1x3x64x128, 3 iterations")
    a = p.parse_args()
    sys.path.insert(0, __file__.rsplit('/', 1)[0])
    from _common import randomise, maxdiff, n_params
    H, W, D, iters = (64, 128, 64, 3) if a.quick else (256, 512, 192, 22)
    torch.manual_seed(0)
    mine = randomise(build_ours(D, iters), 0, 10., head=r'\.classifier\.weight$')
    ref = build_ref(a.ref, D, iters)
    n = map_weights(mine, ref)
    print(f'IGEV: {n} state-dict keys equal, in order; parameters ours {n_params(mine):,} / v1 {n_params(ref):,}')
    g = torch.Generator().manual_seed(1)
    x = {'ref_img': torch.rand(1, 3, H, W, generator=g)*255, 'tgt_img': torch.rand(1, 3, H, W, generator=g)*255}
    gt = torch.rand(1, H, W, generator=g)*(D - 1)
    worst = 0.
    for mode in ('eval', 'train'):
        mine.train(mode == 'train'); ref.train(mode == 'train')
        xx = {**x, 'disp_gt': gt, 'mask': gt > 0} if mode == 'train' else x
        t = time.time()
        with torch.no_grad(): pairs = outputs_to_compare(mine, ref, xx)
        for k, (m, r) in pairs.items():
            d = maxdiff(m, r); worst = max(worst, d)
            if k.endswith(('init', 'disp', f'iter {iters - 1}', 'iter 0')):
                print(f'  {H}x{W} max_disp {D} iters {iters} {k}: max|diff| {d:.3g} (v1 mean {r.mean():.2f} std {r.std():.2f})')
        print(f'  {mode}: worst over {len(pairs)} outputs {max(maxdiff(m, r) for m, r in pairs.values()):.3g} ({time.time() - t:.1f}s)')
    # the loss (ours vs v1's IGEVLoss.sequence_loss) and the gradients it gives, in training mode
    from openstereo_nb.modeling.models.igev import IGEVLoss
    v1_loss = sys.modules['ref_igev.model'].IGEVLoss.sequence_loss
    mine.train(); ref.train(); mine.zero_grad(); ref.zero_grad()
    t = time.time()
    xx = {**x, 'disp_gt': gt, 'mask': gt > 0}
    td = mine(xx)['training_disp']['disp']
    lm, _ = IGEVLoss(0.9, D)(td['disp_ests'], td['disp_init'], gt, xx['mask'])
    init, preds = ref(xx)
    lr = v1_loss(preds, init, gt, xx['mask'].float(), 0.9, D)
    lm.backward(); lr.backward()
    pr = dict(ref.named_parameters())
    named = [(n, p) for n, p in mine.named_parameters() if p.grad is not None]
    gd = max(maxdiff(p.grad, pr[n].grad) for n, p in named)
    gmax = max(pr[n].grad.abs().max().item() for n, _ in named)
    print(f'  loss ours {lm.item():.6f} / v1 {lr.item():.6f} (diff {abs(lm.item() - lr.item()):.3g}); gradients of {len(named)} '
          f'tensors: max|diff| {gd:.3g} (largest |grad| {gmax:.3g}) ({time.time() - t:.1f}s)')
    print(f'worst max|diff| of the disparities {worst:.3g}', 'OK' if worst <= 1e-4 else 'ABOVE 1e-4')
