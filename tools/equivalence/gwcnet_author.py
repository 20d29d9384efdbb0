"""Check that the original GwcNet release's checkpoints (xy-guo/GwcNet) load into openstereo_nb's GwcNet.

Not a test (CI has no copy of that code). Point --author at a checkout of github.com/xy-guo/GwcNet:
    python tools/equivalence/gwcnet_author.py --author /path/to/GwcNet      # ~1.5 min on 2 busy CPU cores
For GwcNet-gc and GwcNet-g it builds their network (`GwcNet_GC(192)`, `GwcNet_G(192)`) with random weights,
non-trivial BatchNorm statistics and sharpened cost heads, saves it the way their main.py does
({'epoch', 'model': the nn.DataParallel state dict, 'optimizer'}), loads that file with `load_checkpoint(strict=True)`,
compares every tensor, then the eval disparity of both networks on one random pair (1x3x256x512, max_disp 192).
Their code runs unchanged: its trilinear upsampling leaves `align_corners` at PyTorch's default (False since 0.4.1,
the version their README asks for), which is what OpenStereo v1 and openstereo_nb use."""
import argparse, sys, os, tempfile, warnings
import torch, torch.nn as nn

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument('--author', required=True, help='checkout of xy-guo/GwcNet (the folder holding models/)')
p.add_argument('--size', default='256x512', help='input HxW for the forward comparison (multiples of 16)')
args = p.parse_args()
H, W = map(int, args.size.split('x'))
warnings.filterwarnings('ignore', message='.*upsample.*')   # their F.upsample: deprecated, same function
sys.path.insert(0, args.author)
from models.gwcnet import GwcNet_G, GwcNet_GC

from openstereo_nb.modeling.models.gwcnet import GwcNet, gwcnet_author_to_openstereo
from openstereo_nb.callbacks.checkpoint import load_checkpoint
from _common import randomise, maxdiff   # tools/equivalence/_common.py

COST_GAIN = 40.   # as tools/equivalence/gwcnet.py: spreads the random-weight disparities over the range

def ours(concat):
    cfg = {'data_cfg': {'name': 'Synthetic'},
           'model_cfg': {'model': 'GwcNet', 'base_config': {'max_disp': 192, 'downsample': 4, 'num_groups': 40,
                                                            'use_concat_volume': concat, 'concat_channels': 12},
                         'backbone_cfg': {'type': 'GwcNet'}, 'cost_processor_cfg': {'type': 'GwcVolumeCostProcessor'},
                         'disp_processor_cfg': {'type': 'GwcDispProcessor'}},
           'loss_cfg': [{'log_prefix': 'disp', 'type': 'Weighted_Smooth_l1_Loss', 'weights': [0.5, 0.5, 0.7, 1.0]}],
           'trainer_cfg': {}}
    return GwcNet(cfg, is_training=False)

for name, make, concat in (('gc', GwcNet_GC, True), ('g', GwcNet_G, False)):
    torch.manual_seed(0)
    theirs = randomise(make(192), seed=1, cost_gain=COST_GAIN, head=r'(^|\.)classif\d\.2\.weight$')
    mine = ours(concat)
    with tempfile.TemporaryDirectory() as d:   # their main.py: model = nn.DataParallel(model); optimizer = Adam
        path = os.path.join(d, 'checkpoint_000015.ckpt')
        model = nn.DataParallel(theirs)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.001, betas=(0.9, 0.999))
        torch.save({'epoch': 15, 'model': model.state_dict(), 'optimizer': optimizer.state_dict()}, path)
        load_checkpoint(mine, path, strict=True)
    their_sd, our_sd = theirs.state_dict(), mine.state_dict()
    worst = max(maxdiff(our_sd[gwcnet_author_to_openstereo(k)].double(), v.double()) for k, v in their_sd.items())
    print(f"GwcNet-{name}: {len(their_sd)} tensors in their checkpoint, {len(our_sd)} in ours; "
          f"max abs difference over all loaded tensors: {worst}")
    theirs.eval(); mine.eval()
    g = torch.Generator().manual_seed(2)
    left, right = torch.randn(1, 3, H, W, generator=g), torch.randn(1, 3, H, W, generator=g)
    with torch.no_grad():
        dt = theirs(left, right)[0]
        dm = mine({'ref_img': left, 'tgt_img': right})['inference_disp']['disp_est']
    print(f"  eval disparity, 1x3x{H}x{W}: max abs difference {maxdiff(dm, dt):.3g} "
          f"(theirs: mean {dt.mean():.1f}, std {dt.std():.1f}, range {dt.min():.1f}-{dt.max():.1f} px)")
