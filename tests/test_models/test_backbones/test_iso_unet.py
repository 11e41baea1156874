"""ISOUNet: the UNet layout MMSegmentation's heads expect, no normalisation layer, the reference
init (regulariser exactly 0 on every Delta-initialised kernel) and clear errors."""
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
    assert isometry_penalty(convs).item() == 0.0
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
