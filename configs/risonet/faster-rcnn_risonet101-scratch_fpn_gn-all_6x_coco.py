# As faster-rcnn_risonet50-scratch_fpn_gn-all_6x_coco.py with a depth-101 backbone (same schedule,
# batch and lr). Like-for-like baseline:
# configs/baselines/faster-rcnn_r101-scratch_fpn_gn-all_6x_coco.py (ResNet-101 from scratch with
# GN).
_base_ = './faster-rcnn_risonet50-scratch_fpn_gn-all_6x_coco.py'

model = dict(backbone=dict(depth=101))
