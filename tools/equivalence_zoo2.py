"""More rows of tools/equivalence.py: the models beyond v1's first zoo (IGEV, STTR, AANet, GANet, RAFT-Stereo), against
OpenStereo v1 and the authors' releases. Same conventions as tools/equivalence_models.py (see its docstring); the draw
order of the random numbers is the one of the old per-model scripts, so the figures are theirs."""
import sys, types, math, importlib
import torch, torch.nn as nn, torch.nn.functional as F
from equivalence import Row, load, package, stub, import_author, randomise, maxdiff, synthetic_cfg, smooth_l1, dp_state_dict, adam_state
from equivalence_models import (NS, Net, _gain, _inference, _train_ests, _ref_ests, _same_init, _author_eval, _bind, _zeros_gt,
                                v1_base_model, _CUDA_NOOP, _GET_DEVICE)

def _rand255(g, B, H, W):
    "a random pair in 0..255 (IGEV's and RAFT-Stereo's input range)"
    return {'ref_img': torch.rand(B, 3, H, W, generator=g) * 255, 'tgt_img': torch.rand(B, 3, H, W, generator=g) * 255}

def _pairs(prefix, ours, theirs):
    "{prefix + name: (ours, theirs)} over two dicts with the same names"
    return {prefix + k: (v, theirs[k]) for k, v in ours.items()}

# === IGEV ===============================================================================================================
def _timm_patches(ns):
    "timm.create_model with nothing downloaded (pretrained=False) and v1's `act1` (timm >= 0.9 folds it into bn1: an identity)"
    import timm
    create = timm.create_model
    def no_download(name, pretrained=False, **kw):
        m = create(name, pretrained=False, **kw)
        if not hasattr(m, 'act1'): m.act1 = nn.Identity()
        return m
    return ((timm, 'create_model', no_download),)

def _igev_base(D, iters, slow_fast=True, valid_iters=None):
    return {'max_disp': D, 'hidden_dims': [128] * 3, 'n_gru_layers': 3, 'n_downsample': 2, 'slow_fast_gru': slow_fast,
            'corr_levels': 2, 'corr_radius': 4, 'train_iters': iters, 'valid_iters': valid_iters or iters}

def _igev_ours(D, iters, training=True, **kw):
    from openstereo_nb.modeling.models.igev import IGEV
    return IGEV(synthetic_cfg('IGEV', [{'log_prefix': 'disp', 'type': 'IGEVLoss'}], base_config=_igev_base(D, iters, **kw)),
                is_training=training)

def _igev_setup(ref):
    "v1's `igev` folder as the package `ref_igev` (model.py, for v1's IGEVLoss, with stand-ins for its BaseModel and Odict)"
    d = f'{ref}/modeling/models/igev'
    package('ref_igev', d)
    for name in ('utils', 'submodule', 'extractor', 'geometry', 'update', 'igev_stereo'): load(f'ref_igev.{name}', f'{d}/{name}.py')
    for name, attrs in (('modeling', {}), ('modeling.base_model', {'BaseModel': nn.Module}), ('utils', {'Odict': dict})):
        sys.modules.setdefault(name, types.ModuleType(name)).__dict__.update(attrs)
    return NS(rs=sys.modules['ref_igev.igev_stereo'], rmodel=load('ref_igev.model', f'{d}/model.py'))

def _igev_outs(init, ests, squeeze=False):
    "d0 upsampled and the iterations' disparities (the first, the last, all)"
    sq = (lambda t: t.squeeze(1)) if squeeze else (lambda t: t)
    ests = [sq(e) for e in ests]
    return {'init': sq(init), 'iter 0': ests[0], 'last iter': ests[-1], 'all iters': torch.stack(ests)}

def _igev_train(ns, ours):
    def f(m, xt):
        D, gt, mask = ns.case['D'], xt['disp_gt'], xt['mask']
        if ours:
            from openstereo_nb.modeling.models.igev import IGEVLoss
            td = m(xt)['training_disp']['disp']
            return _igev_outs(td['disp_init'], td['disp_ests']), IGEVLoss(0.9, D)(td['disp_ests'], td['disp_init'], gt, mask)[0]
        init, preds = m(xt)
        return _igev_outs(init, preds, True), ns.rmodel.IGEVLoss.sequence_loss(preds, init, gt, mask.float(), 0.9, D)
    return f

