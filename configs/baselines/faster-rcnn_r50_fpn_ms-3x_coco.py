# Baseline for like-for-like comparison: Faster R-CNN + FPN, ResNet-50, multi-scale 3x, COCO 2017
# (data/coco/), 8 GPUs x 2 images (batch 16, lr 0.02). The stock MMDetection config, unchanged.
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_ms-3x_coco.py'
