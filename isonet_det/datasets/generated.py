"""The never-overwrite rule of the generated datasets: a folder is written once, stamped with the
generator's arguments (``generator.json``), and a second call with the same arguments leaves it
as it is."""
import json
import os.path as osp

import numpy as np
from PIL import Image, ImageDraw

from ..utils import check_new_folder

STAMP = 'generator.json'


def claim_output_dir(out_dir: str, params: dict, what: str) -> bool:
    """True if ``out_dir`` is absent or empty (the caller writes it, then :func:`stamp_output_dir`),
    False if it already holds the dataset generated with ``params``.

    Raises ``FileExistsError`` for a non-empty folder holding anything else: nothing a user wrote
    is overwritten.
    """
    try:
        check_new_folder(out_dir)
    except FileExistsError:
        stamp = osp.join(out_dir, STAMP)
        if osp.isfile(stamp):
            with open(stamp) as f:
                if json.load(f) == params:
                    return False
        if not osp.isdir(out_dir):
            raise
        raise FileExistsError(
            f'{out_dir} already exists and holds something else than the {what} for {params}; '
            'choose another folder or remove it yourself') from None
    return True


def stamp_output_dir(out_dir: str, params: dict) -> None:
    """Written last: a folder without it was interrupted and is refused, not reused."""
    with open(osp.join(out_dir, STAMP), 'w') as f:
        json.dump(params, f)


def rasterise_polygon(polygon, size: int) -> np.ndarray:
    """A ``size x size`` bool mask of ``polygon`` (PIL's fill rule: ``[(x, y), ...]`` or
    ``[x0, y0, x1, y1, ...]``)."""
    canvas = Image.new('L', (size, size), 0)
    ImageDraw.Draw(canvas).polygon(polygon, fill=1)
    return np.asarray(canvas, dtype=bool)


def smooth_field(rng: np.random.RandomState, size: int, cells: int) -> np.ndarray:
    """A ``size x size`` float32 field in about [-1, 1] that varies over ``size / cells`` pixels
    (bicubic upsampling of ``cells x cells`` uniform noise)."""
    coarse = rng.uniform(-1, 1, (cells, cells)).astype(np.float32)
    return np.asarray(Image.fromarray(coarse, mode='F').resize((size, size), Image.BICUBIC))
