"""Check that the original CasStereoNet release's checkpoints (alibaba/cascade-stereo) load into openstereo_nb's CasStereoNet.

Not a test (CI has no copy of that code). Point --author at the CasStereoNet folder of a checkout of
github.com/alibaba/cascade-stereo:
    python tools/equivalence/casnet_author.py --author /path/to/cascade-stereo/CasStereoNet   # ~4 min on 2 busy CPU cores
For both of their networks — `--model gwcnet-c` (models/psmnet.py, our model_type psmnet) and `--model gwcnet`
(models/gwcnet.py, our gwcnet) — it builds theirs with the settings of their scripts (maxdisp 192, --ndisps 48,24,
--disp_inter_r 4,1, --using_ns --ns_size 3, default --cr_base_chs 32,32,16 and --grad_method detach), random weights,
non-trivial BatchNorm statistics and sharpened cost heads, saves it the way their main.py does ({'epoch', 'model':
model.module.state_dict(), 'optimizer'}), loads that file with `load_checkpoint(strict=True)`, compares every tensor,
then both stages' eval disparities on one random pair (1x3x256x512: their SPP pooling needs 256 rows).
Their `F.grid_sample` calls leave `align_corners` unset: PyTorch <= 1.2, which they wrote for, had no such argument
and behaved as align_corners=True (OpenStereo v1 passes True explicitly), so the script runs them with True."""
import argparse, sys, os, tempfile, warnings
import torch, torch.nn as nn, torch.nn.functional as F

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument('--author', required=True, help='the CasStereoNet folder of alibaba/cascade-stereo (holding models/)')
p.add_argument('--size', default='256x512', help='input HxW for the forward comparison (multiples of 16, at least 256 rows)')
args = p.parse_args()
H, W = map(int, args.size.split('x'))
warnings.filterwarnings('ignore', message='.*(upsample|meshgrid|align_corners).*')
_grid_sample = F.grid_sample
F.grid_sample = lambda input, grid, mode='bilinear', padding_mode='zeros', align_corners=None: \
    _grid_sample(input, grid, mode, padding_mode, True if align_corners is None else align_corners)
sys.path.insert(0, args.author)
from models.psmnet import PSMNet as TheirCasPSM
from models.gwcnet import GwcNet as TheirCasGwc

from openstereo_nb.modeling.models.casnet import CasStereoNet
from openstereo_nb.callbacks.checkpoint import load_checkpoint
from _common import randomise, maxdiff   # tools/equivalence/_common.py

COST_GAIN = 10.   # as tools/equivalence/casnet.py: spreads the random-weight disparities over the hypotheses
SCRIPT_ARGS = dict(maxdisp=192, ndisps=[48, 24], disp_interval_pixel=[4.0, 1.0], cr_base_chs=[32, 32, 16],
                   grad_method='detach', using_ns=True, ns_size=3)   # main.py's constructor call, with their scripts' flags

def ours(model_type):
    cfg = {'data_cfg': {'name': 'Synthetic'},
           'model_cfg': {'model': 'CasStereoNet', 'model_type': model_type, 'base_config': {'max_disp': 192}},
           'loss_cfg': [{'log_prefix': 'disp', 'type': 'CasStereoLoss'}], 'trainer_cfg': {}}
    return CasStereoNet(cfg, is_training=False)

for flag, make, model_type in (('gwcnet-c', TheirCasPSM, 'psmnet'), ('gwcnet', TheirCasGwc, 'gwcnet')):
    torch.manual_seed(0)
    theirs = randomise(make(**SCRIPT_ARGS), seed=1, cost_gain=COST_GAIN, head=r'(^|\.)classif\d\.2\.weight$')
    mine = ours(model_type)
    with tempfile.TemporaryDirectory() as d:   # their main.py: Adam, and model.module.state_dict() of the wrapped model
        path = os.path.join(d, 'checkpoint_000015.ckpt')
        model = nn.DataParallel(theirs)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.001, betas=(0.9, 0.999))
        torch.save({'epoch': 15, 'model': model.module.state_dict(), 'optimizer': optimizer.state_dict()}, path)
        load_checkpoint(mine, path, strict=True)
    their_sd, our_sd = theirs.state_dict(), mine.state_dict()
    worst = max(maxdiff(our_sd['net.' + k].double(), v.double()) for k, v in their_sd.items())
    print(f"--model {flag} (model_type {model_type}): {len(their_sd)} tensors in their checkpoint, {len(our_sd)} in ours; "
          f"max abs difference over all loaded tensors: {worst}")
    theirs.eval(); mine.eval()
    g = torch.Generator().manual_seed(2)
    left, right = torch.randn(1, 3, H, W, generator=g), torch.randn(1, 3, H, W, generator=g)
    with torch.no_grad():
        rt, rm = theirs(left, right), mine.net(left, right)
        dm = mine({'ref_img': left, 'tgt_img': right})['inference_disp']['disp_est']
    for s in ('stage1', 'stage2'):
        dt = rt[s]['pred']
        print(f"  eval {s} disparity, 1x3x{H}x{W}: max abs difference {maxdiff(rm[s]['pred'], dt):.3g} "
              f"(theirs: mean {dt.mean():.1f}, std {dt.std():.1f}, range {dt.min():.1f}-{dt.max():.1f} px)")
    print(f"  model output inference_disp.disp_est vs their stage2: max abs difference {maxdiff(dm, rt['stage2']['pred']):.3g}")
