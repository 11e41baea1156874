"""Can plain CNNs (no shortcut, no normalisation) of depth 10 .. 1000 train? (CPU scale)

    python tools/analysis/depth_trainability.py [--depths 10 50 200 1000] [--steps 80]
        [--width 16] [--size 8] [--batch-size 32] [--lr 0.001] [--coeff 1e-4] [--out-dir DIR]

Settings, same data, steps and optimizer (SGD, momentum 0.9):
  (a) kaiming_relu:           Kaiming init + ReLU
  (b) isonet:                 Delta init + SReLU + the isometry regulariser (coeff)
  (c) delta_orthogonal_tanh:  Delta-Orthogonal init + tanh (Xiao et al. 2018)
  (d) delta_srelu_noreg:      (b) without the regulariser
Task: the orientation (4 classes) of noisy gratings (isonet_det.datasets.make_gratings), 2048
training images. Prints final training loss / accuracy (mean of the last 10 steps) and the ratio
of gradient norms of the first and last plain conv at init; writes results.json and
loss_curves.png.

The same lr serves every depth and setting. At lr 0.01 the Delta-initialised nets diverge from
depth 50 on: every layer starts as the identity and receives the same gradient, so the
end-to-end step grows with depth; 0.001 trains them up to depth 1000.
"""
import argparse
import json
import math
import os
import os.path as osp
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
from isonet_det.analysis import PlainCNN  # noqa: E402
from isonet_det.datasets import make_gratings  # noqa: E402
from isonet_det.ops import isometry_penalty  # noqa: E402

SETTINGS = {  # name -> (PlainCNN scheme, regulariser on)
    'kaiming_relu': ('kaiming_relu', False),
    'isonet': ('delta_srelu', True),
    'delta_orthogonal_tanh': ('delta_orthogonal_tanh', False),
    'delta_srelu_noreg': ('delta_srelu', False),
}


def train_one(depth, setting, data, args):
    scheme, regularised = SETTINGS[setting]
    torch.manual_seed(args.seed)
    model = PlainCNN(depth, args.width, num_classes=4, scheme=scheme)
    convs = model.body_convs()
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if 'srelu' in name else decay).append(p)
    opt = torch.optim.SGD([
        dict(params=decay, weight_decay=args.weight_decay),
        dict(params=no_decay, weight_decay=0.0)
    ],
                          lr=args.lr,
                          momentum=0.9)
    images, labels = data
    g = torch.Generator().manual_seed(args.seed + 1)
    losses, accs, grad_ratio = [], [], float('nan')
    for step in range(args.steps):
        idx = torch.randint(len(images), (args.batch_size, ), generator=g)
        logits = model(images[idx])
        loss = F.cross_entropy(logits, labels[idx])
        total = loss + args.coeff * isometry_penalty(convs) if regularised else loss
        opt.zero_grad()
        total.backward()
        if step == 0:
            first, last = convs[0].weight.grad.norm(), convs[-1].weight.grad.norm()
            grad_ratio = (first / last).item() if last > 0 else float('inf')
        if not math.isfinite(total.item()):
            losses.append(float('nan'))
            accs.append(float('nan'))
            break
        opt.step()
        losses.append(loss.item())
        accs.append((logits.argmax(1) == labels[idx]).float().mean().item())
    tail = [v for v in losses[-10:]]
    return dict(
        depth=depth,
        setting=setting,
        losses=losses,
        final_loss=sum(tail) / len(tail),
        final_accuracy=sum(accs[-10:]) / len(accs[-10:]),
        grad_norm_ratio_first_last=grad_ratio,
        diverged=not math.isfinite(losses[-1]))


def plot(results, depths, out_dir):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(depths), figsize=(4 * len(depths), 3.4), squeeze=False)
    for ax, depth in zip(axes[0], depths):
        for r in results:
            if r['depth'] == depth:
                ax.plot(r['losses'], label=r['setting'], lw=1.4)
        ax.axhline(math.log(4), color='k', lw=0.7, ls=':')
        ax.set(title=f'depth {depth}', xlabel='step', ylabel='training loss', ylim=(0, 2.5))
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(osp.join(out_dir, 'loss_curves.png'), dpi=120)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--depths', type=int, nargs='+', default=[10, 50, 200, 1000])
    parser.add_argument('--settings', nargs='+', default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument('--steps', type=int, default=80)
    parser.add_argument('--width', type=int, default=16)
    parser.add_argument('--size', type=int, default=8)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--lr', type=float, default=0.001)
    parser.add_argument('--weight-decay', type=float, default=1e-4)
    parser.add_argument('--coeff', type=float, default=1e-4)
    parser.add_argument('--num-train', type=int, default=2048)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--out-dir', default=f'work_dirs/depth_trainability_'
        f'{time.strftime("%Y%m%d_%H%M%S")}')
    args = parser.parse_args(argv)
    if osp.exists(args.out_dir) and os.listdir(args.out_dir):
        parser.error(f'{args.out_dir} is not empty; it is not overwritten')
    torch.set_flush_denormal(True)  # vanishing signals make denormals, which are slow on CPU
    data = make_gratings(args.num_train, args.size, num_classes=4, seed=args.seed)
    print(f'{"depth":>6} {"setting":<24}{"final loss":>11}{"final acc":>10}'
          f'{"|g_first|/|g_last| at init":>28}{"time (s)":>10}')
    results = []
    for depth in args.depths:
        for setting in args.settings:
            t0 = time.perf_counter()
            r = train_one(depth, setting, data, args)
            r['seconds'] = time.perf_counter() - t0
            results.append(r)
            status = '  diverged' if r['diverged'] else ''
            print(
                f'{depth:>6} {setting:<24}{r["final_loss"]:>11.4f}{r["final_accuracy"]:>10.3f}'
                f'{r["grad_norm_ratio_first_last"]:>28.3e}{r["seconds"]:>10.1f}{status}',
                flush=True)
    os.makedirs(args.out_dir, exist_ok=True)
    with open(osp.join(args.out_dir, 'results.json'), 'w') as f:
        json.dump(dict(vars(args), results=results), f)
    plot(results, args.depths, args.out_dir)
    print(f'wrote {args.out_dir}/{{results.json,loss_curves.png}} (chance loss ln 4 = 1.386)')


if __name__ == '__main__':
    main()
