# As faster-rcnn_risonet50-pretrained_fpn_1x_coco.py with a depth-101 backbone (same schedule, batch
# and lr). Like-for-like baseline: configs/baselines/faster-rcnn_r101_fpn_1x_coco.py (ResNet-101
# with BN from ImageNet weights).
_base_ = './faster-rcnn_risonet50-pretrained_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(checkpoint='checkpoints/risonet101_mmdet.pth')))
