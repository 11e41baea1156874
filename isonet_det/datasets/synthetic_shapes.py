"""A small COCO-format instance-segmentation dataset drawn from code (no download).

``variant='simple'`` (the demo's): each image is a noisy background with 1-4 non-overlapping
filled shapes of three categories (rectangle, ellipse, triangle) in random colours. Every shape is
drawn from the same polygon that is written as its mask, so boxes, masks and pixels agree exactly.

``variant='hard'``: textured backgrounds (low-frequency colour fields, and stripes in half of the
images), unannotated clutter (lines, crosses and star polygons), 2-7 objects over a wide range of
scales (sides log-uniform from 6% to 60% of the image) that may overlap: later shapes occlude
earlier ones, whose masks (COCO RLE) and boxes are their visible pixels; an object less than 25%
visible (or under 30 pixels) is not annotated. Deterministic for a given seed.

Layout (mmdet's ``CocoDataset`` reads it as is)::

    OUT/train/000000.png ...      OUT/annotations/instances_train.json
    OUT/val/000000.png ...        OUT/annotations/instances_val.json
    OUT/generator.json            (the arguments, so a second call can tell it is already there)
"""
import json
import math
import os
import os.path as osp
from typing import Dict, List

import numpy as np
from PIL import Image, ImageDraw
from pycocotools import mask as mask_utils

from .generated import claim_output_dir, rasterise_polygon, smooth_field, stamp_output_dir

CATEGORIES = ('rectangle', 'ellipse', 'triangle')


def _polygon(kind: str, x: float, y: float, w: float, h: float, rng) -> List[float]:
    if kind == 'rectangle':
        pts = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
    elif kind == 'ellipse':
        cx, cy = x + w / 2, y + h / 2
        pts = [(cx + w / 2 * math.cos(t), cy + h / 2 * math.sin(t))
               for t in np.linspace(0, 2 * math.pi, 24, endpoint=False)]
    else:  # triangle, apex on one of the four sides
        side = rng.randint(4)
        pts = [[(x + w / 2, y), (x + w, y + h), (x, y + h)], [(x + w / 2, y + h), (x + w, y),
                                                              (x, y)],
               [(x, y + h / 2), (x + w, y), (x + w, y + h)], [(x + w, y + h / 2), (x, y),
                                                              (x, y + h)]][side]
    return [round(float(v), 2) for p in pts for v in p]


def _coco(images: List[dict], annotations: List[dict]) -> Dict:
    return dict(
        images=images,
        annotations=annotations,
        categories=[dict(id=i + 1, name=n) for i, n in enumerate(CATEGORIES)])


def _draw_split(out_dir: str, split: str, num_images: int, image_size: int, rng) -> Dict:
    os.makedirs(osp.join(out_dir, split), exist_ok=True)
    images, annotations = [], []
    for image_id in range(num_images):
        background = rng.randint(40, 200, size=3)
        pixels = np.clip(background + rng.normal(0, 12, (image_size, image_size, 3)), 0, 255)
        img = Image.fromarray(pixels.astype(np.uint8))
        draw = ImageDraw.Draw(img)
        boxes = []
        for _ in range(rng.randint(1, 5)):
            for _attempt in range(20):  # place without overlap (masks stay exact)
                w, h = rng.randint(image_size // 6, image_size // 2.5, size=2)
                x, y = rng.randint(0, image_size - w), rng.randint(0, image_size - h)
                if all(x + w + 2 < bx or bx + bw + 2 < x or y + h + 2 < by or by + bh + 2 < y
                       for bx, by, bw, bh in boxes):
                    break
            else:
                continue
            label = rng.randint(len(CATEGORIES))
            poly = _polygon(CATEGORIES[label], float(x), float(y), float(w), float(h), rng)
            colour = tuple(int(c) for c in (background + 128 + rng.randint(-50, 50, 3)) % 256)
            draw.polygon(poly, fill=colour)
            xs, ys = poly[0::2], poly[1::2]
            bbox = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
            boxes.append((x, y, w, h))
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=image_id,
                    category_id=label + 1,
                    bbox=[round(v, 2) for v in bbox],
                    # COCO's area: the pixel count of the rasterised polygon
                    area=float(
                        mask_utils.area(mask_utils.frPyObjects([poly], image_size, image_size))[0]),
                    segmentation=[poly],
                    iscrowd=0))
        file_name = f'{image_id:06d}.png'
        img.save(osp.join(out_dir, split, file_name))
        images.append(dict(id=image_id, file_name=file_name, width=image_size, height=image_size))
    return _coco(images, annotations)


def _textured_background(size: int, rng) -> np.ndarray:
    base = rng.randint(40, 216, size=3).astype(np.float32)
    pixels = base + 35 * np.stack([smooth_field(rng, size, rng.randint(3, 9)) for _ in range(3)],
                                  axis=-1)
    if rng.uniform() < 0.5:  # stripes of a random orientation and period
        yy, xx = np.mgrid[0:size, 0:size]
        theta, period = rng.uniform(0, math.pi), rng.uniform(4, 16)
        wave = np.sin(2 * math.pi * (xx * math.cos(theta) + yy * math.sin(theta)) / period)
        pixels += (rng.uniform(15, 35) * wave)[..., None] * rng.uniform(0.3, 1.0, size=3)
    return np.clip(pixels + rng.normal(0, 10, pixels.shape), 0, 255)


