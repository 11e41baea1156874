import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import initialize

from isonet_det.models.initializers import delta_init_, delta_orthogonal_init_, haar_orthogonal
from isonet_det.ops import isometry_penalty


def circular_conv(conv, x):
    k = conv.kernel_size[0]
    return F.conv2d(F.pad(x, [k // 2] * 4, mode='circular'), conv.weight)


@pytest.mark.parametrize('c_in,c_out', [(8, 8), (8, 16), (16, 8)])
def test_delta_passes_the_first_channels_through(c_in, c_out):
    conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
    delta_init_(conv.weight)
    x = torch.randn(2, c_in, 6, 6)
    y = conv(x)
    n = min(c_in, c_out)
    torch.testing.assert_close(y[:, :n], x[:, :n])
    assert y[:, n:].abs().max() == 0 if c_out > n else True
    assert isometry_penalty([conv]).item() == 0.0


@pytest.mark.parametrize('c_in,c_out,k', [(16, 16, 3), (8, 32, 3), (16, 64, 1), (4, 4, 5)])
def test_delta_orthogonal_preserves_norm_with_circular_padding(c_in, c_out, k):
    conv = nn.Conv2d(c_in, c_out, k, bias=False)
    delta_orthogonal_init_(conv.weight)
    x = torch.randn(16, c_in, 9, 9, dtype=torch.float64)
    y = circular_conv(conv.double(), x)
    torch.testing.assert_close(
        y.flatten(1).norm(dim=1), x.flatten(1).norm(dim=1), rtol=1e-5, atol=0)


def test_delta_orthogonal_wide_input_is_a_coisometry():
    """C_in > C_out: rows orthonormal, so the adjoint preserves norms and the penalty is 0."""
    conv = nn.Conv2d(32, 8, 3, bias=False).double()
    delta_orthogonal_init_(conv.weight)
    centre = conv.weight[:, :, 1, 1]
    torch.testing.assert_close(centre @ centre.T, torch.eye(8, dtype=torch.float64))
    y = torch.randn(4, 8, 7, 7, dtype=torch.float64)
    adjoint = F.conv_transpose2d(y, conv.weight, padding=1)
    torch.testing.assert_close(adjoint.flatten(1).norm(dim=1), y.flatten(1).norm(dim=1))
    assert isometry_penalty([conv]).item() < 1e-20


def test_delta_orthogonal_gain_groups_and_zero_off_centre():
    conv = nn.Conv2d(8, 12, 3, groups=2, bias=False).double()
    delta_orthogonal_init_(conv.weight, gain=2.0, groups=2)
    w = conv.weight
    off_centre = w.clone()
    off_centre[:, :, 1, 1] = 0
    assert off_centre.abs().max() == 0
    for g in range(2):
        block = w[g * 6:(g + 1) * 6, :, 1, 1]
        torch.testing.assert_close(block.T @ block, 4.0 * torch.eye(4, dtype=torch.float64))


def test_haar_orthogonal_is_sign_fixed_and_seeded():
    a = haar_orthogonal(5, 3, torch.Generator().manual_seed(1))
    b = haar_orthogonal(5, 3, torch.Generator().manual_seed(1))
    c = haar_orthogonal(5, 3, torch.Generator().manual_seed(2))
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)
    # Haar: the first entry of a random orthogonal matrix is symmetric about 0. Plain QR
    # (Householder) without the sign fix makes diag(R) one-signed and biases it.
    gen = torch.Generator().manual_seed(0)
    first = torch.stack([haar_orthogonal(2, 2, gen)[0, 0] for _ in range(4000)])
    assert abs(first.mean().item()) < 0.05


def test_registered_initialisers_through_init_cfg():
    model = nn.Sequential(nn.Conv2d(4, 8, 3, bias=True), nn.Conv2d(8, 8, 1), nn.Linear(8, 2))
    initialize(model, dict(type='Delta', layer='Conv2d', bias=0.5))
    assert isometry_penalty([model[0], model[1]]).item() == 0.0
    assert (model[0].bias == 0.5).all()
    initialize(model, dict(type='DeltaOrthogonal', layer='Conv2d', gain=1.0))
    assert isometry_penalty([model[0], model[1]]).item() < 1e-10
    assert model[0].weight[:, :, 0, 0].abs().max() == 0


def test_delta_rejects_non_kernels():
    with pytest.raises(ValueError, match='conv kernel'):
        delta_orthogonal_init_(torch.empty(4, 4))


def test_mean_field_initialisers_set_sigma_w_and_draw_biases():
    """Delta-Orthogonal and its Gaussian control at one (sigma_w, sigma_b): the same second
    moments (the variance map's), biases N(0, sigma_b^2) instead of the constant."""
    from mmengine.model import initialize
    torch.manual_seed(0)
    sigma_w, sigma_b = 1.3, 0.2
    for kind in ('DeltaOrthogonal', 'GaussianFanIn'):
        model = nn.Sequential(*[nn.Conv2d(64, 64, 3, padding=1) for _ in range(8)])
        initialize(model, dict(type=kind, layer='Conv2d', gain=sigma_w, bias_std=sigma_b))
        weights = torch.stack([m.weight for m in model])
        biases = torch.cat([m.bias for m in model])
        # per output unit: sum of squared weights = sigma_w^2 (exact for orthogonal rows)
        row_norms = weights.flatten(2).pow(2).sum(-1)
        tol = 1e-5 if kind == 'DeltaOrthogonal' else 0.1
        assert abs(row_norms.mean().item() - sigma_w**2) < tol * sigma_w**2, kind
        assert abs(biases.std().item() - sigma_b) < 0.03 and abs(biases.mean().item()) < 0.05
    gaussian = nn.Conv2d(32, 16, 3)
    initialize(gaussian, dict(type='GaussianFanIn', layer='Conv2d', gain=2.0))
    assert (gaussian.bias == 0).all()  # no bias_std: the constant bias (0)
    assert abs(gaussian.weight.std().item() - 2.0 / (32 * 9)**0.5) < 0.01
    with pytest.raises(ValueError, match='bias_std'):
        initialize(gaussian, dict(type='GaussianFanIn', layer='Conv2d', bias_std=-1.0))


@pytest.mark.parametrize('c_in,c_out', [(16, 8), (8, 8), (4, 8)])
def test_upsample_delta_is_nearest_neighbour_upsampling(c_in, c_out):
    """A 2x2 stride-2 transposed conv (UNet's upsampling) after the Delta init copies each input
    pixel of the first min(C_in, C_out) channels to its 2x2 block; the other outputs are 0."""
    from isonet_det.models.initializers import upsample_delta_init_
    deconv = nn.ConvTranspose2d(c_in, c_out, 2, stride=2, bias=False)
    upsample_delta_init_(deconv)
    x = torch.randn(2, c_in, 5, 7)
    y = deconv(x)
    n = min(c_in, c_out)
    torch.testing.assert_close(y[:, :n], F.interpolate(x[:, :n], scale_factor=2, mode='nearest'))
    assert y[:, n:].abs().max() == 0 if c_out > n else True


def test_delta_init_cfg_covers_transposed_convs():
    """init_cfg=dict(type='Delta', layer=[..., 'ConvTranspose2d']): the upsampling Delta for
    kernel == stride, the centre-tap identity for a stride-1 transposed conv."""
    model = nn.Sequential(
        nn.ConvTranspose2d(8, 8, 2, stride=2), nn.ConvTranspose2d(8, 8, 3, padding=1))
    initialize(model, dict(type='Delta', layer=['ConvTranspose2d']))
    x = torch.randn(1, 8, 4, 4)
    torch.testing.assert_close(model[0](x), F.interpolate(x, scale_factor=2, mode='nearest'))
    torch.testing.assert_close(model[1](x), x)
    assert model[0].bias.abs().max() == 0
