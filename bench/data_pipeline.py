"""Training-pipeline throughput (read + augment + collate, samples/s) at OpenStereo's SceneFlow settings:
960×540 PNG images and PFM disparity, RandomCrop 256×512, GetValidDisp 192, TransposeImage, ToTensor,
NormalizeImage, batch size 4 -- openstereo_nb's `stereo_dl` against OpenStereo v1's own loader
(`StereoBatchDataset` + `BatchSampler`, as its `base_trainer.get_data_loader` builds it), on the same files,
in one process, with 0 and 2 workers. Then a cProfile of both pipelines (0 workers): where the time goes.
Two measures: samples per wall-clock second (what training sees; depends on free cores and on the load of the
machine) and samples per CPU-second (the work per sample, summed over threads and worker processes: robust on a
shared machine).

Run: python bench/data_pipeline.py [--ref /tmp/ref/openstereo] [--n 32] [--bs 4] [--epochs 3] [--rounds 3]
     [--workers 0 2] [--data DIR (keep/reuse the generated files)]
--ref is a v1 checkout (`git archive v1 openstereo`); v1 imports cv2, which its SceneFlow path never calls,
so a stub stands in for it (nothing to install). Without --ref only our pipeline is measured."""
import argparse, cProfile, io, os, pstats, resource, sys, tempfile, time, types
from pathlib import Path
import numpy as np
import torch
from PIL import Image

from openstereo_nb.io import write_pfm
from openstereo_nb.data.synthetic import synthetic_pair
from openstereo_nb.config import load_config
from openstereo_nb.data.core import stereo_dl

TRANSFORM = [{'type': 'RandomCrop', 'size': [256, 512]}, {'type': 'GetValidDisp', 'max_disp': 192},
             {'type': 'TransposeImage'}, {'type': 'ToTensor'},
             {'type': 'NormalizeImage', 'mean': [0.485, 0.456, 0.406], 'std': [0.229, 0.224, 0.225]}]

def make_sceneflow(root:Path, n:int)->Path:
    "n synthetic 960×540 samples in SceneFlow's layout (PNG frames, PFM disparity, left and right) and a v1 list file"
    lst = root / f'sceneflow_train_{n}.txt'
    lines = []
    for i in range(n):
        seq = f'TRAIN/A/{i:04d}'
        lines.append(f'frames_finalpass/{seq}/left/0006.png frames_finalpass/{seq}/right/0006.png disparity/{seq}/left/0006.pfm')
        if (root / 'disparity' / seq / 'right' / '0006.pfm').exists(): continue   # made by an earlier run (--data)
        p = synthetic_pair(i, height=540, width=960, max_disp=192)
        for view in ('left', 'right'):
            f = root / 'frames_finalpass' / seq / view / '0006.png'
            f.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(p[view]).save(f)
            write_pfm(root / 'disparity' / seq / view / '0006.pfm', p['disp' if view == 'left' else 'disp_right'])
    lst.write_text('\n'.join(lines) + '\n')
    return lst

def data_cfg(root, lst, bs, workers):
    return {'name': 'SceneFlow', 'root': str(root), 'train_list': str(lst), 'val_list': str(lst), 'test_list': str(lst),
            'train_batch_size': bs, 'val_batch_size': bs, 'num_workers': workers, 'pin_memory': False, 'shuffle': True,
            'transform': {'train': TRANSFORM, 'val': TRANSFORM[1:]}}

def ours(root, lst, bs, workers):
    cfg = load_config({'data_cfg': data_cfg(root, lst, bs, workers), 'model_cfg': {'model': 'PSMNet', 'base_config': {'max_disp': 192}},
                       'loss_cfg': [{'log_prefix': 'disp', 'type': 'Smooth_l1_Loss'}], 'trainer_cfg': {}})
    return stereo_dl(cfg, 'train', device=torch.device('cpu'))

def theirs(ref, root, lst, bs, workers):
    if str(ref) not in sys.path:
        sys.path.insert(0, str(ref))
        sys.modules.setdefault('cv2', types.ModuleType('cv2'))   # imported at module load, unused on this path
    from data.stereo_dataset_batch import StereoBatchDataset
    from torch.utils.data import BatchSampler, DataLoader, RandomSampler
    ds = StereoBatchDataset(data_cfg(root, lst, bs, workers), 'train')
    # exactly v1's BaseTrainer.get_data_loader for a non-distributed run
    return DataLoader(ds, sampler=BatchSampler(RandomSampler(ds), bs, drop_last=False), collate_fn=ds.collect_fn,
                      num_workers=workers, pin_memory=False)

def epoch_fn(loader):
    "One pass over `loader`, returning the number of samples (our batches are (dict, dict), v1's a dict)"
    def epoch(): return sum(len(b[0]['ref_img']) if isinstance(b, tuple) else len(b['left']) for b in loader)
    return epoch

def check_same_kind(a, b):
    "Both pipelines give batches of the same shapes and dtypes (a sanity check, not a benchmark)"
    sa = {k: (tuple(v.shape), v.dtype) for k, v in a.items() if isinstance(v, torch.Tensor)}
    sb = {k: (tuple(v.shape), v.dtype) for k, v in b.items() if isinstance(v, torch.Tensor)}
    assert sa['ref_img'] == sb['left'] and sa['disp_gt'] == sb['disp'], (sa, sb)

def cpu_seconds()->float:
    "CPU time of this process (all threads) and of its finished children (DataLoader workers are joined every epoch)"
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime

def throughput(epoch, epochs)->tuple:
    "(samples per wall-clock second, samples per CPU second) over `epochs` epochs after one warm-up epoch"
    epoch()                                   # warm-up: page cache, imports, allocator
    t, c, n = time.perf_counter(), cpu_seconds(), 0
    for _ in range(epochs): n += epoch()
    return n / (time.perf_counter() - t), n / (cpu_seconds() - c)

