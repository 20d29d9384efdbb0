"""Equivalence check: openstereo_nb's FADNet against the authors' FADNet++ code (HKBU-HPML/FADNet, branch
`fadnet-pp`, the code OpenStereo v1 ported), through a checkpoint saved the way their `main.py` saves (CPU, fp32).

Not a test (CI has no copy of their code). Get their repository and point --ref at a checkout of `fadnet-pp`:
    git clone -b fadnet-pp https://github.com/HKBU-HPML/FADNet
    python tools/equivalence/fadnet_author.py --ref FADNet
Only `networks/{submodules,DispNetC,DispNetRes,FADNet}.py` are loaded (with importlib). Their correlation
(`build_corr`) is already pure torch on that branch; the first release's CUDA correlation, resampling and
channel-norm extensions are not used by it. Their weights are given to a checkpoint in their layout
({'round', 'epoch', 'arch', 'state_dict' from nn.DataParallel, 'best_EPE'}) that our `load_checkpoint` reads."""
import sys, types, importlib.util, argparse, tempfile, os, time
import torch, torch.nn as nn

_p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_p.add_argument('--ref', required=True, help="a checkout of HKBU-HPML/FADNet, branch fadnet-pp")
_p.add_argument('--shape', type=int, nargs=2, default=[256, 512], help="input height and width (multiples of 64)")
ARGS = _p.parse_args()

if not hasattr(nn.init, 'kaiming_normal'): nn.init.kaiming_normal = nn.init.kaiming_normal_   # their deprecated alias
torch.Tensor.cuda = lambda self, *a, **k: self

def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec); sys.modules[name] = mod; spec.loader.exec_module(mod)
    return mod

pkg = types.ModuleType('networks'); pkg.__path__ = [f'{ARGS.ref}/networks']; sys.modules['networks'] = pkg
for m in ('submodules', 'DispNetC', 'DispNetRes'): load(f'networks.{m}', f'{ARGS.ref}/networks/{m}.py')
theirs_mod = load('networks.FADNet', f'{ARGS.ref}/networks/FADNet.py')

from openstereo_nb.modeling.models.fadnet import FADNet
from openstereo_nb.callbacks.checkpoint import load_checkpoint

def config(max_disp=192):
    st = {'resBlock': True, 'encoder_ratio': 16, 'decoder_ratio': 16}
    return {'data_cfg': {'name': 'Synthetic'},
            'model_cfg': {'model': 'FADNet', 'base_config': {'max_disp': max_disp},
                          'backbone_cfg': {'type': 'FadnetBackbone', 'maxdisp': max_disp, 'input_channel': 3, **st},
                          'cost_processor_cfg': {'type': 'FADAggregator', 'maxdisp': max_disp, 'input_channel': 3, **st},
                          'disp_processor_cfg': {'type': 'DispNetRes', 'in_planes': 11, **st}},
            'loss_cfg': [{'log_prefix': 'dispnetres_flows', 'type': 'MultiScaleLoss'}], 'trainer_cfg': {}}

def maxdiff(a, b): return (a - b).abs().max().item()

if __name__ == '__main__':
    torch.set_num_threads(2)
    torch.manual_seed(0)
    net = theirs_mod.FADNet(resBlock=True, maxdisp=192, input_channel=3, encoder_ratio=16, decoder_ratio=16)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():   # non-trivial BatchNorm statistics and affine parameters
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 0.8 + 0.6)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
    sd = {'module.' + k: v for k, v in net.state_dict().items()}   # saved from nn.DataParallel
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, 'fadnet_0_0.pth')
        torch.save({'round': 1, 'epoch': 1, 'arch': 'dispnet', 'state_dict': sd, 'best_EPE': 0.0}, path)
        ours = FADNet(config(), is_training=False)
        load_checkpoint(ours, path)   # strict: every tensor of theirs has a place in ours and vice versa
    print(f'their checkpoint: {len(sd)} tensors, loaded into ours with strict=True; prefixes '
          f'{sorted({k.split(".")[1] for k in sd})}')
    H, W = ARGS.shape
    x = torch.randn(1, 3, H, W, generator=g), torch.randn(1, 3, H, W, generator=g)
    net.eval(); ours.eval()
    t = time.time()
    with torch.no_grad():
        c_final, r_final = net(torch.cat(x, 1))
        out = ours({'ref_img': x[0], 'tgt_img': x[1]})['inference_disp']['disp_est']
    print(f'1x3x{H}x{W} eval: disp_est max|diff| {maxdiff(out, r_final.squeeze(1)):.3g} (theirs: mean {r_final.mean():.2f} '
          f'std {r_final.std():.2f} max {r_final.max():.2f}; {time.time() - t:.1f}s)')
    net.train(); ours.train()
    gt = torch.rand(1, H, W, generator=g) * 192
    with torch.no_grad():
        c_flows, r_flows = net(torch.cat(x, 1))
        o = ours({'ref_img': x[0], 'tgt_img': x[1], 'disp_gt': gt, 'mask': gt > 0})['training_disp']
    for name, th, k in (('DispNet-C', c_flows, 'dispnetc_flows'), ('DispNetRes', r_flows, 'dispnetres_flows')):
        print(f'1x3x{H}x{W} train {name}: max|diff| per scale ' +
              ' / '.join(f'{maxdiff(a, b.squeeze(1)):.3g}' for a, b in zip(o[k]['disp_ests'], th)))
