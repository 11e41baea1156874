import pytest
import torch

from isonet_det.datasets import class_prototypes, make_prototypes


def nearest_prototype(images, protos):
    """Label of the prototype with the largest correlation (a linear classifier)."""
    return (images.flatten(1) @ protos.flatten(1).T).argmax(1)


def test_prototypes_are_deterministic_with_disjoint_splits():
    a, la = make_prototypes(300, 8, seed=3)
    b, lb = make_prototypes(300, 8, seed=3)
    assert torch.equal(a, b) and torch.equal(la, lb)
    assert a.shape == (300, 3, 8, 8) and a.dtype == torch.float32 and la.dtype == torch.int64
    assert la.bincount(minlength=10).min() > 10
    test, _ = make_prototypes(300, 8, seed=3, split='test')
    assert not torch.allclose(a, test)
    other, _ = make_prototypes(300, 8, seed=4)
    assert not torch.allclose(a, other)
    protos = class_prototypes(10, 8, seed=3)
    torch.testing.assert_close(protos.mean(dim=(1, 2, 3)), torch.zeros(10), atol=1e-6, rtol=0)
    torch.testing.assert_close(protos.std(dim=(1, 2, 3)), torch.ones(10))


def test_linearly_separable_and_not_sign_symmetric():
    """A linear classifier fits the task (so every arm can in principle), and it is not
    symmetric under x -> -x: the negated images are not classified as their labels (unlike
    oriented gratings, where x and -x share a label and an odd network is stuck at chance)."""
    images, labels = make_prototypes(1000, 8, seed=0, split='test')
    protos = class_prototypes(10, 8, seed=0)
    assert (nearest_prototype(images, protos) == labels).float().mean() > 0.98
    assert (nearest_prototype(-images, protos) == labels).float().mean() < 0.05


def test_prototypes_bad_split():
    with pytest.raises(ValueError, match='split'):
        make_prototypes(4, split='val')