igev = _bind(Row('igev', 'OpenStereo v1 modeling/models/igev (IGEVStereo, IGEVLoss)', setup=_igev_setup,
                 cases=lambda quick: [dict(H=64, W=128, D=64, B=1, iters=3)] + ([] if quick else [dict(H=256, W=512, D=192, B=1, iters=22)]),
                 ours=lambda ns, c: _igev_ours(c['D'], c['iters']),
                 reference=lambda ns, c: Net(ns.rs.IGEVStereo(_igev_base(c['D'], c['iters']))),
                 randomise=_gain(10., r'\.classifier\.weight$'), inputs=_rand255, eval_ours=_inference,
                 eval_ref=lambda m, x: {'disp_est': m(x).squeeze(1)}, patches=_timm_patches),
             train_ours=lambda ns: _igev_train(ns, True), train_ref=lambda ns: _igev_train(ns, False))

def _igev_author_build(ns, c):
    "their IGEVStereo (no slow-fast GRU schedule: ours runs with slow_fast_gru false), saved as their train_stereo.py does"
    (ig,) = import_author(ns.path, 'core.igev_stereo')
    torch.manual_seed(0)
    args = types.SimpleNamespace(hidden_dims=[128] * 3, n_downsample=2, n_gru_layers=3, max_disp=c['D'], corr_radius=4,
                                 corr_levels=2, mixed_precision=False, precision_dtype='float32')
    theirs = randomise(ig.IGEVStereo(args), 0, 10., head=r'^classifier\.weight$')
    return theirs, _igev_ours(c['D'], c['ti'], False, slow_fast=False, valid_iters=c['vi']), 'bare', lambda k: 'net.' + k

def _igev_author_check(ns, c, theirs, mine):
    H, W, D = c['H'], c['W'], c['D']
    g = torch.Generator().manual_seed(1)
    x = _rand255(g, 1, H, W)
    with torch.no_grad():
        out = {f'eval disp ({c["vi"]} iters)': (mine(x)['inference_disp']['disp_est'],
                                                theirs(x['ref_img'], x['tgt_img'], iters=c['vi'], test_mode=True).squeeze(1))}
    mine.train(); theirs.train()
    gt = torch.rand(1, H, W, generator=g) * (D - 1)
    with torch.no_grad():
        td = mine({**x, 'disp_gt': gt, 'mask': gt > 0})['training_disp']['disp']
        theirs_out = _igev_outs(*theirs(x['ref_img'], x['tgt_img'], iters=c['ti']), squeeze=True)
    return {**out, **_pairs('train ', _igev_outs(td['disp_init'], td['disp_ests']), theirs_out)}

igev_author = Row('igev:author', 'gangweiX/IGEV IGEV-Stereo/core IGEVStereo', ref='IGEV-Stereo', setup=lambda path: NS(path=path),
                  cases=lambda quick: [dict(H=64, W=128, D=64, ti=3, vi=3)] + ([] if quick else [dict(H=256, W=512, D=192, ti=22, vi=32)]),
                  ours=_igev_author_build, author_check=_igev_author_check, patches=_timm_patches)

# === STTR ===============================================================================================================
_STTR_BASE = {'max_disp': 192, 'channel_dim': 128, 'position_encoding': 'sine1d_rel', 'num_attn_layers': 6, 'nheads': 8,
              'regression_head': 'ot', 'context_adjustment_layer': 'cal', 'cal_num_blocks': 8, 'cal_feat_dim': 16,
              'cal_expansion_ratio': 4, 'downsample': 3}   # v1's STTR_FlyingThings3D.yaml
_STTR_TERMS = ('rr', 'l1_raw', 'l1', 'occ_be')

def _sttr_ours(base, training=True):
    from openstereo_nb.modeling.models.sttr import STTRNet, sttr_loss_cfg
    return STTRNet({'model_cfg': {'model': 'STTRNet', 'base_config': base}, 'loss_cfg': sttr_loss_cfg(), 'trainer_cfg': {}},
                   is_training=training)

def _sttr_setup(ref):
    "v1's modeling/models/sttr package (model.py, sttr.py, utilities/) with a minimal BaseModel (build_network, build_loss_fn)"
    stub('modeling'); stub('modeling.base_model', BaseModel=v1_base_model(loss=True))
    stub('utils', get_valid_args=None, get_attr_from=None)
    package('ref_sttr', f'{ref}/modeling/models/sttr')
    return NS(model=importlib.import_module('ref_sttr.model'), NT=importlib.import_module('ref_sttr.utilities.misc').NestedTensor)

