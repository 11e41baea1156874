# ISONet-18 (no shortcuts, CIFAR stem) on CIFAR-10, the course replication's recipe
# (_base_/isonet_cifar.py), dropout 0.1 as the reference ISONet head.
_base_ = ['./risonet18_b128_cifar10.py']
model = dict(backbone=dict(type='ISONet'), head=dict(dropout=0.1))
