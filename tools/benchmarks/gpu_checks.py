"""Correctness checks of the GPU-only code paths, each against its CPU twin or a float64 oracle.

Needs a CUDA GPU, torch, mmengine and mmcv (its ops not needed). Every check first asserts
that the thing under test happened (the kernel ran, the graph replayed, parameters moved, a step
was skipped), then compares. Prints one line per check; exits 1 if any failed.

  srelu       the (opt-in) Triton backward of SReLU against the torch-ops reference (fp32 /
              bf16 / fp16, contiguous / channels-last, per-channel and shared thresholds), and
              through autograd in an R-ISONet block
  graph       CapturedPenalty against the eager regulariser: equal after in-place weight
              updates (replayed, not recaptured), recaptured when a weight is replaced
  precision   split-TF32 products against float64 where plain TF32 is 1000x off
  amp         IsometryRegularizerHook with mmengine's AmpOptimWrapper (a real CUDA GradScaler,
              fp16) and fused SGD / AdamW, 10 steps with one overflow: the same parameters as
              the regulariser written into the loss

    python tools/benchmarks/gpu_checks.py [--only srelu,graph]
"""
import argparse
import copy
import sys
import traceback

import torch
import torch.nn as nn

from isonet_det.engine import IsometryRegularizerHook
from isonet_det.models import RISONet, SReLU
from isonet_det.ops import CapturedPenalty, Products, isometry_penalty, isometry_penalty_and_grads
from isonet_det.ops import srelu_backward as srelu_ops

CHECKS = ('srelu', 'graph', 'precision', 'amp')
COEFF = 0.01  # the regulariser's weight in the AMP check


def close(a, b):
    """Relative max difference."""
    a, b = a.double(), b.double()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


def check_srelu(device):
    torch.manual_seed(0)
    worst = {}
    cases = [((2, 64, 50, 84), 'cf'), ((2, 256, 200, 336), 'cf'), ((2, 512, 100, 168), 'cl'),
             ((2, 64, 7, 9), 'cl'), ((4, 2048, 25, 42), 'cf'), ((2, 3, 31, 17), 'shared')]
    for dtype in (torch.float32, torch.bfloat16, torch.float16):
        for shape, kind in cases:
            C = shape[1]
            b = (0.3 * torch.randn(C if kind != 'shared' else 1, device=device)).to(dtype)
            b = b.view(1, -1, 1, 1) if kind != 'shared' else b
            y = torch.maximum(torch.randn(shape, device=device, dtype=dtype), b)
            g = torch.randn(shape, device=device, dtype=dtype)
            if kind == 'cl':
                y, g = (t.contiguous(memory_format=torch.channels_last) for t in (y, g))
            with srelu_ops.srelu_kernel(True):  # opt-in
                assert srelu_ops._takes_kernel(g, y, b), (shape, kind, 'kernel not taken')
            gx, gb = srelu_ops.srelu_backward_triton(g, y, b)
            rx, rb = srelu_ops.srelu_backward_reference(g.float(), y.float(), b.float())
            assert torch.equal(gx.float(), rx), (shape, kind, dtype, 'dL/dx differs')
            assert gx.stride() == y.stride()
            # fp32 sums in another order; in bf16/fp16 the kernel's fp32 sum rounded once
            tol = 1e-5 if dtype == torch.float32 else 1e-2
            err = close(gb.float(), rb)
            assert err < tol, (shape, kind, dtype, err)
            worst[str(dtype)] = max(worst.get(str(dtype), 0.0), err)
    # through autograd: an SReLU in a block, kernel against the reference path
    srelu = SReLU(64).to(device)
    x = torch.randn(2, 64, 40, 40, device=device, requires_grad=True)
    g = torch.randn(2, 64, 40, 40, device=device)
    with srelu_ops.srelu_kernel(True):
        got = torch.autograd.grad(srelu(x * 1), [x, srelu.srelu_bias], g)
    want = torch.autograd.grad(srelu(x * 1), [x, srelu.srelu_bias], g)  # torch ops (default)
    assert torch.equal(got[0], want[0]) and close(got[1], want[1]) < 1e-5
    return 'dL/dx bit-identical; dL/db max relative difference ' + ', '.join(
        f'{k.split(".")[-1]} {v:.1e}' for k, v in worst.items())


