"""Check that the original PSMNet release's checkpoints (JiaRenChang/PSMNet) load into openstereo_nb's PSMNet.

Not a test (CI has no copy of that code). Point --author at a checkout of github.com/JiaRenChang/PSMNet:
    python tools/equivalence/psmnet_author.py --author /path/to/PSMNet
It builds their `stackhourglass` PSMNet with random weights and non-trivial BatchNorm statistics, saves it the way
their main.py does ({'state_dict': DataParallel state dict, ...}), loads that file with `load_checkpoint(strict=True)`
and compares every tensor, then the feature extractor's output on one input. Their code predates
`align_corners`: its bilinear upsampling is run with align_corners=True, the behaviour of the PyTorch it was
written for and of OpenStereo. (Their full forward differs from OpenStereo's by design: the third hourglass gets
`pre1` there and `pre2` in OpenStereo, so only the weights and the backbone are compared.)"""
import argparse, sys, tempfile, os
import torch, torch.nn as nn, torch.nn.functional as F

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument('--author', required=True, help='checkout of JiaRenChang/PSMNet (the folder holding models/)')
args = p.parse_args()
sys.path.insert(0, args.author)
torch.Tensor.cuda = lambda self, *a, **k: self          # their disparityregression calls .cuda()
_up = F.upsample
F.upsample = lambda x, size=None, scale_factor=None, mode='nearest', align_corners=None: \
    _up(x, size, scale_factor, mode, True if mode in ('bilinear', 'trilinear') else None)
from models.stackhourglass import PSMNet as AuthorPSMNet

from openstereo_nb.modeling.models.psmnet import PSMNet
from openstereo_nb.callbacks.checkpoint import load_checkpoint

torch.manual_seed(0)
theirs = AuthorPSMNet(192)
g = torch.Generator().manual_seed(1)
with torch.no_grad():
    for m in theirs.modules():
        if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.2)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
            m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5); m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
cfg = {'data_cfg': {'name': 'Synthetic'},
       'model_cfg': {'model': 'PSMNet', 'base_config': {'max_disp': 192}, 'backbone_cfg': {'type': 'PSMNet'},
                     'cost_processor_cfg': {'type': 'PSMCostProcessor'}, 'disp_processor_cfg': {'type': 'PSMDispProcessor'}},
       'loss_cfg': [{'log_prefix': 'disp', 'type': 'Weighted_Smooth_l1_Loss', 'weights': [0.5, 0.7, 1.0]}], 'trainer_cfg': {}}
ours = PSMNet(cfg, is_training=False)
with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, 'pretrained_sceneflow.tar')
    torch.save({'epoch': 10, 'state_dict': {'module.' + k: v for k, v in theirs.state_dict().items()}, 'train_loss': 1.0}, path)
    load_checkpoint(ours, path, strict=True)
their_sd = theirs.state_dict()
print(f"{len(their_sd)} tensors in their checkpoint, {len(ours.state_dict())} in ours (the fixed soft-argmin weights and two zero biases of 1x1 downsample convs that OpenStereo adds)")
from openstereo_nb.modeling.models.psmnet import author_to_openstereo
worst = max((ours.state_dict()[author_to_openstereo(k)].float() - v.float()).abs().max().item() for k, v in their_sd.items())
print(f"max abs difference over all loaded tensors: {worst}")
theirs.eval(); ours.eval()
x = torch.randn(1, 3, 256, 512, generator=g)
with torch.no_grad():
    diff = (theirs.feature_extraction(x) - ours.Backbone({'ref_img': x, 'tgt_img': x})['ref_feature']).abs().max().item()
print(f"feature extractor output, 1x3x256x512: max abs difference {diff}")
