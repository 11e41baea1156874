"""Round trip: a reference-format checkpoint converts to keys the backbone loads exactly."""
import subprocess
import sys
from collections import OrderedDict

import pytest
import torch

from isonet_det.models import ISONet, RISONet
from isonet_det.models.converters import convert_reference_checkpoint

ROOT = __file__.rsplit('/tests/', 1)[0]


def reference_checkpoint(model):
    """Write ``model``'s weights under the reference code's key names (see its key list)."""
    sd = OrderedDict()
    sd['module.stem.conv.weight'] = model.conv1.weight.detach().clone()
    sd['module.stem.relu.srelu_bias'] = model.act1.srelu_bias.detach().view(1, -1, 1, 1).clone()
    for i, layer_name in enumerate(model.res_layers, start=1):
        for j, block in enumerate(getattr(model, layer_name), start=1):
            prefix = f'module.s{i}.b{j}.'
            convs = ['a', 'b', 'c'] if hasattr(block, 'conv3') else ['a', 'b']
            for letter, conv in zip(convs, ['conv1', 'conv2', 'conv3']):
                sd[prefix + f'f.{letter}.weight'] = getattr(block, conv).weight.detach().clone()
            for letter, act in zip(convs[:-1], ['act1', 'act2']):
                sd[prefix + f'f.{letter}_relu.srelu_bias'] = \
                    getattr(block, act).srelu_bias.detach().view(1, -1, 1, 1).clone()
            sd[prefix + 'relu.srelu_bias'] = \
                block.act_out.srelu_bias.detach().view(1, -1, 1, 1).clone()
            if block.residual:
                sd[prefix + 'f.shared_scalar.scale'] = \
                    block.residual_scale.scale.detach().view(1, 1, 1, 1).clone()
            if block.downsample is not None:
                sd[prefix + 'proj.weight'] = block.downsample.weight.detach().clone()
    sd['module.head.fc.weight'] = torch.randn(1000, model.feat_dim)
    sd['module.head.fc.bias'] = torch.randn(1000)
    return {'net': sd}


def randomised(model):
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p))
    return model


@pytest.mark.parametrize('cls,depth', [(RISONet, 50), (ISONet, 18), (RISONet, 34)])
def test_round_trip(cls, depth, tmp_path):
    src = randomised(cls(depth=depth))
    state, arch = convert_reference_checkpoint(reference_checkpoint(src))
    assert arch == f'{cls.__name__}-{depth}'
    path = tmp_path / 'backbone.pth'
    torch.save({'state_dict': state}, path)
    dst = cls(depth=depth, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    dst.init_weights()
    for (name, a), b in zip(src.state_dict().items(), dst.state_dict().values()):
        assert torch.equal(a, b), name


def test_mismatched_arch_is_refused_naming_keys():
    ckpt = reference_checkpoint(RISONet(depth=18))
    with pytest.raises(ValueError, match=r'RISONet-34: missing .*layer1\.2\.conv1\.weight'):
        convert_reference_checkpoint(ckpt, arch='RISONet-34')
    with pytest.raises(ValueError, match=r'ISONet-18.*unexpected .*downsample'):
        convert_reference_checkpoint(ckpt, arch='ISONet-18')
    bad = dict(ckpt['net'], **{'module.s1.b1.f.z.weight': torch.zeros(1)})
    with pytest.raises(ValueError, match=r'unexpected s1\.b1\.f\.z\.weight'):
        convert_reference_checkpoint({'net': bad})


def test_converter_tool(tmp_path):
    src, dst = tmp_path / 'ref.pth', tmp_path / 'out' / 'risonet18.pth'
    torch.save(reference_checkpoint(RISONet(depth=18)), src)
    tool = f'{ROOT}/tools/model_converters/isonet2mmdet.py'
    run = subprocess.run(
        [sys.executable, tool, str(src),
         str(dst), '--arch', 'RISONet-18'],
        capture_output=True,
        text=True)
    assert run.returncode == 0, run.stderr
    assert 'RISONet-18' in run.stdout and dst.exists()
    again = subprocess.run(
        [sys.executable, tool, str(src), str(dst)], capture_output=True, text=True)
    assert again.returncode != 0 and 'not overwritten' in again.stderr
    wrong = subprocess.run(
        [sys.executable, tool,
         str(src), str(tmp_path / 'x.pth'), '--arch', 'ISONet-50'],
        capture_output=True,
        text=True)
    assert wrong.returncode != 0 and 'does not match ISONet-50' in wrong.stderr


def test_legacy_format_reference_checkpoint_converts_and_loads(tmp_path):
    """The reference ImageNet files were written by PyTorch 1.4: torch's legacy (pre-zip)
    format. They go through the weights-only loader, convert, and load into the backbone."""
    import zipfile
    src_model = randomised(RISONet(depth=50))
    src, dst = tmp_path / 'risonet50_ref.pth', tmp_path / 'risonet50_mmdet.pth'
    torch.save(reference_checkpoint(src_model), src, _use_new_zipfile_serialization=False)
    assert not zipfile.is_zipfile(src)
    tool = f'{ROOT}/tools/model_converters/isonet2mmdet.py'
    run = subprocess.run([sys.executable, tool, str(src), str(dst)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    backbone = RISONet(depth=50, init_cfg=dict(type='Pretrained', checkpoint=str(dst)))
    backbone.init_weights()
    for (name, a), b in zip(src_model.state_dict().items(), backbone.state_dict().values()):
        assert torch.equal(a, b), name


def test_old_residual_scale_shape_still_loads():
    """isonet-det 0.1 stored the residual scale as shape (1,); mmcv's Scale holds a 0-dim one."""
    model = RISONet(depth=18)
    state = model.state_dict()
    state['layer1.0.residual_scale.scale'] = torch.tensor([0.25])
    model.load_state_dict(state)
    assert model.layer1[0].residual_scale.scale.item() == 0.25
