"""tools/benchmarks/select_gpu_wheels.py: what gpu_check.sh installs on a GPU machine from the
wheel folders that travelled with the run."""
import os.path as osp
import subprocess
import sys

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
sys.path.insert(0, osp.join(ROOT, 'tools', 'benchmarks'))
import select_gpu_wheels  # noqa: E402


def make_wheels(root, names):
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b'')  # only the names are read
    return str(root)


def test_installs_what_the_machine_lacks_and_always_the_openmmlab_stack(tmp_path):
    wheels = make_wheels(
        tmp_path / 'w',
        [
            'plugin/mmengine-0.10.7-py3-none-any.whl',  # installed here too: always
            'plugin/mmcv_lite-2.1.0-py2.py3-none-any.whl',
            'plugin/pytest-1.0-py3-none-any.whl',  # this interpreter has pytest: kept
            'plots/no_such_dist_x1-1.0-py3-none-any.whl',
            'extra/numpy-9.9.9-cp312-cp312-manylinux_2_28_x86_64.whl',  # and numpy
            'detector/mmdet-3.3.0-py3-none-any.whl',
            'elsewhere/no_such_dist_x2-1.0-py3-none-any.whl',  # not a folder it reads
        ])
    names = [osp.relpath(w, wheels) for w in select_gpu_wheels.needed_wheels(wheels)]
    assert names == [
        'plugin/mmcv_lite-2.1.0-py2.py3-none-any.whl', 'plugin/mmengine-0.10.7-py3-none-any.whl',
        'detector/mmdet-3.3.0-py3-none-any.whl', 'plots/no_such_dist_x1-1.0-py3-none-any.whl'
    ]
    cuda = osp.join(wheels, 'cuda', 'mmcv-2.1.0-cp312-cp312-linux_x86_64.whl')
    make_wheels(tmp_path / 'w', ['cuda/mmcv-2.1.0-cp312-cp312-linux_x86_64.whl'])
    with_cuda = select_gpu_wheels.needed_wheels(wheels, cuda)
    assert cuda in with_cuda and not any('mmcv_lite' in w for w in with_cuda)
    done = subprocess.run([sys.executable, select_gpu_wheels.__file__, wheels, cuda],
                          capture_output=True,
                          text=True)
    assert done.returncode == 0 and done.stdout.split() == with_cuda
    assert 'the machine has numpy' in done.stderr and 'the machine has pytest' in done.stderr
