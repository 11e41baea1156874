# ISONet-50 (no shortcuts) on ImageNet-1k with the reference recipe (_base_/isonet_in1k.py):
# lr 0.02 per 256 images, dropout 0.1, gamma 1e-4.
# Reference top-1: ISONet-18/34/50/101 68.10 / 70.90 / 71.20 / 71.01.
_base_ = ['./_base_/isonet_in1k.py']
model = dict(backbone=dict(type='ISONet', depth=50), head=dict(in_channels=2048, dropout=0.1))
optim_wrapper = dict(optimizer=dict(lr=0.02))
custom_hooks = [dict(type='IsometryRegularizerHook', coeff=1e-4, module='backbone')]
