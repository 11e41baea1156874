"""COCO subsets by class names (isonet_det.datasets.coco_subset, tools/misc/coco_subset.py) and
the configs that train on them (configs/coco_subset/)."""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from mmengine.config import Config

from isonet_det.datasets import coco_subset, write_coco_subset

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
CATEGORIES = [
    dict(id=1, name='person'),
    dict(id=3, name='car'),
    dict(id=18, name='dog'),
    dict(id=44, name='bottle')
]


def tiny_coco(num_images=12):
    """Image i holds one instance of category CATEGORIES[i % 4]; image 11 only a crowd person."""
    images, anns = [], []
    for i in range(num_images):
        images.append(dict(id=100 + i, file_name=f'{i:06d}.jpg', height=32, width=40))
        cat = CATEGORIES[i % 4]['id']
        anns.append(
            dict(
                id=1000 + i,
                image_id=100 + i,
                category_id=cat,
                bbox=[2, 3, 10, 12],
                area=120.0,
                iscrowd=int(i == num_images - 1),
                segmentation=[[2, 3, 12, 3, 12, 15, 2, 15]]))
    anns.append(
        dict(
            id=5000,
            image_id=100,
            category_id=44,
            bbox=[20, 5, 8, 8],
            area=64.0,
            iscrowd=0,
            segmentation=[[20, 5, 28, 5, 28, 13, 20, 13]]))
    return dict(
        info=dict(description='tiny'),
        licenses=[],
        images=images,
        annotations=anns,
        categories=CATEGORIES)


def test_subset_keeps_only_the_classes_and_draws_by_seed():
    ann = tiny_coco()
    full = coco_subset(ann, ['dog', 'person'], None)
    # person: images 0, 4, 8 (11 is crowd only: not a candidate); dog: images 2, 6, 10
    assert [img['id'] for img in full['images']] == [100, 102, 104, 106, 108, 110]
    assert {a['category_id'] for a in full['annotations']} == {1, 18}
    assert [c['name'] for c in full['categories']] == ['dog', 'person']
    assert [c['id'] for c in full['categories']] == [18, 1] and full['info'] == ann['info']
    a = coco_subset(ann, ['dog', 'person'], 4, seed=0)
    assert a == coco_subset(ann, ['dog', 'person'], 4, seed=0)
    picked = [img['id'] for img in a['images']]
    assert len(picked) == 4 and picked == sorted(picked)  # original order kept
    assert {x['image_id'] for x in a['annotations']} <= set(picked)
    assert any(
        coco_subset(ann, ['dog', 'person'], 4, seed=s)['images'] != a['images']
        for s in range(1, 6))


def test_subset_errors_name_the_problem():
    ann = tiny_coco()
    with pytest.raises(ValueError, match=r"unknown class\(es\) \['cat'\].*'bottle'"):
        coco_subset(ann, ['cat'], 2)
    with pytest.raises(ValueError, match='asked for 7 images .* only 6 have any'):
        coco_subset(ann, ['dog', 'person'], 7)
    with pytest.raises(ValueError, match='duplicates'):
        coco_subset(ann, ['dog', 'dog'], 1)
    broken = tiny_coco()
    del broken['annotations'][3]['category_id']
    with pytest.raises(ValueError, match=r'annotations\[3\] has no category_id'):
        coco_subset(broken, ['dog'], 1)
    with pytest.raises(ValueError, match='"images" is missing'):
        coco_subset(dict(annotations=[], categories=[]), ['dog'], 1)


def test_write_never_overwrites_and_reports_bad_files(tmp_path):
    src = tmp_path / 'instances.json'
    src.write_text(json.dumps(tiny_coco()))
    out = tmp_path / 'sub' / 'subset.json'
    counts = write_coco_subset(str(src), str(out), ['car'], 2, seed=1)
    assert counts == dict(images=2, annotations=2, classes=1)
    before = out.read_text()
    with pytest.raises(FileExistsError, match='not overwritten'):
        write_coco_subset(str(src), str(out), ['dog'], 1)
    assert out.read_text() == before and sorted(p.name
                                                for p in out.parent.iterdir()) == ['subset.json']
    with pytest.raises(FileNotFoundError, match='not found'):
        write_coco_subset(str(tmp_path / 'missing.json'), str(tmp_path / 'o.json'), ['dog'], 1)
    bad = tmp_path / 'bad.json'
    bad.write_text('{"images": [')
    with pytest.raises(ValueError, match='not valid JSON'):
        write_coco_subset(str(bad), str(tmp_path / 'o.json'), ['dog'], 1)


