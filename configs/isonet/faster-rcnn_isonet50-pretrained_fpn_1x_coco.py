# As ../risonet/faster-rcnn_risonet50-pretrained_fpn_1x_coco.py with an ISONet-50 backbone (no
# shortcuts) from the reference ImageNet weights (tools/model_converters/isonet2mmdet.py
# ISONet-50.pth checkpoints/isonet50_mmdet.pth); same recipe, schedule and baseline:
# configs/baselines/faster-rcnn_r50_fpn_1x_coco.py.
_base_ = '../risonet/faster-rcnn_risonet50-pretrained_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        type='ISONet',
        init_cfg=dict(checkpoint='checkpoints/isonet50_mmdet.pth')))
# the backbone at 0.2x lr (configs/_base_/isonet_runtime.py: isonet_plain_paramwise_cfg)
optim_wrapper = dict(paramwise_cfg={{_base_.isonet_plain_paramwise_cfg}})
