import pytest
import torch

from isonet_det.datasets import class_prototypes, make_prototype_pairs, make_prototypes


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


def fit_and_score(model, train, test, steps=600):
    """Adam on the training split (full-batch), held-out accuracy."""
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(model(train[0]), train[1])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return (model(test[0]).argmax(1) == test[1]).float().mean().item()


def test_prototype_pairs_need_a_nonlinear_feature():
    """(i + j) mod 4: a linear classifier on the pixels stays at chance, one hidden layer solves
    it; deterministic, with disjoint splits and balanced labels."""
    train = make_prototype_pairs(2048, 8, seed=0)
    test = make_prototype_pairs(1024, 8, seed=0, split='test')
    again = make_prototype_pairs(2048, 8, seed=0)
    assert torch.equal(train[0], again[0]) and torch.equal(train[1], again[1])
    assert not torch.allclose(train[0][:1024], test[0])
    assert train[0].shape == (2048, 3, 8, 8) and train[1].bincount(minlength=4).min() > 400
    linear = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(192, 4))
    mlp = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(192, 256), torch.nn.ReLU(),
                              torch.nn.Linear(256, 4))
    assert fit_and_score(linear, train, test) < 0.32
    assert fit_and_score(mlp, train, test) > 0.9
    with pytest.raises(ValueError, match='even size'):
        make_prototype_pairs(4, size=7)
