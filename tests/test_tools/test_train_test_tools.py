"""tools/train.py, tools/test.py and tools/dist_train.sh as a user runs them (CPU)."""
import argparse
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from payloads import TouchPayload

from isonet_det.datasets import generate_shapes_dataset

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
DEMO = osp.join(ROOT, 'configs', 'demo', 'mask-rcnn_risonet18_fpn_shapes.py')
sys.path.insert(0, osp.join(ROOT, 'tools'))
import test as test_tool  # noqa: E402

import train as train_tool  # noqa: E402


@pytest.fixture(scope='module')
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp('data') / 'shapes'
    generate_shapes_dataset(str(root), num_train=8, num_val=4, image_size=128, seed=0)
    return str(root) + '/'


def data_options(root, epochs=1, evaluate=True):
    """--cfg-options pointing the demo config at ``root`` for ``epochs`` epochs."""
    splits = ('train_dataloader', 'val_dataloader', 'test_dataloader') if evaluate else \
        ('train_dataloader', )
    evaluators = [
        f'{k}.ann_file={root}annotations/instances_val.json'
        for k in ('val_evaluator', 'test_evaluator')
    ] if evaluate else []
    return [f'{k}.dataset.data_root={root}' for k in splits] + evaluators + [
        f'train_cfg.max_epochs={epochs}', f'train_cfg.val_interval={epochs}',
        'default_hooks.checkpoint.interval=1', 'train_dataloader.num_workers=0',
        'default_hooks.logger.interval=1'
    ] + [f'{k}.num_workers=0' for k in splits[1:]]


def run(args, **env):
    proc = subprocess.run(
        args, cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, **env), timeout=900)
    return proc


def python_tool(tool, *args):
    return run([sys.executable, osp.join(ROOT, 'tools', tool), *args])


def test_amp_keeps_the_regulariser_and_paramwise_settings():
    args = argparse.Namespace(
        config=osp.join(ROOT, 'configs/risonet/mask-rcnn_risonet50-pretrained_fpn_1x_coco.py'),
        launcher='none',
        cfg_options=None,
        work_dir=None,
        amp=True,
        auto_scale_lr=True,
        resume=None)
    cfg = train_tool.build_config(args)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys['srelu'] == dict(decay_mult=0.0)
    assert [h.type for h in cfg.custom_hooks] == ['IsometryRegularizerHook', 'PlainParamGroupsHook']
    assert cfg.auto_scale_lr.enable


def test_pretrained_backbone_from_the_command_line(tmp_path):
    args = argparse.Namespace(
        config=osp.join(ROOT,
                        'configs/risonet/faster-rcnn_risonet101-scratch_fpn_gn-all_6x_coco.py'),
        launcher='none',
        work_dir=None,
        amp=False,
        auto_scale_lr=False,
        resume=None,
        cfg_options={
            'model.backbone.init_cfg.type': 'Pretrained',
            'model.backbone.init_cfg.checkpoint': 'ckpt.pth'
        })
    cfg = train_tool.build_config(args)
    assert cfg.model.backbone.depth == 101
    assert cfg.model.backbone.init_cfg == dict(type='Pretrained', checkpoint='ckpt.pth')


def test_bad_inputs_are_named(tmp_path):
    with pytest.raises(SystemExit):
        train_tool.parse_args(['nope.py'])
    with pytest.raises(SystemExit):
        test_tool.parse_args([DEMO, str(tmp_path / 'missing.pth')])
    existing = tmp_path / 'results.pkl'
    existing.write_text('user data')
    ckpt = tmp_path / 'c.pth'
    ckpt.write_bytes(b'')
    with pytest.raises(SystemExit):
        test_tool.parse_args([DEMO, str(ckpt), '--out', str(existing)])
    assert existing.read_text() == 'user data'


def test_train_refuses_a_work_dir_that_holds_checkpoints(tmp_path):
    (tmp_path / 'epoch_1.pth').write_bytes(b'yours')
    with pytest.raises(SystemExit, match='already holds checkpoints.*--resume.*--overwrite'):
        train_tool.main([DEMO, '--work-dir', str(tmp_path)])
    assert (tmp_path / 'epoch_1.pth').read_bytes() == b'yours'


def test_trust_never_follows_last_checkpoint_out_of_the_work_dir(tmp_path):
    (tmp_path / 'work').mkdir()
    (tmp_path / 'work' / 'last_checkpoint').write_text(str(tmp_path / 'elsewhere.pth'))
    (tmp_path / 'elsewhere.pth').write_bytes(b'')
    with pytest.raises(SystemExit, match='outside the work dir'):
        train_tool.main(
            [DEMO, '--work-dir',
             str(tmp_path / 'work'), '--resume', '--trust-checkpoint'])


