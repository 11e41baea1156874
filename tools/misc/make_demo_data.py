"""Write the synthetic COCO-format shapes dataset used by configs/demo/.

    python tools/misc/make_demo_data.py [--out data/demo_shapes] [--num-train 400] [--seed 0]
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
    args = parser.parse_args()
    try:
        written = generate_shapes_dataset(args.out, args.num_train, args.num_val, args.image_size,
                                          args.seed)
    except (FileExistsError, ValueError) as e:
        parser.error(str(e))
    print(f'{"wrote" if written else "already present:"} {args.out} ({args.num_train} train / '
          f'{args.num_val} val images, {args.image_size}px, seed {args.seed})')


if __name__ == '__main__':
    main()