CATEGORIES = {   # function name patterns (file fragment, function) per category, summed as inclusive time
    'ours': [('PNG decode (read_image)', 'io.py', 'read_image'), ('PFM parse (read_pfm)', 'io.py', 'read_pfm'),
             ('augment (Compose)', 'transforms.py', '__call__@Compose'), ('  RandomCrop', 'transforms.py', '__call__@RandomCrop'),
             ('  GetValidDisp', 'transforms.py', '__call__@GetValidDisp'), ('  ToTensor', 'transforms.py', '__call__@ToTensor'),
             ('  NormalizeImage', 'transforms.py', '__call__@NormalizeImage'),
             ('batch dict + mask (StereoDataset)', 'core.py', '__getitem__@StereoDataset'),
             ('collate', 'core.py', 'create_batch')],
    'theirs': [('PNG decode + float (pil_loader)', 'base_reader.py', 'pil_loader'), ('PFM parse (readPFM)', 'readpfm.py', 'readPFM'),
               ('augment (Compose)', 'stereo_trans.py', '__call__@Compose'), ('  RandomCrop', 'stereo_trans.py', '__call__@RandomCrop'),
               ('  GetValidDisp', 'stereo_trans.py', '__call__@GetValidDisp'), ('  ToTensor', 'stereo_trans.py', '__call__@ToTensor'),
               ('  NormalizeImage', 'stereo_trans.py', '__call__@NormalizeImage'),
               ('batch (StereoBatchDataset)', 'stereo_dataset_batch.py', '__getitem__')]}

def profile(epoch, kind, epochs=2):
    "Inclusive seconds per category (one cProfile run of `epochs` epochs), the total, and the number of samples"
    epoch()
    pr, n = cProfile.Profile(), 0
    t = time.perf_counter(); pr.enable()
    for _ in range(epochs): n += epoch()
    pr.disable(); total = time.perf_counter() - t
    st = pstats.Stats(pr, stream=io.StringIO()).stats
    # cProfile keys functions by (file, line, name); methods are told apart by the class defined at that line
    def owner(fn, line):
        try:
            src = open(fn).read().split('\n')
            for l in range(line - 1, -1, -1):
                if src[l].startswith('class '): return src[l][6:].split('(')[0].split(':')[0].strip()
        except OSError: pass
        return ''
    out = []
    for label, file, name in CATEGORIES[kind]:
        fname, _, cls = name.partition('@')
        ct = sum(v[3] for (f, line, n), v in st.items() if f.endswith(file) and n == fname and (not cls or owner(f, line) == cls))
        out.append((label, ct))
    return out, total, n

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--ref', default='/tmp/ref/openstereo'); ap.add_argument('--data', default=None)
    ap.add_argument('--n', type=int, default=32); ap.add_argument('--bs', type=int, default=4)
    ap.add_argument('--epochs', type=int, default=3); ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--workers', type=int, nargs='+', default=[0, 2])
    a = ap.parse_args()
    torch.set_num_threads(1)   # what each DataLoader worker uses (fastai sets it; torch's workers inherit 1 here too)
    root = Path(a.data) if a.data else Path(tempfile.mkdtemp(prefix='sceneflow_bench_'))
    t = time.perf_counter(); lst = make_sceneflow(root, a.n)
    print(f"{a.n} SceneFlow-layout samples (960×540 PNG + PFM) in {root} ({time.perf_counter() - t:.0f} s); "
          f"batch size {a.bs}, {a.epochs} epochs per measurement, best of {a.rounds} interleaved rounds; "
          f"{os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}")
    have_ref = Path(a.ref, 'data', 'stereo_dataset_batch.py').exists()
    if not have_ref: print(f"no OpenStereo v1 checkout at {a.ref}: measuring ours only")
    else: check_same_kind(ours(root, lst, a.bs, 0).one_batch()[0], next(iter(theirs(a.ref, root, lst, a.bs, 0))))
    for w in a.workers:
        runs = {'ours': epoch_fn(ours(root, lst, a.bs, w))}
        if have_ref: runs['OpenStereo v1'] = epoch_fn(theirs(a.ref, root, lst, a.bs, w))
        best = {k: (0., 0.) for k in runs}
        for _ in range(a.rounds):
            for k, ep in runs.items(): best[k] = tuple(map(max, best[k], throughput(ep, a.epochs)))
        for i, unit in enumerate(('samples/s (wall clock)', 'samples per CPU-second')):
            line = ', '.join(f"{k} {v[i]:6.1f}" for k, v in best.items())
            ratio = f"; ratio ours / v1 = {best['ours'][i] / best['OpenStereo v1'][i]:.2f}" if have_ref else ''
            print(f"num_workers={w}, {unit:24s}: {line}{ratio}")
    print("\nProfile, num_workers=0 (ours without read threads), inclusive time per sample (ms):")
    seq = ours(root, lst, a.bs, 0); seq.read_threads = 0   # cProfile sees only the main thread: read there
    kinds = [('ours', epoch_fn(seq))] + ([('theirs', epoch_fn(theirs(a.ref, root, lst, a.bs, 0)))] if have_ref else [])
    for kind, ep in kinds:
        cats, total, n = profile(ep, kind)
        print(f"  {'openstereo_nb' if kind == 'ours' else 'OpenStereo v1'}: {1e3 * total / n:.1f} ms/sample under cProfile")
        for label, ct in cats: print(f"    {label:36s} {1e3 * ct / n:6.2f}")

if __name__ == '__main__': main()
