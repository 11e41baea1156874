"""The private mmengine / torch state the package touches exists on the installed versions (CI
runs this on the oldest and the newest stack), and its absence is named, not silent."""
import pytest
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.optim import OptimWrapper

from isonet_det.engine.mmengine_internals import (check_mmengine_internals, found_inf_of,
                                                  restore_clip_grad, window_starts, wrap_clip_grad)


def test_every_touch_point_exists_here():
    check_mmengine_internals()


def test_a_missing_touch_point_is_named(monkeypatch):
    monkeypatch.delattr(HistoryBuffer, '_set_default_statistics')
    with pytest.raises(RuntimeError, match=r'HistoryBuffer\._set_default_statistics'):
        check_mmengine_internals()


def test_the_touch_points_behave_as_the_hook_expects():
    param = torch.nn.Parameter(torch.ones(3))
    wrapper = OptimWrapper(
        torch.optim.SGD([param], lr=0.1), accumulative_counts=2, clip_grad=dict(max_norm=1.0))
    calls = []
    original = wrap_clip_grad(wrapper, lambda: calls.append('before'))
    assert window_starts(wrapper)
    for _ in range(2):
        wrapper.update_params((param * 10).sum())
        calls.append('step')
    assert calls == ['step', 'before', 'step'] and window_starts(wrapper)
    wrapper.update_params((param * 10).sum())
    assert not window_starts(wrapper)  # inside a window
    restore_clip_grad(wrapper, original)
    assert wrapper._clip_grad is original
    assert wrap_clip_grad(OptimWrapper(torch.optim.SGD([param], lr=0.1)), lambda: None) is None
    if hasattr(torch.amp, 'GradScaler'):  # torch >= 2.3 (older ones are CUDA-only)
        scaler = torch.amp.GradScaler('cpu')
        assert found_inf_of(scaler, wrapper.optimizer) is None  # before any unscale_
