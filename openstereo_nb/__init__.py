__version__ = "0.0.1"

import os as _os
if _os.environ.get('IN_TEST') and 'OMP_NUM_THREADS' not in _os.environ:
    # nbdev_test runs notebooks in parallel processes: one torch thread each, or the cores are oversubscribed
    # and OpenMP's spinning threads make the suite ~20x slower
    import torch as _torch
    _torch.set_num_threads(1)