def _sttr_gains(model, seed, noisy):
    "non-trivial values for what the init leaves constant: the dustbin phi, the parameters `noisy(name, p)` picks (+ noise), weight-norm gains"
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith('phi'): p.fill_(0.7)
            elif noisy(n, p): p.add_(torch.randn(p.shape, generator=g) * 0.1)
            elif n.endswith('weight_g'): p.mul_(torch.rand(p.shape, generator=g) + 0.5)
    return model

def _sttr_gt(g, B, H, W, D):
    "a smooth disparity up to 150 px, 10% occluded pixels (their disparity 0, as v1's data gives them), a right occlusion mask"
    gt = F.interpolate(torch.rand(B, 1, H // 32, W // 32, generator=g) * 150, size=(H, W), mode='bilinear')[:, 0]
    occ = torch.rand(B, H, W, generator=g) < 0.1
    gt = torch.where(occ, torch.zeros_like(gt), gt)
    return {'disp_gt': gt, 'mask': (gt > 0) & (gt < D), 'occ_mask': occ, 'occ_mask_right': torch.rand(B, H, W, generator=g) < 0.1}

def _sttr_sampled(NT, l, r, s=3):
    "the NestedTensor their network takes: the images and the sampled grid (every s-th column and row, from s // 2)"
    B, _, H, W = l.shape
    return NT(l, r, sampled_cols=torch.arange(s // 2, W, s)[None].expand(B, -1), sampled_rows=torch.arange(s // 2, H, s)[None].expand(B, -1))

def _sttr_eval_ref(ns):
    "v1's network on the inference path (no ground truth)"
    def f(m, x):
        r = m.net(_sttr_sampled(ns.NT, x['ref_img'], x['tgt_img']))
        return {'disp_est': r['disp_pred'], 'occ_pred': r['occ_pred']}
    return f

def _sttr_eval_ours(m, x):
    e = m(x)['inference_disp']
    return {'disp_est': e['disp_est'], 'occ_pred': e['occ_pred']}

def _sttr_train_ours(m, xt):
    from openstereo_nb.modeling.loss_aggregator import LossAggregator
    from openstereo_nb.modeling.models.sttr import sttr_loss_cfg
    td = m(xt)['training_disp']
    loss, info = LossAggregator(sttr_loss_cfg())(td, xt)
    return {'disp_pred': td['l1']['disp_ests'], 'disp_pred_low_res': td['l1_raw']['disp_ests'], 'occ_pred': td['occ_be']['occ_pred'],
            'gt_response': td['rr']['gt_response'], 'occ responses': td['rr']['occ_response'],
            **{f'loss {k}': info[f'scalar/train/loss_{k}'] for k in _STTR_TERMS}}, loss

def _sttr_train_ref(m, xt):
    "v1's STTRNet.forward in train mode and its own Criterion"
    rout = m(xt)['training_disp']['disp']
    rl, ro = m.loss_fn.criterion(rout['inputs'], rout['outputs']), rout['outputs']
    return {'disp_pred': ro['disp_pred'], 'disp_pred_low_res': ro['disp_pred_low_res'], 'occ_pred': ro['occ_pred'],
            'gt_response': ro['gt_response'], 'occ responses': torch.cat([ro['gt_response_occ_left'], ro['gt_response_occ_right']]),
            **{f'loss {k}': rl[k] for k in _STTR_TERMS}}, rl['aggregated']

sttr = _bind(Row('sttr', 'OpenStereo v1 modeling/models/sttr (STTRNet, its Criterion)', setup=_sttr_setup,
                 cases=lambda quick: [dict(H=128, W=256, D=192, B=1)] + ([] if quick else [dict(H=256, W=512, D=192, B=1)]),
                 ours=lambda ns, c: _sttr_ours(_STTR_BASE),
                 reference=lambda ns, c: ns.model.STTRNet({'model_cfg': {'model': 'STTRNet', 'base_config': _STTR_BASE},
                     'loss_cfg': {'px_error_threshold': 3, 'validation_max_disp': 192, 'loss_weight': 'rr:1.0, l1_raw:1.0, l1:1.0, occ_be:1.0'}}),
                 randomise=lambda m, seed, c: _sttr_gains(m, seed, lambda n, p: 'norm' in n and 'transformer' in n),
                 gt=_sttr_gt, eval_ours=_sttr_eval_ours, train_ours=_sttr_train_ours, train_ref=_sttr_train_ref,
                 patches=lambda ns: _GET_DEVICE), eval_ref=_sttr_eval_ref)

def _sttr_author_build(ns, c):
    "their STTR with main.py's default arguments (BatchNorm in the feature extractor: ours with norm: batch)"
    sttr_mod, misc = import_author(ns.path, 'module.sttr', 'utilities.misc')
    ns.NT = misc.NestedTensor
    torch.manual_seed(0)
    args = types.SimpleNamespace(**{k: v for k, v in _STTR_BASE.items() if k not in ('max_disp', 'downsample')})
    theirs = _sttr_gains(sttr_mod.STTR(args), 0, lambda n, p: p.ndim == 1)   # BatchNorm/LayerNorm affine parameters, biases
    layout = lambda net: {'epoch': 3, 'state_dict': net.state_dict(), 'optimizer': torch.optim.AdamW(net.parameters(), 1e-4).state_dict(),
                          'lr_scheduler': {}, 'best_pred': 1.0}   # their main.py's
    return (theirs, _sttr_ours({'max_disp': 192, 'downsample': 3, 'norm': 'batch'}, training=False), layout,
            lambda k: None if k.endswith('num_batches_tracked') else 'net.' + k)

def _sttr_author_check(ns, c, theirs, mine):
    l, r, _ = _author_eval(c['H'], c['W'], seed=1)
    with torch.no_grad(): t, o = theirs(_sttr_sampled(ns.NT, l, r)), mine({'ref_img': l, 'tgt_img': r})['inference_disp']
    return {'eval disp_pred': (o['disp_est'], t['disp_pred']), 'eval occ_pred': (o['occ_pred'], t['occ_pred'])}

sttr_author = Row('sttr:author', 'mli0603/stereo-transformer STTR (main.py defaults)', ref='stereo-transformer',
                  setup=lambda path: NS(path=path), cases=lambda quick: [dict(H=256, W=512)],   # batch 1: their _upsample indexes [None,]
                  ours=_sttr_author_build, author_check=_sttr_author_check)

# === AANet ==============================================================================================================
# v1's (and the authors') deformable convolution is a CUDA extension: HERE ONLY it is replaced by a stand-in with the same
# classes and parameter names computing with torchvision.ops.deform_conv2d, the op our layer uses (checked against the
# DCNv2 formula in the notebook), so the rows check everything around it
class _StandInModulatedDeformConv(nn.Module):
    "v1's ModulatedDeformConv interface and parameters; forward by torchvision"
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 deformable_groups=1, bias=True):
        super().__init__()
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, kernel_size, kernel_size))
        nn.init.uniform_(self.weight, -1 / math.sqrt(in_channels * kernel_size ** 2), 1 / math.sqrt(in_channels * kernel_size ** 2))
        if bias: self.bias = nn.Parameter(torch.zeros(out_channels))
        else: self.register_parameter('bias', None)
    def forward(self, x, offset, mask):
        from torchvision.ops import deform_conv2d
        return deform_conv2d(x, offset, self.weight, self.bias, self.stride, self.padding, self.dilation, mask)

class _StandInDeformConv(_StandInModulatedDeformConv):
    def __init__(self, *a, bias=False, **k): super().__init__(*a, bias=False, **k)
    def forward(self, x, offset):
        from torchvision.ops import deform_conv2d
        return deform_conv2d(x, offset, self.weight, None, self.stride, self.padding, self.dilation)

def _deform_standin():
    package('libs'); package('libs.AANet')
    return stub('libs.AANet.deform_conv', ModulatedDeformConv=_StandInModulatedDeformConv, DeformConv=_StandInDeformConv)

_AA_BASE = {'num_downsample': 2, 'feature_type': 'aanet', 'no_feature_mdconv': False, 'feature_pyramid': False,
            'feature_pyramid_network': True, 'feature_similarity': 'correlation', 'aggregation_type': 'adaptive',
            'num_scales': 3, 'num_fusions': 6, 'deformable_groups': 2, 'mdconv_dilation': 2, 'refinement_type': 'stereodrnet',
            'no_intermediate_supervision': False, 'num_stage_blocks': 1, 'num_deform_blocks': 3}   # v1's config
_AA_LOSS = dict(loss_term_weight=1, scales=5, downscale=1, loss='L1', maxdisp=192, mask=False)
_AA_W, _AA_W_V1 = [[1 / 3, 2 / 3, 1.0, 1.0, 1.0]], [[0.33, 0.66, 1.0, 1.0, 1.0]]   # v1's config's weights, which v1 ignores
_AA_MAPS = ('1/12', '1/6', '1/3', '1/2', '1')

def _aa_cfg(D=192):
    return {'data_cfg': {'name': 'Synthetic'},
            'model_cfg': {'model': 'AANet', 'find_unused_parameters': False, 'base_config': {'max_disp': D, **_AA_BASE}},
            'loss_cfg': [{'log_prefix': 'disparity_pyramid', 'type': 'MultiAANetScaleLoss', **_AA_LOSS, 'weights': _AA_W}], 'trainer_cfg': {}}

def _aa_ours(D=192, training=True):
    from openstereo_nb.modeling.models.aanet import AANet
    return AANet(_aa_cfg(D), is_training=training)

def _aa_setup(ref):
    "v1's modeling/models/aanet/{submodule,aanet,model}.py and modeling/losses, package imports stubbed"
    _deform_standin()
    load('utils', f'{ref}/utils/common.py')
    package('modeling', f'{ref}/modeling'); package('modeling.common', f'{ref}/modeling/common')
    stub('modeling.base_model', BaseModel=v1_base_model()); stub('base_trainer', BaseTrainer=object); stub('modeling.common.lamb', Lamb=None)
    package('ref_aanet', f'{ref}/modeling/models/aanet')
    sub = load('ref_aanet.submodule', f'{ref}/modeling/models/aanet/submodule.py')
    load('ref_aanet.aanet', f'{ref}/modeling/models/aanet/aanet.py')
    rmodel = load('ref_aanet.model', f'{ref}/modeling/models/aanet/model.py')
    package('ref_losses', f'{ref}/modeling/losses'); load('ref_losses.base', f'{ref}/modeling/losses/base.py')
    return NS(sub=sub, rmodel=rmodel, rl=load('ref_losses.l1_loss', f'{ref}/modeling/losses/l1_loss.py'))

def _aa_randomise(model, seed, c=None, offset_std=0.02):
    """as `randomise` (the aggregation's final 1x1 convs x4), and the offset convs (zero at init, which would make every
    deformable conv a plain one) random: offsets of a few pixels"""
    g = torch.Generator().manual_seed(seed + 100)
    randomise(model, seed, 4., head=r'aggregation\.final_conv\.\d+\.weight$')
    with torch.no_grad():
        for n, p in model.named_parameters():
            if 'offset_conv' in n: p.copy_(torch.randn(p.shape, generator=g) * (offset_std if n.endswith('weight') else 0.5))
    return model

def _aa_pad(x):
    "v1 takes multiples of 12 only: other sizes get the pair padded as our eval forward pads it (and the pad, to crop)"
    from openstereo_nb.modeling.base_model import pad_to_divisor
    return pad_to_divisor(x, 12)

def _aa_eval_ref(m, x):
    "v1's eval output reads disp_gt and mask (passed through)"
    from openstereo_nb.modeling.base_model import crop_pad
    xp, pad = _aa_pad({**x, 'disp_gt': None, 'mask': None})
    return {'disp_est': crop_pad(m(xp)['inference_disp']['disp_est'], pad)}

def _aa_train(rl=None):
    "both get the padded pair in training; the loss: ours, or v1's (`rl`: its losses module) given its config's weights"
    def f(m, xt):
        from openstereo_nb.modeling.models.aanet import MultiAANetScaleLoss
        xp = _aa_pad(xt)[0]
        ests = m(dict(xp))['training_disp']['disparity_pyramid']['disp_ests']
        loss = rl.MultiAANetScaleLoss(**_AA_LOSS, weights=_AA_W_V1) if rl else MultiAANetScaleLoss(**_AA_LOSS, weights=_AA_W)
        return dict(zip(_AA_MAPS, ests)), loss(ests, xp['disp_gt'])[0]
    return f

def _aa_pieces(ns):
    from openstereo_nb.modeling.models.aanet import MultiAANetScaleLoss, aanet_disp_warp, aanet_cost_pyramid
    torch.manual_seed(1)
    img, d = torch.randn(2, 3, 24, 40), torch.rand(2, 1, 24, 40) * 9
    out = {'aanet_disp_warp vs v1 disp_warp': maxdiff(aanet_disp_warp(img, d), ns.sub.disp_warp(img, d)[0])}
    l = [torch.randn(2, 128, 12 // 2**s, 40 // 2**s) for s in range(3)]; r = [torch.randn_like(t) for t in l]
    out['aanet_cost_pyramid vs v1 CostVolumePyramid'] = max(maxdiff(a, b) for a, b in zip(aanet_cost_pyramid(l, r, 64), ns.sub.CostVolumePyramid(64)(l, r)))
    gt = torch.rand(2, 48, 96) * 230; gt[:, :, :10] = 0
    ests = [torch.rand(2, 48 // s, 96 // s) * 200 / s for s in (12, 6, 3, 2, 1)]
    out['MultiAANetScaleLoss vs v1'] = abs(MultiAANetScaleLoss(**_AA_LOSS, weights=_AA_W)(ests, gt)[0] - ns.rl.MultiAANetScaleLoss(**_AA_LOSS, weights=_AA_W_V1)(ests, gt)[0]).item()
    out['initial weights, same seed'] = _same_init(_aa_ours, lambda: ns.rmodel.AANet(_aa_cfg()))
    return out

aanet = _bind(Row('aanet', 'OpenStereo v1 modeling/models/aanet (AANet, MultiAANetScaleLoss; deformable conv: torchvision stand-in)',
            setup=_aa_setup, cases=lambda quick: [dict(H=48, W=96, D=192, B=2)] + ([] if quick else
                  [dict(H=288, W=576, D=192, B=1), dict(H=256, W=512, D=192, B=1)]),   # 256x512: v1 gets the pair padded (see _aa_pad)
            ours=lambda ns, c: _aa_ours(c['D']), reference=lambda ns, c: ns.rmodel.AANet(_aa_cfg(c['D'])), randomise=_aa_randomise,
            gt=_zeros_gt(30, 10), eval_ours=_inference, eval_ref=_aa_eval_ref, train_ours=_aa_train(),
            pieces=_aa_pieces, patches=lambda ns: _CUDA_NOOP), train_ref=lambda ns: _aa_train(ns.rl))

_AA_AUTHOR_SHAPES = [(288, 576), (48, 96)]   # the old script's order: one generator draws both pairs

def _aa_author_build(ns, c):
    "their nets/ (deformable conv: the stand-in) at v1's settings, randomised as in the v1 row; saved as their train.py saves"
    (an,) = import_author(ns.path, 'nets.aanet', stubs={'nets.deform_conv': _deform_standin()})
    torch.manual_seed(0)
    theirs = _aa_randomise(an.AANet(192, **_AA_BASE), 0)
    layout = lambda net: {'epoch': 64, 'num_iter': 1000, 'epe': 0.87, 'best_epe': 0.87, 'best_epoch': 63, 'state_dict': dp_state_dict(net)}
    return theirs, _aa_ours(training=False), layout, lambda k: 'aanet.' + k

def _aa_author_check(ns, c, theirs, mine):
    g = torch.Generator().manual_seed(1)
    for H, W in _AA_AUTHOR_SHAPES[:_AA_AUTHOR_SHAPES.index((c['H'], c['W']))]:   # the earlier shapes' draws
        torch.randn(2, 3, H, W, generator=g); torch.rand(1, H, W, generator=g)
    l, r = torch.randn(1, 3, c['H'], c['W'], generator=g), torch.randn(1, 3, c['H'], c['W'], generator=g)
    with torch.no_grad(): out = {'eval disp_est': (mine({'ref_img': l, 'tgt_img': r})['inference_disp']['disp_est'], theirs(l, r)[-1])}
    theirs.train(); mine.train()
    gt = torch.rand(1, c['H'], c['W'], generator=g) * 150
    with torch.no_grad():
        pm = mine({'ref_img': l, 'tgt_img': r, 'disp_gt': gt, 'mask': gt > 0})['training_disp']['disparity_pyramid']['disp_ests']
        pa = theirs(l, r)
    return {**out, **{f'train {k}': (a, b) for k, a, b in zip(_AA_MAPS, pm, pa)}}

aanet_author = Row('aanet:author', 'haofeixu/aanet nets/ AANet (deformable conv: torchvision stand-in)', ref='aanet',
                   setup=lambda path: NS(path=path),
                   cases=lambda quick: [dict(H=48, W=96)] + ([] if quick else [dict(H=288, W=576)]),
                   ours=_aa_author_build, author_check=_aa_author_check)

# === GANet ==============================================================================================================
def _ga_standin():
    """the authors' CUDA extension (`libs.GANet.modules.GANet`), which v1's GANet_deep.py imports, HERE ONLY: SGA and LGA
    are OUR vectorised ops (checked against loops from the paper's equations in the notebook), GetCostVolume and
    DisparityRegression CPU rewrites of the authors' loop and sum; their multi-GPU BatchNorm is plain BatchNorm"""
    from openstereo_nb.modeling.models.ganet import sga, lga
    class SGA(nn.Module):
        def forward(self, x, g0, g1, g2, g3): return sga(x, g0, g1, g2, g3)
    class LGA(nn.Module):
        passes = 1
        def __init__(self, radius=2): super().__init__(); self.radius = radius
        def forward(self, x, g):
            for _ in range(self.passes): x = lga(x, g, self.radius)
            return x
    class LGA2(LGA): passes = 2
    class LGA3(LGA): passes = 3
    class GetCostVolume(nn.Module):   # the authors' loop over disparities
        def __init__(self, maxdisp): super().__init__(); self.maxdisp = maxdisp + 1
        def forward(self, x, y):
            B, C, H, W = x.shape
            cost = x.new_zeros(B, 2 * C, self.maxdisp, H, W)
            for i in range(self.maxdisp):
                cost[:, :C, i, :, i:] = x[:, :, :, i:]
                cost[:, C:, i, :, i:] = y[:, :, :, :W - i]
            return cost
    class DisparityRegression(nn.Module):
        def __init__(self, maxdisp): super().__init__(); self.maxdisp = maxdisp + 1
        def forward(self, x): return torch.sum(x * torch.arange(self.maxdisp, dtype=x.dtype).view(1, -1, 1, 1), 1)
    for p in ('libs', 'libs.GANet', 'libs.GANet.modules', 'libs.sync_bn', 'libs.sync_bn.modules'): sys.modules.setdefault(p, types.ModuleType(p))
    stub('libs.GANet.modules.GANet', SGA=SGA, LGA=LGA, LGA2=LGA2, LGA3=LGA3, GetCostVolume=GetCostVolume,
         DisparityRegression=DisparityRegression, MyNormalize=None)
    stub('libs.sync_bn.modules.sync_bn', BatchNorm2d=nn.BatchNorm2d, BatchNorm3d=nn.BatchNorm3d)

def _ga_ours(cls, D, training=True):
    from openstereo_nb.modeling.models import ganet
    return getattr(ganet, cls)({'model_cfg': {'model': cls, 'base_config': {'max_disp': D}}, 'trainer_cfg': {}}, is_training=training)

def _ga_setup(ref, author=False):
    _ga_standin()
    return NS(path=ref) if author else NS(mod=load('ref_ganet_deep', f'{ref}/modeling/models/ganet/GANet_deep.py'))

_GA_W, _GA_OUT = (0.2, 0.6, 1.0), ['disp0', 'disp1', 'disp2']
ganet = Row('ganet', 'OpenStereo v1 ganet/GANet_deep.py (CUDA ops: stand-ins)', setup=_ga_setup,
            # 256x512 is not a size GANet takes (multiples of 48): the authors' 240x528 crop, forward only (memory)
            cases=lambda quick: [dict(H=48, W=96, D=24, B=2)] + ([] if quick else [dict(H=240, W=528, D=192, B=1, backward=False)]),
            ours=lambda ns, c: _ga_ours('GANet', c['D']), reference=lambda ns, c: Net(ns.mod.GANet(maxdisp=c['D'])),
            randomise=_gain(4., r'conv32x1\.weight$'), eval_ours=_inference, eval_ref=lambda m, x: {'disp_est': m(x)},
            train_ours=_train_ests(smooth_l1(_GA_W), _GA_OUT), train_ref=_ref_ests(lambda m, xt: m(xt), smooth_l1(_GA_W), _GA_OUT))

def _ga_author_build(ns, c):
    "their models/<file>.py network, randomised as in the v1 row, saved as their train.py saves it"
    mod = load(f'author_{c["variant"]}', f'{ns.path}/models/{c["variant"]}.py')
    torch.manual_seed(0)
    theirs = randomise(mod.GANet(c['D']), 0, 4., head=r'conv32x1\.weight$')
    layout = lambda net: {'epoch': 10, 'state_dict': dp_state_dict(net), 'optimizer': adam_state(net)}
    return theirs, _ga_ours({'GANet_deep': 'GANet', 'GANet11': 'GANet11'}[c['variant']], c['D']), layout, lambda k: 'net.' + k

def _ga_author_check(ns, c, theirs, mine):
    B, H, W, D = c['B'], c['H'], c['W'], c['D']
    l, r, g = _author_eval(H, W, seed=1, B=B)
    with torch.no_grad(): out = {'eval disp': (mine({'ref_img': l, 'tgt_img': r})['inference_disp']['disp_est'], theirs(l, r))}
    mine.train(); theirs.train()
    gt = torch.rand(B, H, W, generator=g) * (D - 1)
    with torch.no_grad():
        tm = mine({'ref_img': l, 'tgt_img': r, 'disp_gt': gt, 'mask': gt > 0})['training_disp']['disp']['disp_ests']
        out.update({f'train {k}': (a, b) for k, a, b in zip(_GA_OUT, tm, theirs(l, r))})
    return out

ganet_author = Row('ganet:author', 'feihuzhang/GANet models/GANet_deep.py, GANet11.py (CUDA ops: stand-ins)', ref='GANet',
                   setup=lambda path: _ga_setup(path, author=True),
                   cases=lambda quick: [dict(variant=v, H=48, W=96, D=24, B=2) for v in ('GANet_deep', 'GANet11')],
                   ours=_ga_author_build, author_check=_ga_author_check)

# === RAFT-Stereo ========================================================================================================
def _raft_args(variant, corr):
    a = dict(hidden_dims=[128] * 3, corr_implementation=corr, shared_backbone=False, corr_levels=4, corr_radius=4, n_downsample=2,
             context_norm='batch', slow_fast_gru=False, n_gru_layers=3, mixed_precision=False)
    if variant == 'realtime': a.update(shared_backbone=True, n_downsample=3, n_gru_layers=2, slow_fast_gru=True)
    return a

def _raft_setup(path):
    try: import opt_einsum  # noqa: F401  (imported by their core/, not used)
    except ImportError: stub('opt_einsum', contract=None)
    return NS(path=path)

def _raft_build(ns, c):
    "their RAFTStereo(args), BatchNorm randomised and the disparity head's last conv x4 (updates of tens of pixels)"
    from openstereo_nb.modeling.models.raftstereo import RAFTStereo
    (rs,) = import_author(ns.path, 'core.raft_stereo')
    a = _raft_args(c['variant'], c['corr'])
    torch.manual_seed(0)
    theirs = rs.RAFTStereo(types.SimpleNamespace(**a))
    bc = {**a, 'max_disp': 192, 'train_iters': c['ti'], 'valid_iters': c['vi']}
    mine = RAFTStereo({'data_cfg': {'name': 'Synthetic'}, 'model_cfg': {'model': 'RAFTStereo', 'base_config': bc},
                       'loss_cfg': [{'log_prefix': 'disp', 'type': 'SequenceLoss'}], 'trainer_cfg': {}})
    return randomise(theirs, 0, 4., head=r'^update_block\.flow_head\.conv2\.weight$'), mine, 'bare', lambda k: k

def _raft_check(ns, c, theirs, mine):
    """their images in 0..255 (they normalise), ours the same mapped to [-1, 1]; their flow is -disparity. Train: all
    predictions, their BatchNorm frozen as in their training (ours freezes it); with `floor`, their own network on the
    left image one ulp off (the fp32 floor)"""
    img1, img2 = _rand255(torch.Generator().manual_seed(1), 1, c['H'], c['W']).values()
    x = {'ref_img': 2 * img1 / 255 - 1, 'tgt_img': 2 * img2 / 255 - 1}
    with torch.no_grad():
        out = {f'eval disp ({c["vi"]} iters)': (mine(x)['inference_disp']['disp_est'], -theirs(img1, img2, iters=c['vi'], test_mode=True)[1][:, 0])}
        theirs.train(); theirs.freeze_bn(); mine.train()
        pr = torch.stack(theirs(img1, img2, iters=c['ti']))
        po = torch.stack(mine({**x, 'disp_gt': torch.zeros(1, *img1.shape[-2:]), 'mask': torch.ones(1, *img1.shape[-2:], dtype=torch.bool)})
                         ['training_disp']['disp']['disp_ests'])
        floor = maxdiff(pr, torch.stack(theirs(torch.nextafter(img1, torch.full_like(img1, 1e9)), img2, iters=c['ti']))) if c['floor'] else None
    return {**out, f'train ({c["ti"]} predictions)': (po, -pr[:, :, 0], floor)}

def _raft_cases(quick):
    H, W, ti = (64, 128, 4) if quick else (256, 512, 22)
    return [dict(variant=v, corr=k, H=H, W=W, ti=ti, vi=6 if quick else {'standard': 32, 'realtime': 7}[v], floor=k == 'reg')
            for v in ('standard', 'realtime') for k in ('reg', 'alt')]

raftstereo_author = Row('raftstereo:author', 'princeton-vl/RAFT-Stereo core/ RAFTStereo (reg / alt lookups, real-time variant)',
                        ref='RAFT-Stereo', setup=_raft_setup, cases=_raft_cases, ours=_raft_build, author_check=_raft_check)

ROWS = [igev, igev_author, sttr, sttr_author, aanet, aanet_author, ganet, ganet_author, raftstereo_author]
