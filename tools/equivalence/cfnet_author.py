"""Check: a checkpoint saved by the CFNet authors' code (github.com/gallenszl/CFNet) loads into openstereo_nb's CFNet
and gives the authors' outputs (CPU, fp32).

Not a test (CI has no copy of the authors' code). Get their repository and point --author at its root:
    python tools/equivalence/cfnet_author.py --author /path/to/CFNet            # 2x3x64x128, max_disp 192
    python tools/equivalence/cfnet_author.py --author /path/to/CFNet --large    # also 1x3x256x512 (eval)
Their network (models/cfnet.py, models/submodule.py) is built as their main.py builds it, `nn.DataParallel(CFNet(192))`,
given random weights and non-trivial BatchNorm statistics, and saved as their main.py saves a checkpoint:
`{'epoch', 'model': model.state_dict(), 'optimizer'}` (names `module.feature_extraction...`). `load_checkpoint` reads it
into our CFNet (strict), and the outputs are compared. Their code calls `Tensor.get_device()` (-1 on the CPU) and
passes it to `torch.arange`: patched here to return the device. As for v1, the shared `gwc_volume` adds a group's
channels in another order than their per-disparity loop at some widths; each comparison is run twice, with their
`build_gwc_volume` as is and replaced by `gwc_volume`, to isolate that."""
import sys, os, io, time, argparse, warnings, tempfile, contextlib
import torch, torch.nn as nn, torch.nn.functional as F

_p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_p.add_argument('--author', required=True, help="root of the authors' CFNet repository (holds models/)")
_p.add_argument('--large', action='store_true', help="also compare eval outputs at 1x3x256x512")
_p.add_argument('--threads', type=int, default=2)
ARGS = _p.parse_args()
warnings.filterwarnings('ignore')
sys.path.insert(0, ARGS.author)
with contextlib.redirect_stdout(io.StringIO()): import models.cfnet as ac   # their Mish prints a line per instance
torch.Tensor.get_device = lambda self: self.device

from openstereo_nb.modeling.models.cfnet import CFNet
from openstereo_nb.modeling.layers import gwc_volume
from openstereo_nb.callbacks.checkpoint import load_checkpoint

WEIGHTS = [0.25, 0.35, 0.5, 0.5, 0.7, 1.0, 1.0, 1.4, 2]
_AUTHOR_GWC = ac.build_gwc_volume

def randomise(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for k, v in model.state_dict().items():
            if k.endswith('running_mean'): v.copy_(torch.randn(v.shape, generator=g) * 0.2)
            elif k.endswith('running_var'): v.copy_(torch.rand(v.shape, generator=g) * 1.5 + 0.5)
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 0.8 + 0.6)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
        for n, p in model.named_parameters():
            if 'classif' in n and n.endswith('.2.weight'): p.mul_(10.)
            if any(n.endswith(s) for s in ('gamma_s3', 'beta_s3', 'gamma_s2', 'beta_s2')): p.fill_(torch.rand(1, generator=g).item() + 0.2)
    return model

def maxdiff(a, b): return (a - b).abs().max().item()

def main():
    torch.set_num_threads(ARGS.threads)
    torch.manual_seed(0)
    with contextlib.redirect_stdout(io.StringIO()): net = ac.CFNet(192)
    theirs = randomise(nn.DataParallel(net), 0)        # as their main.py: model = nn.DataParallel(model)
    opt = torch.optim.Adam(theirs.parameters(), lr=0.001, betas=(0.9, 0.999))
    cfg = {'data_cfg': {'name': 'Synthetic'},
           'model_cfg': {'model': 'CFNet', 'replace_mish': False, 'base_config': {'max_disp': 192}},
           'loss_cfg': [{'log_prefix': 'disp', 'type': 'Weighted_Smooth_l1_Loss', 'weights': WEIGHTS}], 'trainer_cfg': {}}
    ours = CFNet(cfg, is_training=False)
    with tempfile.TemporaryDirectory() as d:
        path = f'{d}/checkpoint_000031.ckpt'
        torch.save({'epoch': 31, 'model': theirs.state_dict(), 'optimizer': opt.state_dict()}, path)   # their main.py
        keys = list(torch.load(path, weights_only=False)['model'])
        load_checkpoint(ours, path, strict=True)
    print(f"their checkpoint: {len(keys)} entries ({keys[0]}, {keys[4]}, ...) loaded with strict=True; "
          f"weights equal: {all(torch.equal(v, ours.state_dict()['net.' + k[len('module.'):]]) for k, v in theirs.state_dict().items())}")
    shapes = [(2, 64, 128)] + ([(1, 256, 512)] if ARGS.large else [])
    for B, H, W in shapes:
        g = torch.Generator().manual_seed(1)
        l, r = torch.randn(B, 3, H, W, generator=g), torch.randn(B, 3, H, W, generator=g)
        gt = torch.rand(B, H, W, generator=g) * 191
        for swap in (False, True):
            ac.build_gwc_volume = gwc_volume if swap else _AUTHOR_GWC
            tag = f'{B}x3x{H}x{W}{" [theirs with gwc_volume]" if swap else ""}'
            ours.eval(); theirs.eval()
            t = time.time()
            with torch.no_grad():
                mo = ours.net(l, r); to = theirs(l, r)
            frac = ((mo[0][0] - to[0][0]).abs() > 1e-4).float().mean().item()
            print(f'{tag} eval: max|diff| 1/2 stage (disp_est) {maxdiff(mo[0][0], to[0][0]):.3g} ({100 * frac:.2f}% of pixels '
                  f'> 1e-4), 1/4 stage {maxdiff(mo[1][0], to[1][0]):.3g}, 1/8 stage {maxdiff(mo[2][0], to[2][0]):.3g} '
                  f'(disp std {to[0][0].std():.1f}; {time.time() - t:.0f}s)')
            if H > 64: continue
            ours.train(); theirs.train()
            sd = {k: v.clone() for k, v in ours.state_dict().items()}
            with torch.no_grad():
                em = ours.net(l, r); et = theirs(l, r)
            ours.load_state_dict(sd); theirs.module.load_state_dict({k[len('net.'):]: v for k, v in sd.items()})
            print(f'{tag} train: max|diff| of the 9 estimates {" / ".join(f"{maxdiff(a, b):.3g}" for a, b in zip(em, et))}')

if __name__ == '__main__': main()
