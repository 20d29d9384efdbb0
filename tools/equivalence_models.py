"""The rows of tools/equivalence.py for v1's first zoo (PSMNet, GwcNet, MSNet, CasStereoNet, CFNet, CoEx, FADNet,
LacGwcNet; tools/equivalence_zoo2.py has the later models): one `Row` per (model, reference) pair, and the few
functions each needs.

Adding a family (say IGEV against v1): a `setup(path)` that loads the reference's files with `load` / `package` /
`stub` and returns a namespace, `ours(ns, case)` and `reference(ns, case)` building the two models, the eval/train
output extractors (what to compare, by name) and the loss, then one entry in ROWS, e.g.

    Row('igev', 'OpenStereo v1 modeling/models/igev', setup=_igev_setup,
        cases=lambda quick: [dict(H=64, W=128, D=48, B=2, fp64=True)] + ([] if quick else [dict(H=256, W=512, D=192, B=1)]),
        ours=lambda ns, c: IGEV(_igev_cfg(c['D']), is_training=True), reference=lambda ns, c: ns.RefModel(c['D']),
        randomise=_gain(10.), eval_ours=_inference, eval_ref=lambda m, x: {'disp_est': m(x)[-1]},
        train_ours=_train_ests(_IGEV_LOSS), train_ref=lambda m, xt: _ests_loss(m.net(xt['ref_img'], xt['tgt_img']), _IGEV_LOSS, xt))

(zoo2's `igev` row is the real one.) Where a function needs the reference's namespace, `_bind` makes it at setup. An
author row sets ref='NAME' (given as --author NAME=PATH), `ours` returns (their network, ours, checkpoint layout or
layouts, key map) and `author_check` the outputs to compare. The draw order of the random numbers is the one of the
old per-model scripts (tools/equivalence/<model>.py, now gone), so the figures are theirs."""
import sys, types, copy, re, io, contextlib, importlib
import torch, torch.nn as nn, torch.nn.functional as F
from equivalence import Row, load, package, stub, import_author, randomise, maxdiff, synthetic_cfg, smooth_l1, dp_state_dict

NS = types.SimpleNamespace

# --- small shared pieces ----------------------------------------------------------------------------------------------
def _bind(row, **makers):
    "a row's functions that need the reference's namespace (field=make(ns)): made from it when the row's setup runs"
    setup = row.setup
    def bound(path):
        ns = setup(path)
        for field, make in makers.items(): setattr(row, field, make(ns))
        return ns
    row.setup, row.makers = bound, makers   # makers: for a caller that builds only ours, without the reference (bench/speed.py)
    return row

def _gain(gain, head=r'\.classif.*\.2\.weight$'):
    return lambda model, seed, case: randomise(model, seed, gain, head=head)

def _inference(m, x): return {'disp_est': m(x)['inference_disp']['disp_est']}

def _ests(ests, names=None):
    return {(names[i] if names else f'd{i}'): e for i, e in enumerate(ests)}

def _train_ests(loss, names=None):
    "ours: the estimates of training_disp.disp and the loss over them"
    def f(m, xt):
        e = m(xt)['training_disp']['disp']['disp_ests']
        return _ests(e, names), loss(e, xt)
    return f

def _ref_ests(forward, loss, names=None):
    "the reference: its list of estimates (from `forward(model, xt)`) and the same loss"
    def f(m, xt):
        e = forward(m, xt)
        return _ests(e, names), loss(e, xt)
    return f

class Chain(nn.Module):
    "v1's default BaseModel forward around its three stages: backbone -> cost processor -> disp processor"
    def __init__(self, backbone, cost, disp):
        super().__init__()
        self.Backbone, self.CostProcessor, self.DispProcessor = backbone, cost, disp
    def forward(self, inputs):
        inputs = dict(inputs)
        inputs.update(self.Backbone(inputs)); inputs.update(self.CostProcessor(inputs))
        return self.DispProcessor(inputs)

class Net(nn.Module):
    "v1's model classes that only wrap the network as `net` (state-dict names start with `net.`)"
    def __init__(self, net):
        super().__init__()
        self.net = net
    def forward(self, x): return self.net(x['ref_img'], x['tgt_img'])

def _same_init(ours, ref, seed=3):
    "initial weights from the same seed: same modules, same order, same init"
    torch.manual_seed(seed); mine = ours()
    torch.manual_seed(seed); r = ref()
    rsd = r.state_dict()
    return max(maxdiff(v.float(), rsd[k].float()) for k, v in mine.state_dict().items())

def _author_eval(H, W, seed=2, B=1):
    "a random pair for an author row, and the generator that drew it (for what the row draws next)"
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, 3, H, W, generator=g), torch.randn(B, 3, H, W, generator=g), g

def _bn_modules(net, g, var=(1., .5), affine=(1., .5), gain=1., head=None):
    """The old author scripts' randomisation, module by module: BatchNorm statistics (running_var uniform in
    [var[1], var[1] + var[0])) and affine parameters (weight likewise with `affine`), then the parameters named like
    `head` times `gain`"""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) * var[0] + var[1])
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) * affine[0] + affine[1])
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
        for n, p in net.named_parameters():
            if head is not None and re.search(head, n): p.mul_(gain)
    return net

class Holder(nn.Module):
    "modules as named attributes (an author's wrapper, e.g. a Lightning module holding the network as `stereo`)"
    def __init__(self, **mods):
        super().__init__()
        for k, m in mods.items(): setattr(self, k, m)

def v1_base_model(stages=(), loss=False):
    """A minimal v1 BaseModel: stores the config, calls build_network (and build_loss_fn with `loss`); a stage config is
    built by its `type` from its module in `stages` (backbone, cost processor, disp processor)"""
    class V1BaseModel(nn.Module):
        def __init__(self, cfg):
            super().__init__()
            self.cfg, self.model_cfg = cfg, cfg['model_cfg']
            self.model_name, self.max_disp = self.model_cfg['model'], self.model_cfg['base_config']['max_disp']
            self.build_network()
            if loss: self.build_loss_fn()
        def _make(self, i, cfg): return getattr(stages[i], cfg['type'])(**{k: v for k, v in cfg.items() if k != 'type'})
        def build_backbone(self, c): return self._make(0, c)
        def build_cost_processor(self, c): return self._make(1, c)
        def build_disp_processor(self, c): return self._make(2, c)
    return V1BaseModel

_CUDA_NOOP = ((torch.Tensor, 'cuda', lambda self, *a, **k: self), (nn.Module, 'cuda', lambda self, *a, **k: self))
_GET_DEVICE = ((torch.Tensor, 'get_device', lambda self: self.device),)   # their get_device() is -1 on the CPU

