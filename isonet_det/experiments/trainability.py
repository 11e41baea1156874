"""Short classifier training runs with a per-run learning-rate sweep, for the trainability
experiments (``tools/analysis/depth_trainability.py``, ``tools/analysis/isonet_ablation.py``).

A model here is any ``nn.Module`` mapping images to logits with a ``head`` (the last layer) and a
``body_convs()`` method (the convs a regulariser acts on, whose movement is reported).
"""
import copy
import math
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..analysis.layer_report import orthogonality_error
from ..datasets import make_prototype_pairs, make_prototypes

Data = Tuple[torch.Tensor, torch.Tensor]

# task -> (make(num, size, noise, seed, split) -> (images, labels), number of classes):
# 'pairs' needs a nonlinear feature (a linear classifier on the pixels stays at chance),
# 'prototypes' is linearly separable (it measures signal propagation, not learning)
TASKS = {
    'pairs':
    (lambda num, size, noise, seed, split: make_prototype_pairs(num, size, 4, noise, seed, split),
     4),
    'prototypes':
    (lambda num, size, noise, seed, split: make_prototypes(num, size, 10, noise, seed, split), 10),
}


def add_lr_arguments(parser,
                     lrs: Sequence[float] = (1e-3, 1e-2, 1e-1),
                     factor: float = 10.0) -> None:
    """``--sweep-steps`` and ``--lrs`` (the initial grid of :func:`sweep_and_train`, default
    ``lrs``; its help says the grid extends by ``factor``, which the tool passes on)."""
    parser.add_argument(
        '--sweep-steps',
        type=int,
        default=None,
        help='length of the sweep runs (default: the whole budget, --steps; a shorter sweep '
        'favours the lrs that move first, not the ones that end best)')
    parser.add_argument(
        '--lrs',
        type=float,
        nargs='+',
        default=list(lrs),
        help=f'the initial grid: extended x{factor:.3g} at an edge until the choice is interior')


def add_device_argument(parser, help: str) -> None:
    """``--device {cpu,cuda}`` (default cpu) of the trainability tools."""
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cpu', help=help)


def check_device(parser, device: str) -> None:
    """Refuse ``--device cuda`` through ``parser`` where torch sees no CUDA device."""
    if device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: torch sees no CUDA device')


def full_float32(device: str) -> None:
    """On ``'cuda'``, float32 convs and products as on the CPU (no TF32, which cuDNN's convs use
    by default and which would round away tiny input-dependent signals)."""
    if device == 'cuda':
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False


def tail_mean(values: Sequence[float], n: int = 10) -> float:
    """Mean of the last ``n`` values (``nan`` if there are none)."""
    return sum(values[-n:]) / len(values[-n:]) if values else float('nan')


def still_falling(losses: Sequence[float], fraction: float = 0.1, tol: float = 0.02) -> bool:
    """Whether a learning curve has not flattened: the mean loss of its last ``fraction`` of
    steps (at least 10) is more than ``max(tol, 0.05 x that mean)`` below the mean of as many
    steps before them. ``False`` for a curve too short to tell (under 20 steps)."""
    n = max(10, int(len(losses) * fraction))
    if len(losses) < 2 * n:
        return False
    last = sum(losses[-n:]) / n
    before = sum(losses[-2 * n:-n]) / n
    return before - last > max(tol, 0.05 * last)


def blew_up(losses: Sequence[float], margin: float = 0.5, window: int = 10) -> bool:
    """Whether a finite run ended ``margin`` above the best mean loss of any ``window``
    consecutive steps: it learned, then spiked and did not recover (or only got worse)."""
    if len(losses) < window:
        return False
    best = min(sum(losses[i:i + window]) / window for i in range(len(losses) - window + 1))
    return tail_mean(losses, window) > best + margin


def relative_change(now: Sequence[torch.Tensor], initial: Sequence[torch.Tensor]) -> float:
    """``||W - W_0||_F / ||W_0||_F`` over all the tensors together (``nan`` if there are none):
    how far a body moved from its init."""
    if not initial:
        return float('nan')
    moved = sum((a.detach() - b).pow(2).sum() for a, b in zip(now, initial))
    return float((moved / sum(b.pow(2).sum() for b in initial)).sqrt())


