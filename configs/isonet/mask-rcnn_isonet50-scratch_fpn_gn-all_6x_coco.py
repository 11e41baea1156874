# As ../risonet/mask-rcnn_risonet50-scratch_fpn_gn-all_6x_coco.py with an ISONet-50 backbone (no
# shortcuts), trained from scratch; same recipe, schedule and baseline:
# configs/baselines/mask-rcnn_r50-scratch_fpn_gn-all_6x_coco.py.
_base_ = '../risonet/mask-rcnn_risonet50-scratch_fpn_gn-all_6x_coco.py'

model = dict(backbone=dict(type='ISONet'))
# the backbone at 0.2x lr (configs/_base_/isonet_runtime.py: isonet_plain_paramwise_cfg)
optim_wrapper = dict(paramwise_cfg={{_base_.isonet_plain_paramwise_cfg}})
