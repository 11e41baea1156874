"""Mean-field signal propagation against the papers' known points and its own definitions."""
import math

import numpy as np
import pytest
import torch

from isonet_det.analysis import chi_1, critical_sigma_w, depth_scales, fixed_point_q, variance_map


def test_tanh_critical_point_of_xiao_et_al():
    """Xiao et al. (2018) train 10,000-layer tanh CNNs at sigma_b^2 = 2.01e-5, sigma_w^2 = 1.05."""
    sigma_w, q_star = critical_sigma_w(math.sqrt(2.01e-5), 'tanh')
    assert abs(sigma_w**2 - 1.05) < 1e-3
    assert q_star > 0
    assert abs(chi_1(sigma_w, math.sqrt(2.01e-5), 'tanh', q_star=q_star) - 1.0) < 1e-9


def test_degenerate_tanh_and_relu_points():
    assert critical_sigma_w(0.0, 'tanh') == (1.0, 0.0)
    sigma_w, q_star = critical_sigma_w(0.0, 'relu')
    assert sigma_w**2 == pytest.approx(2.0) and math.isnan(q_star)
    with pytest.raises(ValueError, match='no critical point'):
        critical_sigma_w(0.1, 'relu')
    with pytest.raises(ValueError, match='nonlinearity'):
        critical_sigma_w(0.1, 'gelu')


@pytest.mark.parametrize('nonlinearity,sigma_w,sigma_b', [('tanh', 1.3, 0.1), ('tanh', 0.8, 0.3),
                                                          ('srelu', 1.1, 0.2), ('relu', 1.2, 0.5)])
def test_variance_map_is_stationary_at_q_star_and_matches_monte_carlo(nonlinearity, sigma_w,
                                                                      sigma_b):
    q = fixed_point_q(sigma_w, sigma_b, nonlinearity)
    assert 0 < q < math.inf
    assert abs(variance_map(q, sigma_w, sigma_b, nonlinearity) - q) < 1e-9 * max(1.0, q)
    # the map itself, by sampling: E[phi(sqrt(q) z)^2]
    z = torch.randn(2_000_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    u = math.sqrt(q) * z
    phi = {'tanh': torch.tanh(u), 'relu': u.clamp(min=0), 'srelu': u.clamp(min=-1.0)}
    sampled = sigma_w**2 * phi[nonlinearity].pow(2).mean().item() + sigma_b**2
    assert abs(sampled - q) < 5e-3 * q


def test_critical_srelu_point_has_chi_one():
    for sigma_b in (0.05, 0.3):
        sigma_w, q_star = critical_sigma_w(sigma_b, 'srelu')
        assert sigma_w > 1 and q_star > 0
        assert abs(chi_1(sigma_w, sigma_b, 'srelu') - 1.0) < 1e-9


def test_a_deep_random_tanh_network_follows_the_variance_map():
    """The map predicts the pre-activation variance of an actual wide network, layer by layer."""
    torch.manual_seed(0)
    sigma_w, sigma_b, width = 1.5, 0.3, 2000
    x = torch.randn(64, width, dtype=torch.float64) * 0.5
    q = 0.25
    h = x
    for _ in range(10):
        W = torch.randn(width, width, dtype=torch.float64) * sigma_w / math.sqrt(width)
        b = torch.randn(width, dtype=torch.float64) * sigma_b
        h = torch.tanh(h) @ W.T + b
        q = variance_map(q, sigma_w, sigma_b, 'tanh')
    assert abs(h.pow(2).mean().item() - q) < 0.05 * q


def test_depth_scales_diverge_at_criticality_and_are_finite_off_it():
    sigma_b = 0.05
    sigma_w, _ = critical_sigma_w(sigma_b, 'tanh')
    _, xi_c_critical = depth_scales(sigma_w, sigma_b, 'tanh')
    for off in (0.8 * sigma_w, 1.3 * sigma_w):  # ordered and chaotic
        xi_q, xi_c = depth_scales(off, sigma_b, 'tanh')
        assert 0 < xi_q < 50 and 0 < xi_c < 50
        assert xi_c_critical > 20 * xi_c
    assert np.isfinite(xi_c_critical) and xi_c_critical > 200