def risonet(device, depth=50):
    model = RISONet(depth=depth)
    model.init_weights()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.add_(0.02 * torch.randn_like(m.weight))
    return model.to(device)


def check_graph(device):
    torch.manual_seed(0)
    model = risonet(device)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)][1:]
    captured = CapturedPenalty(isometry_penalty_and_grads)
    for step in range(3):
        value, grads = captured(convs)
        v_eager, g_eager = isometry_penalty_and_grads(convs)
        assert captured.captures == 1, 'recaptured although no weight moved in memory'
        assert torch.equal(value, v_eager), (step, float(value), float(v_eager))
        assert all(torch.equal(a, b) for a, b in zip(grads, g_eager)), step
        with torch.no_grad():  # an optimizer step: in place
            for c in convs:
                c.weight.add_(0.01 * torch.randn_like(c.weight))
    before = float(value)
    convs[0].weight = nn.Parameter(convs[0].weight.detach().clone())  # a new storage
    value, grads = captured(convs)
    assert captured.captures == 2, 'not recaptured for a new weight'
    assert torch.equal(value, isometry_penalty_and_grads(convs)[0])
    return (f'3 replays equal to eager (bit for bit) across in-place updates (value {before:.4f} '
            'after them); recaptured for a new weight')


def check_precision(device):
    torch.manual_seed(0)
    a = torch.randn(8, 256, 1152, device=device) / 34
    ref = a.double() @ a.double().transpose(1, 2)
    ieee = Products('ieee')
    with ieee.context('cuda'):
        err_ieee = close(ieee.gram(a), ref)
    split = Products('split_tf32')
    with split.context('cuda'):
        err_split = close(split.gram(a), ref)
        err_split_mm = close(split.matmul(a, a.transpose(1, 2)), ref)
    prev = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = True
    err_tf32 = close(torch.bmm(a, a.transpose(1, 2)), ref)
    torch.backends.cuda.matmul.allow_tf32 = prev
    assert err_tf32 > 10 * err_split, 'plain TF32 was not used: nothing was tested'
    convs = [
        c.to(device) for c in (nn.Conv2d(64, 64, 3, padding=1), nn.Conv2d(64, 256, 1),
                               nn.Conv2d(128, 128, 3, stride=2))
    ]
    v64 = isometry_penalty([copy.deepcopy(c).double() for c in convs]).item()
    errs = {
        p: abs(isometry_penalty(convs, precision=p).item() - v64) / v64
        for p in ('ieee', 'split_tf32')
    }
    return (f'Gram of (8, 256, 1152), max relative to float64: float32 {err_ieee:.1e}, split '
            f'TF32 {err_split:.1e} (matmul form {err_split_mm:.1e}), plain TF32 {err_tf32:.1e}; '
            f'penalty of 3 random convs: ieee {errs["ieee"]:.1e}, split_tf32 '
            f'{errs["split_tf32"]:.1e}')


class TinyDetector(nn.Module):

    def __init__(self):
        super().__init__()
        self.backbone = RISONet(
            depth=18, num_stages=2, out_indices=(0, 1), base_channels=8, residual_scale_init=0.5)
        self.backbone.init_weights()
        self.head = nn.Conv2d(16, 3, 3, padding=1)
        with torch.no_grad():
            for p in self.parameters():
                p.add_(0.05 * torch.randn_like(p))

    def loss(self, x):
        return self.head(self.backbone(x)[-1]).float().pow(2).mean()


class FakeRunner:

    def __init__(self, model, optim_wrapper):
        self.model, self.optim_wrapper, self.iter = model, optim_wrapper, 0


