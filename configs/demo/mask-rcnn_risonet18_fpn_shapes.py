# Demo: Mask R-CNN + FPN with a narrow R-ISONet-18 (base width 32, trained from the reference
# init: Delta convs, SReLU b=-1, residual scales 0) on the generated shapes dataset
# (tools/misc/make_demo_data.py -> data/demo_shapes/: 400 train / 50 val images of 128 x 128,
# 3 classes). Sized for a 2-core CPU: 1 process x 4 images (batch 4, lr 0.02).
# Box and mask mAP are computed with pycocotools (CocoMetric) on the val split.
_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py', '../_base_/isonet_runtime.py']

data_root = 'data/demo_shapes/'
classes = ('rectangle', 'ellipse', 'triangle')
metainfo = dict(classes=classes, palette=[(220, 20, 60), (0, 130, 255), (20, 200, 60)])
feat = 64   # FPN / head width
max_epochs = 5

model = dict(
    backbone=dict(
        _delete_=True,
        type='RISONet',
        depth=18,
        base_channels=32,
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=feat),
    rpn_head=dict(
        in_channels=feat,
        feat_channels=feat,
        anchor_generator=dict(scales=[4])),   # 16 px anchors at stride 4: objects are 21-51 px
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=feat),
        bbox_head=dict(in_channels=feat, fc_out_channels=256, num_classes=len(classes)),
        mask_roi_extractor=dict(out_channels=feat),
        mask_head=dict(in_channels=feat, conv_out_channels=feat, num_classes=len(classes))),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=1000, max_per_img=300),
        rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(
        rpn=dict(nms_pre=500, max_per_img=200),
        rcnn=dict(max_per_img=20)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=1,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json',
                     metric=['bbox', 'segm'])
test_evaluator = val_evaluator

train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[4],
         gamma=0.1)
]
optim_wrapper = dict(
    optimizer=dict(lr=0.02),
    clip_grad=dict(max_norm=35, norm_type=2),
    paramwise_cfg={{_base_.isonet_paramwise_cfg}})
auto_scale_lr = dict(enable=False, base_batch_size=4)
randomness = dict(seed=0)   # the demo figures in README.md are for this seed

default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1),
    visualization=dict(interval=10))   # with --show-dir: every 10th val image drawn
