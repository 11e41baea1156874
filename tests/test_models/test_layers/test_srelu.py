import pytest
import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, build_activation_layer
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

from isonet_det.models import RISONet, SharedScale, SReLU


def test_forward_is_max_with_per_channel_threshold():
    act = SReLU(num_channels=3)
    with torch.no_grad():
        act.srelu_bias.copy_(torch.tensor([-1.0, 0.0, 0.5]))
    x = torch.randn(2, 3, 4, 5)
    expected = torch.maximum(x, act.srelu_bias.view(1, 3, 1, 1))
    torch.testing.assert_close(act(x), expected)
    assert act(torch.randn(2, 3, 7)).shape == (2, 3, 7)  # any number of trailing dims


def test_default_init_is_minus_one_and_shared_without_channels():
    act = SReLU()
    assert act.srelu_bias.shape == (1, ) and act.srelu_bias.item() == -1.0
    x = torch.linspace(-3, 3, 13)
    torch.testing.assert_close(act(x), x.clamp(min=-1.0))


def test_gradients_follow_the_reference_relu_form():
    """relu(x - b) + b: at ties x == b the gradient goes to b, not x (as the reference)."""
    act = SReLU(num_channels=2)
    x = torch.tensor([[[-1.0, 2.0, -3.0]], [[-1.0, 0.5, -0.5]]]).view(1, 2, 3).requires_grad_()
    act(x).sum().backward()
    assert x.grad.tolist() == [[[0.0, 1.0, 0.0], [0.0, 1.0, 1.0]]]
    assert act.srelu_bias.grad.tolist() == [2.0, 1.0]


def test_inplace_matches_out_of_place_values_and_gradients():
    ref, inp = SReLU(4), SReLU(4, inplace=True)
    x = torch.randn(2, 4, 3, 3, requires_grad=True)
    y_ref = ref(x * 1.0)
    y_inp = inp(x * 1.0)
    torch.testing.assert_close(y_ref, y_inp)
    g = torch.randn_like(y_ref)
    gx_ref, gb_ref = torch.autograd.grad(y_ref, [x, ref.srelu_bias], g)
    gx_inp, gb_inp = torch.autograd.grad(y_inp, [x, inp.srelu_bias], g)
    torch.testing.assert_close(gx_ref, gx_inp)
    torch.testing.assert_close(gb_ref, gb_inp)


def test_wrong_channel_count_is_named():
    with pytest.raises(ValueError, match='expects 8 channels'):
        SReLU(8)(torch.randn(1, 4, 2, 2))
    with pytest.raises(ValueError, match='num_channels'):
        SReLU(0)


def test_built_by_mmcv_without_and_with_a_default_scope():
    act = build_activation_layer(dict(type='SReLU'))
    assert isinstance(act, SReLU) and act.num_channels is None
    with DefaultScope.overwrite_default_scope('mmdet'):
        act = build_activation_layer(dict(type='SReLU', num_channels=5, init_value=-0.5))
    assert act.srelu_bias.shape == (5, ) and act.srelu_bias[0].item() == -0.5


def test_usable_as_conv_module_activation():
    m = ConvModule(3, 8, 3, padding=1, act_cfg=dict(type='SReLU'))
    assert isinstance(m.activate, SReLU) and m.activate.inplace  # ConvModule adds inplace=True
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    y = m(x)
    y.sum().backward()
    assert y.shape == (2, 8, 8, 8) and y.min() >= -1.0 and x.grad is not None


def test_shared_scale_multiplies_by_one_learnable_scalar():
    s = SharedScale(0.5)
    x = torch.randn(2, 3, 4, 4)
    torch.testing.assert_close(s(x), 0.5 * x)
    assert [n for n, _ in s.named_parameters()] == ['scale']
    assert SharedScale()(x).abs().max() == 0


