"""Equivalence check: openstereo_nb's FADNet and MultiScaleLoss against OpenStereo v1's (CPU, fp32).

Not a test (CI has no copy of the reference). Get OpenStereo's v1 branch (github.com/XiandaGuo/OpenStereo,
branch v1) and point --ref at its `openstereo/` folder:
    python tools/equivalence/fadnet.py --ref /path/to/OpenStereo-v1/openstereo            # a few minutes on 2 CPU cores
    python tools/equivalence/fadnet.py --ref /path/to/OpenStereo-v1/openstereo --quick    # small shape only
v1's own files are loaded with importlib: `modeling/common/modules.py`, the three stage files
(`modeling/{backbone,cost_processor,disp_processor}/fadnet.py`), `modeling/models/fadnet/model.py` (v1's FADNet
model with its own forward) and `modeling/losses/{base,l1_loss}.py`. Their package imports are stubbed: `utils` is
v1's `utils/common.py` alone, v1's BaseModel is replaced by a minimal one that only calls `build_network` and builds
stages by `type` (as v1's does), `base_trainer` and `lamb` by empty stand-ins, and `.cuda()` (v1's loss puts its
weights on the GPU) is a no-op. Nothing beyond torch is needed."""
import sys, types, importlib.util, time, argparse, copy
import torch, torch.nn as nn, torch.nn.functional as F

_p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_p.add_argument('--ref', required=True, help="OpenStereo v1's openstereo/ folder")
_p.add_argument('--quick', action='store_true', help="only the small shape")
ARGS = _p.parse_args()
REF = ARGS.ref

torch.Tensor.cuda = lambda self, *a, **k: self          # v1's MultiScaleLoss calls .cuda() on its weights
nn.Module.cuda = lambda self, *a, **k: self

def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec); sys.modules[name] = mod; spec.loader.exec_module(mod)
    return mod

def package(name, path=None):
    pkg = types.ModuleType(name); pkg.__path__ = [path] if path else []; sys.modules[name] = pkg
    return pkg

# --- v1's files, with their package imports stubbed -----------------------------------------------------------
load('utils', f'{REF}/utils/common.py')                                  # clones, is_list_or_tuple, Odict, ...
package('modeling', f'{REF}/modeling'); package('modeling.common', f'{REF}/modeling/common')
rm = load('modeling.common.modules', f'{REF}/modeling/common/modules.py')
rb = load('ref_fad_backbone', f'{REF}/modeling/backbone/fadnet.py')
rc = load('ref_fad_cost', f'{REF}/modeling/cost_processor/fadnet.py')
rd = load('ref_fad_disp', f'{REF}/modeling/disp_processor/fadnet.py')
sys.modules['base_trainer'] = types.SimpleNamespace(BaseTrainer=object)
sys.modules['modeling.common.lamb'] = types.SimpleNamespace(Lamb=None)

class V1BaseModel(nn.Module):
    "The part of v1's BaseModel that FADNet uses: stores the config, calls build_network, builds stages by type"
    def __init__(self, cfg):
        super().__init__()
        self.cfg, self.model_cfg = cfg, cfg['model_cfg']
        self.model_name, self.max_disp = self.model_cfg['model'], self.model_cfg['base_config']['max_disp']
        self.build_network()
    @staticmethod
    def _make(mod, cfg):
        cls = getattr(mod, cfg['type'])
        return cls(**{k: v for k, v in cfg.items() if k != 'type'})
    def build_backbone(self, c): return self._make(rb, c)
    def build_cost_processor(self, c): return self._make(rc, c)
    def build_disp_processor(self, c): return self._make(rd, c)
sys.modules['modeling.base_model'] = types.SimpleNamespace(BaseModel=V1BaseModel)
rmodel = load('ref_fad_model', f'{REF}/modeling/models/fadnet/model.py')
package('ref_losses', f'{REF}/modeling/losses')
load('ref_losses.base', f'{REF}/modeling/losses/base.py')
rl = load('ref_losses.l1_loss', f'{REF}/modeling/losses/l1_loss.py')

import _common as common   # tools/equivalence/_common.py
from _common import maxdiff, n_params
from openstereo_nb.modeling.models.fadnet import FADNet, MultiScaleLoss, fadnet_corr, warp_right_to_left

