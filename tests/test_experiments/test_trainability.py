import copy
import math

import pytest
import torch
import torch.nn.functional as F

from isonet_det.analysis import PlainCNN
from isonet_det.datasets import make_prototypes
from isonet_det.experiments.trainability import (LinearProbe, accuracy, blew_up,
                                                 frozen_body_factory, grid_extension,
                                                 relative_change, sweep_and_train, tail_mean,
                                                 train_classifier)
from isonet_det.ops import isometry_penalty

DATA = make_prototypes(128, 4, num_classes=4, seed=0)


def model(seed=0, scheme='delta_srelu'):
    torch.manual_seed(seed)
    return PlainCNN(3, 4, num_classes=4, scheme=scheme, flatten_size=4)


def test_train_classifier_is_deterministic_and_learns():
    a = train_classifier(model(), DATA, 0.01, 30, batch_size=16, seed=1)
    b = train_classifier(model(), DATA, 0.01, 30, batch_size=16, seed=1)
    assert a == b and not a['diverged'] and len(a['losses']) == 30
    assert tail_mean(a['losses'], 5) < 0.5 * a['losses'][0]
    assert 0.0 <= accuracy(model(), DATA) <= 1.0


def test_train_classifier_step_with_regulariser_matches_manual_sgd():
    """One step equals SGD on ``cross_entropy + coeff * isometry_penalty(body convs)``, with
    weight decay on kernels and weights only."""
    coeff, lr, wd = 0.3, 0.05, 0.01
    trained = model(scheme='gaussian_tanh')
    train_classifier(
        trained,
        DATA,
        lr,
        1,
        regulariser=isometry_penalty,
        coeff=coeff,
        batch_size=8,
        weight_decay=wd,
        seed=2)
    manual = model(scheme='gaussian_tanh')
    idx = torch.randint(128, (8, ), generator=torch.Generator().manual_seed(3))
    loss = F.cross_entropy(manual(DATA[0][idx]), DATA[1][idx])
    (loss + coeff * isometry_penalty(manual.body_convs())).backward()
    with torch.no_grad():
        for p in manual.parameters():
            p -= lr * (p.grad + (wd * p if p.dim() > 1 else 0))
    for p, q in zip(trained.parameters(), manual.parameters()):
        torch.testing.assert_close(p, q)


def test_divergence_is_detected():
    run = train_classifier(model(scheme='kaiming_relu'), DATA, 1e8, 20, batch_size=16)
    assert run['diverged'] and len(run['losses']) < 20
    learned_then_spiked = [2.3] * 10 + [0.5] * 10 + [2.2] * 10
    assert blew_up(learned_then_spiked) and blew_up([2.3] * 10 + [3.0] * 10)
    assert not blew_up([2.3] * 10 + [0.5] * 10 + [0.9] * 10)  # noisy, but within the margin
    assert not blew_up([2.3] * 30) and not blew_up([1.0, 5.0])  # shorter than the window
    assert math.isnan(tail_mean([]))


def test_sweep_picks_the_best_lr_and_falls_back_when_it_diverges():
    run = sweep_and_train(model, DATA, [1e-5, 1e-2, 1e8], 5, 10, batch_size=16)
    assert run['sweep'][1e8] == float('inf') and run['sweep'][1e-2] < run['sweep'][1e-5]
    assert run['lr'] == 1e-2 and run['tried'] == [1e-2] and not run['diverged']
    assert len(run['losses']) == 10 and isinstance(run['model'], PlainCNN)
    assert not run['unstable'] and run['interior'] and sorted(run['sweep']) == [1e-5, 1e-2, 1e8]
    # every lr diverges in the sweep: the smallest is reported, marked diverged
    run = sweep_and_train(model, DATA, [1e7, 1e8], 3, 5, batch_size=16, max_extensions=0)
    assert run['diverged'] and run['unstable'] and run['lr'] == 1e7 and run['tried'] == []
    assert not run['interior']


def test_sweep_extends_the_grid_until_the_choice_is_interior_and_scores_other_seeds():
    """A grid whose best lr is its top edge grows by x10 until an lr above does worse; the
    score is the mean over two sweep seeds that are not the reported run's."""
    seen = []

    def make(seed):
        seen.append(seed)
        return model(seed)

    run = sweep_and_train(make, DATA, [1e-3, 1e-2], 5, 10, batch_size=16, seed=7)
    lrs = sorted(run['sweep'])
    assert lrs[0] < run["lr"] < lrs[-1] and run["interior"] and lrs[:2] == [1e-3, 1e-2]
    assert len(lrs) > 2 and all(b == pytest.approx(10 * a) for a, b in zip(lrs, lrs[1:]))
    assert set(seen[:-len(run['tried'])]) == {1007, 2007} and seen[-1] == 7
    expected = tail_mean(
        train_classifier(model(1007), DATA, 1e-3, 5, batch_size=16, seed=1007)['losses'])
    expected += tail_mean(
        train_classifier(model(2007), DATA, 1e-3, 5, batch_size=16, seed=2007)['losses'])
    assert run['sweep'][1e-3] == pytest.approx(expected / 2)
    capped = sweep_and_train(model, DATA, [1e-5, 1e-4], 5, 10, batch_size=16, max_extensions=1)
    assert sorted(capped['sweep']) == [1e-5, 1e-4, pytest.approx(1e-3)]


