# The reference ImageNet recipe (Qi et al. 2020, public code), R-ISONet-50 by default: SGD
# momentum 0.9, weight decay 1e-4 (none on SReLU thresholds), 100 epochs, lr x0.1 at epochs 30 /
# 60 / 90 after 5 linear warm-up epochs, lr 0.1 per 256 images (R-ISONet; ISONet 0.02), dropout
# before the classifier (R-ISONet 0.4, ISONet 0.1). 8 GPUs x 32 images; `--auto-scale-lr`
# rescales lr for another total batch. The warm-up's start factor (0.01) is this project's: the
# reference states only the length.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs32.py', 'mmpretrain::_base_/default_runtime.py',
    './isonet_cls_runtime.py'
]
model = dict(
    type='ImageClassifier',
    backbone=dict(type='RISONet', depth=50, out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='DropoutLinearClsHead',
        num_classes=1000,
        in_channels=2048,
        dropout=0.4,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)))
optim_wrapper = dict(optimizer=dict(lr=0.1))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.01,
        by_epoch=True,
        begin=0,
        end=5,
        convert_to_iter_based=True),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=100, milestones=[30, 60, 90], gamma=0.1)
]
train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=256)
