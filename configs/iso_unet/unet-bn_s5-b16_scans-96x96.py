# The BN UNet baseline of configs/iso_unet/iso-unet_s5-b16_scans-96x96.py: MMSegmentation's own
# UNet with the same layout and widths (5 stages from 16 channels, two 3x3 convs per block, 2x2
# stride-2 transposed convs to upsample), BatchNorm + ReLU after every conv and transposed conv,
# Kaiming-uniform init (PyTorch's default); same data, head, recipe and seed, no regulariser, but
# its own learning rate: 0.8, chosen by tools/seg_demo.py on the tuning scans (mean mIoU over
# tuning seeds 100 and 101 after the whole 50 epochs: 89.67 / 91.20 / 92.42 / 88.24 at 0.2 / 0.4
# / 0.8 / 1.6; 0.4 when one seed and half the schedule chose). ISO-UNet's, chosen the
# same way, is 0.025 (0.05 diverged on one of the two seeds): each arm at its own tuned rate is
# the fair comparison (docs/experiments/iso_unet.md).
_base_ = ['../_base_/scans_seg_demo.py']
base_channels = 16
model = dict(
    backbone=dict(
        type='UNet',
        in_channels=1,
        base_channels=base_channels,
        num_stages=5,
        strides=(1, 1, 1, 1, 1),
        enc_num_convs=(2, 2, 2, 2, 2),
        dec_num_convs=(2, 2, 2, 2),
        downsamples=(True, True, True, True),
        enc_dilations=(1, 1, 1, 1, 1),
        dec_dilations=(1, 1, 1, 1),
        norm_cfg=dict(type='BN', requires_grad=True),
        act_cfg=dict(type='ReLU'),
        upsample_cfg=dict(type='DeconvModule', kernel_size=2),
        norm_eval=False),
    decode_head=dict(in_channels=base_channels, channels=base_channels))
optim_wrapper = dict(optimizer=dict(lr=0.8))
