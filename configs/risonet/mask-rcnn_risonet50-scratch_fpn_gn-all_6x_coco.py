# Mask R-CNN + FPN, R-ISONet-50 trained from scratch (the reference init: Delta convs,
# SReLU b=-1, residual scales 0), 6x (73 epochs), COCO 2017 (data/coco/). Like-for-like baseline:
# configs/baselines/mask-rcnn_r50-scratch_fpn_gn-all_6x_coco.py (ResNet-50 from scratch with
# GN, MMDetection's recipe for training without ImageNet weights).
#
# Recipe (configs/_base_/isonet_runtime.py): MMDetection's scratch recipe (GN in the FPN and
# heads, 4conv1fc box head, 6x, no decay on norm layers) with the normalisation-free backbone,
# gradient clipping (max norm 35), lr 0.01 for batch 16 and a 2000-iteration warm-up.
_base_ = [
    'mmdet::scratch/mask-rcnn_r50-scratch_fpn_gn-all_6x_coco.py',
    '../_base_/isonet_runtime.py',
]

model = dict(
    backbone=dict(
        _delete_=True,
        type='RISONet',
        depth=50,
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1))

optim_wrapper = {{_base_.isonet_scratch_optim_wrapper}}
param_scheduler = {{_base_.isonet_scratch_param_scheduler}}
