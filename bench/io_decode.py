"""Decode speed of openstereo_nb.io's PFM and 16-bit PNG readers on a 960×540 disparity, against reading the same
file's bytes with numpy alone, and of `read_image` on a 960×540 RGB frame against Pillow (as OpenStereo reads it).
Run: python bench/io_decode.py [--reps N]. Prints medians and speed ratios (baseline time / reader time: 1.0 = as
fast as the baseline, 0.9 = 10 % slower, 1.5 = takes two thirds of the baseline's time)."""
import argparse, tempfile, time
from pathlib import Path
import numpy as np
from PIL import Image
import openstereo_nb.io as osio
from openstereo_nb.data.synthetic import synthetic_pair

def disparity(h=540, w=960, seed=0):
    "A SceneFlow-like smooth disparity with a few fronto-parallel objects and sub-pixel noise"
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    d = 20 + 40 * x / w + 10 * y / h
    for _ in range(6):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(40, 150)
        d = np.where((x - cx)**2 + (y - cy)**2 < r * r, rng.uniform(30, 150), d)
    return (d + rng.normal(0, 0.05, d.shape)).astype(np.float32)

def interleaved(fns:dict, reps:int)->dict:
    "Median seconds of each function, calls interleaved so that machine load affects all alike"
    ts = {k: [] for k in fns}
    for f in fns.values(): f()  # warm the page cache and allocator
    for _ in range(reps):
        for k, f in fns.items():
            t = time.perf_counter(); f(); ts[k].append(time.perf_counter() - t)
    return {k: float(np.median(v)) for k, v in ts.items()}

def raw_read(p):
    with open(p, 'rb') as f: return np.frombuffer(f.read(), np.uint8)

def main(reps:int):
    tmp = Path(tempfile.mkdtemp())
    d = disparity()
    pfm, pfm_be, png = tmp/'0006.pfm', tmp/'0006_be.pfm', tmp/'000000_10.png'
    osio.write_pfm(pfm, d); osio.write_pfm(pfm_be, d, little_endian=False)
    sparse = np.where(np.random.default_rng(1).random(d.shape) < 0.3, d, 0)  # KITTI-like: ~30 % of pixels valid
    osio.write_png_disp(png, sparse, 256)
    assert np.array_equal(osio.read_pfm(pfm), d) and np.array_equal(osio.read_pfm(pfm_be), d)
    assert np.abs(osio.read_png_disp(png, 256) - sparse).max() <= 0.5 / 256

    print(f"960×540 disparity, median of {reps} interleaved runs; fast PFM path (preadv) available: {osio._PREADV is not None}")
    t = interleaved({'np.fromfile': lambda: np.fromfile(pfm, np.uint8), 'read()+frombuffer': lambda: raw_read(pfm),
                     'read_pfm': lambda: osio.read_pfm(pfm), 'read_pfm (big-endian file)': lambda: osio.read_pfm(pfm_be)}, reps)
    print(f"PFM ({pfm.stat().st_size} bytes)")
    for k, v in t.items(): print(f"  {k:28s} {v * 1e3:7.3f} ms")
    for base in ('np.fromfile', 'read()+frombuffer'):
        print(f"  speed ratio read_pfm vs {base:18s} {t[base] / t['read_pfm']:.2f}")
    saved, osio._PREADV = osio._PREADV, None
    try: t2 = interleaved({'np.fromfile': lambda: np.fromfile(pfm, np.uint8), 'read_pfm': lambda: osio.read_pfm(pfm)}, reps)
    finally: osio._PREADV = saved
    print(f"  (without preadv: read + flipping copy, ratio vs np.fromfile {t2['np.fromfile'] / t2['read_pfm']:.2f})")

    t = interleaved({'np.fromfile': lambda: np.fromfile(png, np.uint8), 'read()+frombuffer': lambda: raw_read(png),
                     'Pillow alone': lambda: np.asarray(Image.open(png)),
                     'read_png_disp': lambda: osio.read_png_disp(png, 256)}, max(reps // 10, 20))
    print(f"16-bit PNG, KITTI-like ({png.stat().st_size} bytes)")
    for k, v in t.items(): print(f"  {k:28s} {v * 1e3:7.3f} ms")
    for base in ('np.fromfile', 'read()+frombuffer', 'Pillow alone'):
        print(f"  speed ratio read_png_disp vs {base:18s} {t[base] / t['read_png_disp']:.3f}")

    frame = tmp/'0006.png'
    Image.fromarray(synthetic_pair(0, height=540, width=960, max_disp=192)['left']).save(frame)
    pil = lambda: np.array(Image.open(frame).convert('RGB'))   # OpenStereo v1's pil_loader, as an array
    assert np.array_equal(pil(), osio.read_image(frame))
    t = interleaved({'read()+frombuffer': lambda: raw_read(frame), 'Pillow (v1 pil_loader)': pil,
                     'read_image': lambda: osio.read_image(frame)}, max(reps // 10, 20))
    print(f"8-bit RGB PNG frame, SceneFlow-like 960×540 ({frame.stat().st_size} bytes)")
    for k, v in t.items(): print(f"  {k:28s} {v * 1e3:7.3f} ms")
    print(f"  speed ratio read_image vs Pillow            {t['Pillow (v1 pil_loader)'] / t['read_image']:.2f}")

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--reps', type=int, default=500)
    main(ap.parse_args().reps)
