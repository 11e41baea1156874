"""isonet-det's benchmarks: every figure a ratio of two things measured side by side in one run.

Sections (``--only`` picks some; all by default):

  penalty    the regulariser's forward + backward, the reference code's direct form (one
             ``F.conv2d`` per conv) against this package (autograd path and the hook's path),
             R-ISONet-50 and -101 without the stem, with their agreement;
  shard      per-rank regulariser cost with ``IsometryRegularizerHook(shard=True)`` on W ranks
             (the most loaded rank's shard against all convs), R-ISONet-50;
  backbone   train step (forward + backward) and saved activations, R-ISONet-50 against mmdet's
             ResNet-50 (BN in train mode), also both with the stem and stage 1 frozen as detection
             configs do (ResNet with norm_eval), plus the regulariser against the R-ISONet step;
  inference  eval forward, ResNet-50 with BN fused into its convs (mmcv ``fuse_conv_bn``)
             against R-ISONet-50 with its residual scales folded (``fold_residual_scales``);
  compile    the train step of both backbones, eager against ``torch.compile`` (inductor), with
             the compile time.

Times are medians of ``--repeats`` runs after a warm-up, by ``torch.utils.benchmark`` (which
synchronises CUDA). Saved activations are the bytes of the tensors autograd keeps for the
backward (storages counted once, parameters excluded); on CUDA the peak allocated memory of a
step is printed too. Runs unchanged on a GPU (``--device cuda``, the default when one is present).

    python tools/benchmarks/benchmark.py [--only penalty,backbone] [--repeats 5] [--device cuda]
"""
import argparse
import copy
import logging
import platform
import time

import torch
import torch.nn as nn
import torch.utils.benchmark as benchmark
from mmcv.cnn import fuse_conv_bn
from mmdet.models.backbones import ResNet
from mmengine.logging import MMLogger

from isonet_det.models import RISONet, fold_residual_scales
from isonet_det.ops import (isometry_penalty, isometry_penalty_and_grads, isometry_penalty_direct,
                            regularized_convs, shard_by_cost)

SECTIONS = ('penalty', 'shard', 'backbone', 'inference', 'compile')


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


def resnet(device, **kwargs):
    model = ResNet(depth=50, **kwargs)
    model.train()
    return model.to(device)


def regularised_convs(model):
    """The convs ``IsometryRegularizerHook`` regularises in ``model`` (all but the stem)."""
    return regularized_convs(model, module=None)


def train_step(model, x):

    def step():
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


def table(header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    for r in [header] + rows:
        print('  '.join(
            str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths))))


# ----------------------------------------------------------------------------------- sections
def bench_penalty(args, device, context):
    print('\n## penalty: regulariser forward + backward, every conv but the stem')
    rows = []
    for depth in args.depths:
        model = risonet(depth, device)
        convs = regularised_convs(model)
        weights = [c.weight for c in convs]

        def autograd_path(fn):

            def run():
                value = fn(convs)
                return value.detach(), torch.autograd.grad(value, weights)

            return run

        direct, fast = autograd_path(isometry_penalty_direct), autograd_path(isometry_penalty)
        hook_path = lambda: isometry_penalty_and_grads(convs)  # noqa: E731
        (v_d, g_d), (v_f, g_f) = direct(), hook_path()
        value_err = ((v_f - v_d).abs() / v_d.abs()).item()
        grad_err = (sum(((a - b)**2).sum() for a, b in zip(g_f, g_d)).sqrt() / sum(
            (b**2).sum() for b in g_d).sqrt()).item()
        t_direct, t_fast, t_hook = timed(direct, fast, hook_path, repeats=args.repeats)
        context[f'penalty{depth}'] = t_hook
        rows.append((f'R-ISONet-{depth}', len(convs), f'{t_direct:.3f}', f'{t_fast:.3f}',
                     f'{t_hook:.3f}', f'{t_direct / t_fast:.2f}x', f'{t_direct / t_hook:.2f}x',
                     f'{value_err:.1e}', f'{grad_err:.1e}'))
    table(('model', 'convs', 'direct s', 'autograd s', 'hook s', 'speed-up', 'hook speed-up',
           'value err', 'grad err'), rows)


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
            rows.append(('1 (unsharded)', len(convs), f'{t_all:.3f}', '1.00'))
        rows.append((world, f'{min(map(len, shards))}-{max(map(len, shards))}', f'{t_max:.3f}',
                     f'{t_max / t_all:.2f} (ideal {1 / world:.2f})'))
    table(('ranks W', 'convs per rank', 'slowest rank s', 'of unsharded'), rows)


