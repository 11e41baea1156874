"""tools/analysis/risonet_recipe.py: each variant changes only R-ISONet's gate (its initial value or
its learning rate), the test split is kept for tools/test.py, and the summary pairs seeds and
checks whether the variants' order still changes at the end of the budget."""
import importlib.util
import math
import os.path as osp

import pytest
import torch

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
TOOL = osp.join(ROOT, 'tools', 'analysis', 'risonet_recipe.py')


def load_tool():
    spec = importlib.util.spec_from_file_location('risonet_recipe', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.extras
def test_each_variant_changes_only_the_gate(tmp_path):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.optim import build_optim_wrapper
    register_all_modules()
    __import__('isonet_det')
    tool = load_tool()
    args = tool.parse_args(['--out-dir', str(tmp_path / 'out'), '--data', str(tmp_path / 'd')])
    assert args.epochs == 8 and args.seeds == [0, 1, 2, 3, 4] and args.mult == 0.2
    configs = {v: tool.run_config(v, 3, args) for v in tool.VARIANTS}
    reference = configs['reference']
    assert reference.val_evaluator.ann_file.endswith('instances_tune.json')
    assert reference.test_evaluator.ann_file.endswith('instances_val.json')
    assert reference.test_dataloader.dataset.data_prefix.img == 'val/'
    assert reference.val_dataloader.dataset.data_prefix.img == 'tune/'
    assert reference.train_cfg.val_interval == 1
    for variant, cfg in configs.items():
        init, gate_lr = tool.VARIANTS[variant]
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        model.init_weights()
        scales = [m.scale.item() for n, m in model.named_modules() if n.endswith('residual_scale')]
        assert scales == [pytest.approx(init, abs=1e-8)] * 8, variant
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        names = {id(p): n for n, p in model.named_parameters()}
        for group in wrapper.optimizer.param_groups:
            (param, ) = group['params']
            name = names[id(param)]
            if name.endswith('residual_scale.scale'):
                assert math.isclose(group['lr'], 0.04 * 0.2 * gate_lr), (variant, name)
            elif name.startswith('backbone.'):
                assert math.isclose(group['lr'], 0.04 * 0.2), (variant, name)
            else:
                assert math.isclose(group['lr'], 0.04), (variant, name)
        # nothing else differs from the reference
        assert {k: v
                for k, v in cfg.items() if k not in ('model', 'optim_wrapper')
                } == {k: v
                      for k, v in reference.items() if k not in ('model', 'optim_wrapper')}


def run(variant, seed, box, curve, gates=(0.0, )):
    return dict(
        variant=variant,
        seed=seed,
        bbox_mAP=box,
        segm_mAP=box + 0.1,
        diverged=False,
        gates=list(gates),
        tune_bbox_mAP=curve)


def test_summary_pairs_seeds_and_checks_the_order_at_the_end(tmp_path):
    tool = load_tool()
    args = tool.parse_args([
        '--out-dir',
        str(tmp_path / 'out'), '--epochs', '4', '--seeds', '0', '1', '2', '--variants', 'gate_1x'
    ])
    assert args.variants == ['reference', 'gate_1x']  # the reference is always run
    runs = [
        run('reference', s, 0.5 + 0.01 * s, [0.1, 0.3, 0.5, 0.6], (-0.05, 0.02)) for s in range(3)
    ]
    # gate_1x overtakes the reference between epochs 2 and 3: the order still changes
    runs += [run('gate_1x', s, 0.6 + 0.01 * s, [0.1, 0.2, 0.55, 0.7]) for s in range(3)]
    rows, held = tool.summarise(runs, args)
    gate = rows[1]
    assert gate['bbox_mAP_vs_reference']['pairs'] == 3
    assert math.isclose(gate['bbox_mAP_vs_reference']['mean'], 0.1)
    assert gate['bbox_mAP_vs_reference']['verdict'] == 'ahead'
    assert rows[0]['gates'] == dict(
        mean=pytest.approx(-0.015), min=-0.05, max=0.02, positive=3, count=6)
    assert rows[0]['tune_curve'] == pytest.approx([0.1, 0.3, 0.5, 0.6])
    # before the decay (epochs 2 and 3) the order changes; over the last two (3 and 4) it holds
    assert held['before_decay'] == dict(
        held=False, epochs=[2, 3], orders=[['reference', 'gate_1x'], ['gate_1x', 'reference']])
    assert held['last'] == dict(
        held=True, epochs=[3, 4], orders=[['gate_1x', 'reference'], ['gate_1x', 'reference']])
    text = tool.write_table(rows, held, args, 1.0)
    assert 'epochs 2 and 3 (before the decay)' in text and 'it still changes' in text
    assert 'epochs 3 and 4 (the last two evaluations)' in text and '+0.100' in text