def train_classifier(model: nn.Module,
                     data: Data,
                     lr: float,
                     steps: int,
                     regulariser: Optional[Callable] = None,
                     coeff: float = 0.0,
                     batch_size: int = 32,
                     weight_decay: float = 0.0,
                     seed: int = 0,
                     head_only: bool = False,
                     track_every: int = 0,
                     eval_data: Optional[Data] = None,
                     eval_every: int = 0) -> Dict:
    """SGD (momentum 0.9) on ``cross_entropy + coeff * regulariser(model.body_convs())``.

    Batches are drawn with a generator seeded by ``seed``, so runs with the same seed see the same
    batches. Weight decay applies to weight matrices/kernels only (not biases or SReLU
    thresholds). ``head_only``: only ``model.head`` trains, everything before it stays at its init
    (the frozen-body baseline). Stops at the first non-finite loss. Returns ``dict(losses,
    accuracies, diverged)`` (per step, training batch), ``body_change`` (:func:`relative_change`
    of the body convs' weights) and, with ``track_every > 0``, ``orthogonality``: ``[step,
    [error per body conv]]`` at step 0, every ``track_every`` steps and at the end. With
    ``eval_data`` and ``eval_every > 0``, ``held_out``: ``[step, accuracy(model, eval_data)]`` at
    the same points, every ``eval_every`` steps (a learning curve on held-out data). The batch
    indices are drawn on the CPU and moved to the images' device, so a run sees the same batches
    on any device.
    """
    body = model.body_convs()
    convs = body if regulariser is not None else []
    initial = [c.weight.detach().clone() for c in body]
    trained = list((model.head if head_only else model).parameters())
    decay = [p for p in trained if p.dim() > 1]
    rest = [p for p in trained if p.dim() <= 1]
    opt = torch.optim.SGD(
        [dict(params=decay, weight_decay=weight_decay),
         dict(params=rest, weight_decay=0.0)],
        lr=lr,
        momentum=0.9)
    images, labels = data
    g = torch.Generator().manual_seed(seed + 1)
    losses: List[float] = []
    accs: List[float] = []
    tracked = []
    held_out = []
    evaluate = eval_data is not None and eval_every > 0
    model.train()

    def record_held_out(step):
        held_out.append([step, accuracy(model, eval_data)])
        model.train()

    def result(diverged):
        out = dict(
            losses=losses,
            accuracies=accs,
            diverged=diverged,
            body_change=relative_change([c.weight for c in body], initial))
        if track_every > 0:
            if not diverged and tracked[-1][0] != len(losses):
                tracked.append([len(losses), [orthogonality_error(c) for c in body]])
            out['orthogonality'] = tracked
        if evaluate:
            if not diverged and held_out[-1][0] != len(losses):
                record_held_out(len(losses))
            out['held_out'] = held_out
        return out

    for step in range(steps):
        if track_every > 0 and step % track_every == 0:
            tracked.append([step, [orthogonality_error(c) for c in body]])
        if evaluate and step % eval_every == 0:
            record_held_out(step)
        idx = torch.randint(len(images), (batch_size, ), generator=g).to(images.device)
        logits = model(images[idx])
        loss = F.cross_entropy(logits, labels[idx])
        total = loss + coeff * regulariser(convs) if regulariser is not None else loss
        if not math.isfinite(total.item()):
            return result(diverged=True)
        opt.zero_grad()
        total.backward()
        opt.step()
        losses.append(loss.item())
        accs.append((logits.argmax(1) == labels[idx]).float().mean().item())
    return result(diverged=False)


class LinearProbe(nn.Module):
    """The raw-input baseline: ``logits = W flatten(x) + b`` (no body)."""

    def __init__(self, in_features: int, num_classes: int):
        super().__init__()
        self.head = nn.Linear(in_features, num_classes)

    def body_convs(self) -> List[nn.Conv2d]:
        return []

    def forward(self, x):
        return self.head(x.flatten(1))


def linear_probe_factory(images: torch.Tensor, num_classes: int) -> Callable[[int], LinearProbe]:
    """``make(seed)`` for :func:`sweep_and_train`: a seeded :class:`LinearProbe` on ``images``'
    pixels."""

    def make(seed):
        torch.manual_seed(seed)
        return LinearProbe(images[0].numel(), num_classes)

    return make


class FrozenBody(nn.Module):
    """The frozen-body baseline, computed once: ``forward(index) = head(features[index])``.

    ``features`` are a model's head inputs (``model.head_input``) for every image of a table,
    taken at init; training this module on ``(indices, labels)`` is training the model with
    everything but its head frozen (the models here have no dropout or batch statistics), at the
    cost of a linear model. See :func:`frozen_body_factory`. ``feature_sd``: the mean over
    features of their standard deviation across the training inputs, before any standardisation
    (how large the input-dependent part of what the body passes on is).
    """

    def __init__(self, features: torch.Tensor, head: nn.Module, feature_sd: float = math.nan):
        super().__init__()
        self.register_buffer('features', features)
        self.head = head
        self.feature_sd = feature_sd

    def body_convs(self) -> List[nn.Conv2d]:
        return []

    def forward(self, index):
        return self.head(self.features[index.to(self.features.device)])


