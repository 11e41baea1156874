"""isonet-det's benchmarks: every figure a ratio of two things measured side by side in one run.

Sections (``--only`` picks some; all by default):

  penalty    the regulariser's value and gradient, R-ISONet-50 and -101 without the stem: the
             reference code's direct form (one ``F.conv2d`` per conv), this package's autograd
             path and the hook's path, each at float32 ('ieee') and, on tensor-core GPUs, split
             TF32 ('split_tf32') and replayed from a CUDA graph (what the hook runs there); the
             relative error of each against a float64 reference;
  shard      per-rank regulariser cost with ``IsometryRegularizerHook(shard=True)`` on W ranks
             (the most loaded rank's shard against all convs), R-ISONet-50;
  backbone   train step (forward + backward), R-ISONet-50 against ResNet-50 (mmdet's, or
             torchvision's where mmdet cannot be imported, e.g. without mmcv's compiled ops):
             float32 (plus bf16 / fp16 autocast, bf16 channels-last and bf16 with the stem and
             stage 1 frozen on a GPU), saved activations (peak memory on a GPU), and the
             regulariser's share of the R-ISONet step;
  srelu      SReLU's backward: the bytes it reads and writes (the default torch ops, a bool-mask
             form, the opt-in Triton kernel), and its time beside ReLU's;
  inference  eval forward, ResNet-50 with BN fused into its convs (mmcv ``fuse_conv_bn``)
             against R-ISONet-50 with its residual scales folded (``fold_residual_scales``);
             bf16 autocast on a GPU;
  compile    the train step of both backbones, eager against ``torch.compile`` (inductor), with
             the compile time (bf16 autocast on a GPU);
  detector   a Mask R-CNN R-50 FPN train step, R-ISONet-50 against ResNet-50, at 1333 x 800
             (bf16 autocast, peak memory): needs mmdet with mmcv's compiled ops (CUDA ops on a
             GPU); skipped with a message otherwise.

Times are medians of ``--repeats`` runs after a warm-up, by ``torch.utils.benchmark`` (which
synchronises CUDA), the candidates interleaved. Runs on a GPU with torch, mmengine and mmcv
built without its ops (``--device cuda``, the default when one is present).

    python tools/benchmarks/benchmark.py [--only penalty,backbone] [--repeats 5] [--device cuda]
"""
import argparse
import contextlib
import copy
import logging
import platform
import time

import torch
import torch.nn as nn
import torch.utils.benchmark as benchmark
from mmengine.logging import MMLogger

from isonet_det.analysis.memory_traffic import TensorTraffic
from isonet_det.engine.hooks.isometry_regularizer_hook import _add_scaled
from isonet_det.models import RISONet, SReLU, fold_residual_scales
from isonet_det.ops import (CapturedPenalty, isometry_penalty, isometry_penalty_and_grads,
                            isometry_penalty_direct, regularized_convs, shard_by_cost)
from isonet_det.ops import srelu_backward as srelu_ops
from isonet_det.ops.srelu_backward import srelu_backward_reference, srelu_kernel

SECTIONS = ('penalty', 'shard', 'backbone', 'srelu', 'inference', 'compile', 'detector')


