"""Equivalence check: openstereo_nb's IGEV against the authors' release (github.com/gangweiX/IGEV, IGEV-Stereo/core), CPU, fp32.

Not a test (CI has no copy of their code). Point --author at their `IGEV-Stereo` folder:
    python tools/equivalence/igev_author.py --author /path/to/IGEV/IGEV-Stereo [--quick]
Their network is built with random weights and saved the way their train_stereo.py saves it
(`torch.save(nn.DataParallel(model).state_dict())`); ours loads that file with `load_checkpoint` (strict). Their
release has no slow-fast GRU schedule (one update per iteration; v1 added `slow_fast_gru`), so ours runs with
`slow_fast_gru: false`. timm's `create_model` is wrapped as in igev.py (no download, `act1` for timm >= 0.9)."""
import sys, argparse, tempfile, time
import torch, torch.nn as nn, timm
from types import SimpleNamespace

def patch_timm():
    create = timm.create_model
    def no_download(name, pretrained=False, **kw):
        m = create(name, pretrained=False, **kw)
        if not hasattr(m, 'act1'): m.act1 = nn.Identity()
        return m
    timm.create_model = no_download

def build_author(author, max_disp):
    patch_timm(); sys.path.insert(0, author)
    from core.igev_stereo import IGEVStereo
    args = SimpleNamespace(hidden_dims=[128]*3, n_downsample=2, n_gru_layers=3, max_disp=max_disp, corr_radius=4, corr_levels=2,
                           mixed_precision=False, precision_dtype='float32')
    return IGEVStereo(args)

def build_ours(max_disp, train_iters, valid_iters):
    from openstereo_nb.modeling.models.igev import IGEV
    b = {'max_disp': max_disp, 'hidden_dims': [128]*3, 'n_gru_layers': 3, 'n_downsample': 2, 'slow_fast_gru': False,
         'corr_levels': 2, 'corr_radius': 4, 'train_iters': train_iters, 'valid_iters': valid_iters}
    return IGEV({'data_cfg': {'name': 'Synthetic'}, 'model_cfg': {'model': 'IGEV', 'base_config': b},
                 'loss_cfg': [{'log_prefix': 'disp', 'type': 'IGEVLoss'}], 'trainer_cfg': {}}, is_training=False)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--author', required=True, help="their IGEV-Stereo folder (holding core/)")
    p.add_argument('--quick', action='store_true', help="1x3x64x128, 3 iterations")
    a = p.parse_args()
    sys.path.insert(0, __file__.rsplit('/', 1)[0])
    from _common import randomise, maxdiff, n_params
    from openstereo_nb.callbacks.checkpoint import load_checkpoint
    H, W, D, ti, vi = (64, 128, 64, 3, 3) if a.quick else (256, 512, 192, 22, 32)
    torch.manual_seed(0)
    theirs = randomise(build_author(a.author, D), 0, 10., head=r'^classifier\.weight$')
    mine = build_ours(D, ti, vi)
    with tempfile.TemporaryDirectory() as d:
        torch.save(nn.DataParallel(theirs).state_dict(), f'{d}/sceneflow.pth')
        load_checkpoint(mine, f'{d}/sceneflow.pth')
    sd_t = theirs.state_dict()
    loaded = max(maxdiff(v.float(), sd_t[k.removeprefix('net.')].float()) for k, v in mine.state_dict().items())
    print(f'IGEV: their {len(sd_t)} tensors loaded into ours ({len(mine.state_dict())}), max|diff| {loaded:.3g}; '
          f'parameters {n_params(theirs):,} / {n_params(mine):,}')
    g = torch.Generator().manual_seed(1)
    x = {'ref_img': torch.rand(1, 3, H, W, generator=g)*255, 'tgt_img': torch.rand(1, 3, H, W, generator=g)*255}
    t = time.time()
    mine.eval(); theirs.eval()
    with torch.no_grad():
        dm = mine(x)['inference_disp']['disp_est']
        dt = theirs(x['ref_img'], x['tgt_img'], iters=vi, test_mode=True).squeeze(1)
    print(f'  {H}x{W} max_disp {D} eval, {vi} iterations: max|diff| {maxdiff(dm, dt):.3g} (theirs mean {dt.mean():.2f} std {dt.std():.2f}; {time.time() - t:.1f}s)')
    t = time.time()
    mine.train(); theirs.train()
    gt = torch.rand(1, H, W, generator=g)*(D - 1)
    with torch.no_grad():
        td = mine({**x, 'disp_gt': gt, 'mask': gt > 0})['training_disp']['disp']
        init, preds = theirs(x['ref_img'], x['tgt_img'], iters=ti)
    diffs = [maxdiff(td['disp_init'], init.squeeze(1))] + [maxdiff(m, r.squeeze(1)) for m, r in zip(td['disp_ests'], preds)]
    print(f'  {H}x{W} max_disp {D} train, {ti} iterations: init {diffs[0]:.3g}, iterations max {max(diffs[1:]):.3g} '
          f'(last: theirs mean {preds[-1].mean():.2f}; {time.time() - t:.1f}s)')
