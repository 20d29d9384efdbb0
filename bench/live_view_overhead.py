"""Training throughput with the live view (`LiveView`) on and off: same model, same cached input, same schedule.

    python bench/live_view_overhead.py                      # TinyStereoNet, 64×128, bs 2, 200 iterations, log_iter 50
    python bench/live_view_overhead.py --model PSMNet --size 64 128 --max-disp 48 --iters 100 --device cuda

Each repeat runs one epoch of `--iters` training iterations (plus one validation batch) three ways, in rotating
order: without the live view, with it drawing the dashboard widgets (`mode='widget'`; outside Jupyter the widgets
are built and updated without a frontend, so all rendering and PNG encoding is done), and with it writing the
dashboard PNG to a run folder (`mode='files'`). It prints the median wall time of each and the slow-down against
"off", and the share of each run spent inside the live view's own event handlers (a figure that, unlike the
wall-clock difference, does not drown in the noise of a shared CPU). The target is at most 3 % at `log_iter: 50`."""
import argparse, contextlib, io, statistics, tempfile, time, warnings
warnings.filterwarnings('ignore')
import torch
from fastai.torch_core import set_seed
from fastai.data.core import DataLoaders
from openstereo_nb.test_utils import tiny_cfg
from openstereo_nb.data.core import build_dataset, StereoDataLoader
from openstereo_nb.learner import stereo_learner
from openstereo_nb.callbacks.visual import LiveView


def make_learner(a):
    "A stereo learner on a cached synthetic dataset (no data synthesis in the timed loop)"
    n = a.bs * min(a.iters, 16)                                         # distinct pairs, cycled
    cfg = tiny_cfg(model=a.model, max_disp=a.max_disp, size=tuple(a.size), num_train=n, num_val=a.bs, bs=a.bs)
    ds = build_dataset(cfg, 'train')
    train = [ds[i % n] for i in range(a.bs * a.iters)]                  # `iters` batches per epoch
    valid = [build_dataset(cfg, 'val')[i] for i in range(a.bs)]
    dev = torch.device(a.device)
    dls = DataLoaders(StereoDataLoader(train, bs=a.bs, shuffle=False, drop_last=True, device=dev),
                      StereoDataLoader(valid, bs=a.bs, device=dev), device=dev)
    set_seed(0)
    learn = stereo_learner(cfg, dls=dls)
    learn.remove_cbs([c for c in learn.cbs if isinstance(c, LiveView)])   # "off" must be off, whatever the defaults
    return learn


class TimedLiveView(LiveView):
    "LiveView that adds up the wall time spent in its own event handlers"
    spent = 0.
    def __call__(self, event_name):
        t = time.perf_counter()
        try: return super().__call__(event_name)
        finally: self.spent += time.perf_counter() - t


def run(learn, cb):
    if learn.dls.device.type == 'cuda': torch.cuda.synchronize()
    t = time.perf_counter()
    with learn.no_bar(), learn.no_logging(), contextlib.redirect_stdout(io.StringIO()):  # display() outside Jupyter prints
        learn.fit(1, 1e-4, cbs=[cb] if cb is not None else [])
    if learn.dls.device.type == 'cuda': torch.cuda.synchronize()
    return time.perf_counter() - t, (cb.spent if cb is not None else 0.), (len(cb.refresh_iters) + 1 if cb is not None else 1)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--model', default='TinyStereoNet')
    p.add_argument('--size', type=int, nargs=2, default=[64, 128])
    p.add_argument('--max-disp', type=int, default=32)
    p.add_argument('--bs', type=int, default=2)
    p.add_argument('--iters', type=int, default=200, help='training iterations per timed run')
    p.add_argument('--log-iter', type=int, default=50)
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: torch\'s; 1 is steadier on a shared machine)')
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    learn = make_learner(a)
    tmp = tempfile.TemporaryDirectory()
    modes = {'off': lambda: None,
             'widget': lambda: TimedLiveView(a.log_iter, mode='widget'),
             'files': lambda: TimedLiveView(a.log_iter, run_dir=tmp.name, mode='files')}
    for m in modes: run(learn, modes[m]())                              # warm-up (and first imports) for each mode
    times, inside, per = {m: [] for m in modes}, {m: [] for m in modes}, {m: [] for m in modes}
    names = list(modes)
    for r in range(a.repeats):
        for m in names[r % 3:] + names[:r % 3]:                         # rotate the order between repeats
            t, spent, n = run(learn, modes[m]())
            times[m].append(t); inside[m].append(spent / t); per[m].append(spent / n)
    off, off_min = statistics.median(times['off']), min(times['off'])
    print(f"{a.model} {a.size[0]}×{a.size[1]} bs {a.bs}, max_disp {a.max_disp}, {a.iters} iterations per run, "
          f"log_iter {a.log_iter}, {a.repeats} repeats, device {a.device}, torch threads {torch.get_num_threads()}")
    for m in names:
        med = statistics.median(times[m])
        extra = '' if m == 'off' else (f"\n         wall-clock overhead {100 * (med / off - 1):+.2f} % (medians), "
                                       f"{100 * (min(times[m]) / off_min - 1):+.2f} % (fastest runs); time inside LiveView "
                                       f"{100 * statistics.median(inside[m]):.2f} % of the run "
                                       f"(about {1000 * statistics.median(per[m]):.1f} ms per refresh)")
        print(f"  {m:6s} median {med:7.3f} s  ({a.iters / med:6.1f} it/s)  runs: "
              + ' '.join(f'{t:.3f}' for t in times[m]) + extra)
    tmp.cleanup()


if __name__ == '__main__': main()
