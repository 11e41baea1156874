import math

import pytest
import torch
import torch.nn as nn
from gratings import make_gratings
from reference_math import explicit_conv_operator

from isonet_det.analysis import (SCHEMES, PlainCNN, activation_stats, conv_layer_stats,
                                 jacobian_singular_values, orthogonality_error)
from isonet_det.models import RISONet
from isonet_det.ops import isometry_penalty


def test_orthogonality_error_is_relative_to_delta():
    conv = nn.Conv2d(8, 16, 3, bias=False)
    nn.init.dirac_(conv.weight)
    assert orthogonality_error(conv) == 0.0
    with torch.no_grad():
        conv.weight.mul_(2.0)  # G = 4 delta: ||3 I||_F / ||I||_F = 3
    assert orthogonality_error(conv) == pytest.approx(3.0)
    conv.weight.data.normal_()
    assert orthogonality_error(conv) == pytest.approx(
        math.sqrt(2 * isometry_penalty([conv]).item() / 8))


def test_risonet_at_init_is_an_isometry_layer_by_layer():
    model = RISONet(depth=18, base_channels=8)
    model.init_weights()
    convs = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    rows = conv_layer_stats(convs, n=8)
    assert len(rows) == len(convs) and rows[0]['layer'] == 'conv1'
    for r in rows[1:]:  # every conv but the (PyTorch-initialised) stem
        assert r['orthogonality_error'] == 0.0
        assert r['sigma_max'] == pytest.approx(1.0)
        if r['stride'] == 1 or r['out_channels'] <= r['in_channels']:
            assert r['sigma_min'] == pytest.approx(1.0)
        else:
            # a strided Delta conv widening C -> 2C leaves C output channels at zero: the
            # reference's Gram criterion is met, yet the true operator has singular values 0
            assert r['sigma_min'] == pytest.approx(0.0, abs=1e-12)
    acts = activation_stats(model)
    assert {a['kind'] for a in acts} == {'srelu_threshold', 'residual_scale'}
    assert all(a['mean'] == -1.0 for a in acts if a['kind'] == 'srelu_threshold')
    assert all(a['mean'] == 0.0 for a in acts if a['kind'] == 'residual_scale')


def test_jacobian_of_a_linear_conv_is_its_operator():
    conv = nn.Conv2d(2, 3, 3, padding=1, padding_mode='circular', bias=False).double()
    x = torch.randn(2, 5, 5, dtype=torch.float64)
    expected = torch.linalg.svdvals(explicit_conv_operator(conv.weight.detach(), 5))
    torch.testing.assert_close(jacobian_singular_values(conv, x), expected)


def test_dynamical_isometry_at_init():
    """Delta + SReLU is exactly isometric for inputs above the threshold; Delta-Orthogonal +
    tanh contracts, within a factor ~10 below 1; Kaiming + ReLU collapses (rank-deficient)."""
    torch.manual_seed(0)
    x = 0.2 * torch.randn(4, 6, 6, dtype=torch.float64)
    spectra = {
        s: jacobian_singular_values(PlainCNN(20, 4, scheme=s).body.double(), x)
        for s in SCHEMES
    }
    torch.testing.assert_close(spectra['delta_srelu'], torch.ones(144, dtype=torch.float64))
    tanh = spectra['delta_orthogonal_tanh']
    assert tanh.max() <= 1.0 + 1e-9 and tanh.max() / tanh.min() < 20
    relu = spectra['kaiming_relu']
    assert relu.min() < 1e-9 and relu.max() < 0.5


def test_gratings_are_deterministic_and_balanced():
    a, la = make_gratings(400, 8, seed=1)
    b, lb = make_gratings(400, 8, seed=1)
    assert torch.equal(a, b) and torch.equal(la, lb) and a.shape == (400, 3, 8, 8)
    assert la.bincount(minlength=4).min() > 60


