"""The quick start, measured. Trains `configs/quickstart.yaml` exactly as `openstereo_train configs/quickstart.yaml`
does (the `train` function of `openstereo_nb.cli`, in this process) and prints its wall time, its CPU time
(user + sys of this process and its children: on a shared machine the wall time is pessimistic, and on an idle
2-core machine the wall time is about (user + sys)/2) and the final validation metrics, then the curve
(epoch, time, validation EPE and D1) from the run's metrics.csv.

  python bench/quickstart.py                      # the quick start (target: ≤ 5 min on 2 idle cores, val EPE < 1.5 px)
  python bench/quickstart.py --recipe 1h          # configs/synthetic_1h.yaml (≤ 1 hour on 2 cores): its curve
  python bench/quickstart.py --curve RUN_DIR      # print the curve of a finished run, train nothing
  python bench/quickstart.py --gen                # generator samples/s against the model's training samples/s
  python bench/quickstart.py --set trainer_cfg.total_epoch=1 data_cfg.num_train=64   # dotted overrides

Results are printed; with --out FILE they are also appended to FILE."""
import argparse, resource, sys, time
from pathlib import Path
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
RECIPES = {'quick': ROOT/'configs'/'quickstart.yaml', '1h': ROOT/'configs'/'synthetic_1h.yaml',
           'psmnet': ROOT/'configs'/'psmnet_quickstart.yaml'}

def cpu_seconds()->float:
    "user + sys CPU seconds of this process and its finished children"
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime

def curve(run_dir)->pd.DataFrame:
    "epoch, cumulative training time (s), validation EPE and D1 of a run folder's metrics.csv"
    m = pd.read_csv(Path(run_dir)/'metrics.csv')
    secs = m['time'].map(lambda t: sum(int(x)*60**i for i, x in enumerate(reversed(str(t).split(':')))))
    cols = {'epoch': m['epoch'] + 1, 'time_s': secs.cumsum(), 'train_loss': m['train_loss']}
    for k in ('epe', 'd1_all', 'bad_1', 'bad_3'):
        if k in m: cols[k] = m[k]
    return pd.DataFrame(cols).round(3)

def run(cfg_path, overrides:dict, threads:int):
    "Train `cfg_path` as openstereo_train does; print wall and CPU time, final metrics and the curve"
    from openstereo_nb.cli import train
    import matplotlib; matplotlib.use('Agg')
    torch.set_num_threads(threads)
    w0, c0 = time.time(), cpu_seconds()
    learn = train(str(cfg_path), overrides)
    wall, cpu = time.time() - w0, cpu_seconds() - c0
    table = curve(learn.run_dir)
    if table.empty: return f"config: {cfg_path} {overrides or ''}\nno epoch finished (max_iter?): nothing validated; run folder {learn.run_dir}"
    lines = [f"config: {cfg_path} {overrides or ''}",
             f"wall time: {wall:.0f} s; CPU time (user+sys): {cpu:.0f} s, i.e. about {cpu/2:.0f} s on 2 idle cores "
             f"(torch threads: {threads}; load average now {' '.join(f'{x:.1f}' for x in __import__('os').getloadavg())})",
             "final validation metrics:", table.iloc[-1:].to_string(index=False),
             "curve:", table.to_string(index=False),
             f"run folder: {learn.run_dir} (prediction.png, live_view/dashboard.png)"]
    return '\n'.join(lines)

def gen_speed(cfg_path, overrides:dict, threads:int, n:int=64):
    "Samples/s of the data pipeline (generator + transforms + collate) and of the model's training step, same config"
    from openstereo_nb.config import load_config
    from openstereo_nb.learner import stereo_learner
    torch.set_num_threads(threads)
    cfg = load_config(str(cfg_path), overrides=overrides)
    learn = stereo_learner(cfg)
    dl, bs = learn.dls.train, cfg['data_cfg']['train_batch_size']
    it, w0, c0, got = iter(dl), time.time(), cpu_seconds(), 0
    while got < n: b = next(it); got += len(b[0]['ref_img']) if isinstance(b, tuple) else len(b['ref_img'])
    data_w, data_c = got/(time.time() - w0), got/(cpu_seconds() - c0)
    from openstereo_nb.callbacks.schedule import MaxIterCallback
    steps = max(n//bs, 3)
    with learn.no_bar(), learn.no_logging():
        learn.fit(1, cbs=[MaxIterCallback(1)])                # warm up (first-call allocations)
        w0, c0 = time.time(), cpu_seconds()
        learn.fit(1, cbs=[MaxIterCallback(steps)])            # training loop only: it stops before validation
    step_w, step_c = steps*bs/(time.time() - w0), steps*bs/(cpu_seconds() - c0)
    return (f"config: {cfg_path}\n"
            f"data pipeline (generate {tuple(cfg['data_cfg']['size'])} pairs + transforms + collate, 0 workers): "
            f"{data_w:.0f} samples/s wall, {data_c:.0f} samples per CPU-second\n"
            f"training ({learn.cfgs['model_cfg']['model']}, batch {bs}: data + forward + backward + optimiser step): "
            f"{step_w:.1f} samples/s wall, {step_c:.1f} samples per CPU-second\n"
            f"the data pipeline is {100*step_c/data_c:.0f} % of the training's CPU time per sample")

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--recipe', choices=sorted(RECIPES), default='quick')
    p.add_argument('--config', help='another config file (instead of --recipe)')
    p.add_argument('--set', nargs='*', default=[], metavar='KEY=VALUE')
    p.add_argument('--threads', type=int, default=2, help='torch threads (default 2, the target machine)')
    p.add_argument('--curve', metavar='RUN_DIR', help="print a finished run's curve and stop")
    p.add_argument('--gen', action='store_true', help='generator vs training step samples/s, no training')
    p.add_argument('--out', help='also append the results to this file')
    a = p.parse_args(argv)
    from openstereo_nb.cli import parse_overrides
    cfg, ov = Path(a.config) if a.config else RECIPES[a.recipe], parse_overrides(a.set)
    if a.curve: text = curve(a.curve).to_string(index=False)
    elif a.gen: text = gen_speed(cfg, ov, a.threads)
    else: text = run(cfg, ov, a.threads)
    print(text)
    if a.out:
        with open(a.out, 'a') as f: f.write(f"# {time.strftime('%Y-%m-%d %H:%M')} {' '.join(sys.argv[1:])}\n{text}\n\n")

if __name__ == '__main__': main()
