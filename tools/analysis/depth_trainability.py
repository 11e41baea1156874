"""Which plain CNNs (no shortcut, no normalisation) learn at depth? The trainability experiments
of Xiao et al. (ICML 2018) and Qi et al. (ICML 2020) at small scale, with the baselines that would
score the same if a claim were false.

    python tools/analysis/depth_trainability.py [--quick] [--device cpu|cuda] [--task pairs]
        [--head flatten] [--padding circular] [--depths 10 30] [--deep-depth 100] [--steps 600]
        [--arms ...] [--out-dir DIR]

Arms (ARMS), every one on the same data, batches, budget and optimiser (SGD, momentum 0.9):
  do_tanh_critical      Delta-Orthogonal + tanh on the critical line chi_1 = 1 at sigma_b^2
                        (2.01e-5: sigma_w^2 = 1.05, Xiao et al.'s deep runs), biases
                        N(0, sigma_b^2), inputs scaled so the first pre-activation has variance q*
  gauss_tanh_critical   the same point with Gaussian kernels (Xiao et al.'s control). Both are on
                        the critical line, where mean field's depth scales are infinite for both:
                        what separates them is dynamical isometry, the spread of the input-output
                        Jacobian's singular values (reported per cell at init)
  do_tanh_ordered       Delta-Orthogonal + tanh at sigma_w^2 = 0.8 (ordered phase, chi_1 < 1)
  do_tanh_chaotic       Delta-Orthogonal + tanh at sigma_w^2 = 3.0 (chaotic phase, chi_1 > 1)
  kaiming_relu          Kaiming (He) init + ReLU
  isonet                Delta + SReLU + the isometry regulariser (--coeff)
  isonet_noreg          Delta + SReLU
  kaiming_relu_orth     Kaiming + ReLU + Xie et al.'s orthonormality regulariser (--coeff);
                        their backward error modulation is not implemented (see the docs)
  *_zeros               controls: the arm with zero padding (every other arm: --padding,
                        default circular, the periodic boundary of Xiao et al.'s theory)

Task (--task): 'pairs' (default; isonet_det.datasets.make_prototype_pairs, 8 x 8, 4 classes): the
label is (i + j) mod 4 of the prototypes in the two halves, which a linear classifier on the
pixels cannot learn; 'prototypes' (10 noisy prototypes), which it can. Head (--head): the
flattened body output ('flatten') or its global average ('gap').

Baselines beside every row: a linear classifier on the raw pixels (one line), and each arm with
its body frozen at init: a linear head on the frozen features STANDARDISED per feature (mean and
sd of the training set, applied to the held-out set), with its own lr sweep and the same budget
as the network, so that a body which keeps its inputs apart at a tiny scale is not failed by its
head; the features' input-dependent scale (mean over features of the sd across training inputs)
is reported beside it. How far each body moved: the relative Frobenius change of its conv
weights. The Jacobian of every cell's body at init (its depth, width and input): 10th-90th
percentile of the singular values (--no-jacobian-at-depth skips it).

Learning rate (isonet_det.experiments.trainability.sweep_and_train): per arm, depth and baseline,
runs of the whole budget (--sweep-steps: shorter) over --lrs (default 3.16e-3, 1e-2, 3.16e-2) on
two seeds other than the reported one; the lr with the lowest mean final loss trains the reported
seed; the grid extends by --lr-factor (sqrt(10)) while the choice is at its edge, and down while
no lr has learned anything (every mean final loss above 0.95 x the chance loss log(classes): a
minimum among chance-level losses says nothing about the lr that trains), at most
--max-extensions times (6); if the run diverges, or learns and then spikes without recovering,
the next best lr is taken. Every sweep loss is recorded.

Budget: --steps (600) for every run, sweeps included. Every reported run's loss curve is recorded
and drawn (curves.png: trained solid, frozen body dashed, pixels black); the table says which
curves are still falling at the end (the last 10% of steps more than 5% / 0.02 below the 10%
before: trainability.still_falling).

Depths: --depths for every arm (default 10 and 30) and --deep-depth (default 100) for --deep-arms
(the two critical tanh arms, Kaiming + ReLU, Delta + SReLU). Arms: DEFAULT_ARMS unless --arms.

Also: a phase map over (sigma_w^2, depth) for Delta-Orthogonal + tanh at sigma_b^2 on --map-task
(default 'prototypes', linearly separable): the trained network's final training accuracy and,
beside it, the held-out accuracy of a linear head on the standardised features of the body frozen
at init (same --map-steps, each at the lowest-final-loss lr of its own grid from --map-lrs,
extended as above) and those features' input-dependent sd, with Schoenholz et al.'s trainability
bound 6 xi_c; and input-output Jacobian spectra at init (--jacobian-depth) of every arm with its
padding, with the mean-field prediction of the mean squared singular value, chi_1^depth. The
tool prints numbers, not conclusions: "the ordered phase maps inputs together" would need the
standardised frozen readout at chance, which the map shows cell by cell.

--device cuda: every model, batch and Jacobian on the GPU (inits and batches are drawn on the
CPU, so both devices see the same ones; TF32 off). Needs torch, numpy and matplotlib (no scipy,
no mmdet). These nets are kernel-launch-bound on a GPU: a cell (its whole lr sweep) took 27-77 s
on one H200 at depths 10-30, so the default run needs at least about half an hour of it. On the
2-core CPU machine, one thread per process (docs/experiments/depth_trainability.md): a cell took
32-63 s at depth 10, 68-167 s at depth 30 and 561-1025 s at depth 100, the phase map 1494 s: the
default run is about 1.6 hours of one core, or the same split over processes with --arms /
--depths / --deep-depth / --map-depths subsets.

Writes into a new folder (never overwrites): results.json (every setting, curve and sweep),
table.md, curves.png, phase_map.png, jacobian_spectra.png; while it runs, results_partial.json
(every finished cell, phase-map cells included).
"""
import argparse
import math
import os
import os.path as osp
import sys
import time

