"""isonet_det.experiments.tuning: the lr grid grows until the choice is interior, and the paired
comparison's interval and words, the tuning seeds' checks."""
import argparse
import math
import threading
from unittest import mock

import pytest

from isonet_det.experiments import tuning


def peaked(best):
    """A fake training run whose score peaks at ``best`` (log scale), recording what it trained."""
    trained = []

    def train(key, lr):
        trained.append((key, lr))
        return dict(score=-abs(math.log2(lr / best[key])))

    return train, trained


def score(run):
    return (run['score'], )


def test_grid_extends_until_the_best_lr_is_interior():
    train, trained = peaked({'low': 0.0025, 'high': 0.16, 'mid': 0.02})
    grids = tuning.tune_lr_grids(['low', 'high', 'mid'], [0.01, 0.02, 0.04],
                                 train,
                                 score,
                                 jobs=2,
                                 max_extensions=3)
    assert sorted(grids['mid']) == [0.01, 0.02, 0.04]  # interior at once: nothing added
    assert sorted(grids['high']) == [0.01, 0.02, 0.04, 0.08, 0.16, 0.32]
    assert sorted(grids['low']) == [0.00125, 0.0025, 0.005, 0.01, 0.02, 0.04]
    for key, best in (('low', 0.0025), ('high', 0.16), ('mid', 0.02)):
        assert tuning.best_lr(grids[key], score) == best
        assert tuning.is_interior(grids[key], best)
    assert len(trained) == len(set(trained)) == 15  # every run once


def test_extensions_stop_at_the_limit_and_one_lr_is_not_extended():
    train, trained = peaked({'a': 1.0})
    grids = tuning.tune_lr_grids(['a'], [0.01, 0.02], train, score, max_extensions=2)
    assert sorted(grids['a']) == [0.01, 0.02, 0.04, 0.08]
    assert not tuning.is_interior(grids['a'], 0.08)  # reported as at the edge
    single = tuning.tune_lr_grids(['a'], [0.01], peaked({'a': 1.0})[0], score)
    assert list(single['a']) == [0.01] and tuning.is_interior(single['a'], 0.01)


def test_a_setting_over_seeds_runs_each_seed_as_a_job_of_its_own():
    """With ``seeds``, every (setting, seed) trains once, ``combine`` gets a setting's runs in
    seed order, and a round of one setting (a lone grid extension) runs its seeds at once."""
    best = {'a': 0.08}
    trained = []
    both_seeds = threading.Barrier(2, timeout=30)  # broken unless the two seeds run together

    def train(key, lr, seed):
        trained.append((key, lr, seed))
        if lr == 0.08:  # the extension: the round's only setting
            both_seeds.wait()
        return dict(seed=seed, score=-abs(math.log2(lr / best[key])) - seed / 1000)

    def combine(key, lr, runs):
        assert [r['seed'] for r in runs] == [100, 101]
        return dict(score=sum(r['score'] for r in runs) / len(runs), lr=lr)

    grids = tuning.tune_lr_grids(['a'], [0.01, 0.02, 0.04],
                                 train,
                                 score,
                                 jobs=2,
                                 max_extensions=2,
                                 seeds=[100, 101],
                                 combine=combine)
    assert sorted(grids['a']) == [0.01, 0.02, 0.04, 0.08, 0.16]
    assert tuning.best_lr(grids['a'], score) == 0.08 and not both_seeds.broken
    assert sorted(trained) == sorted(
        ('a', lr, seed) for lr in (0.01, 0.02, 0.04, 0.08, 0.16) for seed in (100, 101))
    assert grids['a'][0.08] == dict(score=pytest.approx(-0.1005), lr=0.08)
    with pytest.raises(ValueError, match='seeds and combine'):
        tuning.tune_lr_grids(['a'], [0.01], train, score, seeds=[100, 101])


def test_ties_go_to_the_smaller_lr():
    runs = {0.04: dict(score=1.0), 0.01: dict(score=1.0), 0.02: dict(score=0.0)}
    assert tuning.best_lr(runs, score) == 0.01


