"""Speed of the zoo, measured: training step and inference latency, peak memory and FLOPs of every zoo model, as a
ratio against OpenStereo v1's own implementation of the same model run here, in this session, on the same input and
the same weights, and achieved FLOP/s as a fraction of this machine's measured fp32 matmul peak.

  python bench/speed.py --quick --ref /path/to/OpenStereo-v1/openstereo   # PSMNet and GwcNet: 3.4 min on 2 idle CPU cores
  python bench/speed.py --ref /path/to/OpenStereo-v1/openstereo           # every zoo model (long on a CPU)
  python bench/speed.py --quick                                           # ours only: no reference column
  python bench/speed.py gwcnet coex --ref ...                             # some models (equivalence rows)
  python bench/speed.py --quick --variants bf16 compile                   # ours under bf16 autocast and torch.compile too
  python bench/speed.py --ref ... --timm /path/to/timm-0.5.4              # v1's CoEx with v1's timm pin, as tools/equivalence.py

Each figure comes from a fresh process (`--one`): the model built, weights copied (ours → v1's, as the equivalence
rows do), one warm-up, then the median of `--repeats` timed runs; on a GPU `torch.cuda.synchronize()` before every
clock read. Peak memory is the process's peak resident set (CPU) or `torch.cuda.max_memory_allocated` (GPU), above
what the process held before the model was built. Training step = forward + loss + backward + Adam step, batch 1 at
256×512; inference = an eval forward pass at 384×1248 (KITTI's size, padded to the model's divisor). The reference
column needs a local checkout of OpenStereo's v1 branch (never committed); v1 is loaded file by file through the rows
of tools/equivalence.py. Results are printed as a pandas table; --out FILE also writes it (bench/results/speed.md is
what the docs page shows)."""
import argparse, json, os, resource, subprocess, sys, time
from pathlib import Path
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
TRAIN_SHAPE, INFER_SHAPE = (256, 512), (384, 1248)
QUICK = ['psmnet', 'gwcnet']   # the models the targets name first

def _sync(dev):
    if dev.type == 'cuda': torch.cuda.synchronize()