import torch

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
from isonet_det.analysis import PlainCNN, jacobian_singular_values  # noqa: E402
from isonet_det.analysis.plain_cnn import PADDING_MODES  # noqa: E402
from isonet_det.experiments import reporting  # noqa: E402
from isonet_det.experiments import trainability as tr  # noqa: E402
from isonet_det.ops import isometry_penalty, orthonormality_penalty  # noqa: E402
from isonet_theory import mean_field as mf  # noqa: E402

# name -> PlainCNN scheme, sigma_w^2 ('critical', 'ordered', 'chaotic'; None: not a mean-field
# arm), regulariser, padding (None: --padding; the controls fix zero padding)
ARMS = {
    'do_tanh_critical': ('delta_orthogonal_tanh', 'critical', None, None),
    'gauss_tanh_critical': ('gaussian_tanh', 'critical', None, None),
    'gauss_tanh_critical_zeros': ('gaussian_tanh', 'critical', None, 'zeros'),
    'do_tanh_ordered': ('delta_orthogonal_tanh', 'ordered', None, None),
    'do_tanh_chaotic': ('delta_orthogonal_tanh', 'chaotic', None, None),
    'kaiming_relu': ('kaiming_relu', None, None, None),
    'kaiming_relu_zeros': ('kaiming_relu', None, None, 'zeros'),
    'isonet': ('delta_srelu', None, isometry_penalty, None),
    'isonet_noreg': ('delta_srelu', None, None, None),
    'kaiming_relu_orth': ('kaiming_relu', None, orthonormality_penalty, None),
}
# off the critical line the phase map speaks for the ordered and chaotic arms; Xie et al.'s
# regulariser without their error modulation is not the papers' claim: both by --arms
DEFAULT_ARMS = [
    'do_tanh_critical', 'gauss_tanh_critical', 'gauss_tanh_critical_zeros', 'kaiming_relu',
    'kaiming_relu_zeros', 'isonet', 'isonet_noreg'
]


def mean_field_point(sigma_w2, args):
    """``(sigma_w, sigma_b, q*)`` for an arm's sigma_w^2 entry."""
    sigma_b = math.sqrt(args.sigma_b2)
    if sigma_w2 == 'critical':
        sigma_w, q_star = mf.critical_sigma_w(sigma_b)
        return sigma_w, sigma_b, q_star
    sigma_w = math.sqrt(
        getattr(args, f'{sigma_w2}_sigma_w2') if isinstance(sigma_w2, str) else sigma_w2)
    return sigma_w, sigma_b, mf.fixed_point_q(sigma_w, sigma_b)


def padding_of(arm, args):
    return ARMS[arm][3] or args.padding


def build(arm, depth, width, images, args, seed, sigma_w2=None, num_classes=None):
    """A PlainCNN of ``arm`` (or Delta-Orthogonal + tanh at ``sigma_w2``), seeded by ``seed``,
    inputs at q* (over ``images``), on ``args.device``: built on the CPU and moved, so that the
    init is the same on every device."""
    return _build(arm, depth, width, images.cpu(), args, seed, sigma_w2,
                  num_classes).to(args.device)


def _build(arm, depth, width, images, args, seed, sigma_w2=None, num_classes=None):
    scheme, point, _, _ = ARMS[arm]
    point = sigma_w2 if sigma_w2 is not None else point
    torch.manual_seed(seed)
    kwargs = dict(
        flatten_size=images.shape[-1] if args.head == 'flatten' else None,
        padding_mode=padding_of(arm, args))
    num_classes = num_classes or tr.TASKS[args.task][1]
    if point is None:
        return PlainCNN(depth, width, num_classes, scheme, **kwargs)
    sigma_w, sigma_b, q_star = mean_field_point(point, args)
    model = PlainCNN(depth, width, num_classes, scheme, sigma_w=sigma_w, sigma_b=sigma_b, **kwargs)
    model.set_input_variance(images[:512], q_star)
    return model


