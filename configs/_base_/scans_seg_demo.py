# The segmentation demo's data, head, schedule and runtime (MMSegmentation 1.x): the generated
# single-channel scans (isonet_det.datasets.generate_scans_dataset; tools/seg_demo.py writes
# them), background / lesion, 96 x 96, 240 train / 60 val (the test split) / 60 tune (where the
# demo chooses its learning rates) images. The model configs set the backbone:
# configs/iso_unet/iso-unet_s5-b16_scans-96x96.py and its BN UNet baseline.
#
# Recipe: the course replication's ISO-UNet one as it is (SGD lr 0.025, momentum 0.9, weight
# decay 1e-4, batch 20, 50 epochs, lr halved at epochs 5, 15, 25, 35, 45), on the demo's data
# (96 x 96 instead of 224 x 224, 240 training images), with cross-entropy + Dice loss.
_base_ = ['mmseg::_base_/default_runtime.py']
custom_imports = dict(imports=['isonet_det'], allow_failed_imports=False)

data_root = 'data/seg_demo_scans'
metainfo = dict(classes=('background', 'lesion'), palette=[[0, 0, 0], [255, 64, 64]])
num_classes = 2
image_size = 96  # a multiple of 16 (four 2x2 poolings)
max_epochs = 50

data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[60.0],  # the generated scans: mean and std of their pixels
    std=[56.0],
    bgr_to_rgb=False,
    size=(image_size, image_size),
    pad_val=0,
    seg_pad_val=255)
decode_head = dict(  # the final 1x1 conv of the UNet, on the full-resolution decoder output
    type='FCNHead',
    in_index=4,
    num_convs=0,
    concat_input=False,
    dropout_ratio=0.0,
    num_classes=num_classes,
    norm_cfg=None,
    align_corners=False,
    loss_decode=[
        dict(type='CrossEntropyLoss', use_sigmoid=False, avg_non_ignore=True, loss_weight=1.0),
        dict(type='DiceLoss', use_sigmoid=False, loss_weight=1.0)
    ])
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    decode_head=decode_head,
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

train_pipeline = [
    dict(type='LoadImageFromFile', color_type='grayscale'),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', color_type='grayscale'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
dataset = dict(
    type='BaseSegDataset',
    data_root=data_root,
    metainfo=metainfo,
    img_suffix='.png',
    seg_map_suffix='.png',
    reduce_zero_label=False)
train_dataloader = dict(
    batch_size=20,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        **dataset,
        data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        **dataset,
        data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU', 'mDice'])
test_evaluator = val_evaluator

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.025, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(
        type='MultiStepLR',
        by_epoch=True,
        begin=0,
        end=max_epochs,
        milestones=[5, 15, 25, 35, 45],
        gamma=0.5)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=True),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=max_epochs, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
log_processor = dict(by_epoch=True)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
