"""Equivalence check: openstereo_nb's STTRNet against OpenStereo v1's STTRNet (CPU, fp32).

Not a test (CI has no copy of the reference). Get OpenStereo's v1 branch (github.com/XiandaGuo/OpenStereo,
branch v1) and point --ref at its `openstereo/` folder:
    python tools/equivalence/sttr.py --ref /path/to/OpenStereo-v1/openstereo           # 1×3×256×512, ~3 min on 2 CPU cores
    python tools/equivalence/sttr.py --ref /path/to/OpenStereo-v1/openstereo --quick   # 1×3×128×256 only
v1's `modeling/models/sttr/` package is loaded with importlib (its `BaseModel` and `utils` imports replaced by stubs),
so torch and torchvision are all it needs."""
import sys, types, importlib, argparse, time
import torch, torch.nn as nn

def build_ref(ref_dir, base_config, loss_cfg):
    "v1's STTRNet (model.py, sttr.py, utilities/) with a minimal v1 BaseModel: build_network(), build_loss_fn()"
    torch.Tensor.get_device = lambda self: self.device   # v1 moves its index tensors with .to(x.get_device()): -1 on the CPU
    stub = types.ModuleType('modeling.base_model')
    class BaseModel(nn.Module):
        def __init__(self, cfg):
            super().__init__(); self.cfg, self.model_cfg = cfg, cfg['model_cfg']
            self.build_network(); self.build_loss_fn()
    stub.BaseModel = BaseModel
    utils = types.ModuleType('utils'); utils.get_valid_args = utils.get_attr_from = None
    sys.modules.update({'modeling': types.ModuleType('modeling'), 'modeling.base_model': stub, 'utils': utils})
    pkg = types.ModuleType('ref_sttr'); pkg.__path__ = [f'{ref_dir}/modeling/models/sttr']; sys.modules['ref_sttr'] = pkg
    model = importlib.import_module('ref_sttr.model')
    return model.STTRNet({'model_cfg': {'model': 'STTRNet', 'base_config': base_config}, 'loss_cfg': loss_cfg}), model

def build_ours(base_config):
    from openstereo_nb.modeling.models.sttr import STTRNet, sttr_loss_cfg
    cfg = {'model_cfg': {'model': 'STTRNet', 'base_config': base_config}, 'loss_cfg': sttr_loss_cfg(), 'trainer_cfg': {}}
    return STTRNet(cfg, is_training=True)

def map_weights(ours, ref, seed=0):
    "Non-trivial values for the parameters the init leaves constant (dustbin, LayerNorms, weight-norm gains), then ours → v1"
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in ours.named_parameters():
            if n.endswith('phi'): p.fill_(0.7)
            elif 'norm' in n and 'transformer' in n: p.add_(torch.randn(p.shape, generator=g) * 0.1)
            elif n.endswith('weight_g'): p.mul_(torch.rand(p.shape, generator=g) + 0.5)
    ks_o, ks_r = list(ours.state_dict()), list(ref.state_dict())
    assert sorted(ks_o) == sorted(ks_r), set(ks_o) ^ set(ks_r)
    ref.load_state_dict(ours.state_dict(), strict=True)
    return len(ks_o), ks_o == ks_r

