"""A stock MMDetection config switched to R-ISONet: works, or says exactly what to change."""
import re
import warnings

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config

import isonet_det  # noqa: F401
from isonet_det.models import RISONet

ROOT = __file__.rsplit('/tests/', 1)[0]
STOCK = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'


def build_switched(tmp_path, backbone_text: str):
    """A user config: the stock Faster R-CNN with the backbone dict written as given."""
    path = tmp_path / 'user_config.py'
    path.write_text(f"_base_ = '{STOCK}'\n"
                    "custom_imports = dict(imports=['isonet_det'], allow_failed_imports=False)\n"
                    f'model = dict(backbone={backbone_text})\n')
    register_all_modules()
    cfg = Config.fromfile(str(path))
    return MODELS.build(cfg.model.backbone)


def test_type_only_switch_stops_on_the_resnet_weights(tmp_path):
    with pytest.raises(ValueError) as err:
        build_switched(tmp_path, "dict(type='RISONet')")
    message = str(err.value)
    assert "torchvision://resnet50" in message and 'isonet2mmdet.py' in message
    assert 'init_cfg=None' in message


def test_resnet_only_arguments_are_accepted_with_one_warning(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        backbone = build_switched(tmp_path, "dict(type='RISONet', init_cfg=None)")
    ours = [w for w in caught if 'ignoring ResNet-only' in str(w.message)]
    assert len(ours) == 1
    assert all(k in str(ours[0].message) for k in ('norm_cfg', 'norm_eval', 'style'))
    assert isinstance(backbone, RISONet) and backbone.depth == 50
    assert not any('Norm' in type(m).__name__ for m in backbone.modules())


@pytest.mark.parametrize('extra,match', [
    ("norm_cfg=dict(type='GN', num_groups=32)", r'_delete_=True'),
    ("style='caffe'", r"style='caffe' is not supported"),
    ("dcn=dict(type='DCNv2', deform_groups=1)", r'does not support dcn'),
])
def test_what_cannot_be_honoured_is_refused_with_the_fix(tmp_path, extra, match):
    with pytest.raises(ValueError, match=match):
        build_switched(tmp_path, f"dict(type='RISONet', init_cfg=None, {extra})")


def test_readme_snippet_works_as_written(tmp_path):
    readme = open(f'{ROOT}/README.md').read()
    snippet = re.search(r'<!-- drop-in snippet -->\s*```python\n(.*?)```', readme, re.S).group(1)
    path = tmp_path / 'snippet.py'
    path.write_text(snippet)
    register_all_modules()
    cfg = Config.fromfile(str(path))
    model = MODELS.build(cfg.model)
    assert type(model.backbone).__name__ == 'RISONet'
    assert model.neck.in_channels == list(model.backbone.out_channels)


def test_readme_own_config_snippet_builds_model_optimizer_and_hook(tmp_path):
    """README, "Using it in your own config", on the stock Mask R-CNN config."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import HOOKS
    readme = open(f'{ROOT}/README.md').read()
    section = readme.split('## Using it in your own config', 1)[1]
    snippet = re.search(r'```python\n(.*?)```', section, re.S).group(1)
    path = tmp_path / 'own.py'
    path.write_text("_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'\n" + snippet)
    register_all_modules()
    cfg = Config.fromfile(str(path))
    model = MODELS.build(cfg.model)
    assert type(model.backbone).__name__ == 'RISONet' and model.backbone.depth == 50
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    lrs = {id(p): g['lr'] for g in wrapper.optimizer.param_groups for p in g['params']}
    scale = model.backbone.layer1[0].residual_scale.scale
    assert lrs[id(scale)] == pytest.approx(0.1 * cfg.optim_wrapper.optimizer.lr)
    hook = HOOKS.build(cfg.custom_hooks[0])
    assert type(hook).__name__ == 'IsometryRegularizerHook' and hook.coeff == 1e-4
    assert len(hook.select_convs(model)) == 52  # R-ISONet-50: every conv but the stem


def test_out_channels_follow_forward_for_any_out_indices():
    backbone = RISONet(depth=18, base_channels=8, out_indices=(3, 1))
    outs = backbone(torch.randn(1, 3, 64, 64))
    assert backbone.out_channels == tuple(o.shape[1] for o in outs) == (16, 64)


def test_pretrained_prefix_loads_the_backbone_of_a_detector_checkpoint(tmp_path):
    register_all_modules()
    cfg = Config.fromfile(f'{ROOT}/configs/demo/mask-rcnn_risonet18_fpn_shapes.py')
    detector = MODELS.build(cfg.model)
    with torch.no_grad():
        for p in detector.parameters():
            p.add_(torch.randn_like(p))
    from mmengine.logging import HistoryBuffer
    path = tmp_path / 'detector.pth'
    torch.save(
        {
            'meta': dict(epoch=5),
            'state_dict': detector.state_dict(),
            'message_hub': dict(log_scalars={'train/loss': HistoryBuffer([1.0], [1])})
        }, path)
    backbone_cfg = cfg.model.backbone.to_dict()
    backbone_cfg.pop('_delete_', None)
    backbone = RISONet(
        **{k: v
           for k, v in backbone_cfg.items() if k != 'type'},
        init_cfg=dict(type='Pretrained', checkpoint=str(path), prefix='backbone.'))
    backbone.init_weights()
    for (name, a), b in zip(detector.backbone.state_dict().items(), backbone.state_dict().values()):
        assert torch.equal(a, b), name
