"""Benchmark the isometry regulariser (forward + backward), all measured in one run.

Prints, on the same weights:
  1. ``isometry_penalty`` (batched one-GEMM form) against the reference code's direct form
     (one ``F.conv2d`` per layer) over every conv but the stem of R-ISONet-50 and R-ISONet-101,
     with their agreement (value and gradient, relative);
  2. the regulariser's cost against one R-ISONet-50 backbone forward + backward at batch 2,
     3 x 512 x 512 (what a detector's backbone step costs on top of heads).

    python tools/benchmarks/bench_isometry_penalty.py [--device cuda] [--repeats 5]
"""
import argparse
import logging

import torch
import torch.nn as nn
import torch.utils.benchmark as benchmark
from mmengine.logging import MMLogger

from isonet_det.models import RISONet
from isonet_det.ops import isometry_penalty, isometry_penalty_direct


def timed(fn, device, repeats):
    """Median seconds of ``fn`` over ``repeats`` runs after a warm-up, by
    ``torch.utils.benchmark`` (which synchronises CUDA around each run)."""
    fn()
    timer = benchmark.Timer(stmt='fn()', globals=dict(fn=fn), num_threads=torch.get_num_threads())
    runs = [timer.timeit(1).median for _ in range(max(repeats, 1))]
    return sorted(runs)[len(runs) // 2]


def perturbed_risonet(depth, device):
    """R-ISONet at the reference init plus noise, so the regulariser is far from 0."""
    model = RISONet(depth=depth)
    model.init_weights()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.add_(0.02 * torch.randn_like(m.weight))
    return model.to(device)


def penalty_fwd_bwd(penalty_fn, convs):
    weights = [c.weight for c in convs]

    def run():
        value = penalty_fn(convs)
        grads = torch.autograd.grad(value, weights)
        return value.detach(), grads

    return run


def compare(fast_out, direct_out):
    (v_fast, g_fast), (v_direct, g_direct) = fast_out, direct_out
    value_err = ((v_fast - v_direct).abs() / v_direct.abs()).item()
    num = sum(((a - b)**2).sum() for a, b in zip(g_fast, g_direct)).sqrt()
    den = sum((b**2).sum() for b in g_direct).sqrt()
    return value_err, (num / den).item()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--image-size', type=int, default=512)
    parser.add_argument('--batch-size', type=int, default=2)
    args = parser.parse_args()
    device = torch.device(args.device)
    MMLogger.get_current_instance().setLevel(logging.WARNING)  # no per-parameter init log
    torch.manual_seed(0)
    print(f'device: {device} | torch {torch.__version__} | threads {torch.get_num_threads()} | '
          f'median of {args.repeats} runs after a warm-up (torch.utils.benchmark)')

    print('\n1. regulariser forward+backward, every conv but the stem')
    print(f'{"model":<14}{"convs":>6}{"direct (s)":>12}{"fast (s)":>10}{"speed-up":>10}'
          f'{"value rel.err":>15}{"grad rel.err":>14}')
    fast_seconds = {}
    for depth in (50, 101):
        model = perturbed_risonet(depth, device)
        convs = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m is not model.conv1]
        fast = penalty_fwd_bwd(isometry_penalty, convs)
        direct = penalty_fwd_bwd(isometry_penalty_direct, convs)
        value_err, grad_err = compare(fast(), direct())
        t_direct = timed(direct, device, args.repeats)
        t_fast = timed(fast, device, args.repeats)
        fast_seconds[depth] = t_fast
        print(f'{"R-ISONet-" + str(depth):<14}{len(convs):>6}{t_direct:>12.4f}{t_fast:>10.4f}'
              f'{t_direct / t_fast:>9.2f}x{value_err:>15.2e}{grad_err:>14.2e}')

    print(f'\n2. against one R-ISONet-50 backbone forward+backward, batch {args.batch_size}, '
          f'3 x {args.image_size} x {args.image_size}')
    model = perturbed_risonet(50, device).train()
    x = torch.randn(args.batch_size, 3, args.image_size, args.image_size, device=device)

    def backbone_step():
        outs = model(x)
        sum(o.float().mean() for o in outs).backward()
        model.zero_grad(set_to_none=True)

    t_backbone = timed(backbone_step, device, args.repeats)
    print(f'backbone fwd+bwd {t_backbone:.4f} s | regulariser fwd+bwd {fast_seconds[50]:.4f} s | '
          f'regulariser / backbone = {fast_seconds[50] / t_backbone:.3f}')


if __name__ == '__main__':
    main()
