"""Write the synthetic COCO-format shapes dataset used by configs/demo/.

    python tools/misc/make_demo_data.py [--out data/demo_shapes] [--num-train 400] [--seed 0]
        [--variant simple|hard]

--variant hard: textured backgrounds, clutter, occlusion and a wide range of object scales
(isonet_det.datasets.synthetic_shapes), e.g. --variant hard --out data/demo_shapes_hard.
"""
import argparse

from isonet_det.datasets import generate_shapes_dataset


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/demo_shapes')
    parser.add_argument('--num-train', type=int, default=400)
    parser.add_argument('--num-val', type=int, default=50)
    parser.add_argument('--image-size', type=int, default=128)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--variant', choices=['simple', 'hard'], default='simple')
    args = parser.parse_args()
    try:
        written = generate_shapes_dataset(args.out, args.num_train, args.num_val, args.image_size,
                                          args.seed, args.variant)
    except (FileExistsError, ValueError) as e:
        parser.error(str(e))
    print(f'{"wrote" if written else "already present:"} {args.out} ({args.variant}, '
          f'{args.num_train} train / {args.num_val} val images, {args.image_size}px, seed '
          f'{args.seed})')


if __name__ == '__main__':
    main()
