import pytest

from isonet_det.experiments import launch


def test_steady_s_per_iter_leaves_out_the_start_up_window():
    assert launch.steady_s_per_iter([5.0, 1.0, 2.0]) == pytest.approx(1.5)
    assert launch.steady_s_per_iter([5.0]) == 5.0  # one window: nothing to leave out


@pytest.mark.parametrize('log, empty', [(launch.EMPTY_RESULTS, True), ('Killed', False)])
def test_a_model_that_detected_nothing_scores_zero_and_other_missing_metrics_are_errors(
        tmp_path, monkeypatch, log, empty):
    """tools/test.py on a model with no detection in the whole split writes no COCO metric (mmdet
    logs that the results are empty): its mAPs are 0.0, marked; any other missing metric raises."""

    def fake_cli(arguments, log_path, jobs, name):
        (tmp_path / 'test' / '20261205_000000').mkdir(parents=True)
        (tmp_path / 'test' / '20261205_000000' /
         '20261205_000000.json').write_text('{"data_time": 0.004, "time": 0.11}\n')
        with open(log_path, 'w') as f:
            f.write(f'Evaluating bbox...\nERROR - coco_metric.py - {log}.\n')
        return {}

    monkeypatch.setattr(launch, '_run_cli', fake_cli)
    metrics = launch.test_in_subprocess('config.py', 'epoch_8.pth', str(tmp_path / 'test'))
    assert metrics['detected_nothing'] is empty
    if empty:
        assert launch.coco_mean_ap(metrics) == dict(
            bbox_mAP=0.0, segm_mAP=0.0, detected_nothing=True)
    else:
        with pytest.raises(KeyError, match='no bbox / segm mAP'):
            launch.coco_mean_ap(metrics)
    scored = {'coco/bbox_mAP': 0.5, 'coco/segm_mAP': 0.25, 'time': 0.1}
    assert launch.coco_mean_ap(scored) == dict(bbox_mAP=0.5, segm_mAP=0.25, detected_nothing=False)
    assert launch.coco_mean_ap(scored, ('bbox', )) == dict(bbox_mAP=0.5, detected_nothing=False)
