# Faster R-CNN + FPN on the 3-class COCO subset (configs/_base_/coco_subset_3cls.py says how to
# write it): R-ISONet-50 from the converted reference ImageNet weights, 1x. Everything but the
# data and the number of classes is configs/risonet/faster-rcnn_risonet50-pretrained_fpn_1x_coco.py
# (which says how to convert the weights). Like-for-like baseline:
# configs/coco_subset/faster-rcnn_r50_fpn_1x_coco-subset-3cls.py.
_base_ = [
    '../risonet/faster-rcnn_risonet50-pretrained_fpn_1x_coco.py',
    '../_base_/coco_subset_3cls.py',
]

model = {{_base_.subset_model}}
train_dataloader = {{_base_.subset_train_dataloader}}
val_dataloader = {{_base_.subset_val_dataloader}}
test_dataloader = {{_base_.subset_val_dataloader}}
val_evaluator = {{_base_.subset_val_evaluator}}
test_evaluator = {{_base_.subset_val_evaluator}}