def standardise(features: torch.Tensor, train_count: int) -> Tuple[torch.Tensor, float]:
    """``(features - mean) / sd`` per feature, the mean and sd over the first ``train_count``
    rows (the training inputs; a feature constant there is only centred), and the mean over
    features of that sd (the input-dependent scale of the raw features)."""
    train = features[:train_count].double()
    mean, sd = train.mean(0), train.std(0)
    scaled = (features.double() - mean) / torch.where(sd > 0, sd, torch.ones_like(sd))
    return scaled.to(features.dtype), float(sd.mean())


def frozen_body_factory(make_model: Callable[[int], nn.Module],
                        images: torch.Tensor,
                        batch_size: int = 256,
                        standardize: bool = False,
                        train_count: Optional[int] = None) -> Callable[[int], FrozenBody]:
    """``make(seed)`` for :func:`sweep_and_train`: a :class:`FrozenBody` of ``make_model(seed)``
    over ``images`` (the head inputs computed once per seed, a fresh copy of the model's initial
    head each call). Train it on ``(torch.arange(n), labels)`` for the first ``n`` images.

    ``standardize``: the head reads the features standardised (:func:`standardise`, statistics of
    the first ``train_count`` images, default all), as a linear readout would be fitted: a body
    that keeps its inputs apart at a tiny scale is then not failed by its head's lr."""
    cache = {}

    def make(seed):
        if seed not in cache:
            model = make_model(seed)
            model.eval()
            with torch.no_grad():
                features = torch.cat([
                    model.head_input(images[i:i + batch_size])
                    for i in range(0, len(images), batch_size)
                ])
            count = len(images) if train_count is None else train_count
            scaled, sd = standardise(features, count)
            cache[seed] = (scaled if standardize else features, model.head, sd)
        features, head, sd = cache[seed]
        return FrozenBody(features, copy.deepcopy(head), sd)

    return make


def frozen_body_task(make_model: Callable[[int], nn.Module],
                     data: Data,
                     test: Data,
                     standardize: bool = False) -> Tuple[Callable[[int], FrozenBody], Data, Data]:
    """The frozen-body baseline of ``make_model`` on ``data`` and ``test``: ``(make, train,
    held_out)`` for :func:`sweep_and_train` and :func:`accuracy`, where the images are replaced by
    their indices into one table of head inputs (training images first, then the held-out ones).
    ``standardize``: features standardised with the training images' statistics
    (:func:`frozen_body_factory`)."""
    n = len(data[0])
    make = frozen_body_factory(
        make_model, torch.cat([data[0], test[0]]), standardize=standardize, train_count=n)
    index = torch.arange(n + len(test[0]), device=data[1].device)  # beside the labels
    return make, (index[:n], data[1]), (index[n:], test[1])


def final_scores(run: Dict, model: nn.Module, test: Data) -> Dict[str, float]:
    """``final_loss`` and ``final_accuracy`` (means of the last 10 training steps) and
    ``test_accuracy`` of a run (``nan`` for a diverged one)."""
    if run['diverged']:
        return dict(
            final_loss=float('nan'), final_accuracy=float('nan'), test_accuracy=float('nan'))
    return dict(
        final_loss=tail_mean(run['losses']),
        final_accuracy=tail_mean(run['accuracies']),
        test_accuracy=accuracy(model, test))


@torch.no_grad()
def accuracy(model: nn.Module, data: Data, batch_size: int = 256) -> float:
    """Accuracy of ``model`` (eval mode) on ``data``."""
    model.eval()
    images, labels = data
    correct = sum((model(images[i:i + batch_size]).argmax(1) == labels[i:i + batch_size]).sum()
                  for i in range(0, len(images), batch_size))
    return float(correct) / len(images)


# a sweep has learned something where its best mean final loss is this fraction of chance or less
LEARNED_FRACTION = 0.95


def learned(loss: float, chance_loss: float) -> bool:
    """Whether a final ``loss`` shows learning: below ``LEARNED_FRACTION * chance_loss``."""
    return loss < LEARNED_FRACTION * chance_loss


def grid_extension(grid: Sequence[float],
                   scores: Dict[float, float],
                   factor: float,
                   chance_loss: Optional[float] = None) -> Optional[float]:
    """The lr a sweep adds to its sorted ``grid`` given each lr's ``scores`` (final loss, lower is
    better, ``inf`` for a diverged run), or ``None`` once the best lr is interior (a tried lr on
    each side) and has learned something (its score below ``LEARNED_FRACTION * chance_loss``;
    always, without ``chance_loss``). The best at the largest lr extends the grid up (``x
    factor``); otherwise it extends down (``/ factor``): the best at the smallest lr, every lr
    diverged, or no lr learned anything, where an interior minimum among chance-level losses says
    nothing about the lr that trains (on the pairs task at depth 100 a Gaussian tanh net ended at
    chance for 3.16e-3 to 3.16e-2 and trained to 0.04 at 1e-3)."""
    finite = [lr for lr in grid if math.isfinite(scores[lr])]
    best = min(finite, key=scores.get) if finite else None
    has_learned = best is not None and (chance_loss is None or learned(scores[best], chance_loss))
    if has_learned and grid[0] < best < grid[-1]:
        return None
    if has_learned and best == grid[-1]:
        return best * factor
    return grid[0] / factor


