# Mask R-CNN + FPN, ISONet-50 trained from scratch (the reference init: Delta convs,
# SReLU b=-1), 6x (73 epochs), COCO 2017 (data/coco/). Like-for-like baseline:
# configs/baselines/mask-rcnn_r50-scratch_fpn_gn-all_6x_coco.py (ResNet-50 from scratch with
# GN, MMDetection's recipe for training without ImageNet weights).
#
# Recipe: MMDetection's scratch recipe (GN in the FPN and heads, 4conv1fc box head, 6x, no decay
# on norm layers) with a normalisation-free backbone, plus gradient clipping (max norm 35), half
# the learning rate (0.01 for batch 16) and a 2000-iteration warm-up: the whole backbone trains
# from a near-linear start with nothing normalising its activations. Checked by the smoke runs
# (tools/analysis/config_smoke_run.py), not on COCO.
_base_ = ['mmdet::scratch/mask-rcnn_r50-scratch_fpn_gn-all_6x_coco.py', '../_base_/isonet_runtime.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='ISONet',
        depth=50,
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1))

max_epochs = 73
optim_wrapper = dict(
    optimizer=dict(lr=0.01),
    clip_grad=dict(max_norm=35, norm_type=2),
    paramwise_cfg={{_base_.isonet_paramwise_cfg}})
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=2000),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[65, 71],
         gamma=0.1)
]
