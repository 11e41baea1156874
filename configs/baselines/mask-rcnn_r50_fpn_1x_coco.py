# Baseline for like-for-like comparison: Mask R-CNN + FPN, ResNet-50, 1x, COCO 2017 (data/coco/),
# 8 GPUs x 2 images (batch 16, lr 0.02). The stock MMDetection config, unchanged.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
