"""COCO-format subsets by class names, image count and seed (images referenced, not copied)."""
import json
import os.path as osp
import random
from typing import Dict, Optional, Sequence

from ..utils import write_new_file

REQUIRED = {
    'images': ('id', 'file_name'),
    'annotations': ('id', 'image_id', 'category_id'),
    'categories': ('id', 'name')
}


def _check_coco(ann: Dict, source: str) -> None:
    """Raise ``ValueError`` naming the first thing that is not COCO instance format."""
    if not isinstance(ann, dict):
        raise ValueError(f'{source}: not a COCO annotation file (top level is '
                         f'{type(ann).__name__}, expected an object)')
    for key, fields in REQUIRED.items():
        if not isinstance(ann.get(key), list):
            raise ValueError(f'{source}: malformed COCO annotation: "{key}" is missing or not a '
                             'list')
        for i, entry in enumerate(ann[key]):
            missing = [f for f in fields if not isinstance(entry, dict) or f not in entry]
            if missing:
                raise ValueError(f'{source}: malformed COCO annotation: {key}[{i}] has no '
                                 f'{", ".join(missing)}')


def coco_subset(ann: Dict,
                classes: Sequence[str],
                num_images: Optional[int],
                seed: int = 0,
                source: str = 'annotation') -> Dict:
    """The subset of a COCO instance annotation dict with only ``classes``.

    Candidates are the images with at least one non-crowd instance of ``classes``; ``num_images``
    of them are drawn without replacement by ``random.Random(seed)`` (``None``: all), kept in
    their original order. Annotations of other classes are dropped (crowd regions of the kept
    classes stay, for COCO evaluation), ``categories`` keep their original ids and names in the
    order of ``classes``, ``info`` / ``licenses`` are copied. Deterministic by seed.
    """
    _check_coco(ann, source)
    by_name = {c['name']: c for c in ann['categories']}
    unknown = [c for c in classes if c not in by_name]
    if unknown:
        raise ValueError(f'{source}: unknown class(es) {unknown}; the file has '
                         f'{sorted(by_name)}')
    if len(set(classes)) != len(classes):
        raise ValueError(f'classes {list(classes)} has duplicates')
    cat_ids = {by_name[c]['id'] for c in classes}
    anns = [a for a in ann['annotations'] if a['category_id'] in cat_ids]
    with_objects = {a['image_id'] for a in anns if not a.get('iscrowd', 0)}
    candidates = [img['id'] for img in ann['images'] if img['id'] in with_objects]
    if num_images is not None:
        if num_images < 1:
            raise ValueError(f'num_images must be >= 1, got {num_images}')
        if num_images > len(candidates):
            raise ValueError(f'{source}: asked for {num_images} images with {list(classes)}, '
                             f'only {len(candidates)} have any')
        candidates = random.Random(seed).sample(candidates, num_images)
    keep = set(candidates)
    subset = {k: ann[k] for k in ('info', 'licenses') if k in ann}
    subset['images'] = [img for img in ann['images'] if img['id'] in keep]
    subset['annotations'] = [a for a in anns if a['image_id'] in keep]
    subset['categories'] = [by_name[c] for c in classes]
    return subset


def write_coco_subset(ann_file: str,
                      out_file: str,
                      classes: Sequence[str],
                      num_images: Optional[int],
                      seed: int = 0) -> Dict[str, int]:
    """Read ``ann_file``, write :func:`coco_subset` to ``out_file`` (never overwritten: an
    existing file raises ``FileExistsError``). Returns counts of images / annotations / classes.
    """
    if osp.exists(out_file):
        raise FileExistsError(f'{out_file} exists; it is not overwritten (choose another path)')
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'annotation file {ann_file} not found')
    try:
        with open(ann_file) as f:
            ann = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f'{ann_file}: not valid JSON ({e})') from e
    subset = coco_subset(ann, classes, num_images, seed, source=ann_file)
    write_new_file(out_file, lambda f: json.dump(subset, f))
    return dict(
        images=len(subset['images']),
        annotations=len(subset['annotations']),
        classes=len(subset['categories']))