@pytest.mark.slow
def test_train_resume_test_and_refuse_malicious(tiny_data, tmp_path):
    work = str(tmp_path / 'work')
    train = python_tool('train.py', DEMO, '--work-dir', work, '--cfg-options',
                        *data_options(tiny_data, epochs=1))
    assert train.returncode == 0, train.stderr[-3000:]
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))
    log = open(
        next(osp.join(dp, f) for dp, _, fs in os.walk(work) for f in fs
             if f.endswith('.log'))).read()
    assert 'isometry_reg:' in log and 'isometry regulariser, coeff=0.0001' in log

    resume = python_tool('train.py', DEMO, '--work-dir', work, '--resume', '--cfg-options',
                         *data_options(tiny_data, epochs=2))
    assert resume.returncode == 0, resume.stderr[-3000:]
    assert 'resumed epoch: 1' in resume.stdout + resume.stderr
    assert osp.isfile(osp.join(work, 'epoch_2.pth'))

    out = str(tmp_path / 'preds.pkl')
    test = python_tool('test.py', DEMO, osp.join(work, 'epoch_2.pth'), '--work-dir',
                       str(tmp_path / 'test'), '--out', out, '--show-dir', 'vis', '--cfg-options',
                       *data_options(tiny_data))
    assert test.returncode == 0, test.stderr[-3000:]
    assert 'coco/bbox_mAP' in test.stdout + test.stderr
    assert 'coco/segm_mAP' in test.stdout + test.stderr
    assert osp.getsize(out) > 0
    drawn = [f for dp, _, fs in os.walk(tmp_path / 'test') for f in fs if f.endswith('.png')]
    assert drawn

    ckpt = torch.load(osp.join(work, 'epoch_2.pth'), weights_only=False)
    ckpt['meta']['note'] = TouchPayload(tmp_path / 'pwned')
    evil = str(tmp_path / 'evil.pth')
    torch.save(ckpt, evil)
    refused = python_tool('test.py', DEMO, evil, '--work-dir', str(tmp_path / 'evil'),
                          '--cfg-options', *data_options(tiny_data))
    assert refused.returncode != 0
    assert 'UntrustedCheckpointError' in refused.stderr and 'posix.system' in refused.stderr
    assert not osp.exists(tmp_path / 'pwned')


@pytest.mark.slow
def test_dist_train_two_cpu_processes(tiny_data, tmp_path):
    work = str(tmp_path / 'dist')
    config = tmp_path / 'dist_config.py'
    config.write_text(f"_base_ = '{DEMO}'\n"
                      "custom_imports = dict(imports=['isonet_det', 'rank_dump_hook'])\n"
                      "custom_hooks = [dict(type='IsometryRegularizerHook', coeff=1e-4),\n"
                      "                dict(type='RankStateDumpHook')]\n"
                      "val_cfg = None\nval_dataloader = None\nval_evaluator = None\n")
    proc = run([
        'bash',
        osp.join(ROOT, 'tools', 'dist_train.sh'),
        str(config), '2', '--work-dir', work, '--cfg-options',
        *data_options(tiny_data, epochs=1, evaluate=False)
    ],
               PYTHON=sys.executable,
               PORT='29731',
               PYTHONPATH=osp.dirname(osp.dirname(osp.abspath(__file__))))
    assert proc.returncode == 0, proc.stderr[-4000:]
    r0 = torch.load(osp.join(work, 'rank0_final.pth'))
    r1 = torch.load(osp.join(work, 'rank1_final.pth'))
    assert r0.keys() == r1.keys()
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k
    log = open(
        next(osp.join(dp, f) for dp, _, fs in os.walk(work) for f in fs
             if f.endswith('.log'))).read()
    assert 'isometry_reg:' in log and 'Distributed training: True' in log


@pytest.mark.slow
def test_compile_trains_the_demo_detector_with_the_regulariser(tmp_path):
    """mmengine's ``compile`` (train_step, the optimizer step included, through TorchDynamo and
    AOTAutograd: the aot_eager backend, which skips only the code generation) trains the demo
    Mask R-CNN with R-ISONet, SReLU's and the scaled sum's autograd functions and the hook."""
    root = tmp_path / 'data'
    generate_shapes_dataset(str(root), num_train=4, num_val=4, image_size=128, seed=0)
    work = str(tmp_path / 'compiled')
    proc = python_tool('train.py', DEMO, '--work-dir', work, '--cfg-options',
                       'compile.backend=aot_eager', 'val_cfg=None', 'val_dataloader=None',
                       'val_evaluator=None', *data_options(f'{root}/', evaluate=False))
    assert proc.returncode == 0, proc.stderr[-4000:]
    log = proc.stdout + proc.stderr
    assert 'Model has been "compiled"' in log
    assert 'isometry_reg' in log and 'loss:' in log
    assert osp.exists(osp.join(work, 'epoch_1.pth'))
