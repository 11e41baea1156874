import json

import numpy as np
import pytest
from PIL import Image

from isonet_det.datasets import generate_scans_dataset


def read(path):
    return np.asarray(Image.open(path))


def test_layout_values_and_empty_images(tmp_path):
    out = tmp_path / 'scans'
    assert generate_scans_dataset(str(out), 12, 4, 64, seed=0, empty_fraction=0.5) is True
    masks = []
    for split, n in (('train', 12), ('val', 4)):
        for i in range(n):
            image = read(out / 'img_dir' / split / f'{i:06d}.png')
            mask = read(out / 'ann_dir' / split / f'{i:06d}.png')
            assert image.shape == mask.shape == (64, 64) and image.dtype == np.uint8
            assert set(np.unique(mask)) <= {0, 1}
            masks.append(mask)
    with_lesion = [m.any() for m in masks]
    assert 0 < sum(with_lesion) < len(masks)  # some images have lesions, some none
    lesion = np.concatenate([
        read(out / 'img_dir' / 'train' / f'{i:06d}.png')[m == 1] for i, m in enumerate(masks[:12])
    ])
    assert lesion.mean() > read(out / 'img_dir' / 'train' / '000000.png').mean()  # brighter


def test_deterministic_by_seed(tmp_path):
    a, b, c = tmp_path / 'a', tmp_path / 'b', tmp_path / 'c'
    generate_scans_dataset(str(a), 3, 2, 32, seed=1)
    generate_scans_dataset(str(b), 3, 2, 32, seed=1)
    generate_scans_dataset(str(c), 3, 2, 32, seed=2)
    for sub in ('img_dir/train/000002.png', 'ann_dir/val/000001.png'):
        assert (a / sub).read_bytes() == (b / sub).read_bytes()
    assert (a / 'img_dir/train/000000.png').read_bytes() != (
        c / 'img_dir/train/000000.png').read_bytes()
    assert generate_scans_dataset(str(a), 3, 2, 32, seed=1) is False  # already there


def test_never_overwrites(tmp_path):
    user = tmp_path / 'mine'
    user.mkdir()
    (user / 'notes.txt').write_text('keep me')
    with pytest.raises(FileExistsError, match='mine'):
        generate_scans_dataset(str(user), 2, 1, 32)
    assert (user / 'notes.txt').read_text() == 'keep me'
    generated = tmp_path / 'gen'
    generate_scans_dataset(str(generated), 2, 1, 32, seed=0)
    with pytest.raises(FileExistsError, match='generated scans'):
        generate_scans_dataset(str(generated), 2, 1, 32, seed=1)
    assert json.loads((generated / 'generator.json').read_text())['seed'] == 0
    with pytest.raises(ValueError, match='empty_fraction'):
        generate_scans_dataset(str(tmp_path / 'x'), 2, 1, 32, empty_fraction=1.5)


def test_a_tuning_split_adds_other_scans_and_leaves_the_others(tmp_path):
    plain, tuned = tmp_path / 'plain', tmp_path / 'tuned'
    generate_scans_dataset(str(plain), 3, 2, 32, seed=4)
    assert generate_scans_dataset(str(tuned), 3, 2, 32, seed=4, num_tune=2)
    for sub in ('img_dir/train/000002.png', 'ann_dir/val/000001.png'):
        assert (plain / sub).read_bytes() == (tuned / sub).read_bytes()
    tune = sorted((tuned / 'img_dir' / 'tune').iterdir())
    assert len(tune) == 2 and len(list((tuned / 'ann_dir' / 'tune').iterdir())) == 2
    others = {
        p.read_bytes()
        for split in ('train', 'val') for p in (tuned / 'img_dir' / split).iterdir()
    }
    assert not {p.read_bytes() for p in tune} & others
    assert not (plain / 'img_dir' / 'tune').exists()
    with pytest.raises(ValueError, match='num_tune >= 0'):
        generate_scans_dataset(str(tmp_path / 'bad'), 3, 2, 32, num_tune=-1)
