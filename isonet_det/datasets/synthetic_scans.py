"""Single-channel "scans" with irregular blobs to segment, drawn from code (no download).

A stand-in for the course replication's brain-MRI tumour masks: each image is an elliptical
"head" (a bright rim around tissue of uneven, low-frequency brightness, with one or two darker
"ventricles" as distractors) on a dark noisy background; ``1 - empty_fraction`` of the images hold
1-3 brighter lesions with irregular outlines (a radius ``r(t) = r0 (1 + sum_k a_k cos(k t +
p_k))``, k = 2..5) whose contrast with the tissue varies within and between lesions, the others
none. The mask is the rasterised outline, written as a PNG of 0 (background) / 1 (lesion).
Deterministic for a given seed.

Layout (MMSegmentation's ``BaseSegDataset`` reads it with ``img_suffix='.png'``,
``seg_map_suffix='.png'``)::

    OUT/img_dir/{train,val}/000000.png     8-bit grayscale
    OUT/ann_dir/{train,val}/000000.png     0 / 1
    OUT/generator.json                     (the arguments; written last)
"""
import math
import os
import os.path as osp

import numpy as np
from PIL import Image

from .generated import claim_output_dir, rasterise_polygon, smooth_field, stamp_output_dir

CLASSES = ('background', 'lesion')


def _outline(rng, cx: float, cy: float, radius: float, points: int = 40):
    t = np.linspace(0, 2 * math.pi, points, endpoint=False)
    r = np.ones_like(t)
    for k in range(2, 6):
        r += rng.uniform(0, 0.35 / k * 2) * np.cos(k * t + rng.uniform(0, 2 * math.pi))
    r = radius * np.clip(r, 0.35, None)
    return [(float(cx + ri * math.cos(ti)), float(cy + ri * math.sin(ti))) for ri, ti in zip(r, t)]


def draw_scan(rng, size: int, empty_fraction: float):
    """One ``(image uint8 (size, size), mask uint8 (size, size) in {0, 1})`` pair."""
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    cx, cy = size / 2 + rng.uniform(-0.04, 0.04, 2) * size
    ax, ay = rng.uniform(0.36, 0.45, 2) * size
    d = np.sqrt(((xx - cx) / ax)**2 + ((yy - cy) / ay)**2)
    rim = rng.uniform(0.05, 0.09)
    head, skull = d < 1 - rim, (d >= 1 - rim) & (d < 1)
    image = 10 + 6 * rng.standard_normal((size, size))
    tissue = rng.uniform(80,
                         110) + 22 * smooth_field(rng, size, 5) + 10 * smooth_field(rng, size, 11)
    image[head] = tissue[head]
    image[skull] = rng.uniform(170, 210) + 15 * smooth_field(rng, size, 9)[skull]
    for _ in range(rng.randint(1, 3)):  # darker "ventricles": not lesions
        vx, vy = cx + rng.uniform(-0.2, 0.2) * ax, cy + rng.uniform(-0.25, 0.25) * ay
        ventricle = rasterise_polygon(_outline(rng, vx, vy,
                                               rng.uniform(0.05, 0.1) * size), size) & head
        image[ventricle] -= rng.uniform(35, 55)
    mask = np.zeros((size, size), dtype=bool)
    if rng.uniform() >= empty_fraction:
        for _ in range(rng.randint(1, 4)):
            lx = cx + rng.uniform(-0.55, 0.55) * ax
            ly = cy + rng.uniform(-0.55, 0.55) * ay
            lesion = rasterise_polygon(_outline(rng, lx, ly,
                                                rng.uniform(0.04, 0.12) * size), size) & head
            contrast = rng.uniform(30, 60) * (1 + 0.3 * smooth_field(rng, size, 7))
            image[lesion] += contrast[lesion]
            mask |= lesion
    image += 5 * rng.standard_normal((size, size))
    return np.clip(image, 0, 255).astype(np.uint8), mask.astype(np.uint8)


def generate_scans_dataset(out_dir: str,
                           num_train: int = 240,
                           num_val: int = 60,
                           image_size: int = 96,
                           seed: int = 0,
                           empty_fraction: float = 0.25,
                           num_tune: int = 0) -> bool:
    """Write the dataset to ``out_dir``; return False if the same one is already there. With
    ``num_tune``, a third split ``tune`` of other scans from the same generator, drawn after the
    other two (which stay what they are without it): the split settings are chosen on.

    Raises ``FileExistsError`` rather than write into a non-empty folder it did not generate
    with these arguments: nothing already there is overwritten.
    """
    if min(num_train, num_val) < 1 or num_tune < 0 or image_size < 32 \
            or not 0 <= empty_fraction <= 1:
        raise ValueError('need num_train, num_val >= 1, num_tune >= 0, image_size >= 32 and 0 <= '
                         f'empty_fraction <= 1, got {num_train}, {num_val}, {num_tune}, '
                         f'{image_size}, {empty_fraction}')
    params = dict(
        num_train=num_train,
        num_val=num_val,
        image_size=image_size,
        seed=seed,
        empty_fraction=empty_fraction,
        version=1)
    if num_tune:
        params['num_tune'] = num_tune
    if not claim_output_dir(out_dir, params, 'generated scans'):
        return False
    rng = np.random.RandomState(seed)
    for split, count in (('train', num_train), ('val', num_val), ('tune', num_tune)):
        if not count:
            continue
        for sub in ('img_dir', 'ann_dir'):
            os.makedirs(osp.join(out_dir, sub, split), exist_ok=True)
        for i in range(count):
            image, mask = draw_scan(rng, image_size, empty_fraction)
            Image.fromarray(
                image, mode='L').save(osp.join(out_dir, 'img_dir', split, f'{i:06d}.png'))
            Image.fromarray(
                mask, mode='L').save(osp.join(out_dir, 'ann_dir', split, f'{i:06d}.png'))
    stamp_output_dir(out_dir, params)
    return True
