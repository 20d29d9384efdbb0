"""Equivalence check: openstereo_nb's CoExNet against the authors' CoEx (github.com/antabangun/coex), CPU, fp32.

Not a test (CI has no copy of their code). Point --src at a checkout of antabangun/coex and --timm at a folder holding
timm 0.5.4 (`pip install --no-deps --target /tmp/site-timm timm==0.5.4`; their 2021 code ran with timm < 0.6, whose
MobileNetV2 stem BatchNorm has no activation inside):
    python tools/equivalence/coex_author.py --src /path/to/coex --timm /tmp/site-timm     # ~1 min on 2 CPU cores
It builds their network from their own `configs/stereo/cfg_coex.yaml` + `configs/backbone.yaml` (backbone from scratch:
nothing downloads), wraps it the way their PyTorch Lightning module `Stereo` does (attribute `stereo`), saves a
checkpoint in Lightning's layout ({'state_dict': {'stereo.…': …}, 'epoch', 'global_step', …}), loads it into our
CoExNet with `load_checkpoint` (strict; `convert_checkpoint` maps the names), and compares the outputs.
Their `spixel.py` imports scikit-image and OpenCV for drawing only: both are stubbed."""
import sys, types, importlib.util, argparse, tempfile
import torch, torch.nn as nn, torch.nn.functional as F
import yaml

_p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_p.add_argument('--src', required=True, help="a checkout of antabangun/coex")
_p.add_argument('--timm', default=None, help="a folder holding timm 0.5.4 (if it is not importable already)")
ARGS = _p.parse_args()
if ARGS.timm: sys.path.insert(0, ARGS.timm)

for name in ('cv2', 'skimage', 'skimage.segmentation'):   # drawing helpers imported at module level, unused here
    sys.modules.setdefault(name, types.ModuleType(name))
sys.modules['skimage.segmentation'].mark_boundaries = None
S = f'{ARGS.src}/models/stereo'
for p, path in (('acoex', S), ('acoex.submodules', f'{S}/submodules'), ('acoex.submodules.spixel_utils', f'{S}/submodules/spixel_utils')):
    pkg = types.ModuleType(p); pkg.__path__ = [path]; sys.modules[p] = pkg   # bare packages: their __init__s are not run
spec = importlib.util.spec_from_file_location('acoex.CoEx', f'{S}/CoEx.py')
acoex = importlib.util.module_from_spec(spec); sys.modules['acoex.CoEx'] = acoex; spec.loader.exec_module(acoex)

from openstereo_nb.modeling.models.coex import CoExNet, coex_author_to_openstereo
from openstereo_nb.callbacks.checkpoint import load_checkpoint

def their_cfg():
    cfg = yaml.safe_load(open(f'{ARGS.src}/configs/stereo/cfg_coex.yaml'))['model']['stereo']
    cfg['backbone'].update(yaml.safe_load(open(f'{ARGS.src}/configs/backbone.yaml')))
    cfg['backbone']['from_scratch'] = True
    return cfg

class Stereo(nn.Module):
    "The part of their LightningModule that holds weights: the network as `stereo`"
    def __init__(self): super().__init__(); self.stereo = acoex.CoEx(their_cfg())

def our_cfg(max_disp=192):
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

def randomise(model, seed, gain=10.):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 0.8 + 0.6)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
        model.stereo.cost_agg.conv_up[0].conv.weight.mul_(gain)   # spread the random-weight disparities
    return model

def maxdiff(a, b): return (a - b).abs().max().item()

if __name__ == '__main__':
    torch.set_num_threads(2)
    torch.manual_seed(0)
    theirs = randomise(Stereo(), 0).eval()
    ours = CoExNet(our_cfg(), is_training=False)
    sd = theirs.state_dict()
    with tempfile.TemporaryDirectory() as d:
        torch.save({'epoch': 9, 'global_step': 1000, 'pytorch-lightning_version': '1.6.5', 'state_dict': sd,
                    'optimizer_states': [], 'lr_schedulers': []}, f'{d}/last.ckpt')
        load_checkpoint(ours, f'{d}/last.ckpt', strict=True)
    own = ours.state_dict()
    wd = max(maxdiff(v.float(), own[coex_author_to_openstereo(k)].float()) for k, v in sd.items())
    print(f'their checkpoint: {len(sd)} tensors (ours {len(own)}: + {sum(k.startswith("Backbone.feat.up.") for k in own)} of v1\'s '
          f'unused feat.up, filled in); loaded strictly; max abs diff of every loaded tensor {wd:.3g}')
    ours.eval()
    for B, H, W in ((1, 256, 512), (2, 64, 128)):
        g = torch.Generator().manual_seed(B)
        l, r = torch.randn(B, 3, H, W, generator=g), torch.randn(B, 3, H, W, generator=g)
        with torch.no_grad():
            dt = theirs.stereo(l, r)[0]
            do = ours({'ref_img': l, 'tgt_img': r})['inference_disp']['disp_est']
        print(f'{B}x3x{H}x{W} max_disp 192, eval: disp max abs diff {maxdiff(dt, do):.3g} (theirs: mean {dt.mean():.2f} '
              f'std {dt.std():.2f} min {dt.min():.2f} max {dt.max():.2f})')
        # training-path estimates with frozen BatchNorm (their training batches left and right together, so BN batch
        # statistics are shared between the views there and separate in v1/ours: compared with running statistics)
        ours.train()
        for m in ours.modules():
            if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)): m.eval()
        gt = torch.rand(B, H, W, generator=g) * 191
        with torch.no_grad():
            t1, t4, _ = theirs.stereo(l, r, training=True)
            t4 = F.interpolate(t4.unsqueeze(1), size=(H, W), mode='bilinear').squeeze(1)   # as their training_step
            o1, o4 = ours({'ref_img': l, 'tgt_img': r, 'disp_gt': gt, 'mask': gt > 0})['training_disp']['disp']['disp_ests']
        print(f'{B}x3x{H}x{W} training path (BN frozen): full-res max abs diff {maxdiff(t1, o1):.3g}, 1/4 upsampled {maxdiff(t4, o4):.3g}')
        ours.eval()
