"""Singular values of the input-output Jacobian of plain CNNs at init (dynamical isometry).

    python tools/analysis/jacobian_spectrum.py [--depth 50] [--width 8] [--size 8]
                                               [--input-std 0.5] [--sigma-b2 2.01e-5]
                                               [--paddings circular zeros] [--out-dir DIR]

For each init scheme (Kaiming + ReLU; Delta + SReLU; Delta-Orthogonal + tanh and Gaussian + tanh,
both on the tanh critical line chi_1 = 1 at sigma_b^2, Xiao et al. 2018) builds the body of a
plain CNN (``depth`` 3x3 convs, no shortcut, no norm), computes the explicit Jacobian of the body
at a random input of shape ``(width, size, size)`` and its singular values. The input is
``N(0, input_std^2)``, for the tanh schemes ``tanh(h)`` with ``h ~ N(0, q*)`` (the previous
layer's output at the fixed point). Each padding of --paddings: 'circular' (the periodic boundary
of Xiao et al.'s theory) and 'zeros' (where spatial kernels lose signal at the border every layer;
Delta kernels never read it). Prints a summary, writes jacobian_spectrum.json (results[padding]
[scheme]) and jacobian_spectrum.png (histograms, one panel per padding).
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

import numpy as np
import torch

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
from isonet_det.analysis import SCHEMES, PlainCNN, jacobian_singular_values  # noqa: E402
from isonet_det.analysis.plain_cnn import MEAN_FIELD_SCHEMES, PADDING_MODES  # noqa: E402
from isonet_det.utils import check_new_folder  # noqa: E402
from isonet_theory.mean_field import critical_sigma_w  # noqa: E402

LABELS = {
    'kaiming_relu': 'Kaiming + ReLU',
    'delta_srelu': 'Delta + SReLU (ISONet)',
    'delta_orthogonal_tanh': 'Delta-Orthogonal + tanh',
    'gaussian_tanh': 'Gaussian + tanh',
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--depth', type=int, default=50)
    parser.add_argument('--width', type=int, default=8)
    parser.add_argument('--size', type=int, default=8)
    parser.add_argument('--input-std', type=float, default=0.5)
    parser.add_argument(
        '--sigma-b2',
        type=float,
        default=2.01e-5,
        help='bias variance of the tanh schemes (on the critical line)')
    parser.add_argument(
        '--paddings', nargs='+', choices=PADDING_MODES, default=['circular', 'zeros'])
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--out-dir', default=f'work_dirs/jacobian_spectrum_'
        f'{time.strftime("%Y%m%d_%H%M%S")}')
    args = parser.parse_args(argv)
    try:
        check_new_folder(args.out_dir)
    except FileExistsError as e:
        parser.error(str(e))

    sigma_w, q_star = critical_sigma_w(args.sigma_b2**0.5)
    print(f'tanh schemes: sigma_w^2 = {sigma_w**2:.4f}, sigma_b^2 = {args.sigma_b2:g}, '
          f'q* = {q_star:.4g}')
    results = {}
    print(f'Jacobian of {args.depth} plain 3x3 conv layers, width {args.width}, '
          f'{args.size}x{args.size} input ~ N(0, {args.input_std}^2)')
    print(f'{"init":<28}{"padding":>9}{"mean":>8}{"std":>8}{"min":>10}{"max":>10}'
          f'{"in [0.9,1.1]":>14}')
    for padding in args.paddings:
        results[padding] = {}
        for scheme in SCHEMES:
            torch.manual_seed(args.seed)
            mean_field = scheme in MEAN_FIELD_SCHEMES
            point = dict(sigma_w=sigma_w, sigma_b=args.sigma_b2**0.5) if mean_field else {}
            body = PlainCNN(
                args.depth, args.width, scheme=scheme, padding_mode=padding, **point).body.double()
            x = torch.randn(args.width, args.size, args.size, dtype=torch.float64)
            x = torch.tanh(q_star**0.5 * x) if mean_field else args.input_std * x
            s = jacobian_singular_values(body, x).numpy()
            near_one = float(np.mean((s > 0.9) & (s < 1.1)))
            results[padding][scheme] = dict(
                singular_values=s.tolist(),
                mean=float(s.mean()),
                std=float(s.std()),
                min=float(s.min()),
                max=float(s.max()),
                fraction_near_one=near_one)
            print(f'{LABELS[scheme]:<28}{padding:>9}{s.mean():>8.3f}{s.std():>8.3f}'
                  f'{s.min():>10.2e}{s.max():>10.2e}{near_one:>13.1%}')

    os.makedirs(args.out_dir, exist_ok=True)
    with open(osp.join(args.out_dir, 'jacobian_spectrum.json'), 'w') as f:
        json.dump(dict(vars(args), results=results), f)
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(
        1, len(args.paddings), figsize=(7 * len(args.paddings), 3.8), squeeze=False)
    bins = np.logspace(-8, 4, 97)
    for ax, padding in zip(axes[0], args.paddings):
        for scheme in SCHEMES:
            s = np.clip(np.array(results[padding][scheme]['singular_values']), 1e-8, 1e4)
            ax.hist(s, bins=bins, histtype='step', lw=1.8, label=LABELS[scheme])
        ax.set_xscale('log')
        ax.axvline(1.0, color='k', lw=0.8, ls='--')
        ax.set(
            xlabel='singular value of the input-output Jacobian',
            ylabel='count',
            title=f'{args.depth} plain conv layers at init, {padding} padding')
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(osp.join(args.out_dir, 'jacobian_spectrum.png'), dpi=120)
    print(f'wrote {args.out_dir}/jacobian_spectrum.{{json,png}}')


if __name__ == '__main__':
    main()
