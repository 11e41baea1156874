import pytest
import torch
import torch.nn as nn
from mmdet.registry import MODELS
from mmengine.registry import DefaultScope

from isonet_det.models import ISONet, RISONet, SReLU
from isonet_det.ops import isometry_penalty

# Parameter counts of the reference code's backbones (everything but the classifier head).
REFERENCE_PARAMS = {
    (ISONet, 18): 10_998_784,
    (ISONet, 34): 21_103_232,
    (ISONet, 50): 20_708_736,
    (ISONet, 101): 39_674_752,
    (RISONet, 18): 11_170_824,
    (RISONet, 34): 21_275_280,
    (RISONet, 50): 23_477_648,
    (RISONet, 101): 42_443_681,
}


def count(model, kind):
    return sum(isinstance(m, kind) for m in model.modules())


@pytest.mark.parametrize('cls,depth', list(REFERENCE_PARAMS))
def test_parameter_counts_equal_the_reference(cls, depth):
    model = cls(depth=depth)
    assert sum(p.numel() for p in model.parameters()) == REFERENCE_PARAMS[cls, depth]
    assert not any(
        isinstance(m, (nn.modules.batchnorm._NormBase, nn.GroupNorm)) for m in model.modules())
    assert all(m.bias is None for m in model.modules() if isinstance(m, nn.Conv2d))


@pytest.mark.parametrize('depth,convs,srelus', [(50, 53, 49), (101, 104, 100)])
def test_layer_counts_of_risonet(depth, convs, srelus):
    model = RISONet(depth=depth)
    assert count(model, nn.Conv2d) == convs and count(model, SReLU) == srelus


def test_risonet50_feature_pyramid():
    model = RISONet(depth=50)
    model.init_weights()
    outs = model(torch.randn(1, 3, 64, 96))
    assert [tuple(o.shape) for o in outs] == [(1, 256, 16, 24), (1, 512, 8, 12), (1, 1024, 4, 6),
                                              (1, 2048, 2, 3)]
    assert model.out_channels == (256, 512, 1024, 2048)


def test_isonet18_out_indices_and_stages():
    model = ISONet(depth=18, num_stages=3, out_indices=(1, 2))
    outs = model(torch.randn(2, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(2, 128, 8, 8), (2, 256, 4, 4)]
    assert not hasattr(model, 'layer4')


def test_dilated_last_stage_keeps_resolution():
    model = RISONet(depth=18, strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2))
    assert model(torch.randn(1, 3, 64, 64))[-1].shape == (1, 512, 4, 4)
    assert model.layer4[0].conv1.dilation == (2, 2)


def test_reference_init():
    model = RISONet(depth=50)
    model.init_weights()
    w = model.layer2[0].conv2.weight
    assert torch.equal(w, nn.init.dirac_(torch.empty_like(w)))  # Delta
    stem = model.conv1.weight
    assert stem[:, :, 3, 3].abs().sum() > 0 and stem[:, :, 0, 0].abs().sum() > 0  # not Delta
    assert all((m.srelu_bias == -1).all() for m in model.modules() if isinstance(m, SReLU))
    assert all(m.residual_scale.scale.item() == 0.0 for m in model.modules()
               if hasattr(m, 'residual_scale'))
    non_stem = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m is not model.conv1]
    assert isometry_penalty(non_stem).item() == 0.0


def test_risonet_at_init_is_its_stem():
    """s = 0 and identity shortcuts: every block returns SReLU(x) = x (x >= b already)."""
    model = RISONet(depth=18, num_stages=1, out_indices=(0, ))
    model.init_weights()
    x = torch.randn(2, 3, 32, 32)
    stem = model.maxpool(model.act1(model.conv1(x)))
    torch.testing.assert_close(model(x)[0], stem)


def test_frozen_stages_freeze_stem_and_stages():
    model = RISONet(depth=18, frozen_stages=2)
    model.train()
    frozen = [model.conv1, model.act1, model.layer1, model.layer2]
    for m in frozen:
        assert not m.training
        assert all(not p.requires_grad for p in m.parameters())
    assert model.layer3.training and all(p.requires_grad for p in model.layer3.parameters())


def test_with_cp_gives_the_same_outputs_and_gradients():
    kwargs = dict(
        depth=18, num_stages=2, out_indices=(0, 1), base_channels=8, residual_scale_init=0.3)
    a, b = RISONet(**kwargs), RISONet(with_cp=True, **kwargs)
    a.init_weights()
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 3, 32, 32)
    ya, yb = a(x), b(x)
    torch.testing.assert_close(ya, yb)
    sum(y.sum() for y in ya).backward()
    sum(y.sum() for y in yb).backward()
    for (n, pa), pb in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(pa.grad, pb.grad, msg=n)


