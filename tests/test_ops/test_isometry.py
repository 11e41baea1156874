"""The fast regulariser against a slow, direct implementation of eq. 5/6."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from reference_math import assert_close_to_scale, direct_penalty

from isonet_det.ops import Products, conv_kernel_gram, isometry_penalty

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


def backbone_conv_shapes():
    """(in, out, kernel, stride) of every conv of R-ISONet-18/50/101 but the stem, once each."""
    from isonet_det.models import RISONet
    shapes = set()
    for depth in (18, 50, 101):
        model = RISONet(depth=depth)
        for m in model.modules():
            if isinstance(m, nn.Conv2d) and m is not model.conv1:
                shapes.add((m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0]))
    return sorted(shapes)


def test_every_backbone_conv_shape_matches_the_direct_form():
    """Whichever form a shape takes (Parseval, tap pairs by stride class, plain Gram), value
    and gradient equal the reference code's direct form: 1e-5 in float32, 1e-10 in float64."""
    shapes = backbone_conv_shapes()
    assert len(shapes) >= 20
    for dtype, rtol in ((torch.float32, 1e-5), (torch.float64, 1e-10)):
        torch.manual_seed(0)
        convs = make_convs(shapes, dtype)
        with torch.no_grad():
            for c in convs:  # away from an isometry: default init is far off already, add noise
                c.weight.add_(0.05 * torch.randn_like(c.weight))
        per_conv = isometry_penalty(convs, reduction='none')
        for conv, value, shape in zip(convs, per_conv, shapes):
            slow = direct_penalty(conv)
            assert abs(value.item() - slow.item()) <= rtol * slow.item(), (shape, dtype)
            fast_grad, = torch.autograd.grad(value, conv.weight, retain_graph=True)
            slow_grad, = torch.autograd.grad(slow, conv.weight)
            err = (fast_grad - slow_grad).norm() / slow_grad.norm()
            assert err < rtol, (shape, dtype, float(err))


@pytest.mark.parametrize('shape', [(6, 10, 5, 1), (10, 6, 5, 2), (7, 5, 7, 3), (5, 7, 7, 2),
                                   (6, 6, 7, 1), (4, 9, 2, 1)])
def test_other_kernel_sizes_and_strides_match_the_direct_form(shape):
    # (the direct form's strided output lands on the shifts that are multiples of s only when
    # s divides k - 1, so those are the strided cases compared)
    conv, = make_convs([shape], torch.float64)
    value = isometry_penalty([conv])
    slow = direct_penalty(conv)
    torch.testing.assert_close(value, slow, rtol=1e-10, atol=0)
    for a, b in zip(
            torch.autograd.grad(value, conv.weight), torch.autograd.grad(slow, conv.weight)):
        assert_close_to_scale(a, b, rtol=1e-10)


def test_gradcheck_of_both_forms_on_a_non_square_kernel():
    """Each form on its own (the choice between them depends on the size), against each other
    and under gradcheck: a 3x2 kernel has a 5x3 DFT grid, 8 frequencies."""
    from isonet_det.ops.isometry import _IsometryPenalty, _SpectralPlan, _TapPairPlan
    ieee = Products('ieee')
    torch.manual_seed(0)
    taps = torch.randn(3 * 2, 2, 3, 4, dtype=torch.float64)  # (T, N, S, L)
    spectral = _SpectralPlan(3, 2)
    pairs = _TapPairPlan(3, 2, 1, 1, 1, 1)
    kernel_major = taps.permute(1, 0, 2, 3).reshape(2, 6 * 3, 4)
    torch.testing.assert_close(
        _IsometryPenalty.apply(taps, spectral, ieee),
        _IsometryPenalty.apply(kernel_major, pairs, ieee),
        rtol=1e-12,
        atol=0)
    for plan, P in ((spectral, taps), (pairs, kernel_major)):
        assert torch.autograd.gradcheck(
            lambda p, plan=plan: _IsometryPenalty.apply(p, plan, ieee),
            [P.clone().requires_grad_()])


class _ProductCounter:
    """Multiply-adds of the batched products (``bmm``/``baddbmm``) run inside the block."""

    def __init__(self, monkeypatch):
        self.macs = 0
        for name in ('bmm', 'baddbmm'):
            original = getattr(torch, name)

            def counted(*args, original=original, **kwargs):
                a, b = args[-2:]
                self.macs += a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2]
                return original(*args, **kwargs)

            monkeypatch.setattr(torch, name, counted)


@pytest.mark.parametrize('stride,products', [(1, 7 * 13), (2, 2 * 25)])
def test_a_3x3_kernel_costs_the_products_the_cheaper_form_claims(monkeypatch, stride, products):
    """Stride 1: Parseval, 13 frequencies x 7 products of S x L by L x S (the tap-pair form would
    take 2 * 81); stride 2: only the 25 tap pairs of the same stride class, twice."""
    conv, = make_convs([(64, 64, 3, stride)], torch.float32)
    counter = _ProductCounter(monkeypatch)
    isometry_penalty([conv]).backward()
    assert counter.macs == products * 64**3
