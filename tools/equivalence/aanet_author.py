"""Equivalence check: openstereo_nb's AANet against the authors' code (haofeixu/aanet), through a checkpoint saved
the way their train.py saves it (CPU, fp32).

Not a test. Get the authors' repository and point --ref at it (the folder holding `nets/`):
    git clone https://github.com/haofeixu/aanet
    python tools/equivalence/aanet_author.py --ref aanet            # about a minute on 2 CPU cores
Their `nets/` package is imported as it is, except its CUDA deformable convolution (`nets/deform_conv`), which is
replaced HERE ONLY by the torchvision stand-in of `aanet.py` (same classes and parameter names). Their randomly
initialised AANet (v1's settings: AANet features, FPN, correlation, adaptive aggregation, StereoDRNet refinement;
random BatchNorm statistics and offset convs) is saved as `{'epoch', 'num_iter', 'epe', 'best_epe', 'best_epoch',
'state_dict'}` with `nn.DataParallel`'s `module.` prefixes, loaded into ours with `load_checkpoint` (strict), and the
two are compared on one pair."""
import sys, types, argparse, tempfile, time
import torch, torch.nn as nn
import aanet as eq   # tools/equivalence/aanet.py: the stand-in, randomise, maxdiff

def build_author(ref):
    eq.install_standin()
    sys.modules['nets.deform_conv'] = sys.modules['libs.AANet.deform_conv']
    sys.path.insert(0, ref)
    from nets.aanet import AANet as AuthorAANet
    return AuthorAANet(192, num_downsample=2, feature_type='aanet', no_feature_mdconv=False, feature_pyramid=False,
                       feature_pyramid_network=True, feature_similarity='correlation', aggregation_type='adaptive',
                       num_scales=3, num_fusions=6, deformable_groups=2, mdconv_dilation=2, refinement_type='stereodrnet',
                       no_intermediate_supervision=False, num_stage_blocks=1, num_deform_blocks=3)

if __name__ == '__main__':
    _p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _p.add_argument('--ref', required=True, help="the authors' repository (the folder holding nets/)")
    ARGS = _p.parse_args()
    from openstereo_nb.modeling.models.aanet import AANet
    from openstereo_nb.callbacks.checkpoint import load_checkpoint
    torch.manual_seed(0)
    author = eq.randomise(build_author(ARGS.ref), 0)
    with tempfile.TemporaryDirectory() as d:
        torch.save({'epoch': 64, 'num_iter': 1000, 'epe': 0.87, 'best_epe': 0.87, 'best_epoch': 63,
                    'state_dict': nn.DataParallel(author).state_dict()}, f'{d}/aanet_best.pth')
        mine = AANet(eq.config(192), is_training=False)
        load_checkpoint(mine, f'{d}/aanet_best.pth')
    n = len(author.state_dict())
    assert n == len(mine.state_dict())
    print(f"the authors' checkpoint ({n} tensors, module. prefixes) loads into ours with strict=True; "
          f"parameters ours {eq.n_params(mine):,} / theirs {eq.n_params(author):,}")
    g = torch.Generator().manual_seed(1)
    for H, W in ((288, 576), (48, 96)):
        l, r = torch.randn(1, 3, H, W, generator=g), torch.randn(1, 3, H, W, generator=g)
        t = time.time()
        author.eval(); mine.eval()
        with torch.no_grad():
            dm = mine({'ref_img': l, 'tgt_img': r})['inference_disp']['disp_est']; da = author(l, r)[-1]
        print(f'  1x3x{H}x{W} eval : disp_est max|diff| {eq.maxdiff(dm, da):.3g} ({eq.stats(da)})')
        author.train(); mine.train()
        gt = torch.rand(1, H, W, generator=g) * 150
        pm = mine({'ref_img': l, 'tgt_img': r, 'disp_gt': gt, 'mask': gt > 0})['training_disp']['disparity_pyramid']['disp_ests']
        pa = author(l, r)
        print(f'  1x3x{H}x{W} train: max|diff| per map (1/12, 1/6, 1/3, 1/2, 1) {", ".join(f"{eq.maxdiff(a, b):.3g}" for a, b in zip(pm, pa))} '
              f'({eq.stats(pa[-1])}; {time.time()-t:.1f}s)')
