# R-ISONet-18 (CIFAR stem) on CIFAR-100, the course replication's recipe (_base_/isonet_cifar.py).
_base_ = ['mmpretrain::_base_/datasets/cifar100_bs16.py', './_base_/isonet_cifar.py']
model = dict(head=dict(num_classes=100))
train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128)
test_dataloader = val_dataloader
