import pytest

from isonet_det.experiments import launch


def test_steady_s_per_iter_leaves_out_the_start_up_window():
    assert launch.steady_s_per_iter([5.0, 1.0, 2.0]) == pytest.approx(1.5)
    assert launch.steady_s_per_iter([5.0]) == 5.0  # one window: nothing to leave out
