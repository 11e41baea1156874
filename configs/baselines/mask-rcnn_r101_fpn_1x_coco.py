# Baseline for the depth-101 configs from ImageNet weights: Mask R-CNN + FPN, ResNet-101 (BN,
# torchvision ImageNet weights), 1x, COCO 2017 (data/coco/), 8 GPUs x 2 images (batch 16, lr 0.02).
# The stock MMDetection config, unchanged.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r101_fpn_1x_coco.py'