def _draw_clutter(draw: ImageDraw.ImageDraw, size: int, rng) -> None:
    """Unannotated distractors: lines, crosses and star polygons."""
    for _ in range(rng.randint(3, 9)):
        colour = tuple(int(c) for c in rng.randint(0, 256, 3))
        kind = rng.randint(3)
        x, y = rng.uniform(0, size, 2)
        r = rng.uniform(0.04, 0.15) * size
        if kind == 0:
            t = rng.uniform(0, 2 * math.pi)
            draw.line([(x, y), (x + 2 * r * math.cos(t), y + 2 * r * math.sin(t))],
                      fill=colour,
                      width=int(rng.randint(1, 4)))
        elif kind == 1:
            w = int(rng.randint(1, 4))
            draw.line([(x - r, y), (x + r, y)], fill=colour, width=w)
            draw.line([(x, y - r), (x, y + r)], fill=colour, width=w)
        else:
            spikes = rng.randint(4, 7)
            pts = [(x + (r if k % 2 == 0 else 0.45 * r) * math.cos(math.pi * k / spikes),
                    y + (r if k % 2 == 0 else 0.45 * r) * math.sin(math.pi * k / spikes))
                   for k in range(2 * spikes)]
            draw.polygon(pts, fill=colour)


def _draw_split_hard(out_dir: str, split: str, num_images: int, image_size: int, rng) -> Dict:
    os.makedirs(osp.join(out_dir, split), exist_ok=True)
    images, annotations = [], []
    for image_id in range(num_images):
        img = Image.fromarray(_textured_background(image_size, rng).astype(np.uint8))
        draw = ImageDraw.Draw(img)
        _draw_clutter(draw, image_size, rng)
        objects = []
        for _ in range(rng.randint(2, 8)):
            w, h = np.exp(rng.uniform(math.log(0.06), math.log(0.6), size=2)) * image_size
            w, h = max(w, 5.0), max(h, 5.0)
            x, y = rng.uniform(0, image_size - w), rng.uniform(0, image_size - h)
            label = rng.randint(len(CATEGORIES))
            poly = _polygon(CATEGORIES[label], float(x), float(y), float(w), float(h), rng)
            draw.polygon(poly, fill=tuple(int(c) for c in rng.randint(0, 256, 3)))
            objects.append((label, rasterise_polygon(poly, image_size)))
        covered = np.zeros((image_size, image_size), dtype=bool)
        for label, full in reversed(objects):  # the last drawn is on top
            visible = full & ~covered
            covered |= full
            area = int(visible.sum())
            if area < 30 or area < 0.25 * full.sum():
                continue
            rle = mask_utils.encode(np.asfortranarray(visible.astype(np.uint8)))
            rle['counts'] = rle['counts'].decode('ascii')
            ys, xs = np.nonzero(visible)
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=image_id,
                    category_id=label + 1,
                    bbox=[
                        float(xs.min()),
                        float(ys.min()),
                        float(xs.max() - xs.min() + 1),
                        float(ys.max() - ys.min() + 1)
                    ],
                    area=float(area),
                    segmentation=rle,
                    iscrowd=0))
        file_name = f'{image_id:06d}.png'
        img.save(osp.join(out_dir, split, file_name))
        images.append(dict(id=image_id, file_name=file_name, width=image_size, height=image_size))
    return _coco(images, annotations)


VARIANTS = {'simple': _draw_split, 'hard': _draw_split_hard}


def generate_shapes_dataset(out_dir: str,
                            num_train: int = 400,
                            num_val: int = 50,
                            image_size: int = 128,
                            seed: int = 0,
                            variant: str = 'simple',
                            num_tune: int = 0) -> bool:
    """Write the dataset (``variant``: ``'simple'`` or ``'hard'``, see the module doc) to
    ``out_dir``; return False if the same one is already there. With ``num_tune``, a third split
    ``tune`` (``annotations/instances_tune.json``, ``tune/``) of other images from the same
    generator, drawn after the other two (which stay what they are without it): the split an
    experiment chooses its settings on, so that ``val`` can be its untouched test set.

    Raises ``FileExistsError`` rather than write into a non-empty folder it did not generate
    with these arguments: nothing already there is overwritten.
    """
    if min(num_train, num_val) < 1 or num_tune < 0 or image_size < 32:
        raise ValueError('need num_train, num_val >= 1, num_tune >= 0 and image_size >= 32, got '
                         f'{num_train}, {num_val}, {num_tune}, {image_size}')
    if variant not in VARIANTS:
        raise ValueError(f'variant must be one of {sorted(VARIANTS)}, got {variant!r}')
    # version 2: areas are pycocotools' pixel counts (version 1: exact polygon areas)
    params = dict(num_train=num_train, num_val=num_val, image_size=image_size, seed=seed, version=2)
    if variant != 'simple':  # the simple variant's stamp stays what it was
        params['variant'] = variant
    if num_tune:
        params['num_tune'] = num_tune
    if not claim_output_dir(out_dir, params, 'demo data'):
        return False
    rng = np.random.RandomState(seed)
    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)
    for split, n in (('train', num_train), ('val', num_val), ('tune', num_tune)):
        if not n:
            continue
        coco = VARIANTS[variant](out_dir, split, n, image_size, rng)
        with open(osp.join(out_dir, 'annotations', f'instances_{split}.json'), 'w') as f:
            json.dump(coco, f)
    stamp_output_dir(out_dir, params)
    return True