def _zeros_gt(above, zero_frac):
    "ground truth up to `above` px past max_disp, its first 1/`zero_frac` columns 0 (invalid pixels the pooling sees)"
    def gt_fn(g, B, H, W, D):
        gt = torch.rand(B, H, W, generator=g) * (D + above)
        gt[:, :, : W // zero_frac] = 0
        return gt, (gt > 0) & (gt < D)
    return gt_fn

# === PSMNet ==============================================================================================================
def _psm_cfg(D):
    return synthetic_cfg('PSMNet', [{'log_prefix': 'disp', 'type': 'Weighted_Smooth_l1_Loss', 'weights': [0.5, 0.7, 1.0]}],
                         base_config={'max_disp': D}, backbone_cfg={'type': 'PSMNet'},
                         cost_processor_cfg={'type': 'PSMCostProcessor'}, disp_processor_cfg={'type': 'PSMDispProcessor'})

def _psm_setup(ref):
    # the stage files do `from modeling.common.basic_layers import ...`: bare packages and that one file
    package('modeling', f'{ref}/modeling'); package('modeling.common', f'{ref}/modeling/common')
    load('modeling.common.basic_layers', f'{ref}/modeling/common/basic_layers.py')
    return NS(rb=load('ref_psm_backbone', f'{ref}/modeling/backbone/PSMNet.py'),
              rc=load('ref_psm_cost', f'{ref}/modeling/cost_processor/PSMNet.py'),
              rd=load('ref_psm_disp', f'{ref}/modeling/disp_processor/PSMNet.py'))

def _psm_ours(ns, c):
    from openstereo_nb.modeling.models.psmnet import PSMNet
    return PSMNet(_psm_cfg(c['D']), is_training=True)

def _psm_pieces(ns):
    from openstereo_nb.modeling.layers import cat_fms
    torch.manual_seed(1)
    l, r = torch.randn(2, 5, 6, 20), torch.randn(2, 5, 6, 20)
    worst = 0.
    for kw in [dict(max_disp=12), dict(max_disp=7, start_disp=-3), dict(max_disp=9, dilation=2),
               dict(max_disp=30, start_disp=-25, dilation=3), dict(max_disp=25, dilation=4)]:
        worst = max(worst, maxdiff(cat_fms(l, r, **kw), ns.rc.cat_fms(l, r, **kw)))
    return {'cat_fms vs v1 loop': worst}

_PSM_W = [0.5, 0.7, 1.0]
psmnet = Row('psmnet', 'OpenStereo v1 PSMNet stages', setup=_psm_setup,
             cases=lambda quick: [dict(H=256, W=256, D=48, B=2)] if quick else
                   [dict(H=256, W=512, D=192, B=1), dict(H=256, W=256, D=48, B=2), dict(H=320, W=640, D=192, B=1)],
             ours=_psm_ours, reference=lambda ns, c: Chain(ns.rb.PSMNet(), ns.rc.PSMCostProcessor(max_disp=c['D']),
                                                           ns.rd.PSMDispProcessor(max_disp=c['D'])),
             randomise=_gain(40., r'\.classif.*\.1\.weight$'), eval_ours=_inference, eval_ref=_inference,
             train_ours=_train_ests(smooth_l1(_PSM_W), ['d1', 'd2', 'd3']),
             train_ref=_ref_ests(lambda m, xt: m(xt)['training_disp']['disp']['disp_ests'], smooth_l1(_PSM_W), ['d1', 'd2', 'd3']),
             pieces=_psm_pieces, loss_diff=False, threads=1, tol={'train d': 5e-3, 'grads': 5e-3})

def _psm_author_setup(path):
    import torch.nn.functional as F
    return NS(path=path, mod=None, up=F.upsample)

def _psm_author_patches(ns):
    up = ns.up   # their code predates align_corners: bilinear upsampling as the PyTorch it was written for (True)
    return ((torch.Tensor, 'cuda', lambda self, *a, **k: self),
            (F, 'upsample', lambda x, size=None, scale_factor=None, mode='nearest', align_corners=None:
             up(x, size, scale_factor, mode, True if mode in ('bilinear', 'trilinear') else None)))

def _psm_author_build(ns, c):
    from openstereo_nb.modeling.models.psmnet import PSMNet, author_to_openstereo
    (sh,) = import_author(ns.path, 'models.stackhourglass')
    torch.manual_seed(0)
    theirs = sh.PSMNet(192)
    ns.g = torch.Generator().manual_seed(1)
    _bn_modules(theirs, ns.g)   # the old psmnet_author.py's draws
    cfg = _psm_cfg(192)
    return theirs, PSMNet(cfg, is_training=False), 'state_dict', author_to_openstereo

def _psm_author_check(ns, c, theirs, mine):
    # only the weights and the backbone: their third hourglass gets pre1, OpenStereo's pre2 (by design)
    x = torch.randn(1, 3, c['H'], c['W'], generator=ns.g)
    with torch.no_grad():
        return {'feature extractor': (mine.Backbone({'ref_img': x, 'tgt_img': x})['ref_feature'], theirs.feature_extraction(x))}

psmnet_author = Row('psmnet:author', 'JiaRenChang/PSMNet stackhourglass', ref='PSMNet', setup=_psm_author_setup,
                    cases=lambda quick: [dict(H=256, W=512)], ours=_psm_author_build, author_check=_psm_author_check,
                    patches=_psm_author_patches, threads=1)

# === GwcNet ==============================================================================================================
_GWC_W = [0.5, 0.5, 0.7, 1.0]
def _gwc_cfg(D, concat):
    return synthetic_cfg('GwcNet', [{'log_prefix': 'disp', 'type': 'Weighted_Smooth_l1_Loss', 'weights': _GWC_W}],
                         base_config={'max_disp': D, 'downsample': 4, 'num_groups': 40, 'use_concat_volume': concat,
                                      'concat_channels': 12},
                         backbone_cfg={'type': 'GwcNet'}, cost_processor_cfg={'type': 'GwcVolumeCostProcessor'},
                         disp_processor_cfg={'type': 'GwcDispProcessor'})

def _gwc_setup(ref):
    # v1's disp processor does `from modeling.common.hourglass import Hourglass`: provide just that module
    for pkg in ('modeling', 'modeling.common'): sys.modules.setdefault(pkg, types.ModuleType(pkg))
    load('modeling.common.hourglass', f'{ref}/modeling/common/hourglass.py')
    return NS(rb=load('ref_gwc_backbone', f'{ref}/modeling/backbone/gwcnet.py'),
              rc=load('ref_gwc_cost', f'{ref}/modeling/cost_processor/gwcnet.py'),
              rd=load('ref_gwc_disp', f'{ref}/modeling/disp_processor/gwcnet.py'))

def _gwc_ours(ns, c):
    from openstereo_nb.modeling.models.gwcnet import GwcNet
    return GwcNet(_gwc_cfg(c['D'], c['variant'] == 'gc'), is_training=True)

def _gwc_ref(ns, c):
    concat = c['variant'] == 'gc'   # maxdisp passed explicitly: see the notebook
    kw = dict(maxdisp=c['D'], downsample=4, num_groups=40, use_concat_volume=concat)
    return Chain(ns.rb.GwcNet(use_concat_volume=concat, concat_channels=12), ns.rc.GwcVolumeCostProcessor(**kw),
                 ns.rd.GwcDispProcessor(concat_channels=12, **kw))

def _gwc_pieces(ns):
    from openstereo_nb.modeling.layers import gwc_volume, cat_fms
    torch.manual_seed(1)
    l, r = torch.randn(2, 320, 6, 20), torch.randn(2, 320, 6, 20)
    cp = ns.rc.GwcVolumeCostProcessor(maxdisp=48, downsample=4, num_groups=40)
    a = maxdiff(gwc_volume(l, r, 12, 40), cp.build_gwc_volume(l, r))
    l, r = torch.randn(2, 12, 6, 20), torch.randn(2, 12, 6, 20)
    return {'gwc_volume vs v1 build_gwc_volume': a, 'cat_fms vs v1 build_concat_volume': maxdiff(cat_fms(l, r, max_disp=12), cp.build_concat_volume(l, r))}

gwcnet = Row('gwcnet', 'OpenStereo v1 GwcNet stages', setup=_gwc_setup,
             cases=lambda quick: [dict(variant=v, **s) for v in ('gc', 'g') for s in
                                  [dict(H=64, W=128, D=48, B=2, fp64=True)] + ([] if quick else [dict(H=256, W=512, D=192, B=1)])],
             ours=_gwc_ours, reference=_gwc_ref, randomise=_gain(40.), eval_ours=_inference, eval_ref=_inference,
             train_ours=_train_ests(smooth_l1(_GWC_W)),
             train_ref=_ref_ests(lambda m, xt: m(xt)['training_disp']['disp']['disp_ests'], smooth_l1(_GWC_W)),
             pieces=_gwc_pieces, loss_diff=False, threads=1, tol={'train d': 5e-3, 'grads': 5e-3})

def _author_net_build(mod, cls, make_ours, keymap, layout='model', gain=40., head=r'(^|\.)classif\d\.2\.weight$', args=(), **kw):
    "their network (seed 0, randomised with seed 1 and sharpened heads) and ours, for a checkpoint round trip"
    def build(ns, c):
        m = import_author(ns.path, mod)[0]
        torch.manual_seed(0)
        theirs = randomise(getattr(m, cls[c['variant']])(*args, **kw), seed=1, cost_gain=gain, head=head)
        return theirs, make_ours(c), layout, keymap
    return build

def _author_disp(c, theirs, mine, their_out=lambda o: o[0]):
    left, right, _ = _author_eval(c['H'], c['W'])
    with torch.no_grad():
        return {'eval disp': (mine({'ref_img': left, 'tgt_img': right})['inference_disp']['disp_est'], their_out(theirs(left, right)))}

def _gwc_author_ours(c):
    from openstereo_nb.modeling.models.gwcnet import GwcNet
    return GwcNet(_gwc_cfg(192, c['variant'] == 'gc'), is_training=False)

def _gwc_keymap(k):
    from openstereo_nb.modeling.models.gwcnet import gwcnet_author_to_openstereo
    return gwcnet_author_to_openstereo(k)

gwcnet_author = Row('gwcnet:author', 'xy-guo/GwcNet GwcNet_GC / GwcNet_G', ref='GwcNet',
                    setup=lambda path: NS(path=path),
                    cases=lambda quick: [dict(variant=v, H=64 if quick else 256, W=128 if quick else 512) for v in ('gc', 'g')],
                    ours=_author_net_build('models.gwcnet', {'gc': 'GwcNet_GC', 'g': 'GwcNet_G'}, _gwc_author_ours, _gwc_keymap,
                                           args=(192,)),
                    author_check=lambda ns, c, t, m: _author_disp(c, t, m), threads=1)

# === MSNet (MobileStereoNet) =============================================================================================
def _ms_cfg(D, t):
    return synthetic_cfg('MSNet', [{'log_prefix': 'disp', 'type': 'Weighted_Smooth_l1_Loss', 'weights': _GWC_W}],
                         model_type=t, base_config={'max_disp': D})

def _ms_setup(ref):
    # the network files import each other relatively: a bare package, so its __init__ (v1's BaseModel ...) is not run
    r = f'{ref}/modeling/models/msnet'
    package('ref_msnet', r)
    return NS(rs=load('ref_msnet.submodule', f'{r}/submodule.py'), r2=load('ref_msnet.MSNet2D', f'{r}/MSNet2D.py'),
              r3=load('ref_msnet.MSNet3D', f'{r}/MSNet3D.py'))

def _ms_ours(ns, c, training=True):
    from openstereo_nb.modeling.models.msnet import MSNet
    return MSNet(_ms_cfg(c['D'], c['variant']), is_training=training)

def _ms_ref(ns, c): return Net((ns.r3.MSNet3D if c['variant'] == '3D' else ns.r2.MSNet2D)(c['D']))

def _ms_pieces(ns):
    from openstereo_nb.modeling.layers import gwc_volume
    from openstereo_nb.modeling.models.msnet import interweave_tensors
    torch.manual_seed(1)
    l, r = torch.randn(2, 320, 6, 20), torch.randn(2, 320, 6, 20)
    out = {'gwc_volume vs v1 build_gwc_volume': maxdiff(gwc_volume(l, r, 12, 40), ns.rs.build_gwc_volume(l, r, 12, 40))}
    l, r = torch.randn(2, 32, 6, 20), torch.randn(2, 32, 6, 20)
    out['interweave_tensors vs v1'] = maxdiff(interweave_tensors(l, r), ns.rs.interweave_tensors(l, r))
    for t in ('2D', '3D'):
        c = dict(D=192, variant=t)
        out[f'MSNet{t} initial weights, same seed'] = _same_init(lambda: _ms_ours(ns, c), lambda: _ms_ref(ns, c))
    return out

msnet = Row('msnet', 'OpenStereo v1 MSNet2D / MSNet3D', setup=_ms_setup,
            # MSNet2D at max_disp 48 would differ from v1 on purpose (v1 always builds 48 levels): the small shape keeps 192
            cases=lambda quick: [dict(variant=v, **s) for v in ('2D', '3D') for s in
                                 [dict(H=64, W=256, D=192, B=2, fp64=True)] + ([] if quick else [dict(H=256, W=512, D=192, B=1)])],
            ours=_ms_ours, reference=_ms_ref, randomise=_gain(40.), eval_ours=_inference,
            eval_ref=lambda m, x: {'disp_est': m(x)[0]},
            train_ours=_train_ests(smooth_l1(_GWC_W)), train_ref=_ref_ests(lambda m, xt: m(xt), smooth_l1(_GWC_W)),
            pieces=_ms_pieces, loss_diff=False, tol={'train d': 5e-3, 'grads': 5e-3})

msnet_author = Row('msnet:author', 'cogsys-tuebingen/mobilestereonet MSNet2D / MSNet3D', ref='mobilestereonet',
                   setup=lambda path: NS(path=path),
                   cases=lambda quick: [dict(variant=v, H=128 if quick else 256, W=256 if quick else 512) for v in ('2D', '3D')],  # not 64x128: MSNet2D's 8-deep 3D conv
                   ours=lambda ns, c: _author_net_build(f'models.MSNet{c["variant"]}', {c['variant']: f'MSNet{c["variant"]}'},
                                                        lambda c: _ms_ours(ns, dict(c, D=192), training=False),
                                                        lambda k: 'net.' + k, args=(192,))(ns, c),
                   author_check=lambda ns, c, t, m: _author_disp(c, t, m), threads=1)

# === CasStereoNet =======================================================================================================
_CAS_V1 = dict(maxdisp=192, ndisps=[48, 24], disp_interval_pixel=[4, 1], using_ns=True, ns_size=3, grad_method='detach',
               cr_base_chs=[32, 32, 16])
_CAS_DLOSSW = [0.5, 1.0, 2.0]
_CAS_OUT = [f'{s}.pred{j}' for s in ('stage1', 'stage2') for j in range(4)]

def _cas_setup(ref):
    r = f'{ref}/modeling/models/casnet'
    package('ref_casnet', r)   # so the files' relative `from .submodule import *` resolves
    load('ref_casnet.submodule', f'{r}/submodule.py')
    return NS(rpsm=load('ref_casnet.cas_psm', f'{r}/cas_psm.py'), rgwc=load('ref_casnet.cas_gwc', f'{r}/cas_gwc.py'))

def _cas_ours(ns, c, training=True):
    from openstereo_nb.modeling.models.casnet import CasStereoNet
    return CasStereoNet(synthetic_cfg('CasStereoNet', [{'log_prefix': 'disp', 'type': 'CasStereoLoss'}],
                                      model_type=c['variant'], base_config={'max_disp': 192}), is_training=training)

def _cas_ref_loss(res, gt, mask):
    "v1's CasStereoLoss.stereo_loss, restated (v1's model.py imports its BaseModel)"
    total = torch.tensor(0.0)
    for k in [k for k in res if 'stage' in k]:
        d = res[k]
        l = (0.5 * F.smooth_l1_loss(d['pred0'][mask], gt[mask]) + 0.5 * F.smooth_l1_loss(d['pred1'][mask], gt[mask])
             + 0.7 * F.smooth_l1_loss(d['pred2'][mask], gt[mask]) + 1.0 * F.smooth_l1_loss(d['pred3'][mask], gt[mask]))
        total = total + _CAS_DLOSSW[int(k.replace('stage', '')) - 1] * l
    return total

def _cas_train_ours(m, xt):
    from openstereo_nb.modeling.models.casnet import CasStereoLoss
    om = m(xt)['training_disp']['disp']
    lm, _ = CasStereoLoss()(**om, disp_gt=xt['disp_gt'], mask=xt['mask'])
    return {k: om['disp_ests'][k.split('.')[0]][k.split('.')[1]] for k in _CAS_OUT}, lm

def _cas_train_ref(m, xt):
    o = m.net(xt['ref_img'], xt['tgt_img'])
    return {k: o[k.split('.')[0]][k.split('.')[1]] for k in _CAS_OUT}, _cas_ref_loss(o, xt['disp_gt'], xt['mask'])

casnet = Row('casnet', 'OpenStereo v1 casnet (cas_psm / cas_gwc)', setup=_cas_setup,
             # v1's PSM features average-pool 64-pixel windows at 1/4 resolution: inputs of 256+ pixels each way, and
             # batch 2 at 256x256 (a pooled 1x1 map in training-mode BatchNorm needs more than one value)
             cases=lambda quick: [dict(variant=v, **(dict(H=256, W=256, D=192, B=2) if quick else dict(H=256, W=512, D=192, B=1)))
                                  for v in ('psmnet', 'gwcnet')],
             ours=_cas_ours, reference=lambda ns, c: Net((ns.rpsm.PSMNet if c['variant'] == 'psmnet' else ns.rgwc.GwcNet)(**_CAS_V1)),
             randomise=_gain(10.), eval_ours=_inference,
             eval_ref=lambda m, x: {'disp_est': m.net(x['ref_img'], x['tgt_img'])['stage2']['pred']},
             train_ours=_cas_train_ours, train_ref=_cas_train_ref, tol={'train': 5e-3, 'grads': 5e-3})

_CAS_ARGS = dict(maxdisp=192, ndisps=[48, 24], disp_interval_pixel=[4.0, 1.0], cr_base_chs=[32, 32, 16],
                 grad_method='detach', using_ns=True, ns_size=3)   # their main.py's constructor call, with their scripts' flags

def _cas_author_check(ns, c, theirs, mine):
    left, right, _ = _author_eval(c['H'], c['W'])
    with torch.no_grad():
        rt, rm = theirs(left, right), mine.net(left, right)
        dm = mine({'ref_img': left, 'tgt_img': right})['inference_disp']['disp_est']
    return {'eval stage1': (rm['stage1']['pred'], rt['stage1']['pred']), 'eval stage2': (rm['stage2']['pred'], rt['stage2']['pred']),
            'inference_disp vs their stage2': (dm, rt['stage2']['pred'])}

def _cas_author_patches(ns):
    gs = F.grid_sample   # unset align_corners: PyTorch <= 1.2, which they wrote for, behaved as True
    return ((F, 'grid_sample', lambda input, grid, mode='bilinear', padding_mode='zeros', align_corners=None:
             gs(input, grid, mode, padding_mode, True if align_corners is None else align_corners)),)

casnet_author = Row('casnet:author', 'alibaba/cascade-stereo CasStereoNet (--model gwcnet-c / gwcnet)', ref='cascade-stereo',
                    setup=lambda path: NS(path=path),
                    cases=lambda quick: [dict(variant=v, H=256, W=256 if quick else 512) for v in ('psmnet', 'gwcnet')],  # SPP needs 256 rows
                    ours=lambda ns, c: _cas_author_build(ns, c),
                    author_check=_cas_author_check, patches=_cas_author_patches, threads=1)

def _cas_author_build(ns, c):
    mod = 'models.psmnet' if c['variant'] == 'psmnet' else 'models.gwcnet'
    cls = {c['variant']: 'PSMNet' if c['variant'] == 'psmnet' else 'GwcNet'}
    return _author_net_build(mod, cls, lambda c: _cas_ours(ns, c, training=False), lambda k: 'net.' + k,
                             layout='model.module', gain=10., **_CAS_ARGS)(ns, c)

# === CFNet ==============================================================================================================
_CF_W = [0.25, 0.35, 0.5, 0.5, 0.7, 1.0, 1.0, 1.4, 2]   # v1's configs (the authors' model_loss)

def _cf_setup(ref):
    r = f'{ref}/modeling/models/cfnet'
    package('ref_cfnet', r)
    rs = load('ref_cfnet.submodule', f'{r}/submodule.py')
    rc = load('ref_cfnet.cfnet', f'{r}/cfnet.py')
    return NS(rs=rs, rc=rc, v1_gwc=rc.build_gwc_volume)

def _cf_ours(ns, c, training=True):
    from openstereo_nb.modeling.models.cfnet import CFNet
    return CFNet(synthetic_cfg('CFNet', [{'log_prefix': 'disp', 'type': 'Weighted_Smooth_l1_Loss', 'weights': _CF_W}],
                               replace_mish=c.get('relu', False), find_unused_parameters=True,
                               base_config={'max_disp': c['D']}), is_training=training)

def _cf_ref(ns, c):
    # with `swap_gwc`, v1's per-disparity loop build_gwc_volume is replaced by the shared vectorised gwc_volume (equal up
    # to the order of the group mean's additions), to isolate that one difference
    from openstereo_nb.modeling.layers import gwc_volume
    ns.rc.build_gwc_volume = gwc_volume if c.get('swap_gwc') else ns.v1_gwc
    return Net(ns.rc.CFNet(c['D'], c.get('relu', False)))

def _cf_randomise(model, seed, c):
    "non-trivial BN statistics, sharpened heads, and non-zero gamma/beta so the uncertainty-to-range step has all its terms"
    g = torch.Generator().manual_seed(seed)
    randomise(model, seed, 10., head=r'classif.*\.2\.weight$', generator=g)
    with torch.no_grad():
        for n in ('gamma_s3', 'beta_s3', 'gamma_s2', 'beta_s2'):
            getattr(model.net, n).fill_(torch.rand(1, generator=g).item() + 0.2)
    return model

def _cf_eval_ours(m, x):
    "The model's output and, from the same pass (a hook on its network), the 1/4 and 1/8 stages"
    seen = []
    h = m.net.register_forward_hook(lambda mod, inp, out: seen.append(out))
    try: disp = m(x)['inference_disp']['disp_est']
    finally: h.remove()
    o = seen[0]
    return {'disp_est': disp, '1/4 stage': o[1][0], '1/8 stage': o[2][0]}

def _cf_eval_ref(m, x):
    o = m.net(x['ref_img'], x['tgt_img'])
    return {'disp_est': o[0][0], '1/4 stage': o[1][0], '1/8 stage': o[2][0]}

def _cf_pieces(ns):
    from openstereo_nb.modeling.layers import gwc_volume, cat_fms
    torch.manual_seed(1)
    l, r = torch.randn(2, 160, 8, 24), torch.randn(2, 160, 8, 24)
    out = {'gwc_volume vs v1 build_gwc_volume': maxdiff(gwc_volume(l, r, 12, 40), ns.rs.build_gwc_volume(l, r, 12, 40))}
    l, r = torch.randn(2, 12, 8, 24), torch.randn(2, 12, 8, 24)
    out['cat_fms vs v1 build_concat_volume'] = maxdiff(cat_fms(l, r, 12), ns.rs.build_concat_volume(l, r, 12))
    for relu in (False, True):
        c = dict(D=192, relu=relu)
        out[f'initial weights, same seed (replace_mish={relu})'] = _same_init(lambda: _cf_ours(ns, c), lambda: _cf_ref(ns, c))
    return out

def _cf_cases(quick):
    sh = [dict(H=64, W=128, D=192, B=2)] + ([] if quick else [dict(H=256, W=512, D=192, B=1)])
    cs = [dict(swap_gwc=s, **x, fp64=not s) for x in sh for s in (False, True)]
    return cs + [dict(relu=True, swap_gwc=s, H=64, W=128, D=64, B=2) for s in (False, True)]

cfnet = Row('cfnet', 'OpenStereo v1 cfnet', setup=_cf_setup, cases=_cf_cases, ours=_cf_ours, reference=_cf_ref,
            randomise=_cf_randomise, eval_ours=_cf_eval_ours, eval_ref=_cf_eval_ref,
            train_ours=_train_ests(smooth_l1(_CF_W)),
            train_ref=_ref_ests(lambda m, xt: m.net(xt['ref_img'], xt['tgt_img']), smooth_l1(_CF_W)),
            pieces=_cf_pieces, patches=lambda ns: _GET_DEVICE,
            # v1's loop gwc volume sums in another order: a few pixels whose uncertainty range flips differ (see the notebook)
            tol={'eval': 1., 'train': 1., 'grads': 1., 'loss': 1e-3})

def _cf_author_build(ns, c):
    "their main.py's CFNet(192) (their Mish prints a line per instance), randomised as in the v1 row"
    from openstereo_nb.modeling.layers import gwc_volume
    with contextlib.redirect_stdout(io.StringIO()):
        (ac,) = import_author(ns.path, 'models.cfnet')
        ac.build_gwc_volume = gwc_volume if c['swap_gwc'] else ac.build_gwc_volume
        torch.manual_seed(0)
        theirs = _cf_randomise(Net(ac.CFNet(192)), 0, c).net
    return theirs, _cf_ours(ns, dict(D=192), training=False), 'model', lambda k: 'net.' + k

def _cf_author_check(ns, c, theirs, mine):
    """the three stages' eval estimates; at the small shape the nine training estimates too; with their own
    build_gwc_volume, their network in float64 as the fp32 floor (CFNet's cascade is discontinuous, see the v1 row)"""
    l, r, _ = _author_eval(c['H'], c['W'], seed=1, B=c['B'])
    small = c['H'] == 64
    nets = [mine.net, theirs] + ([] if c['swap_gwc'] else [copy.deepcopy(theirs).double()])
    def outs(names, pick):
        with torch.no_grad(): o = [pick(n(l.to(dt), r.to(dt))) for n, dt in zip(nets, (torch.float32, torch.float32, torch.float64))]
        return {k: (v[0], v[1], maxdiff(v[1].double(), v[2]) if len(v) > 2 else None) for k, *v in zip(names, *o)}
    out = outs(['eval disp_est (1/2 stage)', 'eval 1/4 stage', 'eval 1/8 stage'], lambda o: [s[0] for s in o[:3]])
    out['eval pixels > 1e-4 apart'] = f'{100 * ((out["eval disp_est (1/2 stage)"][0] - out["eval disp_est (1/2 stage)"][1]).abs() > 1e-4).float().mean():.2f}%'
    if small:
        for n in nets: n.train()
        out.update(outs([f'train d{i}' for i in range(9)], list))
    return out

cfnet_author = Row('cfnet:author', 'gallenszl/CFNet CFNet(192)', ref='CFNet', setup=lambda path: NS(path=path),
                   # their build_gwc_volume as is, and replaced by the shared gwc_volume (see the v1 row)
                   cases=lambda quick: [dict(swap_gwc=s, **x) for x in [dict(H=64, W=128, B=2)] + ([] if quick else [dict(H=256, W=512, B=1)])
                                        for s in (False, True)],
                   ours=_cf_author_build, author_check=_cf_author_check, patches=lambda ns: _GET_DEVICE, tol=cfnet.tol)

# === CoEx ===============================================================================================================
def _coex_cfg(D):
    return synthetic_cfg('CoExNet', [{'log_prefix': 'disp', 'loss_term_weight': 0.77, 'type': 'Weighted_Smooth_l1_Loss', 'weights': [1.0, 0.3]}],
                         base_config={'max_disp': D, 'spixel_branch_channels': [32, 48], 'chans': [16, 24, 32, 96, 160]},
                         backbone_cfg={'type': 'CoExBackbone'},
                         cost_processor_cfg={'type': 'CoExCostProcessor', 'matching_weighted': False, 'matching_head': 1,
                                             'gce': True, 'aggregation_disp_strides': 2, 'aggregation_channels': [16, 32, 48],
                                             'aggregation_blocks_num': [2, 2, 2]},
                         disp_processor_cfg={'type': 'CoExDispProcessor', 'regression_topk': 2})

def _coex_setup(ref):
    import timm
    create = getattr(timm, '_create_model_unpatched', timm.create_model)
    timm._create_model_unpatched = create
    timm.create_model = lambda *a, **kw: create(*a, **{**kw, 'pretrained': False})   # nothing downloads
    m = f'{ref}/modeling'
    for p in ('modeling', 'modeling.common', 'modeling.common.model_basics'): package(p, f"{ref}/{p.replace('.', '/')}")
    load('modeling.common.model_basics.CoEx', f'{m}/common/model_basics/CoEx.py')
    return NS(create=create, rbb=load('ref_coex_backbone', f'{m}/backbone/CoEx.py'),
              rcp=load('ref_coex_cost', f'{m}/cost_processor/CoEx.py'), rdp=load('ref_coex_disp', f'{m}/disp_processor/CoEx.py'))

def _coex_ours(ns, c):
    from openstereo_nb.modeling.models.coex import CoExNet
    return CoExNet(_coex_cfg(c['D']), is_training=True)

def _coex_ref(ns, c):
    D = c['D']
    return Chain(ns.rbb.CoExBackbone(spixel_branch_channels=[32, 48]),
                 ns.rcp.CoExCostProcessor(max_disp=D, gce=True, matching_weighted=False, spixel_branch_channels=[32, 48],
                                          matching_head=1, aggregation_disp_strides=2, aggregation_channels=[16, 32, 48],
                                          aggregation_blocks_num=[2, 2, 2], chans=[16, 24, 32, 96, 160]),
                 ns.rdp.CoExDispProcessor(max_disp=D, regression_topk=2, chans=[16, 24, 32, 96, 160]))

def _coex_train(m, xt, ours=True):
    from openstereo_nb.modeling.loss_aggregator import LossAggregator
    agg = LossAggregator(_coex_cfg(192)['loss_cfg'])
    o = m(xt)['training_disp']
    l, _ = agg(o, xt) if ours else agg(o)
    return _ests(o['disp']['disp_ests'], ['full-res', '1/4 upsampled']), l

def _coex_pieces(ns):
    from openstereo_nb.modeling.models.coex import CoExFeature, topk_softargmin
    from openstereo_nb.modeling.layers import corr_volume
    torch.manual_seed(1)
    out = {}
    x, y = torch.randn(2, 48, 9, 30), torch.randn(2, 48, 9, 30)
    ref = ns.rcp.CostVolume(12, False, 1)(x, y)[:, :, :-1]
    out['corr_volume(sum) vs v1 CostVolume'] = maxdiff(corr_volume(x, y, 12, reduction="sum").unsqueeze(1), ref)
    cost = torch.randn(2, 1, 12, 5, 7)
    r = ns.rdp.Regression(48, 2); r.train()
    spg = torch.rand(2, 9, 20, 28).softmax(1)
    d1, d4 = r(cost, spg)
    out['topk_softargmin (k=2) vs v1 Regression'] = maxdiff(topk_softargmin(cost, 2).squeeze(1) * 4, d4)
    # the MobileNetV2 trunk against timm itself (timm's stem activation on, see the notebook)
    tm = ns.create('mobilenetv2_100', pretrained=False, features_only=True).eval()
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for mm in tm.modules():
            if isinstance(mm, nn.BatchNorm2d):
                mm.running_mean.copy_(torch.randn(mm.running_mean.shape, generator=g) * 0.2)
                mm.running_var.copy_(torch.rand(mm.running_var.shape, generator=g) * 1.5 + 0.5)
    ours = CoExFeature(stem_act=True).eval(); ours.load_timm_state_dict(tm.state_dict())
    x = torch.randn(1, 3, 128, 192)
    out5 = []   # timm's 1/32 feature comes after its seventh stage; CoEx stops after the sixth (blocks[5])
    hook = tm.blocks[5].register_forward_hook(lambda m, i, o: out5.append(o))
    with torch.no_grad(): a, b = ours(x), tm(x)[1:4]
    hook.remove(); b.append(out5[0])
    out['CoExFeature(stem_act) vs timm mobilenetv2_100'] = max(maxdiff(u, v) for u, v in zip(a, b))
    return out

coex = Row('coex', 'OpenStereo v1 CoEx stages', setup=_coex_setup,
           cases=lambda quick: [dict(H=64, W=128, D=64, B=2, fp64=True), dict(H=100, W=164, D=64, B=1, fp64=True)]
                 + ([] if quick else [dict(H=256, W=512, D=192, B=1)]),
           ours=_coex_ours, reference=_coex_ref,
           randomise=_gain(10., r'^CostProcessor\.cost_agg\.conv_up\.0\.conv\.weight$'), eval_ours=_inference, eval_ref=_inference,
           train_ours=_coex_train, train_ref=lambda m, xt: _coex_train(m, xt, ours=False), pieces=_coex_pieces,
           tol={'train': 5e-3, 'grads': 5e-3}, timm=True)

def _stub_missing(name, **attrs):
    "a stand-in for a module that is not installed (their drawing helpers' imports)"
    try: importlib.import_module(name)
    except ImportError: stub(name, **attrs)

def _coex_author_setup(path):
    import yaml
    _stub_missing('cv2'); _stub_missing('skimage'); _stub_missing('skimage.segmentation', mark_boundaries=None)
    S = f'{path}/models/stereo'
    for p, d in (('acoex', S), ('acoex.submodules', f'{S}/submodules'), ('acoex.submodules.spixel_utils', f'{S}/submodules/spixel_utils')):
        package(p, d)   # bare packages: their __init__s are not run
    def cfg():   # their configs/stereo/cfg_coex.yaml + configs/backbone.yaml, backbone from scratch (nothing downloads)
        cfg = yaml.safe_load(open(f'{path}/configs/stereo/cfg_coex.yaml'))['model']['stereo']
        cfg['backbone'].update(yaml.safe_load(open(f'{path}/configs/backbone.yaml')))
        cfg['backbone']['from_scratch'] = True
        return cfg
    return NS(acoex=load('acoex.CoEx', f'{S}/CoEx.py'), cfg=cfg)

def _lightning(net):   # their PyTorch Lightning checkpoint
    return {'epoch': 9, 'global_step': 1000, 'pytorch-lightning_version': '1.6.5', 'state_dict': net.state_dict(),
            'optimizer_states': [], 'lr_schedulers': []}

def _coex_author_build(ns, c):
    "their network as their LightningModule holds it (`stereo`), randomised, the last 3D transposed conv x10"
    from openstereo_nb.modeling.models.coex import CoExNet, coex_author_to_openstereo
    torch.manual_seed(0)
    theirs = _bn_modules(Holder(stereo=ns.acoex.CoEx(ns.cfg())), torch.Generator().manual_seed(0), var=(1.5, .5), affine=(.8, .6),
                         gain=10., head=r'^stereo\.cost_agg\.conv_up\.0\.conv\.weight$')
    return theirs, CoExNet(_coex_cfg(192), is_training=False), _lightning, coex_author_to_openstereo

def _coex_author_check(ns, c, theirs, mine):
    """eval, and the training-path estimates with BatchNorm frozen (their training batches left and right together, so
    the batch statistics are shared between the views there and separate in v1 and ours)"""
    B, H, W = c['B'], c['H'], c['W']
    l, r, g = _author_eval(H, W, seed=B, B=B)
    with torch.no_grad(): dt, do = theirs.stereo(l, r)[0], mine({'ref_img': l, 'tgt_img': r})['inference_disp']['disp_est']
    mine.train()
    for m in mine.modules():
        if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)): m.eval()
    gt = torch.rand(B, H, W, generator=g) * 191
    with torch.no_grad():
        t1, t4, _ = theirs.stereo(l, r, training=True)
        t4 = F.interpolate(t4.unsqueeze(1), size=(H, W), mode='bilinear').squeeze(1)   # as their training_step
        o1, o4 = mine({'ref_img': l, 'tgt_img': r, 'disp_gt': gt, 'mask': gt > 0})['training_disp']['disp']['disp_ests']
    return {'eval disp': (do, dt), 'train full-res (BN frozen)': (o1, t1), 'train 1/4 upsampled (BN frozen)': (o4, t4)}

