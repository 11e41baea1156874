# Faster R-CNN + FPN, ISONet-50 backbone (no shortcuts), 1x schedule (12 epochs), COCO 2017 (data/coco/).
# Assumes 8 GPUs x 2 images (batch 16, lr 0.02, as the stock config); with another total batch,
# pass --auto-scale-lr (auto_scale_lr.base_batch_size=16) to scale lr linearly.
# From scratch by default (the reference init: Delta convs, SReLU b=-1, residual scales 0). For
# ImageNet weights converted by tools/model_converters/isonet2mmdet.py, append:
#   --cfg-options model.backbone.init_cfg.type=Pretrained \
#                 model.backbone.init_cfg.checkpoint=checkpoints/isonet50_mmdet.pth \
#                 model.backbone.frozen_stages=1
_base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py', '../_base_/isonet_runtime.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='ISONet',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1))

# SReLU thresholds without weight decay, residual scales at lr x0.1 (as the reference).
optim_wrapper = dict(paramwise_cfg={{_base_.isonet_paramwise_cfg}})
