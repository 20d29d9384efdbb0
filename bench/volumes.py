"""Cost-volume construction: the library's per-disparity fill (`openstereo_nb.modeling.layers.per_disparity`, as
OpenStereo's loops) against the all-disparities-at-once formulation it replaced (one strided product or one gather
over every disparity, written out below), for PSMNet's concatenation volume and GwcNet's group-wise correlation at
the feature sizes of a 256×512 training crop and a 384×1248 KITTI frame (1/4 resolution, 48 disparities).

    python bench/volumes.py              # ~1 min on 2 CPU cores
    python bench/volumes.py --threads 1

Prints one row per case: the best of --repeats CPU-time measurements (process time, so other jobs on the machine
disturb it less than wall time) of the forward pass and of forward + backward, for both, their ratio, and the
largest difference between the two volumes (0: the same numbers)."""
import argparse, time
import torch, torch.nn.functional as F
from openstereo_nb.modeling.layers import cat_fms, gwc_volume

def gwc_at_once(ref, tgt, D, G):
    "Every disparity in one product of the reference with a strided (unfolded) view of the padded target"
    B, C, H, W = ref.shape
    shifted = F.pad(tgt, (D - 1, 0)).unfold(-1, D, 1)                     # B×C×H×W×D, window k ↔ disparity D−1−k
    cost = (ref.unsqueeze(-1) * shifted).view(B, G, C // G, H, W, D).mean(2)
    return cost.flip(-1).permute(0, 1, 4, 2, 3).contiguous()

def cat_at_once(ref, tgt, D):
    "Every disparity in one gather of target columns, masked where x − d is off the image"
    B, C, H, W = ref.shape
    d = torch.arange(D)
    src = torch.arange(W) - d[:, None]
    valid = ((src >= 0) & (src < W))[:, None, :]
    t = tgt[..., src.clamp(0, W - 1)].permute(0, 1, 3, 2, 4)
    zero = ref.new_zeros(())
    return torch.cat([torch.where(valid, ref.unsqueeze(2), zero), torch.where(valid, t, zero)], 1).contiguous()

def cpu_time(f, repeats):
    f(); best = float('inf')
    for _ in range(repeats):
        t = time.process_time(); f(); best = min(best, time.process_time() - t)
    return best

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--threads', type=int, default=None)
    p.add_argument('--repeats', type=int, default=3)
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    import pandas as pd
    rows = []
    for size, (h, w) in {'256×512': (64, 128), '384×1248': (96, 312)}.items():
        for vol, C, ours, theirs in [('PSMNet cat_fms', 32, lambda r, t: cat_fms(r, t, 48), lambda r, t: cat_at_once(r, t, 48)),
                                     ('GwcNet gwc_volume', 320, lambda r, t: gwc_volume(r, t, 48, 40), lambda r, t: gwc_at_once(r, t, 48, 40))]:
            g = torch.Generator().manual_seed(0)
            ref, tgt = torch.randn(1, C, h, w, generator=g), torch.randn(1, C, h, w, generator=g)
            r2, t2 = ref.clone().requires_grad_(), tgt.clone().requires_grad_()
            def fb(fn): return lambda: fn(r2, t2).sum().backward()
            with torch.no_grad():
                fo, fa = cpu_time(lambda: ours(ref, tgt), a.repeats), cpu_time(lambda: theirs(ref, tgt), a.repeats)
                diff = (ours(ref, tgt) - theirs(ref, tgt)).abs().max().item()
            bo, ba = cpu_time(fb(ours), a.repeats), cpu_time(fb(theirs), a.repeats)
            rows.append({'volume': vol, 'image': size, 'forward per-disparity (s)': fo, 'forward at once (s)': fa,
                         'forward speed-up ×': fa / fo, 'fwd+bwd per-disparity (s)': bo, 'fwd+bwd at once (s)': ba,
                         'fwd+bwd speed-up ×': ba / bo, 'max |Δ|': diff})
            print(f'{vol} at {size}: done', flush=True)
    print('\n' + pd.DataFrame(rows).round(3).to_string(index=False))
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, best of {a.repeats} (CPU time)')

if __name__ == '__main__': main()
