# Baseline for the depth-101 configs from scratch: Faster R-CNN + FPN, ResNet-101 trained from
# scratch with GN (MMDetection's scratch recipe, which ships for depth 50 only, at depth 101), 6x,
# COCO 2017 (data/coco/), 8 GPUs x 2 images (batch 16, lr 0.02).
_base_ = './faster-rcnn_r50-scratch_fpn_gn-all_6x_coco.py'

model = dict(backbone=dict(depth=101))
