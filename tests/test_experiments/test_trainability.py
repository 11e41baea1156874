import math

import torch
import torch.nn.functional as F

from isonet_det.analysis import PlainCNN
from isonet_det.datasets import make_prototypes
from isonet_det.experiments.trainability import (accuracy, blew_up, sweep_and_train, tail_mean,
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
    assert not run['unstable']
    # every lr diverges in the sweep: the smallest is reported, marked diverged
    run = sweep_and_train(model, DATA, [1e7, 1e8], 3, 5, batch_size=16)
    assert run['diverged'] and run['unstable'] and run['lr'] == 1e7 and run['tried'] == []


def test_sweep_falls_back_to_the_next_lr_when_the_run_blows_up(monkeypatch):
    """The best sweep lr learns and then spikes (blew_up): the next best is trained and kept;
    if every one blows up, the finite run with the lowest final loss is kept, unstable."""
    import isonet_det.experiments.trainability as tr
    spiked = [2.3] * 10 + [0.5] * 10 + [2.2] * 10
    steady = [2.3] * 10 + [1.0] * 20
    curves = {0.1: spiked, 0.01: steady, 0.001: [2.3] * 30}

    def fake_train(model, data, lr, steps, **kwargs):
        losses = curves[lr][:steps]
        return dict(losses=losses, accuracies=[0.0] * len(losses), diverged=False)

    monkeypatch.setattr(tr, 'train_classifier', fake_train)
    # the sweep (the first 3 steps of each curve) ranks 0.1, then 0.01, then 0.001
    curves[0.1] = [2.0] * 3 + spiked[3:]
    curves[0.01] = [2.1] * 3 + steady[3:]
    run = tr.sweep_and_train(model, DATA, [0.001, 0.01, 0.1], 3, 30)
    assert run['tried'] == [0.1, 0.01] and run['lr'] == 0.01 and not run['unstable']
    curves[0.01] = [2.1] * 3 + spiked[3:]
    curves[0.001] = [2.25] * 3 + [2.3] * 7 + [0.4] * 10 + [2.4] * 10
    run = tr.sweep_and_train(model, DATA, [0.001, 0.01, 0.1], 3, 30)
    assert run['tried'] == [0.1, 0.01, 0.001] and run['unstable'] and not run['diverged']
    assert run['lr'] in (0.1, 0.01)  # the lower final loss (2.2 against 2.4)