def bench_backbone(args, device, context):
    size, batch = args.image_size, args.batch_size
    print(f'\n## backbone: train step, batch {batch}, 3 x {size} x {size}')
    x = torch.randn(batch, 3, size, size, device=device)
    rows = []
    for frozen in (-1, 1):
        res = resnet(device, frozen_stages=frozen, norm_eval=frozen >= 0)
        iso = risonet(50, device, frozen_stages=frozen).train()
        t_res, t_iso = timed(train_step(res, x), train_step(iso, x), repeats=args.repeats)
        m_res, m_iso = saved_activation_bytes(res, x), saved_activation_bytes(iso, x)
        label = 'all trained' if frozen < 0 else 'stem + stage 1 frozen'
        row = [
            label, f'{t_res:.3f}', f'{t_iso:.3f}', f'{t_iso / t_res:.2f}',
            mib(m_res),
            mib(m_iso), f'{m_iso / m_res:.2f}'
        ]
        peaks = [peak_step_bytes(train_step(m, x), device) for m in (res, iso)]
        if peaks[0] is not None:
            row += [mib(peaks[0]), mib(peaks[1])]
        rows.append(tuple(row))
        if frozen < 0:
            context['backbone'] = t_iso
    header = [
        '', 'ResNet-50 s', 'R-ISONet-50 s', 'time ratio', 'ResNet-50 saved', 'R-ISONet-50 saved',
        'memory ratio'
    ]
    if device.type == 'cuda':
        header += ['ResNet-50 peak', 'R-ISONet-50 peak']
    table(tuple(header), rows)
    if 'penalty50' in context:
        print(f'regulariser (hook path) / R-ISONet-50 train step = {context["penalty50"]:.3f} s / '
              f'{context["backbone"]:.3f} s = {context["penalty50"] / context["backbone"]:.2f}')


def bench_inference(args, device, context):
    size, batch = args.image_size, args.batch_size
    print(f'\n## inference: eval forward, batch {batch}, 3 x {size} x {size}')
    x = torch.randn(batch, 3, size, size, device=device)
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
        times = dict(
            zip(models, timed(*[lambda m=m: m(x) for m in models.values()], repeats=args.repeats)))
    base = times['ResNet-50, BN fused']
    table(('model', 's', 'against ResNet-50 BN fused'),
          [(n, f'{t:.3f}', f'{t / base:.2f}') for n, t in times.items()])
    print(f'folded against unfolded outputs: max relative difference {err:.1e}')


def bench_compile(args, device, context):
    size, batch = args.image_size, args.batch_size
    print(f'\n## compile: train step, eager against torch.compile (inductor), batch {batch}, '
          f'3 x {size} x {size}')
    x = torch.randn(batch, 3, size, size, device=device)
    rows = []
    for name, model in (('ResNet-50', resnet(device)), ('R-ISONet-50', risonet(50, device))):
        model.train()
        step = train_step(torch.compile(model), x)
        start = time.perf_counter()
        step()
        compile_s = time.perf_counter() - start
        eager, t = timed(train_step(model, x), step, repeats=args.repeats)
        rows.append((name, f'{eager:.3f}', f'{t:.3f}', f'{eager / t:.2f}x', f'{compile_s:.0f}'))
    table(('backbone', 'eager s', 'compiled s', 'speed-up', 'compile + first step s'), rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument(
        '--only', default=','.join(SECTIONS), help=f'comma-separated sections of {SECTIONS}')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--depths', default='50,101', help='R-ISONet depths of the penalty section')
    parser.add_argument('--image-size', type=int, default=512)
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
    print(f'# {machine(device)} | torch {torch.__version__} | median of {args.repeats} runs '
          'after a warm-up (torch.utils.benchmark)')
    context = {}
    for section in SECTIONS:
        if section in only:
            globals()[f'bench_{section}'](args, device, context)


if __name__ == '__main__':
    main()