coex_author = Row('coex:author', 'antabangun/coex CoEx (cfg_coex.yaml)', ref='coex', setup=_coex_author_setup,
                  cases=lambda quick: ([] if quick else [dict(H=256, W=512, B=1)]) + [dict(H=64, W=128, B=2)],
                  ours=_coex_author_build, author_check=_coex_author_check, timm=True)

# === FADNet =============================================================================================================
_FAD_WEIGHTS = [[0.32, 0.16, 0.08, 0.04, 0.02, 0.01, 0.005], [0.6, 0.32, 0.08, 0.04, 0.02, 0.01, 0.005],
                [0.8, 0.16, 0.04, 0.02, 0.01, 0.005, 0.0025], [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]
_FAD_LOSS = dict(loss_term_weight=1, scales=7, downscale=1, weights=_FAD_WEIGHTS, loss='L1', maxdisp=192, mask=False)
_FAD_KEYS = ('dispnetc_flows', 'dispnetres_flows')

def _fad_cfg(D, ratio=16):
    st = {'resBlock': True, 'encoder_ratio': ratio, 'decoder_ratio': ratio}
    return {'data_cfg': {'name': 'Synthetic'},
            'model_cfg': {'model': 'FADNet', 'base_config': {'max_disp': D},
                          'backbone_cfg': {'type': 'FadnetBackbone', 'maxdisp': D, 'input_channel': 3, **st},
                          'cost_processor_cfg': {'type': 'FADAggregator', 'maxdisp': D, 'input_channel': 3, **st},
                          'disp_processor_cfg': {'type': 'DispNetRes', 'in_planes': 11, **st}},
            'loss_cfg': [{'log_prefix': p, 'type': 'MultiScaleLoss', **_FAD_LOSS} for p in _FAD_KEYS], 'trainer_cfg': {}}

def _fad_setup(ref):
    "v1's files with their package imports stubbed: `utils` is utils/common.py alone, a minimal BaseModel (build_network, stages by type)"
    load('utils', f'{ref}/utils/common.py')
    package('modeling', f'{ref}/modeling'); package('modeling.common', f'{ref}/modeling/common')
    rm = load('modeling.common.modules', f'{ref}/modeling/common/modules.py')
    rb = load('ref_fad_backbone', f'{ref}/modeling/backbone/fadnet.py')
    rc = load('ref_fad_cost', f'{ref}/modeling/cost_processor/fadnet.py')
    rd = load('ref_fad_disp', f'{ref}/modeling/disp_processor/fadnet.py')
    stub('base_trainer', BaseTrainer=object); stub('modeling.common.lamb', Lamb=None)
    stub('modeling.base_model', BaseModel=v1_base_model((rb, rc, rd)))
    rmodel = load('ref_fad_model', f'{ref}/modeling/models/fadnet/model.py')
    package('ref_losses', f'{ref}/modeling/losses')
    load('ref_losses.base', f'{ref}/modeling/losses/base.py')
    return NS(ref=ref, rm=rm, rmodel=rmodel, rl=load('ref_losses.l1_loss', f'{ref}/modeling/losses/l1_loss.py'))

def _fad_ours(ns, c):
    from openstereo_nb.modeling.models.fadnet import FADNet
    return FADNet(_fad_cfg(c['D']), is_training=True)

def _fad_outputs(o, squeeze):
    return {f'{k}[{i}]': (e.squeeze(1) if squeeze else e) for k in _FAD_KEYS for i, e in enumerate(o[k]['disp_ests'])}

def _fad_train_ours(m, xt):
    from openstereo_nb.modeling.models.fadnet import MultiScaleLoss
    o = m(xt)['training_disp']
    return _fad_outputs(o, False), sum(MultiScaleLoss(**_FAD_LOSS)(**o[k], disp_gt=xt['disp_gt'], mask=xt['mask'])[0] for k in o)

def _fad_train_ref(ns):
    def f(m, xt):
        o = m(dict(xt))['training_disp']
        ns.raw = {**getattr(ns, 'raw', {}), xt['ref_img'].dtype: o}
        return _fad_outputs(o, True), sum(ns.rl.MultiScaleLoss(**_FAD_LOSS)(**o[k])[0] for k in o)
    return f

def _fad_extra(ns, ctx):
    "the loss alone, on the same estimates, with every row of the weights (v1's `round` argument)"
    from openstereo_nb.modeling.models.fadnet import MultiScaleLoss
    xt = ctx['xt']
    ests = [e.detach() for e in ns.raw[torch.float32]['dispnetres_flows']['disp_ests']]   # v1's fp32 training outputs
    out = {}
    for r in range(4):
        a = MultiScaleLoss(**_FAD_LOSS)(ests, xt['disp_gt'], round=r)[0].item()
        b = ns.rl.MultiScaleLoss(**_FAD_LOSS)(ests, xt['disp_gt'], round=r)[0].item()
        out[f'MultiScaleLoss round {r}'] = abs(a - b)
    return out

def _fad_pieces(ns):
    from openstereo_nb.modeling.models.fadnet import FADNet, fadnet_corr, warp_right_to_left
    from openstereo_nb.optim import Lamb
    torch.manual_seed(1)
    out = {}
    for W in (24, 64):   # 24 < 40 displacements: v1's loop repeats the zero-displacement slice
        l, r = torch.randn(2, 128, 6, W), torch.randn(2, 128, 6, W)
        out[f'fadnet_corr vs v1 build_corr (W={W})'] = maxdiff(fadnet_corr(l, r, 40), ns.rm.build_corr(l, r, 40))
    x, d = torch.randn(2, 3, 32, 48), torch.randn(2, 1, 32, 48) * 5
    out['warp_right_to_left vs v1'] = maxdiff(warp_right_to_left(x, d), ns.rm.warp_right_to_left(x, d))
    rlamb = load('ref_lamb', f'{ns.ref}/modeling/common/lamb.py')
    for wd in (0., 0.01):
        torch.manual_seed(2); a = [torch.nn.Parameter(torch.randn(5, 7)), torch.nn.Parameter(torch.zeros(3))]
        b = [torch.nn.Parameter(t.detach().clone()) for t in a]
        oa, ob = Lamb(a, lr=0.004, weight_decay=wd), rlamb.Lamb(b, lr=0.004, weight_decay=wd)
        for _ in range(5):
            g = [torch.randn_like(t) for t in a]
            for t, gg in zip(a, g): t.grad = gg.clone()
            for t, gg in zip(b, g): t.grad = gg.clone()
            oa.step(); ob.step()
        out[f'Lamb vs v1 Lamb, 5 steps, wd {wd}'] = max(maxdiff(x, y) for x, y in zip(a, b))
    out['initial weights, same seed'] = _same_init(lambda: FADNet(_fad_cfg(192), is_training=True), lambda: ns.rmodel.FADNet(_fad_cfg(192)))
    return out

fadnet = Row('fadnet', 'OpenStereo v1 FADNet model and MultiScaleLoss', setup=_fad_setup,
             cases=lambda quick: [dict(H=64, W=256, D=192, B=2, fp64=True)] + ([] if quick else [dict(H=256, W=512, D=192, B=1)]),
             ours=_fad_ours, reference=lambda ns, c: ns.rmodel.FADNet(_fad_cfg(c['D'])),
             randomise=lambda m, seed, c: randomise(m, seed, head=None),
             eval_ours=_inference, eval_ref=lambda m, x: {'disp_est': m(dict(x))['inference_disp']['disp_est']},
             train_ours=_fad_train_ours, train_ref=None, gt=_zeros_gt(20, 8), pieces=_fad_pieces, extra=_fad_extra,
             patches=lambda ns: _CUDA_NOOP,
             tol={'train': 5e-3, 'grads': 5e-3})

def _fad_author_setup(path):
    "their networks/{submodules,DispNetC,DispNetRes,FADNet}.py under a bare package (its __init__ imports every network)"
    if not hasattr(nn.init, 'kaiming_normal'): nn.init.kaiming_normal = nn.init.kaiming_normal_   # their deprecated alias
    package('networks', f'{path}/networks')
    for m in ('submodules', 'DispNetC', 'DispNetRes'): load(f'networks.{m}', f'{path}/networks/{m}.py')
    return NS(fad=load('networks.FADNet', f'{path}/networks/FADNet.py'))

def _fad_main_py(net):   # their main.py's checkpoint
    return {'round': 1, 'epoch': 1, 'arch': 'dispnet', 'state_dict': dp_state_dict(net), 'best_EPE': 0.0}

def _fad_author_build(ns, c):
    from openstereo_nb.modeling.models.fadnet import FADNet, _AUTHOR_PREFIXES
    torch.manual_seed(0)
    theirs = ns.fad.FADNet(resBlock=True, maxdisp=192, input_channel=3, encoder_ratio=16, decoder_ratio=16)
    ns.g = torch.Generator().manual_seed(0)   # their BatchNorm randomised, then the inputs drawn
    _bn_modules(theirs, ns.g, var=(1.5, .5), affine=(.8, .6))
    return theirs, FADNet(_fad_cfg(192), is_training=False), _fad_main_py, \
        lambda k: next((v + k[len(p):] for p, v in _AUTHOR_PREFIXES.items() if k.startswith(p)), k)

def _fad_author_check(ns, c, theirs, mine):
    "eval, and in training mode the seven maps of DispNet-C and of DispNetRes"
    H, W = c['H'], c['W']
    x = torch.randn(1, 3, H, W, generator=ns.g), torch.randn(1, 3, H, W, generator=ns.g)
    with torch.no_grad():
        _, r_final = theirs(torch.cat(x, 1))
        out = {'eval disp': (mine({'ref_img': x[0], 'tgt_img': x[1]})['inference_disp']['disp_est'], r_final.squeeze(1))}
    theirs.train(); mine.train()
    gt = torch.rand(1, H, W, generator=ns.g) * 192
    with torch.no_grad():
        flows = dict(zip(_FAD_KEYS, theirs(torch.cat(x, 1))))
        o = mine({'ref_img': x[0], 'tgt_img': x[1], 'disp_gt': gt, 'mask': gt > 0})['training_disp']
    out.update({f'train {k}[{i}]': (a, b.squeeze(1)) for k in _FAD_KEYS for i, (a, b) in enumerate(zip(o[k]['disp_ests'], flows[k]))})
    return out

fadnet_author = Row('fadnet:author', 'HKBU-HPML/FADNet (branch fadnet-pp) FADNet', ref='FADNet', setup=_fad_author_setup,
                    cases=lambda quick: [dict(H=64, W=256)] + ([] if quick else [dict(H=256, W=512)]),   # not 64x128: BatchNorm over its 1x2 maps at 1/64
                    ours=_fad_author_build, author_check=_fad_author_check, patches=lambda ns: _CUDA_NOOP)

# === LacGwcNet ==========================================================================================================
def _lac_setup(ref):
    r = f'{ref}/modeling/models/lacgwc'
    package('ref_lac', r)
    for n in ('affinity_feature', 'submodule', 'U_net', 'loss_functions', 'deformable_refine', 'stackhourglass'):
        load(f'ref_lac.{n}', f'{r}/{n}.py')
    stub('modeling.base_model', BaseModel=nn.Module); sys.modules.setdefault('modeling', types.ModuleType('modeling'))
    return NS(rmodel=load('ref_lac.model', f'{r}/model.py'), rsh=sys.modules['ref_lac.stackhourglass'],
              AF=sys.modules['ref_lac.affinity_feature'].AffinityFeature, GV=sys.modules['ref_lac.deformable_refine'].GetValueV2)

def _lac_ours(ns, c, training=True):
    from openstereo_nb.modeling.models.lacgwcnet import LacGwcNet
    return LacGwcNet(synthetic_cfg('LacGwcNet', [{'log_prefix': 'disp', 'type': 'LacGwcLoss'}], base_config={'max_disp': c['D']}),
                     is_training=training)

_LAC_ARGS = dict(struct_fea_c=4, fuse_mode='separate', affinity_settings={'win_w': 3, 'win_h': 3, 'dilation': [1, 2, 4, 8]},
                 udc=True, refine='csr')   # their train.py / test_*.py settings (v1's too)

def _lac_ref(ns, c):
    return Net(ns.rsh.PSMNet(maxdisp=c['D'], **_LAC_ARGS))

_LAC_OUT = ['pred1', 'pred2', 'pred3', 'dist1', 'dist2', 'dist3', 'dist4', 'refined']
def _lac_train_ours(m, xt):
    from openstereo_nb.modeling.models.lacgwcnet import LacGwcLoss
    res = m(xt)['training_disp']['disp']
    lm, _ = LacGwcLoss()(**res, disp_gt=xt['disp_gt'], mask=xt['mask'])
    e, p = res['disp_ests'], res['distributions']
    return dict(zip(_LAC_OUT, [e[0], e[1], e[2], *p, e[3]])), lm

def _lac_train_ref(ns):
    def f(m, xt):
        er = m(xt)
        l = ns.rmodel.LacGwcLoss(ns.case['D'])(
            {'disp': {'disp_ests': er, 'disp_gt': xt['disp_gt'], 'mask': xt['mask']}})[0]
        return dict(zip(_LAC_OUT, er)), l
    return f

def _lac_pieces(ns):
    from openstereo_nb.modeling.models.lacgwcnet import local_similarity, sample_at_offsets
    torch.manual_seed(1)
    f = torch.randn(2, 64, 12, 20)
    out = {'local_similarity vs v1 AffinityFeature': max(maxdiff(local_similarity(f, d), ns.AF(3, 3, d, 0)(f)) for d in (1, 2, 4, 8))}
    x, off = torch.randn(2, 24, 16, 20), torch.randn(2, 4, 16, 20) * 3
    out['sample_at_offsets vs v1 GetValueV2'] = maxdiff(sample_at_offsets(x, off), ns.GV(stride=1)(x, off))
    c = dict(D=192)
    out['initial weights, same seed'] = _same_init(lambda: _lac_ours(ns, c), lambda: _lac_ref(ns, c))
    return out

def _lac_extra(ns, ctx):
    named, pr = ctx['named'], ctx['pr']
    return {'grads of the offset convs': max(maxdiff(p.grad, pr[n].grad) for n, p in named if 'offset_conv' in n)}

lacgwcnet = Row('lacgwcnet', 'OpenStereo v1 lacgwc (network and LacGwcLoss)', setup=_lac_setup,
                cases=lambda quick: [dict(H=64, W=128, D=48, B=2)] + ([] if quick else [dict(H=256, W=512, D=192, B=1)]),
                ours=_lac_ours, reference=_lac_ref, randomise=_gain(40.), eval_ours=_inference,
                eval_ref=lambda m, x: {'disp_est': m(x)}, train_ours=_lac_train_ours, train_ref=None,
                pieces=_lac_pieces, extra=_lac_extra, patches=lambda ns: (), tol={'train': 5e-3, 'grads': 5e-3})

def _lac_train_py(net): return {'net': dp_state_dict(net), 'optimizer': {}, 'epoch': 10}   # their train.py's layout

def _lac_author_build(ns, c):
    "their network, BatchNorm randomised and the classif heads x40; saved as their released files are (a bare DataParallel state dict)"
    _stub_missing('cv2')   # loss_functions.py imports it for a data-augmentation helper only
    (sh,) = import_author(ns.path, 'networks.stackhourglass')
    torch.manual_seed(0)
    theirs = _bn_modules(sh.PSMNet(maxdisp=c['D'], **_LAC_ARGS), torch.Generator().manual_seed(1), gain=40., head=r'^classif.*\.2\.weight$')
    return theirs, _lac_ours(ns, c, training=c['mode'] == 'train'), ['bare', _lac_train_py], lambda k: 'net.' + k

def _lac_author_check(ns, c, theirs, mine):
    "eval: their refined disparity; train: their loss terms (their forward returns loss1, loss2; train.py minimises 0.1 loss1 + loss2) and the gradients"
    from openstereo_nb.modeling.models.lacgwcnet import LacGwcLoss
    B, H, W, D = c['B'], c['H'], c['W'], c['D']
    l, r, g = _author_eval(H, W, seed=2, B=B)
    gt = torch.rand(B, H, W, generator=g) * (D - 1)
    if c['mode'] == 'eval':
        with torch.no_grad():
            return {'eval disp': (mine({'ref_img': l, 'tgt_img': r})['inference_disp']['disp_est'], theirs(l, r, gt))}
    theirs.train(); mine.train()
    loss1, loss2 = theirs(l, r, gt)
    total = 0.1 * loss1.mean() + loss2.mean(); total.backward()
    mask = (gt > 0) & (gt < D)
    res = mine({'ref_img': l, 'tgt_img': r, 'disp_gt': gt, 'mask': mask})['training_disp']['disp']
    lm, info = LacGwcLoss()(**res, disp_gt=gt, mask=mask); lm.backward()
    tp = dict(theirs.named_parameters())
    named = [(n, p) for n, p in mine.named_parameters() if p.grad is not None]
    return {'train loss1 (smooth-L1 sum) vs loss_l1': (info['scalar/train/loss_l1'], loss1),
            'train loss2 (CE sum) vs loss_ce': (info['scalar/train/loss_ce'], loss2), 'train 0.1 loss1 + loss2': (lm, total),
            'grads': (torch.cat([p.grad.flatten() for _, p in named]), torch.cat([tp[n[len('net.'):]].grad.flatten() for n, _ in named]))}

lacgwcnet_author = Row('lacgwcnet:author', 'SpadeLiu/Lac-GwcNet networks/stackhourglass PSMNet', ref='Lac-GwcNet',
                       setup=lambda path: NS(path=path),
                       cases=lambda quick: [dict(mode=m, H=64, W=128, D=48, B=2) for m in ('eval', 'train')]
                             + ([] if quick else [dict(mode='eval', H=256, W=512, D=192, B=1)]),
                       ours=_lac_author_build, author_check=_lac_author_check, patches=lambda ns: _CUDA_NOOP)

_bind(fadnet, train_ref=_fad_train_ref)
_bind(lacgwcnet, train_ref=_lac_train_ref)

ROWS = [psmnet, psmnet_author, gwcnet, gwcnet_author, msnet, msnet_author, casnet, casnet_author, cfnet, cfnet_author, coex,
        coex_author, fadnet, fadnet_author, lacgwcnet, lacgwcnet_author]
