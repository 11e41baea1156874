"""A small COCO-format instance-segmentation dataset drawn from code (no download).

Each image is a noisy background with 1-4 non-overlapping filled shapes of three categories
(rectangle, ellipse, triangle) in random colours. Every shape is drawn from the same polygon that
is written as its mask, so boxes, masks and pixels agree exactly. Deterministic for a given seed.

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

from .generated import claim_output_dir, stamp_output_dir

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
    return dict(
        images=images,
        annotations=annotations,
        categories=[dict(id=i + 1, name=n) for i, n in enumerate(CATEGORIES)])


def generate_shapes_dataset(out_dir: str,
                            num_train: int = 400,
                            num_val: int = 50,
                            image_size: int = 128,
                            seed: int = 0) -> bool:
    """Write the dataset to ``out_dir``; return False if the same one is already there.

    Raises ``FileExistsError`` rather than write into a non-empty folder it did not generate
    with these arguments: nothing already there is overwritten.
    """
    if min(num_train, num_val) < 1 or image_size < 32:
        raise ValueError('need num_train, num_val >= 1 and image_size >= 32, got '
                         f'{num_train}, {num_val}, {image_size}')
    # version 2: areas are pycocotools' pixel counts (version 1: exact polygon areas)
    params = dict(num_train=num_train, num_val=num_val, image_size=image_size, seed=seed, version=2)
    if not claim_output_dir(out_dir, params, 'demo data'):
        return False
    rng = np.random.RandomState(seed)
    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)
    for split, n in (('train', num_train), ('val', num_val)):
        coco = _draw_split(out_dir, split, n, image_size, rng)
        with open(osp.join(out_dir, 'annotations', f'instances_{split}.json'), 'w') as f:
            json.dump(coco, f)
    stamp_output_dir(out_dir, params)
    return True
