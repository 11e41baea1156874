# R-ISONet-18 (CIFAR stem) on CIFAR-10, the course replication's recipe (_base_/isonet_cifar.py).
_base_ = ['mmpretrain::_base_/datasets/cifar10_bs16.py', './_base_/isonet_cifar.py']
train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128)
test_dataloader = val_dataloader