def _median(xs): return sorted(xs)[len(xs) // 2]

def matmul_peak(dev, n=2048, repeats=5)->float:
    "This machine's fp32 matmul rate (FLOP/s): the physical ceiling the models are compared with"
    a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
    a @ b; _sync(dev)
    ts = []
    for _ in range(repeats):
        t = time.perf_counter(); a @ b; _sync(dev); ts.append(time.perf_counter() - t)
    return 2 * n**3 / _median(ts)

def _row(name):
    "The equivalence row of `name` (its v1 reference builders)"
    from equivalence import all_rows
    rows = {r.name: r for r in all_rows()}
    if name not in rows: raise SystemExit(f"no equivalence row {name!r}; rows: {', '.join(rows)}")
    return rows[name]

def _models(name, impl, ref, train, shape=None):
    "(model, forward(x) -> outputs, loss(outputs, batch) -> tensor) for `impl` 'ours' or 'v1', at `shape` (H, W) or the default"
    row = _row(name)
    from equivalence import patched
    if ref is None and impl == 'v1': raise SystemExit('the v1 column needs --ref')
    from types import SimpleNamespace
    if ref: ns = row.setup(ref)
    else:   # without --ref, ours only: nothing of v1 is loaded (functions the row makes from its namespace get a bare one)
        ns = SimpleNamespace()
        for field, make in getattr(row, 'makers', {}).items():
            if not field.endswith('_ref'): setattr(row, field, make(ns))
    H, W = shape or (TRAIN_SHAPE if train else INFER_SHAPE)
    case = {**row.cases(False)[-1], 'H': H, 'W': W, 'D': 192, 'B': 1, 'seed': 0}   # the row's own keys (e.g. GwcNet's variant)
    ns.case = case
    with patched(*row.patches(ns)):   # built under the row's patches too (e.g. v1's timm models: no download)
        torch.manual_seed(0)
        mine = row.randomise(row.ours(ns, case), 0, case)
        if not train and shape is None:   # KITTI's frame padded up to the model's divisor (FADNet: 64 → 384×1280), for both
            from openstereo_nb.modeling.base_model import model_divisor
            d = model_divisor(mine)
            case['H'], case['W'] = -(-H // d) * d, -(-W // d) * d
        if impl != 'v1': model, fwd, trn = mine, row.eval_ours, row.train_ours   # ours, in fp32 or as a variant (bf16, compile)
        else:
            model = row.reference(ns, case); model.load_state_dict(mine.state_dict(), strict=True)
            fwd, trn = row.eval_ref, row.train_ref
            del mine
    return model, fwd, trn, patched(*row.patches(ns)), row.gt, case

def measure_one(name, impl, mode, ref, repeats, device)->dict:
    "One figure set in this process: time, peak memory and FLOPs of `impl` ('ours'/'v1') in `mode` ('train'/'infer')"
    dev = torch.device(device)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    model, fwd, trn, patches, gt_fn, case = _models(name, impl, ref, mode == 'train')
    model = model.to(dev)
    H, W = case['H'], case['W']
    g = torch.Generator().manual_seed(1)
    x = {'ref_img': torch.randn(1, 3, H, W, generator=g).to(dev), 'tgt_img': torch.randn(1, 3, H, W, generator=g).to(dev)}
    if dev.type == 'cuda': torch.cuda.reset_peak_memory_stats()
    ts, flops, diff = [], None, None
    amp = torch.autocast(dev.type, dtype=torch.bfloat16 if impl == 'bf16' else torch.float16, enabled=impl in ('bf16', 'fp16'))
    with patches:
        if mode == 'infer':
            model.eval()
            with torch.no_grad():
                if impl in ('bf16', 'fp16', 'compile'):   # the variant's effect on the output: max |variant − fp32 eager|
                    ref_out = fwd(model, x)
                    if impl == 'compile': model.compile()
                    with amp: out = fwd(model, x)
                    d = torch.cat([(out[k].float() - ref_out[k].float()).abs().flatten() for k in ref_out])
                    diff = (d.max().item(), d.mean().item())
                def run():
                    with amp: return fwd(model, x)
                from torch.utils.flop_counter import FlopCounterMode
                if impl != 'compile':
                    with FlopCounterMode(display=False) as fc: run()
                    flops = fc.get_total_flops()
                for _ in range(repeats):
                    _sync(dev); t = time.perf_counter(); run(); _sync(dev); ts.append(time.perf_counter() - t)
        else:
            gt = gt_fn(g, 1, H, W, case['D'])   # (disp_gt, mask), or a dict of training inputs (STTR: occlusion masks)
            gt = gt if isinstance(gt, dict) else dict(zip(('disp_gt', 'mask'), gt))
            xt = {**x, **{k: v.to(dev) for k, v in gt.items()}}
            opt = torch.optim.Adam(model.parameters(), lr=1e-4)
            model.train()
            if impl == 'compile': model.compile()
            def step():
                opt.zero_grad(set_to_none=True)
                with amp: _, loss = trn(model, xt)
                loss.backward(); opt.step()
            step()   # warm-up (and the optimizer's state)
            for _ in range(repeats):
                _sync(dev); t = time.perf_counter(); step(); _sync(dev); ts.append(time.perf_counter() - t)
    peak = (torch.cuda.max_memory_allocated() / 2**20 if dev.type == 'cuda'
            else (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024)   # ru_maxrss: KiB on Linux
    return {'time_s': _median(ts), 'peak_mib': peak, 'flops': flops, 'diff': diff}

def in_fresh_process(script, args, ref=None, timm=None)->dict:
    "Run `script --one ...args` in its own process and return the JSON it prints last, or {'error': its last stderr line}"
    cmd = [sys.executable, str(script), '--one', *map(str, args)] + (['--ref', ref] if ref else []) + (['--timm', timm] if timm else [])
    res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, 'PYTHONWARNINGS': 'ignore'})
    if res.returncode: return {'error': (res.stderr.strip().splitlines() or ['?'])[-1][:120]}
    return json.loads(res.stdout.strip().splitlines()[-1])

def use_v1_timm(name, timm):
    "In a `--one` process: import timm from the `timm` folder (v1's pin) when the row wants it, as the equivalence tool does"
    if timm and _row(name).timm: sys.path.insert(0, timm)

def measure(name, impl, mode, ref, repeats, device, timm=None)->dict:
    "`measure_one` in a fresh process (so that its peak memory is its own)"
    return in_fresh_process(__file__, [name, impl, mode, '--repeats', repeats, '--device', device], ref, timm)

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('models', nargs='*', help='equivalence rows to measure (default: every v1 row; --quick: psmnet gwcnet)')
    p.add_argument('--ref', help="OpenStereo v1's openstereo/ folder (the reference column); without it, ours only")
    p.add_argument('--quick', action='store_true', help='PSMNet and GwcNet, 1 timed run each after the warm-up')
    p.add_argument('--repeats', type=int, default=None, help='timed runs after the warm-up (default 3; --quick 1)')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--variants', nargs='*', default=[], choices=['bf16', 'fp16', 'compile'],
                   help="ours also under autocast (bf16: CPU or GPU; fp16: GPU) or torch.compile: time and max |output - fp32|")
    p.add_argument('--timm', help="a folder holding timm 0.5.4, v1's pin, for v1's CoEx (as in tools/equivalence.py)")
    p.add_argument('--out', help='also write the table (markdown) to this file')
    p.add_argument('--one', nargs=3, metavar=('MODEL', 'IMPL', 'MODE'), help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    repeats = a.repeats or (1 if a.quick else 3)
    if a.one:
        use_v1_timm(a.one[0], a.timm)
        print(json.dumps(measure_one(*a.one, a.ref, repeats, a.device))); return
    if a.models: names = a.models
    elif a.quick: names = QUICK
    else:
        from equivalence import all_rows
        names = [r.name for r in all_rows() if r.ref == 'v1']
    import pandas as pd
    peak = matmul_peak(torch.device(a.device))
    print(f"{a.device}: fp32 matmul peak {peak / 1e9:.1f} GFLOP/s; torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)
    rows = []
    for name in names:
        r = {'model': name}
        for mode in ('train', 'infer'):
            ours = measure(name, 'ours', mode, a.ref, repeats, a.device, a.timm)
            v1 = measure(name, 'v1', mode, a.ref, repeats, a.device, a.timm) if a.ref else {}
            key = 'train step' if mode == 'train' else 'inference'
            if 'error' in ours: r[f'{key} (s)'] = ours['error']; continue
            r[f'{key} (s)'] = round(ours['time_s'], 3)
            r[f'{key} peak (MiB)'] = round(ours['peak_mib'])
            if v1 and 'error' not in v1:
                r[f'{key} v1 (s)'] = round(v1['time_s'], 3)
                r[f'{key} speed-up ×'] = round(v1['time_s'] / ours['time_s'], 2)
                r[f'{key} peak v1 (MiB)'] = round(v1['peak_mib'])
            elif v1: r[f'{key} v1 (s)'] = v1['error']
            for v in a.variants:
                o = measure(name, v, mode, a.ref, repeats, a.device, a.timm)
                if 'error' in o: r[f'{key} {v} (s)'] = o['error']; continue
                r[f'{key} {v} speed-up ×'] = round(ours['time_s'] / o['time_s'], 2)
                if o.get('diff') is not None:
                    r[f'{v} max |Δ output| (px)'], r[f'{v} mean |Δ output| (px)'] = (float(f"{x:.3g}") for x in o['diff'])
            if mode == 'infer' and ours.get('flops'):
                r['GFLOPs (infer)'] = round(ours['flops'] / 1e9, 1)
                r['% of matmul peak'] = round(100 * ours['flops'] / ours['time_s'] / peak, 1)
        rows.append(r)
        print(pd.DataFrame([r]).set_index('model').T.to_string(), flush=True)
    table = pd.DataFrame(rows).set_index('model')
    print('\n' + table.to_string())
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(f"{a.device}, fp32 matmul peak {peak / 1e9:.1f} GFLOP/s, torch {torch.__version__}, "
                               f"{torch.get_num_threads()} threads, {repeats} timed runs (median) after a warm-up\n\n"
                               + table.to_string() + '\n')

if __name__ == '__main__': main()