def amp_run(model, make_optimizer, batches, overflow, hook):
    """Train under mmengine's AmpOptimWrapper (fp16 autocast, CUDA GradScaler); the regulariser
    by the hook, or written into the loss. Returns the steps the scaler skipped."""
    from mmengine.optim import AmpOptimWrapper
    wrapper = AmpOptimWrapper(
        optimizer=make_optimizer(model.parameters()),
        loss_scale=dict(init_scale=256.0, growth_interval=1000),
        dtype='float16')
    convs = [m for m in model.backbone.modules() if isinstance(m, nn.Conv2d)][1:]
    runner = FakeRunner(model, wrapper)
    wrapper.initialize_count_status(model, 0, len(batches))
    if hook is not None:
        hook.before_train(runner)
    skipped = []
    for i, x in enumerate(batches):
        if hook is not None:
            hook.before_train_iter(runner, i)
        scale = wrapper.loss_scaler.get_scale()
        with wrapper.optim_context(model):
            loss = model.loss(x)
        if hook is None:
            loss = loss + COEFF * isometry_penalty(convs)
        if i in overflow:
            loss = loss * float('inf')
        wrapper.update_params(loss)
        if wrapper.loss_scaler.get_scale() < scale:
            skipped.append(i)
    if hook is not None:
        hook.after_train(runner)
    return skipped


def check_amp(device):
    torch.manual_seed(0)
    batches = [torch.randn(2, 3, 32, 32, device=device) for _ in range(10)]
    # learning rates at which the toy trains stably in fp16 (at SGD lr 0.01 it diverged and
    # the scaler skipped most steps, with and without the regulariser alike)
    optimizers = {
        'sgd-fused':
        lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9, weight_decay=1e-3, fused=True),
        'adamw-fused': lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=1e-2, fused=True),
        'sgd-foreach': lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9, foreach=True),
    }
    lines, failed = [], []
    for name, make in optimizers.items():
        try:
            lines.append(amp_case(device, name, make, batches))
        except AssertionError as e:
            failed.append(f'{name}: {e}')
    assert not failed, '; '.join(failed + lines)
    return '10 fp16 steps, step 3 overflowed and skipped by both; ' + '; '.join(lines)


def amp_case(device, name, make, batches):
    """One optimizer: the hook, the regulariser in the loss, and a coeff-0 control."""
    start = TinyDetector().to(device)
    with_hook, in_loss, control = (copy.deepcopy(start) for _ in range(3))
    hook = IsometryRegularizerHook(coeff=COEFF)
    skipped = amp_run(with_hook, make, batches, {3}, hook)
    skipped_ref = amp_run(in_loss, make, batches, {3}, None)
    skipped_control = amp_run(control, make, batches, {3}, IsometryRegularizerHook(coeff=0.0))
    finite = all(bool(torch.isfinite(p).all()) for p in with_hook.parameters())
    print(
        f'  {name}: skipped with hook {skipped}, in the loss {skipped_ref}, coeff 0 '
        f'{skipped_control}; parameters finite: {finite}',
        flush=True)
    assert skipped == skipped_ref and 3 in skipped, (skipped, skipped_ref)
    assert len(skipped) <= 2 and finite, f'the runs broke after the overflow: skipped {skipped}'
    assert hook.penalty.captures == 1, 'the CUDA graph was not used'
    moved = max(
        float((a - b).abs().max()) for a, b in zip(with_hook.parameters(), start.parameters()))
    assert moved > 1e-6, f'parameters did not move ({moved})'
    diff = max(close(a, b) for a, b in zip(with_hook.parameters(), in_loss.parameters()))
    reg = max(close(a, b) for a, b in zip(with_hook.parameters(), control.parameters()))
    assert diff < 1e-3 and reg > 10 * diff, (diff, reg)
    return (f'{name}: moved {moved:.1e}, hook vs loss {diff:.1e} (vs no regulariser '
            f'{reg:.1e})')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--only', default=','.join(CHECKS))
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit('gpu_checks.py needs a CUDA GPU')
    device = torch.device('cuda')
    print(f'# {torch.cuda.get_device_name(device)} | torch {torch.__version__}', flush=True)
    failed = 0
    for name in args.only.split(','):
        try:
            torch.manual_seed(0)
            print(f'PASS {name}: {globals()[f"check_{name}"](device)}', flush=True)
        except Exception:  # report every check, then fail
            failed += 1
            print(f'FAIL {name}:\n{traceback.format_exc()}', flush=True)
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
