"""Helpers shared by the equivalence scripts in this folder (not part of the library, not a test)."""
import re
import torch, torch.nn as nn

def randomise(model, seed, cost_gain=1.0, head=r'\.classif.*\.2\.weight$', generator=None):
    "Non-trivial BN statistics and affine parameters, and the cost heads' last conv (names matching `head`) scaled by `cost_gain`; other weights keep their (seeded) init"
    g = generator if generator is not None else torch.Generator().manual_seed(seed)   # a caller's generator: it draws on
    with torch.no_grad():
        for k, v in model.state_dict().items():
            if k.endswith('running_mean'): v.copy_(torch.randn(v.shape, generator=g) * 0.2)
            elif k.endswith('running_var'): v.copy_(torch.rand(v.shape, generator=g) * 1.5 + 0.5)
            elif k.endswith('num_batches_tracked'): v.fill_(7)
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 0.8 + 0.6)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
        # sharpen the matching costs so the soft-argmin spreads over the disparity range (random weights otherwise
        # give a nearly uniform softmax and disparities near max_disp/2, which would hide a wrong mapping)
        for n, p in model.named_parameters():
            if head is not None and re.search(head, n): p.mul_(cost_gain)
    return model

def maxdiff(a, b): return (a - b).abs().max().item()
def n_params(m): return sum(p.numel() for p in m.parameters() if p.requires_grad)
