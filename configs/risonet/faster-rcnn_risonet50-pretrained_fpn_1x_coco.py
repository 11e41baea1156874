# Faster R-CNN + FPN, R-ISONet-50 from the reference ImageNet weights, 1x (12 epochs), COCO 2017
# (data/coco/). Like-for-like baseline: configs/baselines/faster-rcnn_r50_fpn_1x_coco.py (ResNet-50
# with BN from ImageNet weights, same schedule, batch and lr).
#
# Weights: convert the reference checkpoint once (never overwritten, keys checked):
#   python tools/model_converters/isonet2mmdet.py risonet50.pth checkpoints/risonet50_mmdet.pth
# Recipe (configs/_base_/isonet_runtime.py): as the ResNet config (batch 16 = 8 GPUs x 2 images, lr
# 0.02 after a 500-iteration linear warm-up, stem and first stage frozen), plus gradient clipping
# (max norm 35): without normalisation nothing else bounds a bad step. --auto-scale-lr for another
# total batch.
_base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py', '../_base_/isonet_runtime.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='RISONet',
        depth=50,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/risonet50_mmdet.pth')))

optim_wrapper = {{_base_.isonet_pretrained_optim_wrapper}}