def summarise(run, model, test):
    """The run's final loss / accuracy (mean of the last 10 steps), held-out accuracy, body
    movement, whether its curve still falls (:func:`tr.still_falling`), without the model."""
    result = {k: v for k, v in run.items() if k != 'model'}
    result['sweep'] = {str(k): v for k, v in run['sweep'].items()}
    result.update(tr.final_scores(run, model, test))
    result['still_falling'] = tr.still_falling(run['losses'])
    return result


def sweep_kwargs(args):
    """The lr protocol every arm and baseline shares: the grid's factor and extensions, down too
    while no lr beats the task's chance loss (``log(classes)``)."""
    return dict(
        factor=args.lr_factor,
        max_extensions=args.max_extensions,
        chance_loss=math.log(tr.TASKS[args.task][1]))


def spectrum_summary(s):
    """Singular values ``s`` summarised: ``mean_sq``, ``min``, ``p10``, ``median``, ``p90``,
    ``max``, ``fraction_near_one`` (in [0.9, 1.1]) and ``p90_over_p10`` (the spread; 1 for an
    isometry)."""
    s = s.detach().cpu().double().sort().values
    q = torch.quantile(s, torch.tensor([0.1, 0.5, 0.9], dtype=s.dtype))
    return dict(
        mean_sq=(s**2).mean().item(),
        min=s[0].item(),
        p10=q[0].item(),
        median=q[1].item(),
        p90=q[2].item(),
        max=s[-1].item(),
        fraction_near_one=((s > 0.9) & (s < 1.1)).double().mean().item(),
        p90_over_p10=(q[2] / q[0]).item() if q[0] > 0 else math.inf)


def body_jacobian(arm, depth, data, args):
    """The spread of the body's Jacobian singular values (:func:`spectrum_summary`) at the arm's
    reported init (seed ``args.seed``) at ``depth``, its width and input size (the first training
    image, at the arm's scale)."""
    model = build(arm, depth, args.width, data[0], args, args.seed).double()
    with torch.no_grad():
        x = model.stem_act(model.stem(data[0][:1].double()))[0]
    return spectrum_summary(jacobian_singular_values(model.body, x, vectorize=True))


def run_arm(arm, depth, data, test, args):
    """The arm trained (lr by sweep) and its frozen-body baseline (only the head trains, on the
    standardised frozen features, its own lr sweep and the same budget)."""
    _, sigma_w2, regulariser, _ = ARMS[arm]

    def make(seed):
        return build(arm, depth, args.width, data[0], args, seed)

    common = dict(batch_size=args.batch_size, weight_decay=args.weight_decay, seed=args.seed)
    run = tr.sweep_and_train(
        make,
        data,
        args.lrs,
        args.sweep_steps,
        args.steps,
        regulariser=regulariser,
        coeff=args.coeff,
        **sweep_kwargs(args),
        **common)
    result = dict(
        arm=arm, depth=depth, padding=padding_of(arm, args), **summarise(run, run['model'], test))
    if args.frozen_baseline:  # the same protocol, on features computed once per seed
        frozen_make, indexed, held_out = tr.frozen_body_task(make, data, test, standardize=True)
        frozen = tr.sweep_and_train(frozen_make, indexed, args.lrs, args.sweep_steps, args.steps,
                                    **sweep_kwargs(args), **common)
        result['frozen_body'] = {
            k: v
            for k, v in summarise(frozen, frozen['model'], held_out).items()
            if k not in ('accuracies', 'body_change')
        }
        result['frozen_body']['feature_sd'] = frozen['model'].feature_sd
    if args.jacobian_at_depth:
        result['jacobian'] = body_jacobian(arm, depth, data, args)
    if sigma_w2 is not None:
        sigma_w, sigma_b, q_star = mean_field_point(sigma_w2, args)
        result.update(sigma_w2=sigma_w**2, sigma_b2=sigma_b**2, q_star=q_star)
    return result


def linear_probe(data, test, args):
    """The raw-input baseline: a linear classifier on the pixels, the same protocol."""

    def make(seed):
        return tr.linear_probe_factory(data[0], tr.TASKS[args.task][1])(seed).to(args.device)

    run = tr.sweep_and_train(
        make,
        data,
        args.lrs,
        args.sweep_steps,
        args.steps,
        batch_size=args.batch_size,
        weight_decay=args.weight_decay,
        seed=args.seed,
        **sweep_kwargs(args))
    return summarise(run, run['model'], test)


def best_of_grid(train, lrs, args, chance_loss=None):
    """``train(lr) -> (final loss, record)`` over the x ``args.lr_factor`` grid ``lrs``, extended
    that way while the lowest final loss is at an edge, or down while no lr beats
    ``chance_loss`` (:func:`isonet_det.experiments.trainability.grid_extension`; at most
    ``args.max_extensions`` times); returns the lowest-loss ``record`` with ``lr`` and ``interior``
    added (``None`` if every lr diverged)."""
    tried = {}
    grid = sorted(set(lrs))
    for extension in range(args.max_extensions + 1):
        for lr in grid:
            if lr not in tried:
                tried[lr] = train(lr)
        losses = {lr: tried[lr][0] for lr in grid}
        extend = tr.grid_extension(grid, losses, args.lr_factor, chance_loss)
        if extend is None or extension == args.max_extensions:
            break
        grid.append(extend)
        grid.sort()
    finite = [lr for lr in grid if math.isfinite(tried[lr][0])]
    if not finite:
        return None
    best = min(finite, key=lambda lr: tried[lr][0])
    return dict(tried[best][1], lr=best, interior=grid[0] < best < grid[-1])


