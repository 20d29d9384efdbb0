"""Check that the authors' LacGwcNet checkpoints (SpadeLiu/Lac-GwcNet) load into openstereo_nb's LacGwcNet and give
the same outputs and losses as their code.

Not a test (CI has no copy of that code). Point --author at a checkout of github.com/SpadeLiu/Lac-GwcNet:
    python tools/equivalence/lacgwcnet_author.py --author /path/to/Lac-GwcNet        # ~4 min on 2 CPU cores
It builds their `networks/stackhourglass.py` PSMNet with the settings of their scripts (train.py, test_*.py), wraps it
in nn.DataParallel as they do, gives it random weights with non-trivial BatchNorm statistics, saves it the way their
released files are (a bare DataParallel state dict, `module.` names; test_sceneflow.py loads it with
`model.load_state_dict(torch.load(path))`) and loads that file with `load_checkpoint(strict=True)`. Then it compares
the eval output (their forward returns the refined disparity) and, in training mode, their loss terms (their forward
returns `loss1`, `loss2`; train.py minimises 0.1·loss1 + loss2) with `LacGwcLoss`, and the gradients. Their
training-script layout, {'net': state dict, 'optimizer': ..., 'epoch': ...}, is tried too.
Their code calls .cuda() (made a no-op here) and imports cv2 (only for a data-augmentation helper; stubbed)."""
import argparse, sys, types, tempfile, os, warnings
import torch, torch.nn as nn

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument('--author', required=True, help='checkout of SpadeLiu/Lac-GwcNet (the folder holding networks/)')
p.add_argument('--quick', action='store_true', help='skip the 256x512, max_disp 192 eval comparison')
args = p.parse_args()
warnings.filterwarnings('ignore', category=UserWarning)
sys.path.insert(0, args.author)
sys.modules.setdefault('cv2', types.ModuleType('cv2'))   # loss_functions.py imports it for random_noise only
torch.Tensor.cuda = lambda self, *a, **k: self           # their cost volume and disp2distribute call .cuda()
from networks.stackhourglass import PSMNet as AuthorNet

from openstereo_nb.modeling.models.lacgwcnet import LacGwcNet, LacGwcLoss
from openstereo_nb.callbacks.checkpoint import load_checkpoint

def theirs(max_disp):
    "Their model as train.py / test_sceneflow.py build it (default arguments), in nn.DataParallel"
    net = AuthorNet(maxdisp=max_disp, struct_fea_c=4, fuse_mode='separate',
                    affinity_settings={'win_w': 3, 'win_h': 3, 'dilation': [1, 2, 4, 8]}, udc=True, refine='csr')
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5); m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
        for n, q in net.named_parameters():
            if n.startswith('classif') and n.endswith('.2.weight'): q.mul_(40.)   # spread the estimates over the range
    return nn.DataParallel(net)

def ours(max_disp, training):
    cfg = {'data_cfg': {'name': 'Synthetic'}, 'model_cfg': {'model': 'LacGwcNet', 'base_config': {'max_disp': max_disp}},
           'loss_cfg': [{'log_prefix': 'disp', 'type': 'LacGwcLoss'}], 'trainer_cfg': {}}
    return LacGwcNet(cfg, is_training=training)

def md(a, b): return (a - b).abs().max().item()

def run(H, W, max_disp, B, train):
    torch.manual_seed(0)
    their = theirs(max_disp)
    mine = ours(max_disp, train)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, 'SceneFlow.pth')
        torch.save(their.state_dict(), path)                       # their release layout: bare, `module.` names
        load_checkpoint(mine, path, strict=True)
        sd = mine.state_dict()
        w = max(md(sd['net.' + k[len('module.'):]].float(), v.float()) for k, v in their.state_dict().items())
        print(f"{len(their.state_dict())} tensors in their checkpoint (first: {next(iter(their.state_dict()))}), "
              f"{len(sd)} in ours; loaded strictly, max abs weight difference {w}")
        tpath = os.path.join(d, 'checkpoint_10.tar')               # train.py's layout
        torch.save({'net': their.state_dict(), 'optimizer': {}, 'epoch': 10}, tpath)
        try:
            load_checkpoint(ours(max_disp, False), tpath, strict=True); print("train.py layout {'net': ...}: loads")
        except ValueError as e:
            print(f"train.py layout {{'net': ...}}: load_checkpoint refuses it ({str(e).splitlines()[0][:90]}...)")
    g = torch.Generator().manual_seed(2)
    l, r = torch.randn(B, 3, H, W, generator=g), torch.randn(B, 3, H, W, generator=g)
    gt = torch.rand(B, H, W, generator=g) * (max_disp - 1)
    if not train:
        their.eval(); mine.eval()
        with torch.no_grad():
            a = their(l, r, gt)                                     # their eval forward: the refined disparity
            b = mine({'ref_img': l, 'tgt_img': r})['inference_disp']['disp_est']
        print(f"  eval {B}x3x{H}x{W} max_disp {max_disp}: max|diff| {md(a, b):.3g} (disp mean {a.mean():.2f} std {a.std():.2f})")
        return
    their.train(); mine.train()
    loss1, loss2 = their(l, r, gt)
    total = 0.1 * loss1.mean() + loss2.mean(); total.backward()
    mask = (gt > 0) & (gt < max_disp)
    res = mine({'ref_img': l, 'tgt_img': r, 'disp_gt': gt, 'mask': mask})['training_disp']['disp']
    lm, info = LacGwcLoss()(**res, disp_gt=gt, mask=mask); lm.backward()
    tp = {n[len('module.'):]: q for n, q in their.named_parameters()}
    gd = max(md(q.grad, tp[n[len('net.'):]].grad) for n, q in mine.named_parameters() if q.grad is not None)
    gmax = max(q.grad.abs().max().item() for q in tp.values() if q.grad is not None)
    print(f"  train {B}x3x{H}x{W} max_disp {max_disp}: loss1 (smooth-L1 sum) theirs {loss1.item():.6f} ours "
          f"{info['scalar/train/loss_l1'].item():.6f}; loss2 (CE sum) theirs {loss2.item():.6f} ours "
          f"{info['scalar/train/loss_ce'].item():.6f}; 0.1·loss1 + loss2 diff {abs(total.item() - lm.item()):.3g}; "
          f"grads max|diff| {gd:.3g} (largest |grad| {gmax:.3g})")

if __name__ == '__main__':
    torch.set_num_threads(2)
    run(64, 128, 48, 2, train=False)
    run(64, 128, 48, 2, train=True)
    if not args.quick: run(256, 512, 192, 1, train=False)
