"""Check that the original MobileStereoNet release's checkpoints (cogsys-tuebingen/mobilestereonet) load into openstereo_nb's MSNet.

Not a test (CI has no copy of that code). Point --author at a checkout of github.com/cogsys-tuebingen/mobilestereonet:
    python tools/equivalence/msnet_author.py --author /path/to/mobilestereonet      # ~3 min on 2 busy CPU cores
For MSNet2D and MSNet3D it builds their network (`MSNet2D(192)`, `MSNet3D(192)`: their train.py's default maxdisp) with
their He-normal initialisation, non-trivial BatchNorm statistics and sharpened cost heads, saves it the way their
train.py does ({'epoch', 'model': the nn.DataParallel state dict, 'optimizer'}), loads that file with
`load_checkpoint(strict=True)`, compares every tensor, then the eval disparity of both networks on one random pair
(1x3x256x512). Their code runs unchanged (PyTorch 1.4 in their README: trilinear upsampling with align_corners=False,
the default then and now, as OpenStereo v1 and openstereo_nb)."""
import argparse, sys, os, tempfile, warnings
import torch, torch.nn as nn

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument('--author', required=True, help='checkout of cogsys-tuebingen/mobilestereonet (the folder holding models/)')
p.add_argument('--size', default='256x512', help='input HxW for the forward comparison (multiples of 16)')
args = p.parse_args()
H, W = map(int, args.size.split('x'))
sys.path.insert(0, args.author)
from models.MSNet2D import MSNet2D as TheirMSNet2D
from models.MSNet3D import MSNet3D as TheirMSNet3D

from openstereo_nb.modeling.models.msnet import MSNet
from openstereo_nb.callbacks.checkpoint import load_checkpoint
from _common import randomise, maxdiff   # tools/equivalence/_common.py

COST_GAIN = 40.   # as tools/equivalence/msnet.py: spreads the random-weight disparities over the range

def ours(model_type):
    cfg = {'data_cfg': {'name': 'Synthetic'},
           'model_cfg': {'model': 'MSNet', 'model_type': model_type, 'base_config': {'max_disp': 192}},
           'loss_cfg': [{'log_prefix': 'disp', 'type': 'Weighted_Smooth_l1_Loss', 'weights': [0.5, 0.5, 0.7, 1.0]}],
           'trainer_cfg': {}}
    return MSNet(cfg, is_training=False)

for model_type, make in (('2D', TheirMSNet2D), ('3D', TheirMSNet3D)):
    torch.manual_seed(0)
    theirs = randomise(make(192), seed=1, cost_gain=COST_GAIN, head=r'(^|\.)classif\d\.2\.weight$')
    mine = ours(model_type)
    with tempfile.TemporaryDirectory() as d:   # their train.py: model = nn.DataParallel(model); optimizer = Adam
        path = os.path.join(d, 'checkpoint_000015.ckpt')
        model = nn.DataParallel(theirs)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.001, betas=(0.9, 0.999))
        torch.save({'epoch': 15, 'model': model.state_dict(), 'optimizer': optimizer.state_dict()}, path)
        load_checkpoint(mine, path, strict=True)
    their_sd, our_sd = theirs.state_dict(), mine.state_dict()
    worst = max(maxdiff(our_sd['net.' + k].double(), v.double()) for k, v in their_sd.items())
    print(f"MSNet{model_type}: {len(their_sd)} tensors in their checkpoint, {len(our_sd)} in ours; "
          f"max abs difference over all loaded tensors: {worst}")
    theirs.eval(); mine.eval()
    g = torch.Generator().manual_seed(2)
    left, right = torch.randn(1, 3, H, W, generator=g), torch.randn(1, 3, H, W, generator=g)
    with torch.no_grad():
        dt = theirs(left, right)[0]
        dm = mine({'ref_img': left, 'tgt_img': right})['inference_disp']['disp_est']
    print(f"  eval disparity, 1x3x{H}x{W}: max abs difference {maxdiff(dm, dt):.3g} "
          f"(theirs: mean {dt.mean():.1f}, std {dt.std():.1f}, range {dt.min():.1f}-{dt.max():.1f} px)")