def phase_map(args, on_cell=None):
    """Delta-Orthogonal + tanh over (sigma_w^2, depth) on --map-task: the network trained for
    --map-steps (final training accuracy, held-out accuracy), and its body frozen at init with a
    linear head on the standardised frozen features (same steps; held-out accuracy and the
    features' input-dependent scale), each at the lowest-final-loss lr of its own grid (x
    --lr-factor, extended at an edge, and downward while nothing learns); a linear classifier on
    the pixels likewise (``cells, probe``). ``on_cell(cells)`` is called after every finished
    cell."""
    make, num_classes = tr.TASKS[args.map_task]
    cpu_data = make(args.num_train, args.size, args.noise, args.seed, 'train')
    cpu_test = make(args.num_test, args.size, args.noise, args.seed, 'test')
    data = tuple(t.to(args.device) for t in cpu_data)
    test = tuple(t.to(args.device) for t in cpu_test)
    sigma_b = math.sqrt(args.sigma_b2)

    def best(make_model, train_data, held_out):

        def train(lr):
            model = make_model(args.seed)
            run = tr.train_classifier(
                model, train_data, lr, args.map_steps, batch_size=args.batch_size, seed=args.seed)
            if run['diverged']:
                return math.inf, {}
            return tr.tail_mean(run['losses']), dict(
                final_loss=tr.tail_mean(run['losses']),
                final_accuracy=tr.tail_mean(run['accuracies']),
                test_accuracy=tr.accuracy(model, held_out),
                still_falling=tr.still_falling(run['losses']),
                feature_sd=getattr(model, 'feature_sd', None))

        return best_of_grid(train, args.map_lrs, args, math.log(num_classes)) or dict(
            final_loss=math.nan, final_accuracy=math.nan, test_accuracy=math.nan, lr=None)

    cells = []
    for sigma_w2 in args.map_sigma_w2:
        xi_c = mf.depth_scales(math.sqrt(sigma_w2), sigma_b)[1]
        for depth in args.map_depths:

            def make_model(seed, depth=depth, sigma_w2=sigma_w2):
                return build('do_tanh_critical', depth, args.width, cpu_data[0], args, seed,
                             sigma_w2, num_classes)

            frozen_make, indexed, held_out = tr.frozen_body_task(
                make_model, data, test, standardize=True)
            trained = best(make_model, data, test)
            frozen = best(frozen_make, indexed, held_out)
            cells.append(
                dict(
                    sigma_w2=sigma_w2,
                    depth=depth,
                    xi_c=xi_c,
                    final_accuracy=trained['final_accuracy'],
                    trained=trained,
                    frozen_accuracy=frozen['test_accuracy'],
                    frozen=frozen))
            if on_cell is not None:
                on_cell(cells)
    probe = best(
        lambda seed: tr.linear_probe_factory(cpu_data[0], num_classes)(seed).to(args.device), data,
        test)
    return cells, probe['test_accuracy']


def jacobian_spectra(args):
    """Singular values of d body / d input at init (one 4 x 4 input at the arm's scale), and the
    mean-field ``chi_1^depth`` (the mean squared singular value it predicts)."""
    size = 4
    images, _ = tr.TASKS[args.task][0](256, size, args.noise, args.seed, 'train')
    spectra = {}
    for arm in args.arms:
        sigma_w2 = ARMS[arm][1]
        model = build(arm, args.jacobian_depth, args.jacobian_width, images, args,
                      args.seed).double()
        with torch.no_grad():
            x = model.stem_act(model.stem(images[:1].double().to(args.device)))[0]
        s = jacobian_singular_values(model.body, x, vectorize=True).cpu()
        entry = dict(
            padding=padding_of(arm, args), singular_values=s.tolist(), **spectrum_summary(s))
        if sigma_w2 is not None:
            sigma_w, sigma_b, q_star = mean_field_point(sigma_w2, args)
            entry['mean_field_mean_sq'] = mf.chi_1(
                sigma_w, sigma_b, q_star=q_star)**args.jacobian_depth
        spectra[arm] = entry
    return spectra


def all_depths(args):
    return args.depths + ([args.deep_depth] if args.deep_depth and args.deep_arms else [])


