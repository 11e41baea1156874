# Baseline for the from-scratch configs: Mask R-CNN + FPN, ResNet-50 trained from scratch
# with GN (MMDetection's recipe), 6x, COCO 2017 (data/coco/), 8 GPUs x 2 images (batch 16,
# lr 0.02). The stock MMDetection config, unchanged.
_base_ = 'mmdet::scratch/mask-rcnn_r50-scratch_fpn_gn-all_6x_coco.py'
