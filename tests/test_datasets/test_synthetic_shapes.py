import json
import os

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from isonet_det.datasets import CATEGORIES, generate_shapes_dataset


def test_coco_layout_boxes_and_masks_agree(tmp_path):
    out = tmp_path / 'shapes'
    assert generate_shapes_dataset(str(out), num_train=6, num_val=2, image_size=64, seed=3)
    coco = COCO(str(out / 'annotations' / 'instances_train.json'))
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == list(CATEGORIES)
    assert len(coco.getImgIds()) == 6 and len(coco.getAnnIds()) >= 6
    for ann in coco.loadAnns(coco.getAnnIds()):
        m = coco.annToMask(ann)
        ys, xs = np.nonzero(m)
        x, y, w, h = ann['bbox']
        assert xs.min() >= x - 1 and xs.max() <= x + w + 1 and ys.min() >= y - 1
        rle = mask_utils.frPyObjects(ann['segmentation'], 64, 64)
        assert ann['area'] == mask_utils.area(mask_utils.merge(rle)) == m.sum() > 0
        img = np.asarray(Image.open(out / 'train' / coco.loadImgs(ann['image_id'])[0]['file_name']))
        assert img.shape == (64, 64, 3)


def test_deterministic_and_reused(tmp_path):
    a, b = tmp_path / 'a', tmp_path / 'b'
    generate_shapes_dataset(str(a), 4, 2, 64, seed=1)
    generate_shapes_dataset(str(b), 4, 2, 64, seed=1)
    for name in ('instances_train.json', 'instances_val.json'):
        assert (a / 'annotations' / name).read_bytes() == (b / 'annotations' / name).read_bytes()
    assert (a / 'train' / '000003.png').read_bytes() == (b / 'train' / '000003.png').read_bytes()
    assert generate_shapes_dataset(str(a), 4, 2, 64, seed=1) is False  # already there


def test_never_overwrites_other_content(tmp_path):
    user = tmp_path / 'mine'
    user.mkdir()
    (user / 'notes.txt').write_text('keep me')
    with pytest.raises(FileExistsError, match='mine'):
        generate_shapes_dataset(str(user), 4, 2, 64)
    generated = tmp_path / 'gen'
    generate_shapes_dataset(str(generated), 4, 2, 64, seed=0)
    with pytest.raises(FileExistsError):
        generate_shapes_dataset(str(generated), 4, 2, 64, seed=1)
    assert (user / 'notes.txt').read_text() == 'keep me'
    assert json.loads((generated / 'generator.json').read_text())['seed'] == 0


def test_hard_variant_masks_are_the_visible_pixels(tmp_path):
    """Occluded objects: each annotation is an RLE of its visible pixels (disjoint within an
    image), its box bounds exactly those pixels, its area counts them."""
    out = tmp_path / 'hard'
    assert generate_shapes_dataset(str(out), 12, 2, 96, seed=0, variant='hard')
    coco = COCO(str(out / 'annotations' / 'instances_train.json'))
    anns = coco.loadAnns(coco.getAnnIds())
    assert len(anns) >= 24  # 2-7 objects an image, a few hidden
    sides = []
    for image_id in coco.getImgIds():
        masks = [coco.annToMask(a) for a in coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))]
        if masks:
            assert np.stack(masks).sum(0).max() == 1  # no pixel in two annotations
    for ann in anns:
        m = coco.annToMask(ann)
        ys, xs = np.nonzero(m)
        assert ann['bbox'] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
        assert ann['area'] == m.sum() >= 30 and isinstance(ann['segmentation']['counts'], str)
        sides.append(max(ann['bbox'][2:]))
    assert min(sides) < 20 and max(sides) > 45  # a wide range of scales at 96 px


def test_hard_variant_is_deterministic_loads_in_mmdet_and_is_stamped(tmp_path):
    a, b = tmp_path / 'a', tmp_path / 'b'
    generate_shapes_dataset(str(a), 3, 2, 64, seed=4, variant='hard')
    generate_shapes_dataset(str(b), 3, 2, 64, seed=4, variant='hard')
    assert (a / 'train' / '000002.png').read_bytes() == (b / 'train' / '000002.png').read_bytes()
    assert (a / 'annotations' /
            'instances_val.json').read_bytes() == (b / 'annotations' /
                                                   'instances_val.json').read_bytes()
    assert json.loads((a / 'generator.json').read_text())['variant'] == 'hard'
    with pytest.raises(FileExistsError):  # the simple variant is another dataset
        generate_shapes_dataset(str(a), 3, 2, 64, seed=4)
    with pytest.raises(ValueError, match='variant'):
        generate_shapes_dataset(str(tmp_path / 'c'), 3, 2, 64, variant='harder')
    from mmdet.datasets import CocoDataset
    from mmdet.utils import register_all_modules
    register_all_modules()
    dataset = CocoDataset(
        data_root=str(a),
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        metainfo=dict(classes=CATEGORIES),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
        ])
    sample = dataset[0]
    assert sample['gt_masks'].masks.shape[0] == len(sample['gt_bboxes']) > 0


def test_a_tuning_split_adds_other_images_and_leaves_the_others(tmp_path):
    plain, tuned = tmp_path / 'plain', tmp_path / 'tuned'
    generate_shapes_dataset(str(plain), 3, 2, 64, seed=5, variant='hard')
    assert generate_shapes_dataset(str(tuned), 3, 2, 64, seed=5, variant='hard', num_tune=2)
    for split in ('train', 'val'):  # drawn first: the same images with or without a tuning split
        for name in sorted(os.listdir(plain / split)):
            assert (plain / split / name).read_bytes() == (tuned / split / name).read_bytes()
    tune = json.loads((tuned / 'annotations' / 'instances_tune.json').read_text())
    assert len(tune['images']) == 2 and tune['annotations']
    drawn = {(tuned / 'tune' / i['file_name']).read_bytes() for i in tune['images']}
    others = {p.read_bytes() for split in ('train', 'val') for p in (tuned / split).iterdir()}
    assert not drawn & others
    assert not (plain / 'tune').exists()
    with pytest.raises(FileExistsError):  # another tuning split is another dataset
        generate_shapes_dataset(str(tuned), 3, 2, 64, seed=5, variant='hard', num_tune=3)
    with pytest.raises(ValueError, match='num_tune >= 0'):
        generate_shapes_dataset(str(tmp_path / 'bad'), 3, 2, 64, num_tune=-1)