def test_a_grid_where_no_lr_learned_extends_down_even_with_an_interior_minimum():
    """An interior minimum among chance-level losses says nothing: with ``chance_loss`` the grid
    grows towards smaller lrs until one learns (below 0.95 x chance), then follows the edge rule."""
    chance = math.log(4)
    at_chance = {0.00316: 1.42, 0.01: 1.385, 0.0316: 20.7}  # the depth-100 Gaussian tanh sweep
    assert grid_extension(sorted(at_chance), at_chance, 3.16, chance) == pytest.approx(0.001)
    assert grid_extension(sorted(at_chance), at_chance, 3.16) is None  # without it: "interior"
    learned = {**at_chance, 0.001: 0.6}
    assert grid_extension(sorted(learned), learned, 3.16, chance) == pytest.approx(0.001 / 3.16)
    done = {**learned, 0.001 / 3.16: 0.9}
    assert grid_extension(sorted(done), done, 3.16, chance) is None
    top = {0.01: 0.9, 0.1: 0.5}
    assert grid_extension(sorted(top), top, 10, chance) == pytest.approx(1.0)
    diverged = {0.1: math.inf, 1.0: math.inf}
    assert grid_extension(sorted(diverged), diverged, 10, chance) == pytest.approx(0.01)
    # in a sweep: with a chance loss no run can beat (0), the grid grows down at every round, up
    # to the cap, whatever the losses, and every lr it tried is recorded
    run = sweep_and_train(
        model, DATA, [1e-4, 1e-3, 1e-2], 5, 5, batch_size=16, chance_loss=0.0, max_extensions=2)
    assert sorted(run['sweep']) == pytest.approx([1e-6, 1e-5, 1e-4, 1e-3, 1e-2])


def test_frozen_body_trains_only_the_head_and_movement_is_reported():
    net = model(scheme='kaiming_relu')
    before = copy.deepcopy(net)
    run = train_classifier(net, DATA, 0.05, 10, batch_size=16, head_only=True, track_every=4)
    for (name, p), q in zip(net.named_parameters(), before.parameters()):
        assert torch.equal(p, q) != name.startswith('head'), name
    assert run['body_change'] == 0.0
    assert [step for step, _ in run['orthogonality']] == [0, 4, 8, 10]
    moved = train_classifier(model(scheme='kaiming_relu'), DATA, 0.05, 10, batch_size=16)
    assert moved['body_change'] > 0
    w0 = [c.weight.detach().clone() for c in before.body_convs()]
    assert relative_change([2 * w for w in w0], w0) == pytest.approx(1.0)
    probe = LinearProbe(3 * 4 * 4, 4)
    assert math.isnan(train_classifier(probe, DATA, 0.05, 3, batch_size=16)['body_change'])


def test_sweep_falls_back_to_the_next_lr_when_the_run_blows_up(monkeypatch):
    """The best sweep lr learns and then spikes (blew_up): the next best is trained and kept;
    if every one blows up, the finite run with the lowest final loss is kept, unstable."""
    import isonet_det.experiments.trainability as tr
    spiked = [2.3] * 10 + [0.5] * 10 + [2.2] * 10
    steady = [2.3] * 10 + [1.0] * 20
    curves = {0.1: spiked, 0.01: steady, 0.001: [2.3] * 30}

    def fake_train(model, data, lr, steps, **kwargs):
        losses = curves[lr][:steps]
        return dict(losses=losses, accuracies=[0.0] * len(losses), diverged=False, body_change=0)

    monkeypatch.setattr(tr, 'train_classifier', fake_train)
    # the sweep (the first 3 steps of each curve) ranks 0.1, then 0.01, then 0.001
    curves[0.1] = [2.0] * 3 + spiked[3:]
    curves[0.01] = [2.1] * 3 + steady[3:]
    run = tr.sweep_and_train(model, DATA, [0.001, 0.01, 0.1], 3, 30, max_extensions=0)
    assert run['tried'] == [0.1, 0.01] and run['lr'] == 0.01 and not run['unstable']
    curves[0.01] = [2.1] * 3 + spiked[3:]
    curves[0.001] = [2.25] * 3 + [2.3] * 7 + [0.4] * 10 + [2.4] * 10
    run = tr.sweep_and_train(model, DATA, [0.001, 0.01, 0.1], 3, 30, max_extensions=0)
    assert run['tried'] == [0.1, 0.01, 0.001] and run['unstable'] and not run['diverged']
    assert run['lr'] in (0.1, 0.01)  # the lower final loss (2.2 against 2.4)


