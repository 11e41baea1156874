"""Write a COCO-format subset by class names, image count and seed (images referenced, not copied).

    python tools/misc/coco_subset.py ANN_FILE OUT_FILE --classes person car dog
        [--num-images 1000] [--seed 0]

Keeps ``--num-images`` images (drawn by seed; all if omitted) that hold at least one non-crowd
instance of ``--classes``, and only those classes' annotations; ``file_name`` entries are kept, so
the subset reads the original image folder. OUT_FILE is never overwritten. The course
replication's experiment (R-ISONet-50 + Faster R-CNN, 3 classes, 1k train / 55 test images):

    python tools/misc/coco_subset.py data/coco/annotations/instances_train2017.json \\
        data/coco/annotations/subset/train_3cls_1000_seed0.json --classes person car dog \\
        --num-images 1000
    python tools/misc/coco_subset.py data/coco/annotations/instances_val2017.json \\
        data/coco/annotations/subset/val_3cls_55_seed0.json --classes person car dog \\
        --num-images 55

then configs/coco_subset/*.py (their ``classes`` must be the same list, in the same order).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
from isonet_det.datasets.coco_subset import write_coco_subset  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('ann_file', help='COCO instance annotation file (json)')
    parser.add_argument('out_file', help='where to write the subset (must not exist)')
    parser.add_argument('--classes', nargs='+', required=True, help='category names to keep')
    parser.add_argument('--num-images', type=int, default=None, help='default: every image')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    try:
        counts = write_coco_subset(args.ann_file, args.out_file, args.classes, args.num_images,
                                   args.seed)
    except (FileExistsError, FileNotFoundError, ValueError) as e:
        parser.error(str(e))
    print(f'wrote {args.out_file}: {counts["images"]} images, {counts["annotations"]} '
          f'annotations, classes {args.classes} (seed {args.seed})')


if __name__ == '__main__':
    main()