def cell(r):
    """``loss / train acc / held-out acc (lr, body change; frozen-body held-out acc, its
    features' sd; Jacobian p10-p90)`` and the marks."""
    if r['diverged']:
        return 'div'
    marks = (' †' if r['unstable'] else '') + ('' if r['interior'] else ' ‡')
    marks += ' ↓' if r.get('still_falling') else ''
    frozen = r.get('frozen_body')
    if frozen is not None:
        frozen_marks = ('' if frozen['interior'] else ' ‡') + (' ↓'
                                                               if frozen['still_falling'] else '')
        frozen = (f'; frozen {frozen["test_accuracy"]:.2f}, lr {frozen["lr"]:.3g}, sd '
                  f'{frozen["feature_sd"]:.2g}{frozen_marks}')
    jac = r.get('jacobian')
    jac = '' if jac is None else f'; J {jac["p10"]:.2g}-{jac["p90"]:.2g}'
    return (f'{r["final_loss"]:.3f} / {r["final_accuracy"]:.2f} / {r["test_accuracy"]:.2f} '
            f'(lr {r["lr"]:.3g}, Δ {r["body_change"]:.2g}{frozen or ""}{jac}){marks}')


def arm_table(results, probe, args):
    """The arms' table (a row per arm, a column per depth), its legend and budget line."""
    num_classes = tr.TASKS[args.task][1]
    reported = [r for r in results if not r['diverged']]
    falling = [f'{r["arm"]} at depth {r["depth"]}' for r in reported if r['still_falling']]
    falling += [
        f'{r["arm"]} at depth {r["depth"]} (frozen body)' for r in reported
        if r.get('frozen_body', {}).get('still_falling')
    ]
    budget = (
        f'Budget: {args.steps} steps (batch {args.batch_size}) for every run, the sweeps '
        f'included ({args.sweep_steps or args.steps} steps); learning curves in curves.png. ' +
        (f'NOT FLATTENED (↓, {len(falling)} run(s): the mean loss of the last 10% of steps more '
         f'than 5% / 0.02 below that of the 10% before): {", ".join(falling)}; a longer --steps '
         'may change these cells.'
         if falling else 'Every reported curve has flattened (the last 10% of steps '
         'within 5% / 0.02 of the 10% before).'))
    lines = [
        f'Task {args.task!r} ({num_classes} classes), head {args.head!r}, padding '
        f'{args.padding!r} (the *_zeros controls: zeros), device {args.device}. Per cell: final '
        f'training loss / training accuracy (mean of the last 10 steps; chance loss '
        f'{math.log(num_classes):.3f}, accuracy {1 / num_classes:.2f}) / held-out accuracy (lr '
        f'chosen by a sweep on two other seeds over a grid x{args.lr_factor:.3g} apart, extended '
        'at an edge; Δ = relative Frobenius change of the body convs; frozen = held-out accuracy '
        'of a linear head on the standardised features of the body frozen at init (per-feature '
        'mean / sd of the training set), its own lr sweep, the same budget, and sd = the mean '
        'over features of their sd across training inputs before standardising, the '
        'input-dependent scale the body passes on; J = 10th-90th percentile of the singular '
        'values of the body\'s input-output Jacobian at init: near 1-1 is dynamical isometry). '
        '"div" = every lr diverged, "†" = every lr spiked (blew_up), "‡" = the chosen lr is at '
        'the edge of the extended grid, "↓" = the loss curve is still falling at the end.', '',
        budget, '', f'Linear classifier on the raw pixels (same protocol): held-out accuracy '
        f'{probe["test_accuracy"]:.2f}, training accuracy {probe["final_accuracy"]:.2f} (lr '
        f'{probe["lr"]:.3g}).' if probe else '', '',
        '| arm | ' + ' | '.join(f'depth {d}' for d in all_depths(args)) + ' |',
        '|---|' + '---|' * len(all_depths(args))
    ]
    for arm in args.arms:
        row = []
        for d in all_depths(args):
            r = next((r for r in results if r['arm'] == arm and r['depth'] == d), None)
            row.append('-' if r is None else cell(r))
        lines.append(f'| {arm} | ' + ' | '.join(row) + ' |')
    critical = [r for r in results if ARMS[r['arm']][1] == 'critical']
    if critical:
        r = critical[0]
        lines += [
            '', f'The critical tanh arms (sigma_w^2 = {r["sigma_w2"]:.4g}, sigma_b^2 = '
            f'{r["sigma_b2"]:.3g}, chi_1 = 1) sit on the critical line for Delta-Orthogonal and '
            'Gaussian kernels alike: mean field gives both the same, infinite, depth scales, so '
            'depth alone does not separate them. Xiao et al.\'s claim is about dynamical '
            'isometry, the spread of the input-output Jacobian\'s singular values (J above; it '
            'grows far faster with depth for Gaussian kernels than for orthogonal ones) and the '
            'speed of training it allows. One seed per cell: a difference between the two rows is '
            'a measurement of this grid and budget, not a reversal of the claim.'
        ]
    return lines


