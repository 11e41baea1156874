# R-ISONet-101 on ImageNet-1k with the reference recipe (_base_/isonet_in1k.py). Reference top-1:
# R-ISONet-18/34/50/101 69.17 / 73.43 / 76.18 / 77.08.
_base_ = ['./_base_/isonet_in1k.py']
model = dict(backbone=dict(type='RISONet', depth=101), head=dict(in_channels=2048, dropout=0.4))