def make_batch(B, H, W, seed=1):
    "A random pair with a smooth disparity up to 150 px, 10% occluded pixels (their disparity 0, as v1's data gives them)"
    g = torch.Generator().manual_seed(seed)
    x = {'ref_img': torch.randn(B, 3, H, W, generator=g), 'tgt_img': torch.randn(B, 3, H, W, generator=g)}
    gt = torch.nn.functional.interpolate(torch.rand(B, 1, H//32, W//32, generator=g) * 150, size=(H, W), mode='bilinear')[:, 0]
    occ = torch.rand(B, H, W, generator=g) < 0.1
    gt = torch.where(occ, torch.zeros_like(gt), gt)
    return {**x, 'disp_gt': gt, 'mask': (gt > 0) & (gt < 192), 'occ_mask': occ, 'occ_mask_right': torch.rand(B, H, W, generator=g) < 0.1}

def outputs_to_compare(ours, ref, refmod, x, downsample):
    "{name: (ours, v1)}: eval disparity and occlusion (the inference path, no ground truth), training outputs, loss terms, gradients"
    from openstereo_nb.modeling.loss_aggregator import LossAggregator
    from openstereo_nb.modeling.models.sttr import sttr_loss_cfg
    NT = sys.modules['ref_sttr.utilities.misc'].NestedTensor
    B, _, H, W = x['ref_img'].shape
    o = downsample // 2
    cols, rows = torch.arange(o, W, downsample)[None].expand(B, -1), torch.arange(o, H, downsample)[None].expand(B, -1)
    pairs = {}
    ours.eval(); ref.eval()
    with torch.no_grad():
        e = ours({'ref_img': x['ref_img'], 'tgt_img': x['tgt_img']})['inference_disp']
        r = ref.net(NT(x['ref_img'], x['tgt_img'], sampled_cols=cols, sampled_rows=rows))
    pairs['eval disp_est'] = (e['disp_est'], r['disp_pred']); pairs['eval occ_pred'] = (e['occ_pred'], r['occ_pred'])
    ours.train(); ref.train()
    td = ours(x)['training_disp']
    loss, info = LossAggregator(sttr_loss_cfg())(td, x); loss.backward()
    rout = ref(x)['training_disp']['disp']
    rl = ref.loss_fn.criterion(rout['inputs'], rout['outputs']); rl['aggregated'].backward()
    ro = rout['outputs']
    pairs.update({'train disp_pred': (td['l1']['disp_ests'], ro['disp_pred']),
                  'train disp_pred_low_res': (td['l1_raw']['disp_ests'], ro['disp_pred_low_res']),
                  'train occ_pred': (td['occ_be']['occ_pred'], ro['occ_pred']),
                  'train gt_response': (td['rr']['gt_response'], ro['gt_response']),
                  'train occ responses': (td['rr']['occ_response'], torch.cat([ro['gt_response_occ_left'], ro['gt_response_occ_right']]))})
    for k in ('rr', 'l1_raw', 'l1', 'occ_be'): pairs[f'loss {k}'] = (info[f'scalar/train/loss_{k}'], rl[k].detach())
    pr = dict(ref.named_parameters())
    gd = [(p.grad, pr[n].grad) for n, p in ours.named_parameters() if p.grad is not None]
    pairs['gradients'] = (torch.cat([a.flatten() for a, _ in gd]), torch.cat([b.flatten() for _, b in gd]))
    return pairs

def maxdiff(a, b): return (a.double() - b.double()).abs().max().item()

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--ref', required=True, help="OpenStereo v1's openstereo/ folder")
    p.add_argument('--quick', action='store_true', help="1×3×128×256 only")
    a = p.parse_args()
    sys.path.insert(0, str(__import__('pathlib').Path(__file__).resolve().parents[2]))
    base = {'max_disp': 192, 'channel_dim': 128, 'position_encoding': 'sine1d_rel', 'num_attn_layers': 6, 'nheads': 8,
            'regression_head': 'ot', 'context_adjustment_layer': 'cal', 'cal_num_blocks': 8, 'cal_feat_dim': 16,
            'cal_expansion_ratio': 4, 'downsample': 3}   # v1's STTR_FlyingThings3D.yaml
    loss_cfg = {'px_error_threshold': 3, 'validation_max_disp': 192, 'loss_weight': 'rr:1.0, l1_raw:1.0, l1:1.0, occ_be:1.0'}
    torch.manual_seed(0)
    ours = build_ours(base)
    ref, refmod = build_ref(a.ref, base, loss_cfg)
    n, same_order = map_weights(ours, ref)
    print(f'STTRNet: {n} state-dict keys equal (same order: {same_order}); parameters ours '
          f'{sum(p.numel() for p in ours.parameters()):,} / v1 {sum(p.numel() for p in ref.parameters()):,}')
    for H, W in [(128, 256)] + ([] if a.quick else [(256, 512)]):
        t = time.time()
        pairs = outputs_to_compare(ours, ref, refmod, make_batch(1, H, W), base['downsample'])
        ours.zero_grad(); ref.zero_grad()
        print(f'1×3×{H}×{W} ({time.time() - t:.0f} s):')
        for k, (u, v) in pairs.items():
            print(f'  {k:26s} max|diff| {maxdiff(u, v):.3g}   (v1 range {v.min().item():.3g} … {v.max().item():.3g})')