def write_table(results, probe, cells, map_probe, spectra, args, seconds):
    lines = arm_table(results, probe, args) if results else []
    if cells:
        map_lrs = ', '.join(f'{lr:.3g}' for lr in args.map_lrs)
        lines += [
            '', f'Phase map (Delta-Orthogonal + tanh, sigma_b^2 = {args.sigma_b2:g}, task '
            f'{args.map_task!r}, {args.map_steps} steps, each run at the lowest-final-loss lr of '
            f'its own grid from {map_lrs}, x{args.lr_factor:.3g} apart and extended at an '
            'edge, and downward while no lr learns): final training accuracy of the trained '
            'network (in parentheses: held-out accuracy of a linear head on the standardised '
            'features of the body frozen at init, same steps, and those features\' '
            'input-dependent sd); * = depth <= 6 xi_c; ∅ = no lr of the trained network\'s grid '
            f'took its loss below {tr.LEARNED_FRACTION:g} x chance. A '
            'frozen body whose standardised readout scores as well as the trained network keeps '
            'its inputs apart: there the cell measures propagation, not learning. Linear '
            f'classifier on the pixels, same budget: held-out {map_probe:.2f}.', '',
            '| sigma_w^2 | 6 xi_c | ' + ' | '.join(f'{d}' for d in args.map_depths) + ' |',
            '|---|---|' + '---|' * len(args.map_depths)
        ]
        chance = math.log(tr.TASKS[args.map_task][1])
        for sigma_w2 in args.map_sigma_w2:
            row = [c for c in cells if c['sigma_w2'] == sigma_w2]
            lines.append(f'| {sigma_w2:g} | {6 * row[0]["xi_c"]:.0f} | ' + ' | '.join(
                f'{c["final_accuracy"]:.2f} ({c["frozen_accuracy"]:.2f}, sd '
                f'{c["frozen"].get("feature_sd") or math.nan:.1g})'
                f'{"*" if c["depth"] <= 6 * c["xi_c"] else ""}'
                f'{"" if tr.learned(c["trained"]["final_loss"], chance) else " ∅"}'
                for c in row) + ' |')
    if spectra:
        lines += [
            '', f'Jacobian singular values at init (depth {args.jacobian_depth}, width '
            f'{args.jacobian_width}, 4 x 4 input)', '',
            '| arm | padding | mean s^2 | mean-field chi_1^L | min s | max s | in [0.9, 1.1] |',
            '|---|---|---|---|---|---|---|'
        ]
        for arm, e in spectra.items():
            s = e['singular_values']
            mf = e.get('mean_field_mean_sq')
            lines.append(f'| {arm} | {e["padding"]} | {e["mean_sq"]:.3g} | '
                         f'{"-" if mf is None else f"{mf:.3g}"} | {min(s):.3g} | {max(s):.3g} | '
                         f'{100 * e["fraction_near_one"]:.0f}% |')
    return reporting.write_table(args.out_dir, lines, seconds)


