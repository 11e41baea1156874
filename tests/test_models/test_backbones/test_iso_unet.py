"""ISOUNet: the UNet layout MMSegmentation's heads expect, no normalisation layer, the reference
init (regulariser exactly 0 on every Delta-initialised kernel, ~0 on the decoder convs that sum
``[up, skip]``; the previous default, the skip half at zero, by ``skip_init='zero'``) and clear
errors."""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from isonet_det.models.backbones import ISOUNet
from isonet_det.models.layers import SReLU
from isonet_det.ops import isometry_penalty, regularized_convs


def test_outputs_follow_mmseg_unet_layout():
    model = ISOUNet(in_channels=1, base_channels=8, num_stages=5)
    outs = model(torch.randn(2, 1, 64, 48))
    assert [tuple(o.shape) for o in outs] == [(2, 128, 4, 3), (2, 64, 8, 6), (2, 32, 16, 12),
                                              (2, 16, 32, 24), (2, 8, 64, 48)]


@pytest.mark.extras
def test_same_shapes_as_mmseg_unet_with_deconv_upsampling():
    from mmengine.registry import init_default_scope
    from mmseg.models.backbones import UNet
    init_default_scope('mmseg')  # its DeconvModule is found in its own registry
    ours = ISOUNet(in_channels=3, base_channels=8, num_stages=4)
    theirs = UNet(
        in_channels=3,
        base_channels=8,
        num_stages=4,
        strides=(1, 1, 1, 1),
        enc_num_convs=(2, 2, 2, 2),
        dec_num_convs=(2, 2, 2),
        downsamples=(True, True, True),
        enc_dilations=(1, 1, 1, 1),
        dec_dilations=(1, 1, 1),
        upsample_cfg=dict(type='DeconvModule', kernel_size=2))
    x = torch.randn(1, 3, 32, 32)
    assert [o.shape for o in ours(x)] == [o.shape for o in theirs(x)]
    # same convs: the BN baseline differs by its norm layers and the deconvs' biases only
    conv_shapes = sorted(
        tuple(m.weight.shape) for m in ours.modules()
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)))
    assert conv_shapes == sorted(
        tuple(m.weight.shape) for m in theirs.modules()
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)))


def test_no_normalisation_and_srelu_per_channel_everywhere():
    model = ISOUNet(in_channels=1, base_channels=8)
    norms = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)
    assert not [m for m in model.modules() if isinstance(m, norms)]
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    acts = [m for m in model.modules() if isinstance(m, SReLU)]
    assert len(convs) == len(acts) == 18 and all(c.bias is None for c in convs)
    assert [a.num_channels for a in acts] == [c.out_channels for c in convs]
    assert all((a.srelu_bias == -1).all() for a in acts)


def test_default_init_makes_the_regulariser_exactly_zero():
    model = ISOUNet(in_channels=1, base_channels=8)
    model.init_weights()
    convs = regularized_convs(model, module=None)
    assert len(convs) == 17 and model.stem not in convs  # every 3x3 conv but the image's
    skip_sums = [block.convs[0] for block in model.decoder]
    assert isometry_penalty([c for c in convs if c not in skip_sums]).item() == 0.0
    # [I, I] / sqrt(2): 0 up to float32's rounding of 1 / sqrt(2) (1 - 2 * 0.70710677**2 ~ 6e-8)
    assert 0.0 <= isometry_penalty(skip_sums).item() < 1e-12
    # the stem keeps PyTorch's default init (as ISONet's), the transposed convs upsample
    assert model.stem.weight.std() > 0.05
    x = torch.randn(1, 16, 4, 4)
    torch.testing.assert_close(model.decoder[0].upsample(x)[:, :8],
                               F.interpolate(x[:, :8], scale_factor=2, mode='nearest'))
    # regularised convs move away from 0 when perturbed: the value is not constant
    with torch.no_grad():
        convs[3].weight.add_(0.1 * torch.randn_like(convs[3].weight))
    assert isometry_penalty(convs).item() > 0


def test_with_cp_gives_the_same_gradients():
    torch.manual_seed(0)
    plain = ISOUNet(in_channels=1, base_channels=4, num_stages=3)
    plain.init_weights()
    ckpt = ISOUNet(in_channels=1, base_channels=4, num_stages=3, with_cp=True)
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(2, 1, 16, 16)
    for model in (plain, ckpt):
        sum(o.square().sum() for o in model(x)).backward()
    for (name, a), b in zip(plain.named_parameters(), ckpt.parameters()):
        torch.testing.assert_close(a.grad, b.grad, msg=name)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match='no normalisation'):
        ISOUNet(norm_cfg=dict(type='BN'))
    with pytest.raises(ValueError, match='num_stages'):
        ISOUNet(num_stages=1)
    with pytest.raises(ValueError, match='enc_num_convs'):
        ISOUNet(num_stages=3, enc_num_convs=(2, 2))
    with pytest.raises(ValueError, match='multiples of 16'):
        ISOUNet(in_channels=1, base_channels=4)(torch.randn(1, 1, 40, 40))
    with pytest.raises(ValueError, match=r'\(N, 1, H, W\)'):
        ISOUNet(in_channels=1, base_channels=4)(torch.randn(1, 3, 32, 32))


