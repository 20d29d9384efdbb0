"""Where the time goes: `torch.profiler` over one inference pass of each zoo model, ours and (with --ref) OpenStereo
v1's own implementation with the same weights on the same input, as the speed table's rows build them. Prints, per
model, the operators that take the most time (self CPU time, grouped: 2D and 3D convolutions apart, BatchNorm, the
rest by operator name) with their share of the pass, side by side for ours and v1.

  python bench/op_profile.py --ref /path/to/OpenStereo-v1/openstereo --timm /path/to/timm-0.5.4   # every v1 row
  python bench/op_profile.py psmnet gwcnet --threads 1 --shape 256 512

Each (model, implementation) runs in its own process: the model is built, one warm-up pass, then one profiled pass."""
import argparse, json, sys
from pathlib import Path
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import speed   # the speed table's rows: same models, weights and inputs

def category(name:str, shapes)->str:
    "An operator's group: 2D/3D convolution (by the input's rank), BatchNorm, or the operator's own name"
    if 'conv' in name and shapes and shapes[0]: return f"convolution {len(shapes[0]) - 2}D"
    if 'batch_norm' in name: return 'batch norm'
    return name

def profile_one(name, impl, ref, shape, threads)->dict:
    "{group: self CPU seconds} of one eval pass of `impl` ('ours' or 'v1'), after a warm-up"
    torch.set_num_threads(threads)
    model, fwd, _, patches, _, case = speed._models(name, impl, ref, False, shape)
    g = torch.Generator().manual_seed(1)
    x = {k: torch.randn(1, 3, *shape, generator=g) for k in ('ref_img', 'tgt_img')}
    from torch.profiler import profile, ProfilerActivity
    with patches, torch.no_grad():
        model.eval(); fwd(model, x)   # warm-up
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof: fwd(model, x)
    out = {}
    for e in prof.key_averages(group_by_input_shape=True):
        k = category(e.key, e.input_shapes)
        out[k] = out.get(k, 0.) + e.self_cpu_time_total / 1e6
    return out

def run(name, impl, ref, shape, threads, timm)->dict:
    "`profile_one` in a fresh process"
    return speed.in_fresh_process(__file__, [name, impl, '--shape', *shape, '--threads', threads], ref, timm)

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('models', nargs='*', help='equivalence rows (default: every v1 row)')
    p.add_argument('--ref', help="OpenStereo v1's openstereo/ folder (its column); without it, ours only")
    p.add_argument('--timm', help="a folder holding timm 0.5.4, v1's pin, for v1's CoEx")
    p.add_argument('--shape', nargs=2, type=int, default=[256, 512], metavar=('H', 'W'))
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--top', type=int, default=6, help='operator groups shown per model (by our time)')
    p.add_argument('--one', nargs=2, metavar=('MODEL', 'IMPL'), help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.one:
        speed.use_v1_timm(a.one[0], a.timm)
        print(json.dumps(profile_one(*a.one, a.ref, tuple(a.shape), a.threads))); return
    from equivalence import all_rows
    names = a.models or [r.name for r in all_rows() if r.ref == 'v1']
    import pandas as pd
    pd.set_option('display.width', 200)
    print(f"eval pass at 1×3×{a.shape[0]}×{a.shape[1]}, {a.threads} thread(s); self CPU time per operator group", flush=True)
    for name in names:
        res = {impl: run(name, impl, a.ref, a.shape, a.threads, a.timm) for impl in (['ours', 'v1'] if a.ref else ['ours'])}
        bad = {k: v['error'] for k, v in res.items() if 'error' in v}
        if bad: print(f"\n{name}: {bad}", flush=True); continue
        df = pd.DataFrame(res).fillna(0.)
        tot = df.sum()
        top = df.sort_values('ours', ascending=False).head(a.top)
        t = pd.DataFrame({f'{c} (s)': top[c].round(3) for c in df} | {f'{c} %': (100 * top[c] / tot[c]).round(1) for c in df})
        t.loc['total'] = [round(tot[c], 3) for c in df] + [100.0] * len(df.columns)
        print(f"\n{name}" + (f": v1 / ours = {tot['v1'] / tot['ours']:.2f}" if 'v1' in df else ''))
        print(t.to_string(), flush=True)

if __name__ == '__main__': main()