def smooth(values, window):
    """Running mean over ``window`` steps (the first ones over what there is)."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v - (values[i - window] if i >= window else 0.0)
        out.append(total / min(i + 1, window))
    return out


def plot_curves(results, probe, args, plt):
    """curves.png: training loss and accuracy per step, a column per depth (trained solid, frozen
    body dashed, pixels black)."""
    fig, axes = plt.subplots(
        2, max(1, len(all_depths(args))), figsize=(4.2 * len(all_depths(args)), 6.4), squeeze=False)
    window = max(1, args.steps // 30)
    for col, depth in enumerate(all_depths(args)):
        for i, r in enumerate(x for x in results if x['depth'] == depth):
            color = f'C{i % 10}'
            label = f'{r["arm"]} (lr {r["lr"]:.3g})'
            axes[0][col].plot(smooth(r['losses'], window), label=label, lw=1.2, color=color)
            axes[1][col].plot(smooth(r['accuracies'], window), label=label, lw=1.2, color=color)
            frozen = r.get('frozen_body')
            if frozen is not None and frozen.get('losses'):
                axes[0][col].plot(
                    smooth(frozen['losses'], window), lw=0.7, ls='--', color=color, alpha=0.7)
        if probe:
            axes[0][col].plot(
                smooth(probe['losses'], window), lw=0.7, color='k', alpha=0.6, label='pixels')
        axes[0][col].axhline(math.log(tr.TASKS[args.task][1]), color='k', lw=0.7, ls=':')
        axes[0][col].set(
            title=f'depth {depth} (dashed: frozen body, standardised)',
            ylabel='training loss',
            ylim=(0, 3))
        axes[1][col].set(
            xlabel=f'step (running mean over {window})', ylabel='training accuracy', ylim=(0, 1))
        axes[0][col].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(osp.join(args.out_dir, 'curves.png'), dpi=110)
    plt.close(fig)


def plot(results, probe, cells, spectra, args):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    if results:  # a phase-map-only run (no --depths, --deep-depth 0) has no curves
        plot_curves(results, probe, args, plt)
    if cells:
        import numpy as np
        grid = np.array([[c['final_accuracy'] for c in cells if c['sigma_w2'] == s]
                         for s in args.map_sigma_w2]).T
        fig, ax = plt.subplots(figsize=(6, 4))
        xs, ys = np.array(args.map_sigma_w2), np.array(args.map_depths)
        mesh = ax.pcolormesh(np.arange(len(xs) + 1), np.arange(len(ys) + 1), grid, vmin=0, vmax=1)
        fig.colorbar(mesh, label='final training accuracy')
        line = [min(6 * c['xi_c'], 1e9) for c in cells if c['depth'] == args.map_depths[0]]
        # 6 xi_c on the cell axes: interpolate log depth between the rows
        pos = np.interp(np.log(np.maximum(line, 1e-9)), np.log(ys), np.arange(len(ys)) + 0.5)
        ax.plot(np.arange(len(xs)) + 0.5, pos, 'w--', lw=1.5, label='6 xi_c')
        ax.set_xticks(np.arange(len(xs)) + 0.5, [f'{x:g}' for x in xs])
        ax.set_yticks(np.arange(len(ys)) + 0.5, [str(y) for y in ys])
        ax.set(
            xlabel='sigma_w^2',
            ylabel='depth',
            title=f'Delta-Orthogonal + tanh, sigma_b^2 = {args.sigma_b2:g}')
        ax.legend(loc='upper right', fontsize=8)
        fig.tight_layout()
        fig.savefig(osp.join(args.out_dir, 'phase_map.png'), dpi=110)
        plt.close(fig)
    if spectra:
        fig, ax = plt.subplots(figsize=(6, 4))
        for arm, e in spectra.items():
            s = sorted(e['singular_values'], reverse=True)
            ax.semilogy([max(v, 1e-30) for v in s], label=arm, lw=1.2)
        ax.set(
            xlabel='index',
            ylabel='singular value',
            title=f'Jacobian at init, depth {args.jacobian_depth}',
            ylim=(1e-12, 1e3))
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(osp.join(args.out_dir, 'jacobian_spectra.png'), dpi=110)
        plt.close(fig)


# the default lr grid: x sqrt(10) apart, around the lrs earlier runs chose (1e-3 and 1e-2)
LRS = [10**-2.5, 1e-2, 10**-1.5]
QUICK = dict(
    depths=[10],
    deep_depth=0,
    steps=60,
    map_depths=[10, 30],
    map_sigma_w2=[0.5, 1.05, 4.0],
    map_steps=20,
    jacobian_depth=50)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--task', choices=list(tr.TASKS), default='pairs')
    parser.add_argument(
        '--head',
        choices=['flatten', 'gap'],
        default='flatten',
        help='the head reads the flattened body output, or its global average')
    parser.add_argument(
        '--padding',
        choices=list(PADDING_MODES),
        default='circular',
        help='of every arm but the *_zeros controls')
    parser.add_argument(
        '--depths', type=int, nargs='*', default=[10, 30], help='every arm at these depths')
    parser.add_argument('--arms', nargs='+', default=DEFAULT_ARMS, choices=list(ARMS))
    parser.add_argument('--deep-depth', type=int, default=100, help='0: skip')
    parser.add_argument(
        '--deep-arms',
        nargs='*',
        default=['do_tanh_critical', 'gauss_tanh_critical', 'kaiming_relu', 'isonet_noreg'],
        choices=list(ARMS),
        help='the arms also run at --deep-depth (default: the two critical tanh arms, Xiao et '
        'al.\'s comparison, and Kaiming + ReLU against Delta + SReLU, Qi et al.\'s)')
    parser.add_argument(
        '--steps',
        type=int,
        default=600,
        help='the budget of every run (a depth-100 critical tanh net needs about 600 at lr 1e-3; '
        'the table says which curves have not flattened)')
    tr.add_lr_arguments(parser, LRS, math.sqrt(10))
    parser.add_argument(
        '--lr-factor',
        type=float,
        default=math.sqrt(10),
        help='the grid is extended by this factor at an edge (the initial --lrs should be as far '
        'apart)')
    parser.add_argument(
        '--max-extensions', type=int, default=6, help='at most this many extensions per grid')
    tr.add_device_argument(
        parser, 'every model, batch and Jacobian on this device (the batches and inits are drawn '
        'on the CPU, so they are the same on both)')
    parser.add_argument(
        '--no-jacobian-at-depth',
        dest='jacobian_at_depth',
        action='store_false',
        help='skip the Jacobian spread at init of every (arm, depth) cell')
    parser.add_argument(
        '--no-frozen-baseline',
        dest='frozen_baseline',
        action='store_false',
        help='skip the frozen-body runs')
    parser.add_argument('--sigma-b2', type=float, default=2.01e-5)
    parser.add_argument('--ordered-sigma-w2', type=float, default=0.8)
    parser.add_argument('--chaotic-sigma-w2', type=float, default=3.0)
    parser.add_argument('--width', type=int, default=16)
    parser.add_argument('--size', type=int, default=8)
    parser.add_argument('--noise', type=float, default=1.0)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--weight-decay', type=float, default=0.0)
    parser.add_argument('--coeff', type=float, default=1e-4, help='regulariser coefficient')
    parser.add_argument('--num-train', type=int, default=2048)
    parser.add_argument('--num-test', type=int, default=1024)
    parser.add_argument(
        '--map-task',
        choices=list(tr.TASKS),
        default='prototypes',
        help='the phase map measures signal propagation: a task a linear classifier solves')
    parser.add_argument('--map-depths', type=int, nargs='*', default=[10, 30, 100])
    parser.add_argument(
        '--map-sigma-w2', type=float, nargs='+', default=[0.5, 0.8, 0.9, 1.0, 1.05, 1.5, 2.0, 4.0])
    parser.add_argument(
        '--map-lrs',
        type=float,
        nargs='+',
        default=LRS,
        help='the initial grid of every phase-map run (trained and frozen), extended as --lrs')
    parser.add_argument('--map-steps', type=int, default=200)
    parser.add_argument('--jacobian-depth', type=int, default=200, help='0: skip')
    parser.add_argument('--jacobian-width', type=int, default=8)
    parser.add_argument('--seed', type=int, default=0)
    reporting.add_run_arguments(parser, 'depth_trainability', QUICK, 'a few minutes')
    args = parser.parse_args(argv)
    reporting.apply_quick(parser, args, QUICK)
    tr.check_device(parser, args.device)
    args.out_dir = reporting.new_run_dir(args.out_dir, 'depth_trainability')
    return args


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    torch.set_flush_denormal(True)  # vanishing signals make denormals, which are slow on CPU
    # full float32 on a GPU: TF32 convs (cuDNN's default) would round away the tiny
    # input-dependent part of an ordered-phase body's features that the frozen readout measures
    tr.full_float32(args.device)
    make = tr.TASKS[args.task][0]
    data = tuple(
        t.to(args.device) for t in make(args.num_train, args.size, args.noise, args.seed, 'train'))
    test = tuple(
        t.to(args.device) for t in make(args.num_test, args.size, args.noise, args.seed, 'test'))
    probe = linear_probe(data, test, args) if args.depths else None
    if probe:
        print(f'linear classifier on the pixels: held-out accuracy {probe["test_accuracy"]:.3f} '
              f'(lr {probe["lr"]:.3g})')
        print(f'{"depth":>6} {"arm":<26}{"lr":>8}{"final loss":>11}{"train acc":>10}'
              f'{"test acc":>9}{"frozen":>8}{"moved":>8}{"J p90/p10":>10}{"time (s)":>9}')
    results = []
    os.makedirs(args.out_dir, exist_ok=True)
    partial = osp.join(args.out_dir, 'results_partial.json')  # what a run cut short leaves
    runs = [(d, arm) for d in args.depths for arm in args.arms]
    runs += [(args.deep_depth, arm) for arm in args.deep_arms if args.deep_depth]
    for depth, arm in runs:
        t0 = time.perf_counter()
        r = run_arm(arm, depth, data, test, args)
        r['seconds'] = time.perf_counter() - t0
        results.append(r)
        frozen = r.get('frozen_body', {}).get('test_accuracy', float('nan'))
        spread = r.get('jacobian', {}).get('p90_over_p10', float('nan'))
        print(
            f'{depth:>6} {arm:<26}{r["lr"]:>8.3g}{r["final_loss"]:>11.4f}'
            f'{r["final_accuracy"]:>10.3f}{r["test_accuracy"]:>9.3f}{frozen:>8.3f}'
            f'{r["body_change"]:>8.3f}{spread:>10.3g}{r["seconds"]:>9.1f}'
            f'{"  diverged" if r["diverged"] else "  unstable" if r["unstable"] else ""}'
            f'{"  still falling" if r["still_falling"] else ""}',
            flush=True)
        reporting.write_json(partial, dict(vars(args), linear_probe=probe, results=results))

    def map_cell_done(cells):
        c = cells[-1]
        print(
            f'phase map: sigma_w^2 {c["sigma_w2"]:g} depth {c["depth"]}: trained '
            f'{c["final_accuracy"]:.3f} (lr {c["trained"]["lr"] or math.nan:.3g}), frozen '
            f'{c["frozen_accuracy"]:.3f} (lr {c["frozen"]["lr"] or math.nan:.3g})',
            flush=True)
        reporting.write_json(partial,
                             dict(vars(args), linear_probe=probe, results=results, phase_map=cells))

    cells, map_probe = phase_map(args, map_cell_done) if args.map_depths else ([], None)
    spectra = jacobian_spectra(args) if args.jacobian_depth > 0 else {}
    os.makedirs(args.out_dir, exist_ok=True)
    seconds = time.perf_counter() - start
    reporting.write_json(
        osp.join(args.out_dir, 'results.json'),
        dict(
            vars(args),
            linear_probe=probe,
            results=results,
            phase_map=cells,
            phase_map_linear_probe=map_probe,
            jacobian=spectra,
            seconds=seconds))
    if osp.exists(partial):
        os.remove(partial)
    plot(results, probe, cells, spectra, args)
    print(write_table(results, probe, cells, map_probe, spectra, args, seconds))
    print(f'wrote {args.out_dir}/{{results.json,table.md,curves.png,phase_map.png,'
          'jacobian_spectra.png}')


if __name__ == '__main__':
    main()
