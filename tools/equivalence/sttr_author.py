"""Equivalence check: openstereo_nb's STTRNet (norm: batch) against the authors' STTR release (CPU, fp32).

Not a test (CI has no copy of their code). Get github.com/mli0603/stereo-transformer and point --author at it:
    python tools/equivalence/sttr_author.py --author /path/to/stereo-transformer     # ~1 min on 2 CPU cores
Their network is built with main.py's default arguments and random weights, saved as their main.py saves it
({'epoch', 'state_dict', 'optimizer', 'lr_scheduler', 'best_pred'}), loaded into ours with `load_checkpoint(strict=True)`,
and both predict one random 1×3×256×512 pair in eval mode (batch 1: their `_upsample` indexes `[None,]`)."""
import sys, argparse, tempfile, types
import torch

def build_author(path):
    sys.path.insert(0, path)
    from module.sttr import STTR
    from utilities.misc import NestedTensor
    args = types.SimpleNamespace(channel_dim=128, position_encoding='sine1d_rel', num_attn_layers=6, nheads=8, regression_head='ot',
                                 context_adjustment_layer='cal', cal_num_blocks=8, cal_feat_dim=16, cal_expansion_ratio=4)
    return STTR(args), NestedTensor

def build_ours():
    from openstereo_nb.modeling.models.sttr import STTRNet, sttr_loss_cfg
    base = {'max_disp': 192, 'downsample': 3, 'norm': 'batch'}
    return STTRNet({'model_cfg': {'model': 'STTRNet', 'base_config': base}, 'loss_cfg': sttr_loss_cfg(), 'trainer_cfg': {}}, is_training=False)

def map_weights(theirs, seed=0):
    "Non-trivial dustbin, BatchNorm and LayerNorm affine parameters, biases and weight-norm gains (the init leaves them constant)"
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in theirs.named_parameters():
            if n.endswith('phi'): p.fill_(0.7)
            elif p.ndim == 1: p.add_(torch.randn(p.shape, generator=g) * 0.1)   # BatchNorm and LayerNorm affine parameters, biases
            elif n.endswith('weight_g'): p.mul_(torch.rand(p.shape, generator=g) + 0.5)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--author', required=True, help='a checkout of mli0603/stereo-transformer')
    a = p.parse_args()
    sys.path.insert(0, str(__import__('pathlib').Path(__file__).resolve().parents[2]))
    from openstereo_nb.callbacks.checkpoint import load_checkpoint
    torch.manual_seed(0)
    theirs, NT = build_author(a.author)
    map_weights(theirs)
    ours = build_ours()
    with tempfile.TemporaryDirectory() as d:
        opt = torch.optim.AdamW(theirs.parameters(), 1e-4)
        torch.save({'epoch': 3, 'state_dict': theirs.state_dict(), 'optimizer': opt.state_dict(), 'lr_scheduler': {}, 'best_pred': 1.0}, f'{d}/model.pth.tar')
        ckpt = load_checkpoint(ours, f'{d}/model.pth.tar', strict=True)
    sd_t, sd_o = theirs.state_dict(), ours.state_dict()
    loaded = max((sd_o['net.' + k].float() - v.float()).abs().max().item() for k, v in sd_t.items() if not k.endswith('num_batches_tracked'))
    print(f"their tensors {len(sd_t)} ({sum(k.endswith('num_batches_tracked') for k in sd_t)} BatchNorm counters) / ours {len(sd_o)}; "
          f"max |loaded - theirs| {loaded:.3g}")
    theirs.eval(); ours.eval()
    H, W, s = 256, 512, 3
    g = torch.Generator().manual_seed(1)
    l, r = torch.randn(1, 3, H, W, generator=g), torch.randn(1, 3, H, W, generator=g)
    with torch.no_grad():
        t = theirs(NT(l, r, sampled_cols=torch.arange(s//2, W, s)[None], sampled_rows=torch.arange(s//2, H, s)[None]))
        o = ours({'ref_img': l, 'tgt_img': r})['inference_disp']
    for k, ko in (('disp_pred', 'disp_est'), ('occ_pred', 'occ_pred')):
        print(f"1×3×{H}×{W} eval {k:9s}: max|diff| {(t[k] - o[ko]).abs().max().item():.3g}   (theirs {t[k].mean():.3g} ± {t[k].std():.3g}, "
              f"{t[k].min():.3g} … {t[k].max():.3g})")