def test_pretrained_init_cfg_loads_a_checkpoint(tmp_path):
    src = RISONet(depth=18, residual_scale_init=0.7)
    src.init_weights()
    path = tmp_path / 'backbone.pth'
    torch.save(src.state_dict(), path)
    dst = RISONet(depth=18, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    dst.init_weights()
    for (n, a), b in zip(src.state_dict().items(), dst.state_dict().values()):
        torch.testing.assert_close(a, b, msg=n)


def test_registry_build_in_mmdet_scope_with_fpn():
    with DefaultScope.overwrite_default_scope('mmdet'):
        backbone = MODELS.build(dict(type='RISONet', depth=50, out_indices=(1, 2, 3)))
        neck = MODELS.build(
            dict(type='FPN', in_channels=[512, 1024, 2048], out_channels=32, num_outs=3))
    outs = neck(backbone(torch.randn(1, 3, 64, 64)))
    assert [tuple(o.shape) for o in outs] == [(1, 32, 8, 8), (1, 32, 4, 4), (1, 32, 2, 2)]


def test_cifar_stem_keeps_the_resolution_and_the_reference_init():
    """stem_type='cifar': conv 3x3 stride 1, no pooling (MMPretrain's ResNet_CIFAR stem); the
    stages then see 32, 16, 8, 4 px of a 32 px image, and only the stem escapes the Delta init."""
    model = RISONet(depth=18, base_channels=8, stem_type='cifar')
    model.init_weights()
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert isinstance(model.maxpool, nn.Identity)
    outs = model(torch.randn(2, 3, 32, 32))
    assert [o.shape[-1] for o in outs] == [32, 16, 8, 4]
    assert model.stem_convs() == (model.conv1, )
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m is not model.conv1]
    assert isometry_penalty(convs).item() == 0.0
    with pytest.raises(ValueError, match='stem_type'):
        RISONet(depth=18, stem_type='deep')


def test_other_activation_through_act_cfg():
    model = ISONet(depth=18, num_stages=1, out_indices=(0, ), act_cfg=dict(type='ReLU'))
    assert count(model, SReLU) == 0 and count(model, nn.ReLU) == 5


@pytest.mark.parametrize('kwargs,match', [
    (dict(depth=20), 'invalid depth 20'),
    (dict(depth=50, out_indices=(0, 4)), 'out_indices'),
    (dict(depth=50, num_stages=2, out_indices=(2, )), 'out_indices'),
    (dict(depth=50, frozen_stages=5), 'frozen_stages'),
    (dict(depth=50, num_stages=0), 'num_stages'),
    (dict(depth=50, strides=(1, 2)), 'strides'),
    (dict(depth=50, residual_scale_init=1.0), 'residual_scale_init'),
])
def test_invalid_arguments_are_named(kwargs, match):
    with pytest.raises((KeyError, ValueError, TypeError), match=match):
        ISONet(**kwargs)


def test_fused_layers_equal_the_reference_forms_through_a_whole_backbone(monkeypatch):
    """SReLUFunction and ScaledAddFunction (one pass, output-only saves, a dot product for
    ds) against relu(x - b) + b and identity + s * x under plain autograd: outputs and every
    parameter's gradient, in float64 through R-ISONet-50 with non-zero scales."""
    from isonet_det.models.layers import shared_scale, srelu
    torch.manual_seed(0)
    model = RISONet(depth=50, residual_scale_init=0.3).double()
    model.init_weights()
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64)

    def run():
        outs = model(x)
        sum((o * torch.linspace(-1, 1, o.numel(), dtype=o.dtype).view_as(o)).sum()
            for o in outs).backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters()}
        model.zero_grad()
        return [o.detach() for o in outs], grads

    outs, grads = run()
    monkeypatch.setattr(srelu.SReLUFunction, 'apply', lambda x, b, inplace: torch.relu(x - b) + b)
    monkeypatch.setattr(shared_scale.ScaledAddFunction, 'apply',
                        lambda identity, x, s: identity + s * x)
    ref_outs, ref_grads = run()
    for a, b in zip(outs, ref_outs):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    for n in grads:
        torch.testing.assert_close(grads[n], ref_grads[n], rtol=1e-9, atol=1e-12, msg=n)


def test_torch_compile_traces_one_graph_and_matches_eager():
    """SReLU's and the scaled sum's autograd functions trace without a graph break, and the
    compiled train step (Dynamo + AOTAutograd, the aot_eager backend) equals eager."""
    import torch._dynamo
    torch.manual_seed(0)
    model = RISONet(depth=18, base_channels=8, residual_scale_init=0.3)
    model.init_weights()
    model.train()
    x = torch.randn(2, 3, 64, 64)
    torch._dynamo.reset()
    explained = torch._dynamo.explain(model)(x)
    # torch 2.1's Dynamo cannot trace an autograd.Function that marks an input dirty: it breaks
    # the graph at every SReLU there (the compiled step below still equals eager)
    if tuple(int(v) for v in torch.__version__.split('+')[0].split('.')[:2]) >= (2, 5):
        assert explained.graph_count == 1 and explained.graph_break_count == 0, \
            [r.reason for r in explained.break_reasons]

    def step(fn):
        outs = fn(x)
        sum((o * o).mean() for o in outs).backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters()}
        model.zero_grad()
        return [o.detach() for o in outs], grads

    eager_outs, eager_grads = step(model)
    compiled_outs, compiled_grads = step(torch.compile(model, backend='aot_eager'))
    for a, b in zip(compiled_outs, eager_outs):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    for n in eager_grads:
        torch.testing.assert_close(compiled_grads[n], eager_grads[n], rtol=1e-5, atol=1e-6, msg=n)
    torch._dynamo.reset()