WEIGHTS = [[0.32, 0.16, 0.08, 0.04, 0.02, 0.01, 0.005], [0.6, 0.32, 0.08, 0.04, 0.02, 0.01, 0.005],
           [0.8, 0.16, 0.04, 0.02, 0.01, 0.005, 0.0025], [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]
LOSS_CFG = dict(loss_term_weight=1, scales=7, downscale=1, weights=WEIGHTS, loss='L1', maxdisp=192, mask=False)

def config(max_disp, ratio=16):
    st = {'resBlock': True, 'encoder_ratio': ratio, 'decoder_ratio': ratio}
    return {'data_cfg': {'name': 'Synthetic'},
            'model_cfg': {'model': 'FADNet', 'base_config': {'max_disp': max_disp},
                          'backbone_cfg': {'type': 'FadnetBackbone', 'maxdisp': max_disp, 'input_channel': 3, **st},
                          'cost_processor_cfg': {'type': 'FADAggregator', 'maxdisp': max_disp, 'input_channel': 3, **st},
                          'disp_processor_cfg': {'type': 'DispNetRes', 'in_planes': 11, **st}},
            'loss_cfg': [{'log_prefix': p, 'type': 'MultiScaleLoss', **LOSS_CFG} for p in ('dispnetc_flows', 'dispnetres_flows')],
            'trainer_cfg': {}}

def randomise(model, seed):
    "Non-trivial BN statistics and affine parameters; conv weights keep their (seeded) He-normal init"
    return common.randomise(model, seed, head=None)

def stats(t): return f'mean {t.mean():.2f} std {t.std():.2f} min {t.min():.2f} max {t.max():.2f}'

def check_pieces():
    torch.manual_seed(1)
    for W in (24, 64):   # 24 < 40 displacements: v1's loop repeats the zero-displacement slice
        l, r = torch.randn(2, 128, 6, W), torch.randn(2, 128, 6, W)
        print(f'fadnet_corr vs v1 build_corr (W={W}, 40 displacements): max abs diff {maxdiff(fadnet_corr(l, r, 40), rm.build_corr(l, r, 40)):.3g}')
    x, d = torch.randn(2, 3, 32, 48), torch.randn(2, 1, 32, 48) * 5
    print(f'warp_right_to_left vs v1: max abs diff {maxdiff(warp_right_to_left(x, d), rm.warp_right_to_left(x, d)):.3g}')
    from openstereo_nb.optim import Lamb
    rlamb = load('ref_lamb', f'{REF}/modeling/common/lamb.py')
    for wd in (0., 0.01):
        torch.manual_seed(2); a = [torch.nn.Parameter(torch.randn(5, 7)), torch.nn.Parameter(torch.zeros(3))]
        b = [torch.nn.Parameter(t.detach().clone()) for t in a]
        oa, ob = Lamb(a, lr=0.004, weight_decay=wd), rlamb.Lamb(b, lr=0.004, weight_decay=wd)
        for _ in range(5):
            g = [torch.randn_like(t) for t in a]
            for t, gg in zip(a, g): t.grad = gg.clone()
            for t, gg in zip(b, g): t.grad = gg.clone()
            oa.step(); ob.step()
        print(f'Lamb vs v1 Lamb, 5 steps, weight_decay {wd}: max abs diff {max(maxdiff(x, y) for x, y in zip(a, b)):.3g}')
    torch.manual_seed(3); mine = FADNet(config(192), is_training=True)
    torch.manual_seed(3); ref = rmodel.FADNet(config(192))
    rsd = ref.state_dict()
    d = max(maxdiff(v.float(), rsd[k].float()) for k, v in mine.state_dict().items())
    print(f'initial weights from the same seed: max abs diff {d:.3g}')

def compare(H, W, max_disp, B=1, seed=0, fp64=False):
    """ours vs v1 in fp32; with `fp64`, v1 also in float64, to show the fp32 rounding floor"""
    torch.manual_seed(seed)
    mine = randomise(FADNet(config(max_disp), is_training=True), seed)
    ref = rmodel.FADNet(config(max_disp))
    ks_m, ks_r = list(mine.state_dict()), list(ref.state_dict())
    assert ks_m == ks_r, (set(ks_m) ^ set(ks_r))
    ref.load_state_dict(mine.state_dict(), strict=True)
    print(f'{len(ks_r)} state-dict keys equal, in order; parameters ours {n_params(mine):,} / v1 {n_params(ref):,}')
    ref64 = copy.deepcopy(ref).double() if fp64 else None
    dbl = lambda d: {k: (v.double() if v.is_floating_point() else v) for k, v in d.items()}
    g = torch.Generator().manual_seed(seed + 1)
    x = {'ref_img': torch.randn(B, 3, H, W, generator=g), 'tgt_img': torch.randn(B, 3, H, W, generator=g)}
    mine.eval(); ref.eval()
    t = time.time()
    with torch.no_grad():
        dm = mine(x)['inference_disp']['disp_est']; dr = ref(dict(x))['inference_disp']['disp_est']
    ev = maxdiff(dm, dr)
    floor = ''
    if fp64:
        with torch.no_grad(): d64 = ref64.eval()(dbl(x))['inference_disp']['disp_est']
        floor = f' [v1 fp32 vs v1 fp64: {maxdiff(dr.double(), d64):.3g}]'
    print(f'  {B}x3x{H}x{W} max_disp {max_disp} eval : disp_est max|diff| {ev:.3g}{floor} ({stats(dr)}; {time.time()-t:.1f}s)')
    mine.train(); ref.train()
    gt = torch.rand(B, H, W, generator=g) * (max_disp + 20)   # some pixels above max_disp, some pooled ones too
    gt[:, :, : W // 8] = 0                                      # and invalid (zero) pixels mixed into the pooling
    xt = {**x, 'disp_gt': gt, 'mask': (gt > 0) & (gt < max_disp)}
    t = time.time()
    om = mine(xt)['training_disp']; orf = ref(dict(xt))['training_disp']
    diffs = {k: [maxdiff(a, b.squeeze(1)) for a, b in zip(om[k]['disp_ests'], orf[k]['disp_ests'])] for k in om}
    ours_loss = [MultiScaleLoss(**LOSS_CFG), MultiScaleLoss(**LOSS_CFG)]
    ref_loss = [rl.MultiScaleLoss(**LOSS_CFG), rl.MultiScaleLoss(**LOSS_CFG)]
    lm = sum(f(**om[k], disp_gt=xt['disp_gt'], mask=xt['mask'])[0] for f, k in zip(ours_loss, om)); lr = sum(f(**orf[k])[0] for f, k in zip(ref_loss, orf))
    lm.backward(); lr.backward()
    pr = dict(ref.named_parameters())
    named = [(n, p) for n, p in mine.named_parameters() if p.grad is not None]
    gd = max(maxdiff(p.grad, pr[n].grad) for n, p in named)
    gmax = max(pr[n].grad.abs().max().item() for n, _ in named)
    rsd = ref.state_dict()
    bn = max(maxdiff(v.float(), rsd[k].float()) for k, v in mine.state_dict().items())
    for k in om:
        print(f'  {B}x3x{H}x{W} train {k}: max|diff| per scale ' + ' / '.join(f'{v:.3g}' for v in diffs[k]) +
              f'  (v1 full-res {stats(orf[k]["disp_ests"][0])})')
    print(f'  loss ours {lm.item():.6f} v1 {lr.item():.6f} |diff| {abs(lm.item() - lr.item()):.3g}; grads max|diff| {gd:.3g} '
          f'(largest |grad| {gmax:.3g}); BN running stats diff after the train pass {bn:.3g} ({time.time()-t:.1f}s)')
    if fp64:
        o64 = ref64.train()(dbl(xt))['training_disp']
        l64 = sum(f(**o64[k])[0] for f, k in zip([rl.MultiScaleLoss(**LOSS_CFG) for _ in o64], o64))
        for k in o64:
            print(f'    v1 fp32 vs v1 fp64 (the fp32 floor), train {k}: ' +
                  ' / '.join(f'{maxdiff(a.double(), b):.3g}' for a, b in zip(orf[k]['disp_ests'], o64[k]['disp_ests'])))
        print(f'    v1 fp32 vs v1 fp64 loss |diff| {abs(lr.item() - l64.item()):.3g}')
    # the loss alone, on the same estimates, with every row of the weights (v1's `round` argument)
    ests = [e.detach() for e in orf['dispnetres_flows']['disp_ests']]
    for r in range(4):
        a = MultiScaleLoss(**LOSS_CFG)(ests, gt, round=r)[0].item(); b = rl.MultiScaleLoss(**LOSS_CFG)(ests, gt, round=r)[0].item()
        print(f'    MultiScaleLoss round {r}: ours {a:.6f} v1 {b:.6f} |diff| {abs(a - b):.3g}')
    return ev, diffs, gd

if __name__ == '__main__':
    torch.set_num_threads(2)
    check_pieces()
    for H, W, D, B, fp64 in [(64, 256, 192, 2, True)] + ([] if ARGS.quick else [(256, 512, 192, 1, False)]):
        compare(H, W, D, B, fp64=fp64)
