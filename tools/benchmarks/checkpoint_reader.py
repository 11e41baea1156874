"""Time and peak memory of the checkpoint reader against ``torch.load(weights_only=True)``.

    .venv/bin/python tools/benchmarks/checkpoint_reader.py [--repeat 5] [--keep DIR]

Writes three files torch's weights-only loader also reads (a 231 MB training checkpoint: a
ResNet-50 state dict, its SGD momentum buffers and a 26 MB head; 5,000 small tensors; the ResNet-50
state dict in the legacy format of PyTorch < 1.6), then loads each in a fresh process per loader:
memory is how far the first load raises the peak RSS (VmHWM, reset through /proc/self/clear_refs)
above the RSS before it, time the fastest of the ``--repeat`` loads after it (Linux). Prints the
table docs/user_guides/checkpoints.md shows. Not a test: figures depend on the machine (run it on
an idle one). ``PYTHONPATH=<another checkout>`` measures that checkout's reader.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile

import torch

CHILD = r"""
import json, sys, time
import torch
import isonet_det  # noqa: F401
from isonet_det.engine import load_checkpoint_file
path, loader, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])

def status_mib(key):
    with open('/proc/self/status') as f:
        line = next(line for line in f if line.startswith(key + ':'))
    return int(line.split()[1]) / 1024

load = (lambda: torch.load(path, weights_only=True)) if loader == 'torch' else (
    lambda: load_checkpoint_file(path))
with open(path, 'rb') as f:  # the file in the page cache for both loaders
    while f.read(2**24):
        pass
before = status_mib('VmRSS')
with open('/proc/self/clear_refs', 'w') as f:  # the peak (VmHWM) restarts from here
    f.write('5')
result = load()  # memory: the first load, as a run makes it
growth = status_mib('VmHWM') - before
del result
times = []
for _ in range(repeat):  # time: the fastest of the next loads
    start = time.perf_counter()
    result = load()
    times.append(time.perf_counter() - start)
    del result
print(json.dumps(dict(seconds=min(times), peak_mib=growth)))
"""


def write_files(folder: str) -> dict:
    import torchvision
    torch.manual_seed(0)
    model = torchvision.models.resnet50()
    state = model.state_dict()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for p in model.parameters():
        p.grad = torch.randn_like(p)
    optimizer.step()
    big = dict(
        state_dict=state,
        optimizer=optimizer.state_dict(),
        head=torch.randn(6_500_000),
        meta=dict(epoch=12, iter=90_000, seed=0, classes=[f'class{i}' for i in range(80)]))
    files = {
        'training checkpoint': big,
        '5,000 small tensors': {f'layer{i}.weight': torch.randn(8)
                                for i in range(5000)},
        'legacy format (ResNet-50)': state,
    }
    paths = {}
    for i, (name, obj) in enumerate(files.items()):
        paths[name] = osp.join(folder, f'{i}.pth')
        torch.save(obj, paths[name], _use_new_zipfile_serialization='legacy' not in name)
    return paths


def measure(path: str, loader: str, repeat: int) -> dict:
    proc = subprocess.run([sys.executable, '-c', CHILD, path, loader,
                           str(repeat)],
                          capture_output=True,
                          text=True,
                          check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--keep', help='write the files here and keep them')
    args = parser.parse_args()
    folder = args.keep or tempfile.mkdtemp(prefix='reader-bench-')
    os.makedirs(folder, exist_ok=True)
    paths = write_files(folder)
    print('| file | size | torch.load(weights_only=True) | isonet-det reader | ratio |')
    print('|---|---|---|---|---|')
    for name, path in paths.items():
        torch_ = measure(path, 'torch', args.repeat)
        ours = measure(path, 'reader', args.repeat)
        size = osp.getsize(path) / 2**20
        print(f'| {name} | {size:.0f} MiB | {torch_["seconds"]:.3f} s, '
              f'+{torch_["peak_mib"]:.0f} MiB | {ours["seconds"]:.3f} s, '
              f'+{ours["peak_mib"]:.0f} MiB | {ours["seconds"] / torch_["seconds"]:.2f}x time, '
              f'{ours["peak_mib"] / max(torch_["peak_mib"], 1):.2f}x memory |')
    if not args.keep:
        for path in paths.values():
            os.remove(path)
        os.rmdir(folder)


if __name__ == '__main__':
    main()
