"""A real autocast forward keeps fp16/bf16 activations in fp16/bf16 (CPU bf16 autocast stands in
for GPU AMP: the same dtype rules)."""
import pytest
import torch
import torch.nn as nn
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmdet.utils import register_all_modules
from mmengine.config import Config

from isonet_det.models import RISONet, SharedScale, SReLU

ROOT = __file__.rsplit('/tests/', 1)[0]


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_srelu_and_scale_keep_the_input_dtype(dtype):
    x = torch.randn(2, 4, 3, 3, dtype=dtype)
    for layer in (SReLU(4), SReLU(), SharedScale(0.5)):
        assert layer(x).dtype == dtype
    # relu(x - b) + b rounds x - b: equal to max(x, b) up to one rounding at |b| = 1
    eps = torch.finfo(dtype).eps
    torch.testing.assert_close(SReLU(4)(x).float(), x.float().clamp(min=-1.0), rtol=0, atol=2 * eps)


def record_dtypes(model, types):
    seen = []
    handles = [
        m.register_forward_hook(lambda m, i, o: seen.append((type(m).__name__, o.dtype)))
        for m in model.modules() if isinstance(m, types)
    ]
    return seen, handles


def test_backbone_under_bf16_autocast_stays_bf16():
    backbone = RISONet(depth=50, residual_scale_init=0.5)
    backbone.init_weights()
    seen, _ = record_dtypes(backbone, (SReLU, nn.Conv2d))  # the scales' sums feed SReLUs
    with torch.autocast('cpu', dtype=torch.bfloat16):
        outs = backbone(torch.randn(1, 3, 64, 64))
    assert all(o.dtype == torch.bfloat16 for o in outs)
    assert len(seen) == 53 + 49 and all(d == torch.bfloat16 for _, d in seen), \
        sorted({n for n, d in seen if d != torch.bfloat16})


class _Float32CpuKernels:
    """mmcv's CPU NMS kernel takes float32 only (its CUDA kernel takes fp16): cast its tensor
    arguments. (RoIAlign goes through torchvision's op, which has a bf16 CPU path.)"""

    def __init__(self, ext):
        self._ext = ext

    def __getattr__(self, name):
        fn = getattr(self._ext, name)

        def call(*args, **kwargs):
            cast = [a.float() if torch.is_tensor(a) and a.is_floating_point() else a for a in args]
            return fn(*cast, **kwargs)

        return call


def _bf16_roi_align_on_cpu() -> bool:
    from torchvision.ops import roi_align
    try:
        with torch.autocast('cpu', dtype=torch.bfloat16):  # as the test runs it
            roi_align(
                torch.zeros(1, 1, 4, 4, dtype=torch.bfloat16),
                torch.tensor([[0., 0., 0., 2., 2.]], dtype=torch.bfloat16), 2)
    except (RuntimeError, NotImplementedError):  # torchvision 0.16 has no bf16 CPU kernel
        return False
    return True


@pytest.mark.skipif(
    not _bf16_roi_align_on_cpu(),
    reason='this torchvision has no bfloat16 '
    'RoIAlign on the CPU (the detector\'s heads cannot run under CPU bf16)')
def test_detector_under_bf16_autocast(monkeypatch):
    import sys

    import mmcv.ops  # noqa: F401
    nms_module = sys.modules['mmcv.ops.nms']  # mmcv.ops.nms is also the function's name
    monkeypatch.setattr(nms_module, 'ext_module', _Float32CpuKernels(nms_module.ext_module))
    register_all_modules()
    cfg = Config.fromfile(f'{ROOT}/configs/demo/mask-rcnn_risonet18_fpn_shapes.py')
    for extractor in ('bbox_roi_extractor', 'mask_roi_extractor'):  # bf16-capable on CPU
        cfg.model.roi_head[extractor].roi_layer.use_torchvision = True
    model = MODELS.build(cfg.model)
    model.init_weights()
    seen, _ = record_dtypes(model.backbone, (SReLU, SharedScale))
    packed = demo_mm_inputs(
        2, [(3, 96, 96), (3, 96, 96)], num_items=[2, 1], num_classes=3, with_mask=True)
    data = model.data_preprocessor(packed, True)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        feats = model.extract_feat(data['inputs'])
        losses = model(**data, mode='loss')
    assert all(f.dtype == torch.bfloat16 for f in feats)
    assert seen and all(d == torch.bfloat16 for _, d in seen)
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total)
    total.backward()
    assert all(p.grad is None or p.grad.dtype == torch.float32 for p in model.parameters())
