import argparse
import math

import pytest

from isonet_det.experiments import reporting


def test_mean_sd_over_seeds():
    mean, sd = reporting.mean_sd([1.0, 2.0, 3.0, float('nan'), None])
    assert mean == 2.0 and sd == 1.0  # sample sd of the finite values
    assert reporting.format_mean_sd((mean, sd)) == '2.000 ± 1.000'
    one = reporting.mean_sd([0.5])
    assert one[0] == 0.5 and math.isnan(one[1])  # no spread from one seed
    assert reporting.format_mean_sd(one) == '0.500'
    none = reporting.mean_sd([float('nan')])
    assert reporting.format_mean_sd(none, empty='div') == 'div'


def test_quick_presets_and_new_run_dir(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    parser.add_argument('--steps', type=int, default=80)
    parser.add_argument('--seed', type=int, default=0)
    reporting.add_run_arguments(parser, 'tool', dict(steps=10, seed=0), 'seconds')
    args = parser.parse_args(['--quick', '--seed', '3'])
    reporting.apply_quick(parser, args, dict(steps=10, seed=0))
    assert args.steps == 10 and args.seed == 3  # what the user set stays
    assert args.out_dir is None
    fresh = reporting.new_run_dir(None, 'tool', root=str(tmp_path))
    assert fresh.startswith(str(tmp_path / 'work_dirs' / 'tool'))
    (tmp_path / 'mine.txt').write_text('x')
    with pytest.raises(SystemExit):
        parser.parse_args(['--out-dir', str(tmp_path)])
    assert str(tmp_path) in capsys.readouterr().err  # refused by name
    assert parser.parse_args(['--out-dir', str(tmp_path / 'new')]).out_dir == str(tmp_path / 'new')
    assert (tmp_path / 'mine.txt').read_text() == 'x'
    assert 'work_dirs/tool/<date_time>' in parser.format_help()
    out = tmp_path / 'run'
    out.mkdir()
    text = reporting.write_table(str(out), ['| a |'], 12.4)
    assert text.endswith('Run time 12 s.') and (out / 'table.md').read_text() == text + '\n'
