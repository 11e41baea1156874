"""CapturedPenalty off CUDA, and the hook's use of the buffers it returns (the CUDA graph replay
itself is checked on a GPU by tools/benchmarks/gpu_checks.py)."""
import torch
import torch.nn as nn

from isonet_det.engine.hooks.isometry_regularizer_hook import _add_scaled
from isonet_det.ops import CapturedPenalty, isometry_penalty_and_grads


def test_runs_the_penalty_itself_off_cuda():
    convs = [nn.Conv2d(4, 8, 3), nn.Conv2d(8, 8, 1)]
    calls = []

    def penalty(c):
        calls.append(len(c))
        return isometry_penalty_and_grads(c)

    captured = CapturedPenalty(penalty)
    value, grads = captured(convs)
    expected = isometry_penalty_and_grads(convs)
    assert calls == [2] and captured.captures == 0
    assert torch.equal(value, expected[0])
    assert all(torch.equal(a, b) for a, b in zip(grads, expected[1]))


def test_hook_never_hands_out_the_penalty_buffers_as_grads():
    """A CUDA graph's outputs are overwritten by its next replay: a parameter without a gradient
    gets a new tensor, one with a gradient has the term added, and the buffers are unchanged."""
    params = [nn.Parameter(torch.zeros(3)), nn.Parameter(torch.zeros(2))]
    params[1].grad = torch.ones(2)
    buffers = [torch.tensor([1., 2., 3.]), torch.tensor([4., 5.])]
    kept = [b.clone() for b in buffers]
    _add_scaled(params, buffers, 0.5)
    assert params[0].grad is not buffers[0]
    assert torch.equal(params[0].grad, torch.tensor([0.5, 1., 1.5]))
    assert torch.equal(params[1].grad, torch.tensor([3., 3.5]))
    _add_scaled(params, buffers, torch.tensor(2.0))  # a device factor (AMP's scale)
    assert torch.equal(params[0].grad, torch.tensor([2.5, 5., 7.5]))
    assert all(torch.equal(a, b) for a, b in zip(buffers, kept))
