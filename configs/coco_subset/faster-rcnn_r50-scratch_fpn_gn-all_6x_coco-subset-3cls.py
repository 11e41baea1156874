# Baseline on the 3-class COCO subset (configs/_base_/coco_subset_3cls.py): Faster R-CNN + FPN,
# ResNet-50 with GN trained from scratch (MMDetection's recipe), 6x. Everything but the data and
# the number of classes is configs/baselines/faster-rcnn_r50-scratch_fpn_gn-all_6x_coco.py.
_base_ = [
    '../baselines/faster-rcnn_r50-scratch_fpn_gn-all_6x_coco.py',
    '../_base_/coco_subset_3cls.py',
]

model = {{_base_.subset_model}}
train_dataloader = {{_base_.subset_train_dataloader}}
val_dataloader = {{_base_.subset_val_dataloader}}
test_dataloader = {{_base_.subset_val_dataloader}}
val_evaluator = {{_base_.subset_val_evaluator}}
test_evaluator = {{_base_.subset_val_evaluator}}