def run_tool(*args):
    return subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'misc', 'coco_subset.py'), *args],
        capture_output=True,
        text=True,
        timeout=120)


def write_images(folder, ann):
    from PIL import Image
    folder.mkdir(parents=True, exist_ok=True)
    for img in ann['images']:
        Image.fromarray(np.zeros((img['height'], img['width'], 3),
                                 np.uint8)).save(folder / img['file_name'])


CONFIGS = sorted(
    osp.join(ROOT, 'configs', 'coco_subset', n)
    for n in ('faster-rcnn_risonet50-scratch_fpn_gn-all_6x_coco-subset-3cls.py',
              'faster-rcnn_risonet50-pretrained_fpn_1x_coco-subset-3cls.py',
              'faster-rcnn_r50-scratch_fpn_gn-all_6x_coco-subset-3cls.py',
              'faster-rcnn_r50_fpn_1x_coco-subset-3cls.py'))


@pytest.mark.parametrize('config', CONFIGS, ids=osp.basename)
def test_subset_configs_read_the_tool_output(tmp_path, config):
    """The subset written by the tool, in the layout the configs expect, loads through each
    config's train and val datasets with the configs' 3 classes; the detector has 3 classes and
    keeps its base config's recipe."""
    from mmdet.registry import DATASETS
    from mmdet.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(config)
    classes = list(cfg.subset_classes)
    assert len(classes) == 3 and cfg.model.roi_head.bbox_head.num_classes == 3
    cats = [dict(id=i + 1, name=n) for i, n in enumerate(classes + ['bottle'])]
    ann = dict(tiny_coco(), categories=cats)
    for a in ann['annotations']:
        a['category_id'] = min(a['category_id'], 4)
    root = tmp_path / 'coco'
    for split, ds in (('train2017', cfg.train_dataloader.dataset), ('val2017',
                                                                    cfg.val_dataloader.dataset)):
        src = tmp_path / f'instances_{split}.json'
        src.write_text(json.dumps(ann))
        write_images(root / split, ann)
        out = root / ds.ann_file
        run = run_tool(str(src), str(out), '--classes', *classes, '--num-images', '5')
        assert run.returncode == 0, run.stderr
        dataset = DATASETS.build(dict(ds, data_root=str(root)))
        assert list(dataset.metainfo['classes']) == classes and len(dataset) == 5
        infos = [dataset.get_data_info(i) for i in range(len(dataset))]
        assert all(inst['bbox_label'] in (0, 1, 2) for info in infos for inst in info['instances'])
    assert cfg.val_evaluator.ann_file.endswith(cfg.subset_val_ann)
    assert cfg.test_dataloader.dataset.ann_file == cfg.val_dataloader.dataset.ann_file
    base = Config.fromfile(
        cfg.filename.replace('coco_subset',
                             'risonet' if 'risonet' in config else 'baselines').replace(
                                 '_coco-subset-3cls', '_coco'))
    assert cfg.train_cfg == base.train_cfg and cfg.optim_wrapper == base.optim_wrapper
    assert cfg.model.backbone == base.model.backbone


def test_tool_refuses_to_overwrite(tmp_path):
    src = tmp_path / 'instances.json'
    src.write_text(json.dumps(tiny_coco()))
    out = tmp_path / 'subset.json'
    out.write_text('mine')
    run = run_tool(str(src), str(out), '--classes', 'dog')
    assert run.returncode == 2 and 'not overwritten' in run.stderr and out.read_text() == 'mine'
    run = run_tool(str(src), str(tmp_path / 'x.json'), '--classes', 'cat')
    assert run.returncode == 2 and "unknown class(es) ['cat']" in run.stderr
