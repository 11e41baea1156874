"""Mean-field signal propagation against the papers' known points and its own definitions."""
import math

import pytest
import torch

from isonet_theory.mean_field import (chi_1, correlation_map, critical_sigma_w, depth_scales,
                                      fixed_point_c, fixed_point_q, variance_map)


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
    assert xi_c_critical > 1e6  # infinite on the line, up to the root finder's chi_1 - 1


def central_difference(f, x, h):
    return (f(x + h) - f(x - h)) / (2 * h)


@pytest.mark.parametrize('nonlinearity,sigma_w2,sigma_b',
                         [('tanh', 1.69, 0.1), ('tanh', 0.64, 0.3), ('srelu', 1.2, 0.1),
                          ('srelu', 1.21, 0.2), ('relu', 1.44, 0.5)])
def test_variance_depth_scale_is_the_slope_of_the_variance_map(nonlinearity, sigma_w2, sigma_b):
    """xi_q = -1 / log V'(q*); for SReLU V' includes the kink's term b p(b) (at sigma_w^2 = 1.2,
    sigma_b = 0.1, threshold -1 the slope is 0.787, xi_q 4.16: it used to be -15.9)."""
    sigma_w = math.sqrt(sigma_w2)
    q = fixed_point_q(sigma_w, sigma_b, nonlinearity)
    slope = central_difference(lambda v: variance_map(v, sigma_w, sigma_b, nonlinearity), q, 1e-5)
    xi_q, _ = depth_scales(sigma_w, sigma_b, nonlinearity)
    assert 0 < slope < 1 and xi_q > 0
    assert math.exp(-1.0 / xi_q) == pytest.approx(slope, rel=1e-6)


def test_relu_correlation_map_is_the_arc_cosine_kernel():
    """Cho & Saul's closed form: E[relu(u1) relu(u2)] = q (sin t + (pi - t) c) / (2 pi) and
    P(u1 > 0, u2 > 0) = (pi - t) / (2 pi), t = arccos c."""
    for c in (0.0, 0.3, 0.9, -0.5):
        t = math.acos(c)
        expected = (math.sin(t) + (math.pi - t) * c) / (2 * math.pi)
        assert correlation_map(
            c, 1.0, 0.0, 'relu', q_star=1.0) == pytest.approx(
                expected, abs=1e-12)
    assert fixed_point_c(1.0, 0.5, 'relu') == (1.0, pytest.approx(0.5))  # ordered: chi_1 = 1/2


@pytest.mark.parametrize('nonlinearity,sigma_w2,sigma_b2', [('tanh', 3.0, 2.01e-5),
                                                            ('tanh', 1.06, 2.01e-5),
                                                            ('tanh', 1.5, 0.01),
                                                            ('srelu', 1.5, 0.09)])
def test_chaotic_correlation_fixed_point_and_its_slope(nonlinearity, sigma_w2, sigma_b2):
    """Chaotic phase: c* < 1 is a stable root of C(c) = c and chi_c = C'(c*) < 1."""
    sigma_w, sigma_b = math.sqrt(sigma_w2), math.sqrt(sigma_b2)
    assert chi_1(sigma_w, sigma_b, nonlinearity) > 1
    c_star, chi_c = fixed_point_c(sigma_w, sigma_b, nonlinearity)
    assert 0 <= c_star < 1

    def C(c):
        return correlation_map(c, sigma_w, sigma_b, nonlinearity)

    assert abs(C(c_star) - c_star) < 1e-10
    h = min(1e-5, (1 - c_star) / 2)
    assert chi_c == pytest.approx(central_difference(C, c_star, h), rel=1e-5)
    assert 0 < chi_c < 1
    _, xi_c = depth_scales(sigma_w, sigma_b, nonlinearity)
    assert xi_c == pytest.approx(-1.0 / math.log(chi_c))


@pytest.mark.parametrize('sigma_w2,expected', [(1.04, 2222.2), (1.049, 22841.0), (0.8, 4.477)])
def test_ordered_phase_correlation_scale_is_that_of_chi_1(sigma_w2, expected):
    """Ordered phase: c* = 1 and chi_c = chi_1, however close to the critical line (a fixed 2000
    iterations of the correlation map from 0.5 gave 1537 and 1966 for the first two)."""
    sigma_w, sigma_b = math.sqrt(sigma_w2), math.sqrt(2.01e-5)
    chi = chi_1(sigma_w, sigma_b)
    assert chi < 1
    assert fixed_point_c(sigma_w, sigma_b) == (1.0, chi)
    # the slope of the correlation map at c = 1 (one-sided) is chi_1
    c = correlation_map(1 - 1e-6, sigma_w, sigma_b)
    assert (1 - c) / 1e-6 == pytest.approx(chi, rel=1e-4)
    assert depth_scales(sigma_w, sigma_b)[1] == pytest.approx(expected, rel=1e-4)


def test_without_scipy_bisection_finds_the_same_points(monkeypatch):
    """A bare GPU machine has no scipy: the tanh maths falls back to bisection."""
    import isonet_theory.mean_field as mf
    with_scipy = mf.critical_sigma_w(math.sqrt(2.01e-5)), mf.depth_scales(2.0, math.sqrt(2.01e-5))
    monkeypatch.setattr(mf, 'brentq', mf._bisect)
    without = mf.critical_sigma_w(math.sqrt(2.01e-5)), mf.depth_scales(2.0, math.sqrt(2.01e-5))
    for a, b in zip(with_scipy, without):
        assert a == pytest.approx(b, rel=1e-10)