# ----------------------------------------------------------------------------------- helpers
def timed(*fns, repeats):
    """Median seconds of each of ``fns`` over ``repeats`` single runs after one warm-up run each,
    the runs interleaved (A B A B ...) so that a machine's drift hits every candidate alike."""
    timers = []
    for fn in fns:
        fn()
        timers.append(
            benchmark.Timer(stmt='fn()', globals=dict(fn=fn), num_threads=torch.get_num_threads()))
    runs = [[] for _ in fns]
    for _ in range(max(repeats, 1)):
        for timer, out in zip(timers, runs):
            out.append(timer.timeit(1).median)
    medians = [sorted(r)[len(r) // 2] for r in runs]
    return medians if len(fns) > 1 else medians[0]


def machine(device):
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    name = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            name = next(
                line.split(':', 1)[1].strip() for line in f if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    return f'{name}, {torch.get_num_threads()} threads'


def risonet(depth, device, perturb=0.02, scale=0.1, **kwargs):
    """R-ISONet at the reference init, convs perturbed (so the regulariser is far from 0) and
    residual scales non-zero (so every branch computes something)."""
    model = RISONet(depth=depth, **kwargs)
    model.init_weights()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.add_(perturb * torch.randn_like(m.weight))
        for name, p in model.named_parameters():
            if name.endswith('residual_scale.scale'):
                p.fill_(scale)
    return model.to(device)


class TorchvisionResNet50(nn.Module):
    """torchvision's ResNet-50 shaped as mmdet's ``ResNet(depth=50)`` backbone (style 'pytorch',
    the same network): four stage outputs, ``frozen_stages`` (stem and stages 1..n without
    gradients, in eval mode) and ``norm_eval`` (every BN in eval mode, as the 1x configs)."""

    def __init__(self, frozen_stages=-1, norm_eval=False):
        super().__init__()
        from torchvision.models import resnet50
        net = resnet50()
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        self.layers = nn.ModuleList([net.layer1, net.layer2, net.layer3, net.layer4])
        self.frozen_stages, self.norm_eval = frozen_stages, norm_eval
        frozen = ([self.stem] if frozen_stages >= 0 else []) + list(self.layers[:frozen_stages])
        for module in frozen:
            for p in module.parameters():
                p.requires_grad = False

    def train(self, mode=True):
        super().train(mode)
        if mode:
            frozen = ([self.stem] if self.frozen_stages >= 0 else []) + \
                list(self.layers[:max(self.frozen_stages, 0)])
            for module in frozen:
                module.eval()
            if self.norm_eval:
                for m in self.modules():
                    if isinstance(m, nn.BatchNorm2d):
                        m.eval()
        return self

    def forward(self, x):
        x = self.stem(x)
        outs = []
        for layer in self.layers:
            x = layer(x)
            outs.append(x)
        return tuple(outs)


def resnet_baseline():
    """``(name, factory)`` of the BN baseline: mmdet's ResNet-50, else torchvision's."""
    try:
        from mmdet.models.backbones import ResNet
    except Exception as e:  # no mmdet, or mmdet without mmcv's compiled ops
        reason = f'{type(e).__name__}: {e}'.splitlines()[0][:80]
        return f"torchvision's ResNet-50 (mmdet not importable: {reason})", TorchvisionResNet50
    return "mmdet's ResNet-50", lambda **kw: ResNet(depth=50, **kw)


def resnet(device, **kwargs):
    model = resnet_baseline()[1](**kwargs)
    model.train()
    return model.to(device)


def regularised_convs(model):
    """The convs ``IsometryRegularizerHook`` regularises in ``model`` (all but the stem)."""
    return regularized_convs(model, module=None)


def autocast(device, dtype):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def train_step(model, x, dtype=None):

    def step():
        with autocast(x.device, dtype):
            outs = model(x)
        sum(o.float().mean() for o in outs).backward()
        model.zero_grad(set_to_none=True)

    return step


def saved_activation_bytes(model, x):
    """Bytes autograd keeps for the backward of ``model(x)``: every saved tensor's storage once,
    parameters excluded."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    storages = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            storages[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        outs = model(x)
    del outs
    return sum(storages.values())


def peak_step_bytes(step, device):
    if device.type != 'cuda':
        return None
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device)
    step()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) - base


def mib(n):
    return f'{n / 2**20:.0f} MiB'


def ms(t):
    return f'{t * 1e3:.1f}'


def table(header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    for r in [header] + rows:
        print('  '.join(
            str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths))))


def relative_error(value, grads, ref_value, ref_grads):
    """``(|v - v64| / |v64|, ||g - g64|| / ||g64||)`` over all convs."""
    value_err = abs(float(value) - float(ref_value)) / abs(float(ref_value))
    num = sum(((a.double() - b)**2).sum() for a, b in zip(grads, ref_grads))
    den = sum((b**2).sum() for b in ref_grads)
    return value_err, float((num / den).sqrt())


def float64_reference(convs):
    """Value and gradients of the direct form (one conv per layer) in float64."""
    doubled = [copy.deepcopy(c).double() for c in convs]
    with torch.enable_grad():
        value = isometry_penalty_direct(doubled)
        grads = torch.autograd.grad(value, [c.weight for c in doubled])
    return value.detach(), grads


# ----------------------------------------------------------------------------------- sections
def bench_penalty(args, device, context):
    print('\n## penalty: regulariser value + gradient, every conv but the stem; errors relative '
          'to float64')
    precisions = ['ieee'] + (['split_tf32'] if device.type == 'cuda' else [])
    rows = []
    for depth in args.depths:
        model = risonet(depth, device)
        convs = regularised_convs(model)
        weights = [c.weight for c in convs]
        ref = float64_reference(convs)

        def autograd_path(fn):

            def run():
                value = fn(convs)
                return value.detach(), torch.autograd.grad(value, weights)

            return run

        candidates = {'direct (reference code)': autograd_path(isometry_penalty_direct)}
        for precision in precisions:
            candidates[f'autograd, {precision}'] = autograd_path(
                lambda c, p=precision: isometry_penalty(c, precision=p))
            candidates[f'hook path, {precision}'] = \
                lambda p=precision: isometry_penalty_and_grads(convs, precision=p)
        penalty = isometry_penalty_and_grads
        if device.type == 'cuda':
            for precision in precisions:
                graph = CapturedPenalty(
                    lambda c, p=precision: isometry_penalty_and_grads(c, precision=p))
                candidates[f'hook path, {precision}, CUDA graph'] = lambda g=graph: g(convs)
            penalty = CapturedPenalty(isometry_penalty_and_grads)  # the default precision

        def hook_step():  # what IsometryRegularizerHook runs in each optimizer step
            value, grads = penalty(convs)
            _add_scaled(weights, grads, 1e-4)
            return value, grads

        candidates['hook step (+ add to .grad)'] = hook_step
        errors = {name: relative_error(*fn(), *ref) for name, fn in candidates.items()}
        times = dict(zip(candidates, timed(*candidates.values(), repeats=args.repeats)))
        context[f'penalty{depth}'] = times['hook step (+ add to .grad)']
        base = times['direct (reference code)']
        for name, t in times.items():
            rows.append((f'R-ISONet-{depth}', len(convs), name, ms(t), f'{base / t:.2f}x',
                         f'{errors[name][0]:.1e}', f'{errors[name][1]:.1e}'))
    table(('model', 'convs', 'form', 'ms', 'speed-up over direct', 'value err', 'grad err'), rows)


def bench_shard(args, device, context):
    print('\n## shard: per-rank regulariser cost, R-ISONet-50 (the most loaded rank)')
    convs = regularised_convs(risonet(50, device))
    rows = []
    for world in (2, 4, 8):
        shards = [s for s in shard_by_cost(convs, world) if s]
        times = timed(
            lambda: isometry_penalty_and_grads(convs),
            *[lambda s=s: isometry_penalty_and_grads(s) for s in shards],
            repeats=args.repeats)
        t_all, t_max = times[0], max(times[1:])
        if not rows:
            rows.append(('1 (unsharded)', len(convs), ms(t_all), '1.00'))
        rows.append((world, f'{min(map(len, shards))}-{max(map(len, shards))}', ms(t_max),
                     f'{t_max / t_all:.2f} (ideal {1 / world:.2f})'))
    table(('ranks W', 'convs per rank', 'slowest rank ms', 'of unsharded'), rows)


def backbone_modes(device):
    """``(label, autocast dtype, channels_last, frozen_stages)`` of the backbone table."""
    if device.type != 'cuda':
        return [('all trained, fp32', None, False, -1),
                ('stem + stage 1 frozen, fp32', None, False, 1)]
    return [('all trained, fp32 (TF32 convs)', None, False, -1),
            ('all trained, bf16 autocast', torch.bfloat16, False, -1),
            ('all trained, fp16 autocast', torch.float16, False, -1),
            ('all trained, bf16 channels_last', torch.bfloat16, True, -1),
            ('stem + stage 1 frozen, bf16', torch.bfloat16, False, 1)]


def bench_backbone(args, device, context):
    h, w = args.image_size
    name, _ = resnet_baseline()
    print(f'\n## backbone: train step, batch {args.batch_size}, 3 x {h} x {w}; baseline {name}')
    rows = []
    for label, dtype, channels_last, frozen in backbone_modes(device):
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        x = torch.randn(args.batch_size, 3, h, w, device=device).contiguous(memory_format=fmt)
        res = resnet(device, frozen_stages=frozen, norm_eval=frozen >= 0).to(memory_format=fmt)
        iso = risonet(50, device, frozen_stages=frozen).train().to(memory_format=fmt)
        fns = [train_step(res, x, dtype), train_step(iso, x, dtype)]
        if device.type == 'cuda':  # SReLU's backward by the Triton kernel, by a bool mask
            step = train_step(iso, x, dtype)
            fns += [lambda: with_srelu('kernel', step), lambda: with_srelu('mask', step)]
        times = timed(*fns, repeats=args.repeats)
        t_res, t_iso = times[:2]
        row = [label, ms(t_res), ms(t_iso), f'{t_iso / t_res:.2f}']
        for t in times[2:]:
            row += [ms(t), f'{t / t_res:.2f}']
        if device.type == 'cuda':
            p_res, p_iso = (peak_step_bytes(train_step(m, x, dtype), device) for m in (res, iso))
        else:
            with autocast(device, dtype):
                p_res, p_iso = saved_activation_bytes(res, x), saved_activation_bytes(iso, x)
        row += [mib(p_res), mib(p_iso), f'{p_iso / p_res:.2f}']
        rows.append(tuple(row))
        context[label] = t_iso
        del res, iso, x
    memory = 'peak step memory' if device.type == 'cuda' else 'saved activations'
    header = ['', 'ResNet-50 ms', 'R-ISONet-50 ms', 'time ratio']
    if device.type == 'cuda':
        header += [
            'R-ISONet-50, Triton SReLU bwd ms', 'time ratio',
            'R-ISONet-50, SReLU bwd by a bool mask ms', 'time ratio'
        ]
    table(tuple(header + [f'ResNet-50 {memory}', f'R-ISONet-50 {memory}', 'memory ratio']), rows)
    if 'penalty50' in context:
        print('regulariser (what the hook runs here) against the R-ISONet-50 train step:')
        for label, *_ in backbone_modes(device):
            print(f'  {label}: {ms(context["penalty50"])} ms / {ms(context[label])} ms = '
                  f'{context["penalty50"] / context[label]:.2f}')


def with_srelu(backward, step):
    """Run ``step`` with SReLU's backward by the Triton kernel (``'kernel'``) or by a bool mask
    and ``where`` (``'mask'``: fewer bytes than the default's ``y - b``)."""
    if backward == 'kernel':
        with srelu_kernel(True):
            return step()
    original = srelu_ops.srelu_backward_reference
    srelu_ops.srelu_backward_reference = lambda g, y, b, needs_grad_b=True: \
        _srelu_backward_by_mask(g, y, b)
    try:
        return step()
    finally:
        srelu_ops.srelu_backward_reference = original


def _srelu_backward_by_mask(grad, y, b):
    grad_x = torch.where(y > b, grad, 0.0)
    return grad_x, grad.sum_to_size(b.shape) - grad_x.sum_to_size(b.shape)


def bench_srelu(args, device, context):
    h, w = args.image_size
    shape = (args.batch_size, 256, h // 4, w // 4)  # R-ISONet-50's stage-1 output
    print(f'\n## srelu: backward of SReLU on {tuple(shape)} (stage 1 output): bytes read + '
          'written in units of the activation, and a forward + backward against ReLU')
    rows = []
    for dtype in ([torch.float32, torch.bfloat16] if device.type == 'cuda' else [torch.float32]):
        srelu = SReLU(shape[1]).to(device)
        x = torch.randn(shape, device=device, dtype=dtype, requires_grad=True)
        b = srelu.srelu_bias.detach().to(dtype).view(1, -1, 1, 1)
        y, g = torch.maximum(x.detach(), b), torch.randn(shape, device=device, dtype=dtype)
        act = y.numel() * y.element_size()
        with TensorTraffic() as now:
            srelu_backward_reference(g, y, b)
        with TensorTraffic() as mask:
            _srelu_backward_by_mask(g, y, b)
        relu = nn.ReLU()
        srelu_step = lambda: torch.autograd.grad(srelu(x * 1), [x, srelu.srelu_bias], g)  # noqa
        fns = [srelu_step, lambda: torch.autograd.grad(relu(x * 1), [x], g)]
        if device.type == 'cuda':
            fns.append(lambda: with_srelu('kernel', srelu_step))
        times = timed(*fns, repeats=args.repeats)
        row = [str(dtype).split('.')[-1], f'{now.total / act:.2f}', f'{mask.total / act:.2f}']
        if device.type == 'cuda':  # the kernel reads g and y and writes dL/dx, once each
            row.append(f'{3.0:.2f}')
        row += [ms(times[1]), ms(times[0])] + [ms(t) for t in times[2:]]
        rows.append(tuple(row))
        if device.type == 'cuda':  # where the kernel's time goes: device and host
            from torch.profiler import ProfilerActivity, profile
            with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
                for _ in range(3):
                    with_srelu('kernel', srelu_step)
                torch.cuda.synchronize()
            print(prof.key_averages().table(sort_by='cuda_time_total', row_limit=8))
    header = ['dtype', 'bwd bytes: torch ops (default)', 'bool mask + where']
    if device.type == 'cuda':
        header.append('Triton kernel')
    header += ['ReLU fwd+bwd ms', 'SReLU fwd+bwd ms']
    if device.type == 'cuda':
        header.append('SReLU, Triton bwd ms')
    table(tuple(header), rows)


def bench_inference(args, device, context):
    from mmcv.cnn import fuse_conv_bn
    h, w = args.image_size
    dtype = torch.bfloat16 if device.type == 'cuda' else None
    print(f'\n## inference: eval forward, batch {args.batch_size}, 3 x {h} x {w}'
          f'{", bf16 autocast" if dtype else ""}')
    x = torch.randn(args.batch_size, 3, h, w, device=device)
    res = resnet(device)
    res.eval()
    fused = fuse_conv_bn(copy.deepcopy(res))
    iso = risonet(50, device).eval()
    folded = copy.deepcopy(iso)
    fold_residual_scales(folded)
    with torch.no_grad():
        err = max(((a - b).abs().max() / b.abs().max()).item() for a, b in zip(folded(x), iso(x)))
        models = {
            'ResNet-50': res,
            'ResNet-50, BN fused': fused,
            'R-ISONet-50': iso,
            'R-ISONet-50, scales folded': folded
        }

        def forward(m):
            with autocast(device, dtype):
                return m(x)

        times = dict(
            zip(models,
                timed(*[lambda m=m: forward(m) for m in models.values()], repeats=args.repeats)))
    base = times['ResNet-50, BN fused']
    table(('model', 'ms', 'against ResNet-50 BN fused'),
          [(n, ms(t), f'{t / base:.2f}') for n, t in times.items()])
    print(f'folded against unfolded outputs (float32): max relative difference {err:.1e}')


def bench_compile(args, device, context):
    h, w = args.image_size
    dtype = torch.bfloat16 if device.type == 'cuda' else None
    print(f'\n## compile: train step, eager against torch.compile (inductor), batch '
          f'{args.batch_size}, 3 x {h} x {w}{", bf16 autocast" if dtype else ""}')
    x = torch.randn(args.batch_size, 3, h, w, device=device)
    rows = []
    for name, model in (('ResNet-50', resnet(device)), ('R-ISONet-50', risonet(50, device))):
        model.train()
        step = train_step(torch.compile(model), x, dtype)
        start = time.perf_counter()
        step()
        compile_s = time.perf_counter() - start
        eager, t = timed(train_step(model, x, dtype), step, repeats=args.repeats)
        rows.append((name, ms(eager), ms(t), f'{eager / t:.2f}x', f'{compile_s:.0f}'))
    table(('backbone', 'eager ms', 'compiled ms', 'speed-up', 'compile + first step s'), rows)


def bench_detector(args, device, context):
    print('\n## detector: Mask R-CNN R-50 FPN train step at 1333 x 800, batch 2'
          f'{", bf16 autocast" if device.type == "cuda" else ""}')
    try:
        import mmcv.ops  # noqa: F401  (RoIAlign, NMS)
        from mmdet.registry import MODELS
        from mmdet.structures import DetDataSample  # noqa: F401
        from mmdet.testing import demo_mm_inputs
        from mmdet.utils import register_all_modules
    except Exception as e:
        print(f'skipped: mmdet with mmcv\'s compiled ops is not importable here '
              f'({type(e).__name__}: {str(e).splitlines()[0][:100]})')
        return
    from mmengine.config import Config
    register_all_modules()
    cfg = Config.fromfile('configs/risonet/mask-rcnn_risonet50-pretrained_fpn_1x_coco.py')
    cfg.model.backbone.init_cfg = None  # timing only: no checkpoint to read
    dtype = torch.bfloat16 if device.type == 'cuda' else None
    models = {}
    for name, backbone in (('ResNet-50', dict(type='ResNet', depth=50,
                                              init_cfg=None)), ('R-ISONet-50', None)):
        model_cfg = copy.deepcopy(cfg.model)
        if backbone is not None:
            model_cfg.backbone = backbone
        models[name] = MODELS.build(model_cfg).to(device).train()
    packed = demo_mm_inputs(2, [[3, 800, 1333], [3, 800, 1333]], num_items=[5, 5], with_mask=True)

    def step(model):

        def run():
            data = model.data_preprocessor(packed, True)
            with autocast(device, dtype):
                losses = model(**data, mode='loss')
            sum(v.float().sum() if isinstance(v, torch.Tensor) else sum(v)
                for k, v in losses.items() if 'loss' in k).backward()
            model.zero_grad(set_to_none=True)

        return run

    times = timed(*[step(m) for m in models.values()], repeats=args.repeats)
    peaks = [peak_step_bytes(step(m), device) for m in models.values()]
    rows = [(n, ms(t), mib(p) if p is not None else '-') for n, t, p in zip(models, times, peaks)]
    table(('backbone', 'step ms', 'peak memory'), rows)
    print(f'R-ISONet-50 / ResNet-50 step: {times[1] / times[0]:.2f}')
    if 'penalty50' in context:
        print(f'regulariser / R-ISONet-50 Mask R-CNN step: {context["penalty50"] / times[1]:.3f}')


def image_size(text):
    """``S`` (square) or ``HxW``."""
    h, _, w = text.lower().partition('x')
    return (int(h), int(w or h))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument(
        '--only', default=','.join(SECTIONS), help=f'comma-separated sections of {SECTIONS}')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--depths', default='50,101', help='R-ISONet depths of the penalty section')
    parser.add_argument(
        '--image-size',
        type=image_size,
        default=(512, 512),
        help='S or HxW (COCO 1x, padded: 800x1344)')
    parser.add_argument('--batch-size', type=int, default=2)
    args = parser.parse_args()
    only = [s.strip() for s in args.only.split(',') if s.strip()]
    args.depths = [int(d) for d in args.depths.split(',')]
    unknown = sorted(set(only) - set(SECTIONS))
    if unknown:
        parser.error(f'unknown sections {unknown}; choose from {SECTIONS}')
    device = torch.device(args.device)
    MMLogger.get_current_instance().setLevel(logging.WARNING)  # no per-parameter init log
    torch.manual_seed(0)
    print(
        f'# {machine(device)} | torch {torch.__version__} | median of {args.repeats} runs '
        'after a warm-up (torch.utils.benchmark)',
        flush=True)
    context = {}
    for section in SECTIONS:
        if section in only:
            globals()[f'bench_{section}'](args, device, context)
            print(flush=True, end='')


if __name__ == '__main__':
    main()
