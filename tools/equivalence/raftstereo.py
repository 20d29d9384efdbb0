"""Equivalence check: openstereo_nb's RAFTStereo against the authors' release (github.com/princeton-vl/RAFT-Stereo), CPU, fp32.

Not a test (CI has no copy of the reference). Point --ref at a checkout of their repository (the folder holding `core/`):
    python tools/equivalence/raftstereo.py --ref /path/to/RAFT-Stereo            # 1x3x256x512, eval 32 iterations, train 22
    python tools/equivalence/raftstereo.py --ref /path/to/RAFT-Stereo --quick    # 1x3x64x128, fewer iterations
Their model gets images in 0..255 and normalises them to [-1, 1] itself; ours takes the pipeline's normalised images
(configs: NormalizeImage mean 0.5, std 0.5), so ours is fed 2*img/255 - 1. Their flow is -disparity; ours returns disparity."""
import sys, types, argparse, time
import torch, torch.nn as nn

def build_ref(ref_dir, args):
    "The authors' RAFTStereo, loaded from their core/ (opt_einsum stubbed if missing: imported, not used)"
    try: import opt_einsum  # noqa
    except ImportError: sys.modules['opt_einsum'] = types.SimpleNamespace(contract=None)
    sys.path.insert(0, ref_dir)
    from core.raft_stereo import RAFTStereo as Ref
    return Ref(args)

def ref_args(variant, corr):
    a = dict(hidden_dims=[128]*3, corr_implementation=corr, shared_backbone=False, corr_levels=4, corr_radius=4, n_downsample=2,
             context_norm='batch', slow_fast_gru=False, n_gru_layers=3, mixed_precision=False)
    if variant == 'realtime': a.update(shared_backbone=True, n_downsample=3, n_gru_layers=2, slow_fast_gru=True)
    return argparse.Namespace(**a)

def build_ours(variant, corr, train_iters, valid_iters):
    from openstereo_nb.modeling.models.raftstereo import RAFTStereo
    a = vars(ref_args(variant, corr))
    bc = {**a, 'max_disp': 192, 'train_iters': train_iters, 'valid_iters': valid_iters}
    cfg = {'data_cfg': {'name': 'Synthetic'}, 'model_cfg': {'model': 'RAFTStereo', 'base_config': bc},
           'loss_cfg': [{'log_prefix': 'disp', 'type': 'SequenceLoss'}], 'trainer_cfg': {}}
    return RAFTStereo(cfg)

def map_weights(ref, ours, seed=0):
    "Random weights (BatchNorm statistics and affine too) saved as their train_stereo.py does (DataParallel: `module.`), loaded into ours with convert_checkpoint + strict=True"
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for k, v in ref.state_dict().items():
            if k.endswith('running_mean'): v.copy_(torch.randn(v.shape, generator=g)*0.2)
            elif k.endswith('running_var'): v.copy_(torch.rand(v.shape, generator=g)*1.5 + 0.5)
        for m in ref.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g)*0.8 + 0.6); m.bias.copy_(torch.randn(m.bias.shape, generator=g)*0.1)
        ref.update_block.flow_head.conv2.weight.mul_(4.)   # larger updates: the disparities move over tens of pixels
    sd = {'module.' + k: v for k, v in ref.state_dict().items()}
    ours.load_state_dict(ours.convert_checkpoint(sd), strict=True)
    return len(sd), len(ours.state_dict())

def outputs_to_compare(ref, ours, H, W, train_iters, valid_iters, seed=1, floor=False):
    g = torch.Generator().manual_seed(seed)
    img1, img2 = torch.rand(1, 3, H, W, generator=g)*255, torch.rand(1, 3, H, W, generator=g)*255
    x = {'ref_img': 2*img1/255 - 1, 'tgt_img': 2*img2/255 - 1}
    res = {}
    ref.eval(); ours.eval()
    with torch.no_grad():
        _, up = ref(img1, img2, iters=valid_iters, test_mode=True)
        d = ours(x)['inference_disp']['disp_est']
    res['eval'] = ((-up[:, 0] - d).abs().max().item(), d.mean().item(), d.std().item())
    ref.train(); ref.freeze_bn(); ours.train()     # the authors train with BatchNorm frozen; ours freezes it (freeze_bn)
    with torch.no_grad():
        pr = ref(img1, img2, iters=train_iters)
        po = ours({**x, 'disp_gt': torch.zeros(1, H, W), 'mask': torch.ones(1, H, W, dtype=torch.bool)})['training_disp']['disp']['disp_ests']
    assert len(pr) == len(po) == train_iters
    res['train'] = max((-a[:, 0] - b).abs().max().item() for a, b in zip(pr, po))
    if floor:   # fp32's own floor: the authors' model against itself with the left image changed in its last bit (one ulp)
        with torch.no_grad(): p2 = ref(torch.nextafter(img1, torch.full_like(img1, 1e9)), img2, iters=train_iters)
        res['floor'] = max((a - b).abs().max().item() for a, b in zip(pr, p2))
    return res

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--ref', required=True, help="checkout of princeton-vl/RAFT-Stereo (the folder holding core/)")
    p.add_argument('--quick', action='store_true', help='1x3x64x128, 4 train / 6 eval iterations')
    p.add_argument('--variants', default='standard,realtime')
    p.add_argument('--corrs', default='reg,alt')
    p.add_argument('--floor', action='store_true', help="also the authors' model against itself on a batch of two (fp32 floor, train outputs: the left image one ulp off)")
    a = p.parse_args()
    H, W, ti, vi = (64, 128, 4, 6) if a.quick else (256, 512, 22, 32)
    torch.set_grad_enabled(True)
    for variant in a.variants.split(','):
        tv, vv = (ti, 7 if not a.quick else vi) if variant == 'realtime' else (ti, vi)
        for corr in a.corrs.split(','):
            t = time.time()
            torch.manual_seed(0)
            ref = build_ref(a.ref, ref_args(variant, corr)); ours = build_ours(variant, corr, tv, vv)
            nr, no = map_weights(ref, ours)
            r = outputs_to_compare(ref, ours, H, W, tv, vv, floor=a.floor)
            print(f'{variant:8s} {corr}: keys {nr}/{no}; 1x3x{H}x{W} eval ({vv} iters) max|diff| {r["eval"][0]:.3g} '
                  f'(disp mean {r["eval"][1]:.2f} std {r["eval"][2]:.2f}); train ({tv} iters, all predictions) max|diff| {r["train"]:.3g} '
                  + (f'; theirs vs theirs on a left image one ulp off (fp32 floor) {r["floor"]:.3g}' if a.floor else '') + f' [{time.time()-t:.0f}s]', flush=True)
