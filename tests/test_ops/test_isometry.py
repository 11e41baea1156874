"""The fast regulariser against a slow, direct implementation of eq. 5/6."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from reference_math import direct_penalty

from isonet_det.ops import conv_kernel_gram, isometry_penalty

# (in, out, kernel, stride): every kind of conv the ISONet / R-ISONet backbones use.
BACKBONE_SHAPES = [
    (64, 256, 1, 1),  # bottleneck conv3 / stage-1 projection (C_in < C_out)
    (256, 64, 1, 1),  # bottleneck conv1 (C_in > C_out)
    (256, 512, 1, 2),  # strided projection shortcut
    (64, 64, 3, 1),  # 3x3, square
    (64, 128, 3, 2),  # basic block first conv of a stage (C_in < C_out, stride 2)
    (128, 128, 3, 2),  # bottleneck strided 3x3
    (96, 48, 3, 1),  # 3x3, C_in > C_out
    (48, 96, 3, 1),  # 3x3, C_in < C_out
]


def make_convs(shapes, dtype):
    return [nn.Conv2d(i, o, k, s, padding=k // 2, bias=False).to(dtype) for i, o, k, s in shapes]


@pytest.mark.parametrize('dtype,rtol', [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_value_and_gradient_match_direct_form(dtype, rtol):
    convs = make_convs(BACKBONE_SHAPES * 2, dtype)  # duplicates exercise the batched path
    fast = isometry_penalty(convs)
    slow = sum(direct_penalty(c) for c in convs)
    assert fast.dim() == 0 and fast.dtype == dtype
    torch.testing.assert_close(fast, slow, rtol=rtol, atol=0)
    weights = [c.weight for c in convs]
    g_fast = torch.autograd.grad(fast, weights)
    g_slow = torch.autograd.grad(slow, weights)
    for a, b, shape in zip(g_fast, g_slow, BACKBONE_SHAPES * 2):
        err = (a - b).norm() / b.norm()
        assert err < rtol, (shape, float(err))


@pytest.mark.parametrize('shape', BACKBONE_SHAPES)
def test_each_shape_alone(shape):
    conv, = make_convs([shape], torch.float64)
    torch.testing.assert_close(isometry_penalty([conv]), direct_penalty(conv), rtol=1e-10, atol=0)


def test_gradcheck_of_the_custom_backward():
    convs = make_convs([(3, 5, 3, 2), (5, 3, 3, 1), (4, 6, 1, 1)], torch.float64)
    weights = [c.weight for c in convs]

    def fn(*ws):
        for c, w in zip(convs, ws):
            del c.weight
            c.weight = w
        return isometry_penalty(convs)

    assert torch.autograd.gradcheck(fn, [w.detach().clone().requires_grad_() for w in weights])


def test_reduction_none_is_per_layer_in_input_order():
    convs = make_convs(BACKBONE_SHAPES[:4] + BACKBONE_SHAPES[:2], torch.float64)
    per_layer = isometry_penalty(convs, reduction='none')
    expected = torch.stack([direct_penalty(c) for c in convs])
    torch.testing.assert_close(per_layer, expected, rtol=1e-10, atol=0)


def test_dilation_equals_zero_expanded_kernel():
    """A dilated kernel is the undilated kernel with zeros between taps: same operator."""
    dilated = nn.Conv2d(8, 8, 3, stride=1, dilation=2, bias=False).double()
    expanded = nn.Conv2d(8, 8, 5, bias=False).double()
    with torch.no_grad():
        expanded.weight.zero_()
        expanded.weight[:, :, ::2, ::2] = dilated.weight
    torch.testing.assert_close(
        isometry_penalty([dilated]), direct_penalty(expanded), rtol=1e-10, atol=0)


def test_grouped_conv_is_block_diagonal():
    grouped = nn.Conv2d(8, 12, 3, groups=2, bias=False).double()
    halves = [nn.Conv2d(4, 6, 3, bias=False).double() for _ in range(2)]
    with torch.no_grad():
        halves[0].weight.copy_(grouped.weight[:6])
        halves[1].weight.copy_(grouped.weight[6:])
    torch.testing.assert_close(isometry_penalty([grouped]), isometry_penalty(halves))


def test_zero_exactly_at_an_isometry_and_positive_elsewhere():
    conv = nn.Conv2d(16, 32, 3, bias=False)
    nn.init.dirac_(conv.weight)
    assert isometry_penalty([conv]).item() == 0.0
    with torch.no_grad():
        conv.weight[0, 0, 0, 0] += 0.1
    assert isometry_penalty([conv]).item() > 0


def test_float32_under_autocast():
    convs = make_convs(BACKBONE_SHAPES[:3], torch.float32)
    expected = isometry_penalty(convs)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        value = isometry_penalty(convs)
    assert value.dtype == torch.float32
    torch.testing.assert_close(value, expected)


def test_half_precision_weights_are_upcast():
    conv, = make_convs([(8, 16, 3, 1)], torch.float32)
    expected = direct_penalty(conv)
    value = isometry_penalty([conv.to(torch.bfloat16)])
    assert value.dtype == torch.float32
    torch.testing.assert_close(value, expected, rtol=2e-2, atol=0)


def test_empty_and_wrong_inputs():
    assert isometry_penalty([]).item() == 0.0
    with pytest.raises(TypeError, match='nn.Conv2d'):
        isometry_penalty([nn.Linear(3, 3)])
    with pytest.raises(ValueError, match='reduction'):
        isometry_penalty([], reduction='mean')


@pytest.mark.parametrize('shape', [(16, 8, 3, 1), (8, 16, 3, 2), (8, 8, 1, 1)])
def test_conv_kernel_gram_matches_conv2d(shape):
    conv, = make_convs([shape], torch.float64)
    w = conv.weight
    if w.shape[0] > w.shape[1]:
        w = w.transpose(0, 1)
    k, s = shape[2], shape[3]
    direct = F.conv2d(w, w, padding=k - 1, stride=s)
    gram = conv_kernel_gram(conv.weight, stride=s).detach()
    # the fast Gram lists every shift; the strided direct form keeps multiples of the stride
    torch.testing.assert_close(gram[:, :, ::s, ::s], direct.detach())
    if s > 1:
        assert gram[:, :, 1::s].abs().max() == 0
