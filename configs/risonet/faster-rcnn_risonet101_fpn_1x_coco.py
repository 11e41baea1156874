# As faster-rcnn_risonet50_fpn_1x_coco.py with an R-ISONet-101 backbone (same batch and schedule assumptions).
_base_ = './faster-rcnn_risonet50_fpn_1x_coco.py'

model = dict(backbone=dict(depth=101))