def test_plain_cnn_schemes():
    for scheme in SCHEMES:
        model = PlainCNN(3, 4, scheme=scheme)
        assert model(torch.randn(2, 3, 8, 8)).shape == (2, 4) and len(model.body_convs()) == 3
    with pytest.raises(ValueError, match='scheme'):
        PlainCNN(3, scheme='bn_relu')
    with pytest.raises(ValueError, match='sigma_w / sigma_b apply to'):
        PlainCNN(3, scheme='kaiming_relu', sigma_b=0.1)
    flat = PlainCNN(2, 4, num_classes=5, flatten_size=6)
    assert flat(torch.randn(2, 3, 6, 6)).shape == (2, 5) and flat.head.in_features == 4 * 36


def test_plain_cnn_mean_field_point():
    """The tanh schemes draw kernels at sigma_w (Delta-Orthogonal: sigma_w times an orthogonal
    centre tap; Gaussian: N(0, sigma_w^2 / fan_in) per tap) and biases N(0, sigma_b^2)."""
    torch.manual_seed(0)
    sigma_w, sigma_b, width = 1.3, 0.2, 64
    do = PlainCNN(4, width, scheme='delta_orthogonal_tanh', sigma_w=sigma_w, sigma_b=sigma_b)
    for conv in do.body_convs():
        centre = conv.weight[:, :, 1, 1]
        torch.testing.assert_close(centre @ centre.T, sigma_w**2 * torch.eye(width))
        off_centre = conv.weight.detach().clone()
        off_centre[:, :, 1, 1] = 0
        assert not off_centre.any()
    gauss = PlainCNN(4, width, scheme='gaussian_tanh', sigma_w=sigma_w, sigma_b=sigma_b)
    weights = torch.cat([c.weight.flatten() for c in gauss.body_convs()])
    biases = torch.cat([c.bias for c in gauss.body_convs()])
    assert abs(weights.std().item() / (sigma_w / math.sqrt(9 * width)) - 1) < 0.02
    assert abs(biases.std().item() / sigma_b - 1) < 0.15 and abs(biases.mean()) < 0.05
    assert all(c.bias is None for c in PlainCNN(2, 4, scheme='delta_srelu').body_convs())


def test_set_input_variance_puts_the_first_preactivation_at_q():
    images = make_gratings(256, 8, seed=0)[0]
    model = PlainCNN(2, 8, scheme='delta_orthogonal_tanh', sigma_w=1.05**0.5, sigma_b=4.5e-3)
    factor = model.set_input_variance(images, 0.026)
    assert factor > 0
    assert abs(model.stem(images).var().item() / 0.026 - 1) < 1e-4
    with pytest.raises(ValueError, match='q must be > 0'):
        model.set_input_variance(images, 0.0)


def test_circular_conv_pads_by_one_product_with_torchs_values():
    """PlainCNN's circular convs pad by a 0/1 matrix product: torch's circular conv, value for
    value, and the same gradients (up to the order of the border sums)."""
    from isonet_det.analysis.plain_cnn import CircularConv2d
    torch.manual_seed(0)
    ref = nn.Conv2d(4, 5, 3, padding=1, padding_mode='circular')
    fast = CircularConv2d(4, 5, 3, padding=1, padding_mode='circular')
    fast.load_state_dict(ref.state_dict())
    x = torch.randn(3, 4, 8, 6, requires_grad=True)
    out = ref(x)
    assert torch.equal(fast(x), out)
    g = torch.randn_like(out)
    for a, b in zip(
            torch.autograd.grad(ref(x), (x, ref.weight, ref.bias), g),
            torch.autograd.grad(fast(x), (x, fast.weight, fast.bias), g)):
        torch.testing.assert_close(a, b)
    net = PlainCNN(2, 4, padding_mode='circular')
    assert all(isinstance(c, CircularConv2d) for c in [net.stem, *net.body_convs()])
    assert not isinstance(PlainCNN(2, 4).stem, CircularConv2d)
