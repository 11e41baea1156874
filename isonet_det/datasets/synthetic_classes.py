"""A small image-classification dataset drawn from code: one shape per image, its kind the class.

Each image is a noisy background of a random colour with one filled rectangle, ellipse or
triangle (``CATEGORIES`` of the shapes dataset) of random size, position and colour. Written in
the folder layout MMPretrain's ``CustomDataset`` reads (classes from the sub-folder names)::

    OUT/train/<class>/000000.png ...    OUT/val/<class>/000000.png ...
    OUT/generator.json                  (the arguments; written last)

Deterministic for a given seed; a folder holding anything else is never overwritten.
"""
import os
import os.path as osp

import numpy as np
from PIL import Image, ImageDraw

from .generated import claim_output_dir, stamp_output_dir
from .synthetic_shapes import CATEGORIES, _polygon


def draw_shape_image(rng, label: int, size: int) -> np.ndarray:
    """``(size, size, 3)`` uint8: one shape of ``CATEGORIES[label]`` on a noisy background."""
    background = rng.randint(40, 200, size=3)
    pixels = np.clip(background + rng.normal(0, 12, (size, size, 3)), 0, 255)
    img = Image.fromarray(pixels.astype(np.uint8))
    w, h = rng.randint(size // 3, size - size // 6, size=2)
    x, y = rng.randint(0, size - w + 1), rng.randint(0, size - h + 1)
    colour = tuple(int(c) for c in (background + 128 + rng.randint(-50, 50, 3)) % 256)
    ImageDraw.Draw(img).polygon(
        _polygon(CATEGORIES[label], float(x), float(y), float(w), float(h), rng), fill=colour)
    return np.asarray(img)


def generate_classification_dataset(out_dir: str,
                                    num_train: int = 600,
                                    num_val: int = 150,
                                    image_size: int = 32,
                                    seed: int = 0) -> bool:
    """Write the dataset (classes balanced, drawn in turn) to ``out_dir``; return False if the
    same one is already there. Raises ``FileExistsError`` for a non-empty folder holding
    anything else."""
    if min(num_train, num_val) < len(CATEGORIES) or image_size < 16:
        raise ValueError(f'need num_train, num_val >= {len(CATEGORIES)} and image_size >= 16, '
                         f'got {num_train}, {num_val}, {image_size}')
    params = dict(num_train=num_train, num_val=num_val, image_size=image_size, seed=seed, version=1)
    if not claim_output_dir(out_dir, params, 'generated classification images'):
        return False
    rng = np.random.RandomState(seed)
    for split, count in (('train', num_train), ('val', num_val)):
        for name in CATEGORIES:
            os.makedirs(osp.join(out_dir, split, name), exist_ok=True)
        for i in range(count):
            label = i % len(CATEGORIES)
            Image.fromarray(draw_shape_image(rng, label, image_size)).save(
                osp.join(out_dir, split, CATEGORIES[label], f'{i:06d}.png'))
    stamp_output_dir(out_dir, params)
    return True
