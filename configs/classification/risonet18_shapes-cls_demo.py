# The classification demo: R-ISONet-18 (width 32, the detection demo's backbone) on generated
# 64 x 64 images of one shape each, 3 classes (isonet_det.datasets.generate_classification_dataset;
# 600 train / 150 val in data/demo_classes, written by tools/cls_demo.py), with the reference
# classification pieces (dropout head, regulariser, optimiser policy) on a few CPU-minutes'
# schedule. Its checkpoint's backbone loads into configs/demo/mask-rcnn_risonet18_fpn_shapes.py
# (init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')): tools/cls_demo.py.
_base_ = ['mmpretrain::_base_/default_runtime.py', './_base_/isonet_cls_runtime.py']
data_root = 'data/demo_classes'
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='RISONet', depth=18, base_channels=32, out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='DropoutLinearClsHead',
        num_classes=3,
        in_channels=256,
        dropout=0.4,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
data_preprocessor = dict(
    num_classes=3, mean=[127.5, 127.5, 127.5], std=[64.0, 64.0, 64.0], to_rgb=False)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs')
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    dataset=dict(
        type='CustomDataset', data_root=data_root, data_prefix='train', pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=50,
    num_workers=0,
    dataset=dict(
        type='CustomDataset', data_root=data_root, data_prefix='val', pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
optim_wrapper = dict(optimizer=dict(lr=0.02), clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = dict(type='MultiStepLR', by_epoch=True, milestones=[25], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=30)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=5),
    checkpoint=dict(type='CheckpointHook', interval=30, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
