import json

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
