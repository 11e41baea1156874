"""Short classifier training runs with a per-run learning-rate sweep, for the trainability
experiments (``tools/analysis/depth_trainability.py``, ``tools/analysis/isonet_ablation.py``).

A model here is any ``nn.Module`` mapping images to logits with a ``body_convs()`` method (the
convs a regulariser acts on).
"""
import math
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

Data = Tuple[torch.Tensor, torch.Tensor]


def tail_mean(values: Sequence[float], n: int = 10) -> float:
    """Mean of the last ``n`` values (``nan`` if there are none)."""
    return sum(values[-n:]) / len(values[-n:]) if values else float('nan')


def blew_up(losses: Sequence[float], margin: float = 0.5, window: int = 10) -> bool:
    """Whether a finite run ended ``margin`` above the best mean loss of any ``window``
    consecutive steps: it learned, then spiked and did not recover (or only got worse)."""
    if len(losses) < window:
        return False
    best = min(sum(losses[i:i + window]) / window for i in range(len(losses) - window + 1))
    return tail_mean(losses, window) > best + margin


def train_classifier(model: nn.Module,
                     data: Data,
                     lr: float,
                     steps: int,
                     regulariser: Optional[Callable] = None,
                     coeff: float = 0.0,
                     batch_size: int = 32,
                     weight_decay: float = 0.0,
                     seed: int = 0) -> Dict:
    """SGD (momentum 0.9) on ``cross_entropy + coeff * regulariser(model.body_convs())``.

    Batches are drawn with a generator seeded by ``seed``, so runs with the same seed see the same
    batches. Weight decay applies to weight matrices/kernels only (not biases or SReLU
    thresholds). Stops at the first non-finite loss. Returns ``dict(losses, accuracies,
    diverged)`` (per step, training batch).
    """
    convs = model.body_convs() if regulariser is not None else []
    decay = [p for n, p in model.named_parameters() if p.dim() > 1]
    rest = [p for n, p in model.named_parameters() if p.dim() <= 1]
    opt = torch.optim.SGD(
        [dict(params=decay, weight_decay=weight_decay),
         dict(params=rest, weight_decay=0.0)],
        lr=lr,
        momentum=0.9)
    images, labels = data
    g = torch.Generator().manual_seed(seed + 1)
    losses: List[float] = []
    accs: List[float] = []
    model.train()
    for _ in range(steps):
        idx = torch.randint(len(images), (batch_size, ), generator=g)
        logits = model(images[idx])
        loss = F.cross_entropy(logits, labels[idx])
        total = loss + coeff * regulariser(convs) if regulariser is not None else loss
        if not math.isfinite(total.item()):
            return dict(losses=losses, accuracies=accs, diverged=True)
        opt.zero_grad()
        total.backward()
        opt.step()
        losses.append(loss.item())
        accs.append((logits.argmax(1) == labels[idx]).float().mean().item())
    return dict(losses=losses, accuracies=accs, diverged=False)


@torch.no_grad()
def accuracy(model: nn.Module, data: Data, batch_size: int = 256) -> float:
    """Accuracy of ``model`` (eval mode) on ``data``."""
    model.eval()
    images, labels = data
    correct = sum((model(images[i:i + batch_size]).argmax(1) == labels[i:i + batch_size]).sum()
                  for i in range(0, len(images), batch_size))
    return float(correct) / len(images)


def sweep_and_train(make_model: Callable[[], nn.Module], data: Data, lrs: Sequence[float],
                    sweep_steps: int, steps: int, **train_kwargs) -> Dict:
    """Choose the learning rate by a sweep, then train with it.

    Every lr of ``lrs`` trains a fresh ``make_model()`` (which must seed itself: the same init
    for every lr) for ``sweep_steps``; the lr with the lowest mean loss over the last 3 sweep
    steps trains a fresh model for ``steps``. If that run diverges (non-finite loss) or
    :func:`blew_up`, the next best lr is tried; if every one does, the finite run with the lowest
    final loss is kept, marked ``unstable`` (if none is finite, the last one tried). Returns the
    run's ``losses``, ``accuracies``, ``diverged`` (no finite run), ``unstable``, ``lr``,
    ``sweep`` (lr -> mean loss, ``inf`` where it diverged), ``tried`` (lrs in the order tried),
    and the trained ``model``.
    """
    sweep = {}
    for lr in lrs:
        run = train_classifier(make_model(), data, lr, sweep_steps, **train_kwargs)
        sweep[lr] = float('inf') if run['diverged'] else tail_mean(run['losses'], 3)
    ranked = [lr for v, lr in sorted((v, lr) for lr, v in sweep.items() if math.isfinite(v))]
    tried, finite = [], []
    for lr in ranked:
        model = make_model()
        run = dict(train_classifier(model, data, lr, steps, **train_kwargs), lr=lr, model=model)
        tried.append(lr)
        if not run['diverged']:
            run['unstable'] = blew_up(run['losses'])
            finite.append(run)
            if not run['unstable']:
                break
    if finite:
        run = min(finite, key=lambda r: (r['unstable'], tail_mean(r['losses'])))
    elif not tried:  # every sweep run diverged: train the smallest lr, to show its curve
        model = make_model()
        run = dict(
            train_classifier(model, data, min(lrs), steps, **train_kwargs),
            lr=min(lrs),
            model=model)
    run.setdefault('unstable', run['diverged'])
    run.update(sweep=sweep, tried=tried)
    return run