@pytest.mark.extras
def test_registered_for_mmseg_configs():
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import isonet_det  # noqa: F401
    init_default_scope('mmseg')
    model = MODELS.build(dict(type='ISOUNet', in_channels=1, base_channels=4, num_stages=3))
    assert isinstance(model, ISOUNet)


def _centre_taps(conv):
    return conv.weight.detach()[:, :, 1, 1]


def test_decoder_convs_pass_up_and_skip_through_at_init():
    """The default init of each decoder block's first conv: centre tap [I, I] / sqrt(2), so
    cat([u, s]) -> (u + s) / sqrt(2); both halves weighted, rows orthonormal (W W^T = I, the
    regulariser's target on its smaller side), the regulariser ~0."""
    torch.manual_seed(0)
    model = ISOUNet(in_channels=1, base_channels=4, num_stages=4)
    model.init_weights()
    for block in model.decoder:
        conv = block.convs[0]
        c = conv.out_channels
        assert conv.in_channels == 2 * c and conv.bias is None
        weight = conv.weight.detach()
        centre = _centre_taps(conv)
        assert torch.equal(centre, torch.eye(c).repeat(1, 2) * (1 / math.sqrt(2)))
        off_centre = weight.clone()
        off_centre[:, :, 1, 1] = 0
        assert not off_centre.any()
        assert centre[:, :c].abs().sum() > 0 and centre[:, c:].abs().sum() > 0  # both halves
        torch.testing.assert_close(centre @ centre.t(), torch.eye(c), rtol=0, atol=1e-7)
        assert isometry_penalty([conv]).item() < 1e-12
        u, s = torch.randn(2, c, 8, 8), torch.randn(2, c, 8, 8)
        torch.testing.assert_close(conv(torch.cat([u, s], 1)), (u + s) / math.sqrt(2))
    # the rest of the init and every output shape are as before
    outs = model(torch.randn(2, 1, 32, 24))
    assert [tuple(o.shape) for o in outs] == [(2, 32, 4, 3), (2, 16, 8, 6), (2, 8, 16, 12),
                                              (2, 4, 32, 24)]


def test_skip_init_zero_is_the_previous_default():
    """skip_init='zero': plain Delta on the decoder's first convs (identity on the up-sampled
    half, the skip half at zero); every other tensor equal to the new default's."""
    models = {}
    for skip_init in ('sum', 'zero'):
        torch.manual_seed(0)  # the stem's PyTorch default init draws from the global generator
        models[skip_init] = ISOUNet(
            in_channels=1, base_channels=4, num_stages=3, skip_init=skip_init)
        models[skip_init].init_weights()
    old = models['zero']
    for block in old.decoder:
        conv = block.convs[0]
        c = conv.out_channels
        assert torch.equal(conv.weight.detach(), nn.init.dirac_(torch.empty_like(conv.weight)))
        assert torch.equal(_centre_taps(conv)[:, :c], torch.eye(c))
        assert not _centre_taps(conv)[:, c:].any()  # the skip starts at zero weight
        u, s = torch.randn(1, c, 8, 8), torch.randn(1, c, 8, 8)
        torch.testing.assert_close(conv(torch.cat([u, s], 1)), u)
    changed = {f'decoder.{i}.convs.0.weight' for i in range(2)}
    new = models['sum'].state_dict()
    for name, value in old.state_dict().items():
        assert torch.equal(value, new[name]) != (name in changed), name
    assert [o.shape for o in old(torch.randn(1, 1, 16, 16))] == \
        [o.shape for o in models['sum'](torch.randn(1, 1, 16, 16))]


def test_skip_init_leaves_a_users_init_cfg_alone():
    model = ISOUNet(
        in_channels=1, base_channels=4, num_stages=3, init_cfg=dict(type='Delta', layer='Conv2d'))
    model.init_weights()
    conv = model.decoder[0].convs[0]
    assert torch.equal(conv.weight.detach(), nn.init.dirac_(torch.empty_like(conv.weight)))
    with pytest.raises(ValueError, match='skip_init'):
        ISOUNet(skip_init='identity')
    from isonet_det.models.initializers import concat_delta_init_
    with pytest.raises(ValueError, match='parts'):
        concat_delta_init_(torch.empty(4, 6, 3, 3))