def test_paramwise_cfg_reaches_srelu_and_residual_scales():
    """The optimizer settings the shipped configs use: SReLU no decay, scales at lr x0.1."""
    model = nn.Module()
    model.backbone = RISONet(depth=18, num_stages=2, out_indices=(1, ), base_channels=8)
    wrapper = build_optim_wrapper(
        model,
        dict(
            optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4),
            paramwise_cfg=dict(custom_keys={
                'srelu': dict(decay_mult=0.0),
                'residual_scale': dict(lr_mult=0.1)
            })))
    by_param = {id(p): g for g in wrapper.optimizer.param_groups for p in g['params']}
    names = dict(model.named_parameters())
    srelu = [n for n in names if n.endswith('srelu_bias')]
    scales = [n for n in names if n.endswith('residual_scale.scale')]
    assert len(srelu) == 1 + 2 * 2 * 2 and len(scales) == 4
    for n in srelu:
        assert by_param[id(names[n])]['weight_decay'] == 0.0
    for n in scales:
        assert by_param[id(names[n])]['lr'] == pytest.approx(0.01)
    conv = by_param[id(names['backbone.layer1.0.conv1.weight'])]
    assert conv['lr'] == 0.1 and conv['weight_decay'] == 1e-4


def test_add_scaled_is_the_block_sum():
    s = SharedScale(0.5)
    identity, x = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4, requires_grad=True)
    out = s.add_scaled(identity, x)
    torch.testing.assert_close(out, identity + 0.5 * x)
    out.sum().backward()
    torch.testing.assert_close(s.scale.grad, x.detach().sum())


def reference_srelu(x, b):
    """The reference code's form, under plain autograd."""
    return torch.relu(x - b) + b


@pytest.mark.parametrize('inplace', [False, True])
def test_srelu_function_gives_the_reference_gradients_exactly(inplace):
    """Gradients of x and per-channel b equal autograd of relu(x - b) + b bit for bit (ties
    included: x == b sends the gradient to b); values equal max(x, b) exactly."""
    from isonet_det.models import SReLUFunction
    torch.manual_seed(0)
    x = torch.randn(2, 4, 5, 5, dtype=torch.float64).round(decimals=1)  # many ties with b
    b = torch.tensor([-1.0, -0.5, 0.0, 0.3], dtype=torch.float64).view(1, 4, 1, 1)
    g = torch.randn_like(x)
    xr, br = x.clone().requires_grad_(), b.clone().requires_grad_()
    expected = torch.autograd.grad(reference_srelu(xr, br), [xr, br], g)
    xo, bo = x.clone().requires_grad_(), b.clone().requires_grad_()
    inp = xo * 1.0  # a non-leaf, as a conv output
    y = SReLUFunction.apply(inp, bo, inplace)
    assert torch.equal(y, torch.maximum(x, b)) and (y.data_ptr() == inp.data_ptr()) == inplace
    got = torch.autograd.grad(y, [xo, bo], g)
    assert torch.equal(got[0], expected[0])
    torch.testing.assert_close(got[1], expected[1], rtol=1e-12, atol=1e-12)


def test_srelu_saves_no_activation_beyond_its_output():
    """Under autograd the only activation-sized tensor SReLU keeps is its output (which the next
    conv keeps as its input anyway): the reference form keeps relu's output besides."""
    act = SReLU(8)
    x = torch.randn(2, 8, 16, 16, requires_grad=True) * 1.0
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        y = act(x)
    big = [t for t in saved if t.numel() == x.numel()]
    assert len(big) == 1 and big[0].untyped_storage().data_ptr() == y.untyped_storage().data_ptr()


def test_srelu_without_gradients_takes_no_mask_path():
    act = SReLU(3, inplace=True).eval()
    x = torch.randn(1, 3, 4, 4)
    expected = torch.maximum(x, torch.tensor(-1.0))
    with torch.no_grad():
        y = act(x)
    assert torch.equal(y, expected) and y.data_ptr() == x.data_ptr()


def test_scaled_add_gradients_pass_gradcheck():
    from isonet_det.models import ScaledAddFunction
    args = [torch.randn(2, 3, 4, 4, dtype=torch.float64, requires_grad=True) for _ in range(2)]
    s = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(ScaledAddFunction.apply, args + [s])
