# ISO-UNet (no normalisation, SReLU thresholds fixed at -1, Delta init with the decoder's skip
# halves open, ISOUNet's default skip_init='sum', the isometry regulariser at gamma 1e-4) on the
# generated scans: the course replication's recipe (lr 0.025, also tools/seg_demo.py's choice on
# two tuning seeds over the whole schedule: 83.31 / 86.39 mean mIoU at 0.0125 / 0.025, and 0.05
# diverged on one of the two seeds) on the demo's data (configs/_base_/scans_seg_demo.py).
# Baseline: configs/iso_unet/unet-bn_s5-b16_scans-96x96.py.
_base_ = ['../_base_/scans_seg_demo.py']
base_channels = 16
model = dict(
    backbone=dict(type='ISOUNet', in_channels=1, base_channels=base_channels, num_stages=5),
    decode_head=dict(in_channels=base_channels, channels=base_channels))
# the report keeps every SReLU threshold at -1: no update (lr x0), no weight decay
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'srelu': dict(lr_mult=0.0, decay_mult=0.0)}))
# the first conv reads the 1-channel image and is not regularised (ISOUNet.stem_convs)
custom_hooks = [dict(type='IsometryRegularizerHook', coeff=1e-4, module='backbone')]