def test_frozen_body_on_cached_features_is_the_head_only_run():
    """Training a FrozenBody on indices is the same run as training the model's head alone."""
    n = len(DATA[0])
    make = frozen_body_factory(lambda seed: model(seed, 'kaiming_relu'), DATA[0])
    cached = make(3)
    fast = train_classifier(cached, (torch.arange(n), DATA[1]), 0.05, 8, batch_size=16, seed=5)
    net = model(3, 'kaiming_relu')
    slow = train_classifier(net, DATA, 0.05, 8, batch_size=16, seed=5, head_only=True)
    assert fast['losses'] == pytest.approx(slow['losses'], rel=1e-5)
    torch.testing.assert_close(cached.head.weight, net.head.weight)
    assert not torch.equal(make(3).head.weight, cached.head.weight)  # a fresh head each call


def test_sweep_extends_by_the_given_factor():
    """``factor``: the grid extends by it (the ISONet ablation's sqrt(10)) instead of x10."""
    run = sweep_and_train(
        model, DATA, [1e-5, 1e-4], 3, 3, batch_size=16, max_extensions=2, factor=math.sqrt(10))
    lrs = sorted(run['sweep'])
    assert lrs[:2] == [1e-5, 1e-4] and len(lrs) == 4  # the best stays at the top edge
    assert [b / a for a, b in zip(lrs[1:], lrs[2:])] == pytest.approx([math.sqrt(10)] * 2)


def test_held_out_learning_curve_of_the_reported_run_only(monkeypatch):
    """``eval_data`` / ``eval_every``: held-out accuracy at step 0, every ``eval_every`` steps
    and at the end, the model back in training mode; the sweep's runs are not evaluated."""
    import isonet_det.experiments.trainability as tr
    held_out = make_prototypes(32, 4, num_classes=4, seed=1, split='test')
    net = model()
    run = train_classifier(net, DATA, 0.01, 7, batch_size=16, eval_data=held_out, eval_every=3)
    assert [step for step, _ in run['held_out']] == [0, 3, 6, 7] and net.training
    assert run['held_out'][-1][1] == accuracy(net, held_out)
    assert 'held_out' not in train_classifier(model(), DATA, 0.01, 2, batch_size=16)
    calls = []
    real = tr.train_classifier
    monkeypatch.setattr(tr, 'train_classifier',
                        lambda *a, **k: calls.append('eval_data' in k) or real(*a, **k))
    run = tr.sweep_and_train(
        model,
        DATA, [1e-3, 1e-2, 1e-1],
        2,
        4,
        batch_size=16,
        max_extensions=0,
        eval_data=held_out,
        eval_every=2)
    assert calls == [False] * 6 + [True] * len(run['tried'])
    assert [step for step, _ in run['held_out']] == [0, 2, 4]


def test_frozen_features_are_standardised_with_the_training_statistics():
    """A body whose features differ by input only at a tiny scale: standardised, a linear head
    reads them; the reported sd is that tiny scale (before standardising)."""
    from isonet_det.experiments.trainability import frozen_body_task, standardise
    train, test = DATA, make_prototypes(64, 4, num_classes=4, seed=0, split='test')

    def tiny(seed):
        net = model(seed, 'kaiming_relu')
        head_input = net.head_input
        net.head_input = lambda x: 0.01 + 1e-6 * head_input(x)  # the information, at 1e-6
        return net

    make, indexed, held_out = frozen_body_task(tiny, train, test, standardize=True)
    frozen = make(0)
    n = len(train[0])
    assert frozen.features[:n].mean(0).abs().max() < 1e-3
    nonconstant = frozen.features[:n].std(0) > 0
    torch.testing.assert_close(frozen.features[:n].std(0)[nonconstant],
                               torch.ones(int(nonconstant.sum())))
    raw = frozen_body_task(tiny, train, test)[0](0)
    assert frozen.feature_sd == pytest.approx(raw.feature_sd) and 0 < raw.feature_sd < 1e-5
    # held-out rows use the training statistics, not their own
    expected, _ = standardise(raw.features, n)
    torch.testing.assert_close(frozen.features, expected)
    run = train_classifier(frozen, indexed, 0.1, 60, batch_size=16)
    assert not run['diverged'] and accuracy(frozen, held_out) > 0.8
    train_classifier(raw, indexed, 0.1, 60, batch_size=16)  # raw: the same head, lr and steps
    assert accuracy(raw, held_out) < 0.5


def test_still_falling_tells_a_flat_curve_from_a_falling_one():
    from isonet_det.experiments.trainability import still_falling
    assert still_falling([1.0 - 0.004 * i for i in range(200)])
    assert not still_falling([1.0] * 100 + [0.3] * 100)
    assert not still_falling([0.5 + 0.01 * (i % 2) for i in range(200)])
    assert not still_falling([1.0, 0.5])  # too short to tell