def test_paired_interval_is_the_t_interval_of_the_differences():
    diffs = [0.01, 0.03, -0.01, 0.02, 0.04]
    mean, low, high = tuning.paired_interval(diffs)
    sd = math.sqrt(sum((d - 0.018)**2 for d in diffs) / 4)
    half = 2.7764451051977987 * sd / math.sqrt(5)  # t_{0.975, 4}
    assert mean == pytest.approx(0.018, rel=1e-12)
    assert (low, high) == pytest.approx((0.018 - half, 0.018 + half), rel=1e-9)
    assert tuning.verdict(low, high) == 'not resolved'
    assert tuning.verdict(*tuning.paired_interval([0.05, 0.06, 0.04])[1:]) == 'ahead'
    assert tuning.verdict(*tuning.paired_interval([-0.05, -0.06, -0.04])[1:]) == 'behind'
    one = tuning.paired_interval([0.3])
    assert one[0] == 0.3 and tuning.verdict(*one[1:]) == 'one seed'


def test_compare_paired_uses_the_common_seeds_only():
    result = tuning.compare_paired({0: 0.5, 1: 0.6, 2: 0.7, 9: 5.0}, {0: 0.4, 1: 0.5, 2: 0.55})
    assert result['pairs'] == 3 and result['mean'] == pytest.approx(0.35 / 3)
    assert result['verdict'] == 'ahead'
    with pytest.raises(ValueError, match='no seed in common'):
        tuning.compare_paired({0: 0.5}, {1: 0.5})


def test_tuning_order_puts_diverged_runs_last_and_breaks_ties_by_loss():
    nan, inf = float('nan'), float('inf')
    assert tuning.score(0.3, 0.5) > tuning.score(0.2, 0.1)  # the held-out value first
    assert tuning.score(0.3, 0.4) > tuning.score(0.3, 0.5)  # then the lower loss
    assert tuning.score(0.0, inf) > tuning.score(nan, 0.1)  # a diverged run below any score
    assert tuning.score(0.3, nan) == tuning.score(0.3, inf)  # a non-finite loss is the worst


def test_order_held_compares_the_last_two_evaluations_and_the_two_before_the_decay():
    curves = {'a': [0.1, 0.5, 0.6, 0.7], 'b': [0.2, 0.4, 0.65, 0.75]}
    held = tuning.order_held(curves, 4)
    assert held['last'] == dict(held=True, epochs=[3, 4], orders=[['b', 'a'], ['b', 'a']])
    assert held['before_decay'] == dict(held=False, epochs=[2, 3], orders=[['a', 'b'], ['b', 'a']])
    # a curve that stopped early (a diverged run) or too few epochs: no verdict
    assert tuning.order_held({'a': [0.1, 0.2], 'b': [0.3]}, 2)['last']['held'] is None
    assert tuning.order_held(curves, 2)['before_decay'] == dict(held=None, epochs=[], orders=[])


def test_tune_seeds_two_at_least_and_never_a_reported_seed():
    parser = argparse.ArgumentParser()
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    tuning.add_tune_seeds_argument(parser)
    args = parser.parse_args([])
    tuning.check_tune_seeds(parser, args)  # the default passes
    assert args.tune_seeds == [100, 101]
    refused = [
        (['--tune-seeds', '100', '100'], True, 'at least 2 seeds'),
        (['--tune-seeds', '1', '100'], True, 'share [1]'),
        (['--tune-seeds', '1'], False, 'share [1]'),
    ]
    for argv, choosing, said in refused:
        args = parser.parse_args(argv)
        with pytest.raises(SystemExit), mock.patch.object(
                parser, 'error', side_effect=SystemExit) as error:
            tuning.check_tune_seeds(parser, args, choosing=choosing)
        assert said in error.call_args[0][0]
    # a run that makes no choice (settings read from a finished run) may name one seed
    tuning.check_tune_seeds(parser, parser.parse_args(['--tune-seeds', '100']), choosing=False)


def test_mean_final_loss_is_infinite_for_a_setting_with_a_diverged_or_silent_run():
    trained = [dict(loss=[2.0, 0.5]), dict(loss=[1.0, 0.25])]
    assert tuning.mean_final_loss(trained) == 0.375  # the last logged losses, averaged
    for bad in (dict(loss=[1.0, 0.1], diverged=True), dict(loss=[])):
        assert tuning.mean_final_loss(trained + [bad]) == math.inf
    # so the tie-break ranks it last at an equal score
    assert tuning.score(0.5, tuning.mean_final_loss(trained)) > tuning.score(
        0.5, tuning.mean_final_loss(trained + [dict(loss=[])]))