def sweep_and_train(make_model: Callable[[int], nn.Module],
                    data: Data,
                    lrs: Sequence[float],
                    sweep_steps: Optional[int],
                    steps: int,
                    sweep_seeds: Optional[Sequence[int]] = None,
                    max_extensions: int = 3,
                    factor: float = 10.0,
                    chance_loss: Optional[float] = None,
                    **train_kwargs) -> Dict:
    """Choose the learning rate by a sweep on seeds other than the reported one, then train.

    ``make_model(seed)`` builds a fresh model seeded by ``seed`` (the same init for every lr).
    Every lr trains ``make_model(s)`` for ``sweep_steps`` (None: ``steps``, the whole budget) on
    each of ``sweep_seeds`` (default: ``seed + 1000`` and ``seed + 2000``, other inits and batches
    than the reported run's); its score is the mean over those seeds of the last 10 steps' loss
    (``inf`` if any diverged). A sweep shorter than the budget can mislead: on the pairs task a
    depth-100 Delta-Orthogonal tanh net led at lr 1e-2 after 60 steps and trained only at 1e-3.
    While the best lr is the smallest or the largest of the grid, the grid extends by ``factor``
    (default 10; the ISONet ablation's sqrt(10)) that way (at most ``max_extensions`` times), so
    the choice is interior: a tried lr on each side; with ``chance_loss``, also downward while no
    lr has learned anything (:func:`grid_extension`). The lr with the best score trains
    ``make_model(seed)`` for ``steps``. If that run diverges (non-finite loss) or :func:`blew_up`,
    the next best lr is tried; if every one does, the finite run with the lowest final loss is
    kept, marked ``unstable`` (if none is finite, the smallest lr's run, ``diverged``). Returns
    the run's ``losses``, ``accuracies``, ``body_change``, ``diverged``, ``unstable``, ``lr``,
    ``sweep`` (lr -> score), ``interior``, ``tried`` (lrs in the order tried) and the trained
    ``model``.
    """
    seed = train_kwargs.pop('seed', 0)
    sweep_steps = steps if sweep_steps is None else sweep_steps
    sweep_seeds = tuple(sweep_seeds) if sweep_seeds is not None else (seed + 1000, seed + 2000)
    kwargs = {
        k: v
        for k, v in train_kwargs.items() if k not in ('track_every', 'eval_data', 'eval_every')
    }
    sweep: Dict[float, float] = {}
    grid = sorted(set(lrs))
    for extension in range(max_extensions + 1):
        for lr in grid:
            if lr not in sweep:
                scores = [
                    train_classifier(make_model(s), data, lr, sweep_steps, seed=s, **kwargs)
                    for s in sweep_seeds
                ]
                mean = sum(tail_mean(r['losses']) for r in scores) / len(scores)
                sweep[lr] = float('inf') if any(r['diverged'] for r in scores) else mean
        finite = [lr for lr in grid if math.isfinite(sweep[lr])]
        best = min(finite, key=sweep.get) if finite else None
        extend = grid_extension(grid, sweep, factor, chance_loss)
        if extend is None:
            break
        if extension < max_extensions:
            grid.append(extend)
            grid.sort()
    interior = best is not None and grid[0] < best < grid[-1]
    ranked = sorted(finite, key=sweep.get)
    tried, kept = [], []
    for lr in ranked:
        model = make_model(seed)
        run = dict(
            train_classifier(model, data, lr, steps, seed=seed, **train_kwargs), lr=lr, model=model)
        tried.append(lr)
        if not run['diverged']:
            run['unstable'] = blew_up(run['losses'])
            kept.append(run)
            if not run['unstable']:
                break
    if kept:
        run = min(kept, key=lambda r: (r['unstable'], tail_mean(r['losses'])))
    elif not tried:  # every sweep run diverged: train the smallest lr, to show its curve
        model = make_model(seed)
        run = dict(
            train_classifier(model, data, grid[0], steps, seed=seed, **train_kwargs),
            lr=grid[0],
            model=model)
    run.setdefault('unstable', run['diverged'])
    run.update(sweep=sweep, tried=tried, interior=interior)
    return run
