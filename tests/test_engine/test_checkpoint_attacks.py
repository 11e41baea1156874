"""What a checkpoint file could do before this reader, each as a test: crash the process, rewrite
shared state, delete files, reach code through URL schemes, run on borrowed trust, allocate
without bound, change torch's allow-list, write a NaN checkpoint over a good one, overwrite
files (issue 17)."""
import collections
import copyreg
import io
import json
import os
import os.path as osp
import pickle
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner import load_checkpoint
from payloads import TouchPayload
from tiny_runner import make_runner

from isonet_det.engine import (IsometryRegularizerHook, UntrustedCheckpointError,
                               checkpoints_of_config, load_checkpoint_file)

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
MULTIARRAY = np.core.multiarray if np.__version__ < '2' else np._core.multiarray
OBJECT_DTYPE_STATE = (3, '|', None, None, None, -1, -1, 0)  # flags 0: no refcounting


class Reduce:
    """Pickles as ``func(*args)``, then BUILD with ``state`` when given."""

    def __init__(self, func, args, state=None):
        self.value = (func, args) if state is None else (func, args, state)

    def __reduce__(self):
        return self.value


class AsHistoryBuffer(Reduce):
    """Passes pickle's check that ``__newobj__``'s class is the object's own."""
    __class__ = property(lambda self: HistoryBuffer)


def raw(obj) -> bytes:
    return pickle.dumps(obj, protocol=2)


def saved(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def write(tmp_path, name, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def load_in_subprocess(path: str, *, trust_env: str = ''):
    """Load ``path`` with the plugin in a fresh process: (returncode, output, peak RSS MiB)."""
    code = ('import resource, sys; import isonet_det; from isonet_det.engine import '
            'load_checkpoint_file\n'
            'try:\n'
            f'    load_checkpoint_file({path!r}); print("LOADED")\n'
            'except Exception as e:\n'
            '    print("REFUSED", type(e).__name__, e)\n'
            'print("RSS", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n')
    env = dict(os.environ, ISONET_TRUSTED_CHECKPOINTS=trust_env)
    proc = subprocess.run([sys.executable, '-c', code],
                          capture_output=True,
                          text=True,
                          env=env,
                          timeout=300)
    rss = [int(line.split()[1]) for line in proc.stdout.splitlines() if line.startswith('RSS')]
    return proc.returncode, proc.stdout + proc.stderr, rss[0] if rss else None


# 1. numpy object dtypes and dtype states -------------------------------------------------


def test_object_dtype_scalar_is_refused_without_a_crash(tmp_path):
    """A 130-byte file: np.dtype('O') BUILT with flags 0, then scalar(dtype, b'AAAAAAAA') reads
    a pointer from the file (a segfault under torch's weights-only unpickler)."""
    dtype = Reduce(np.dtype, ('O', False, True), OBJECT_DTYPE_STATE)
    path = write(tmp_path, 'crash.pth', raw(Reduce(MULTIARRAY.scalar, (dtype, b'AAAAAAAA'))))
    code, out, _ = load_in_subprocess(path)
    assert code == 0, out[-2000:]  # -11 (SIGSEGV) before
    assert 'REFUSED UntrustedCheckpointError' in out and "numpy.dtype('O')" in out, out


def test_object_array_with_pointers_from_the_file_is_refused(tmp_path):
    dtype = Reduce(np.dtype, ('O', False, True), OBJECT_DTYPE_STATE)
    array = Reduce(MULTIARRAY._reconstruct, (np.ndarray, (0, ), b'b'),
                   (1, (2, ), dtype, False, b'A' * 16))
    path = write(tmp_path, 'pointers.pth', saved({'meta': array}))
    code, out, _ = load_in_subprocess(path)
    assert code == 0 and 'REFUSED' in out and 'not a plain numeric dtype' in out, out


@pytest.mark.parametrize('state', [(3, '<', None, None, None, -1, -1, 16),
                                   (3, '|', None, None, None, 4, 1, 0)])
def test_numeric_dtype_with_a_state_numpy_never_writes_is_refused(tmp_path, state):
    dtype = Reduce(np.dtype, ('f8', False, True), state)
    with pytest.raises(UntrustedCheckpointError, match='dtype state'):
        load_checkpoint_file(write(tmp_path, 'state.pth', saved({'d': dtype})))
    assert np.dtype('f8').flags == 0 and np.dtype('f8').itemsize == 8  # numpy's own untouched


def test_numpy_arrays_and_scalars_numpy_writes_still_load(tmp_path):
    obj = {'a': np.arange(6, dtype='>i4').reshape(2, 3), 's': np.float32(2.5), 'b': np.bool_(1)}
    out = load_checkpoint_file(write(tmp_path, 'np.pth', saved(obj)))
    expected = pickle.loads(pickle.dumps(obj['a'], protocol=2))  # as numpy itself reads it
    assert out['a'].dtype == expected.dtype and out['a'].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert out['s'] == np.float32(2.5) and out['b'] == np.bool_(True)


# 2. the HistoryBuffer class-level table --------------------------------------------------


def test_history_buffer_state_cannot_rewrite_the_class_table(tmp_path):
    HistoryBuffer()
    table = dict(HistoryBuffer._statistics_methods)
    evil = AsHistoryBuffer(
        copyreg.__newobj__, (HistoryBuffer, ), {
            'max_length': 5,
            '_log_history': np.array([1.0, 3.0]),
            '_count_history': np.array([1.0, 1.0]),
            'statistics_methods': {
                'mean': HistoryBuffer.max
            }
        })
    with pytest.raises(UntrustedCheckpointError, match='statistics_methods'):
        load_checkpoint_file(write(tmp_path, 'hb.pth', saved({'hb': evil})))
    assert HistoryBuffer._statistics_methods == table
    assert HistoryBuffer([1.0, 3.0], [1.0, 1.0]).statistics('mean') == 2.0  # 3.0 before


def test_history_buffer_with_foreign_attributes_is_refused(tmp_path):
    evil = AsHistoryBuffer(
        copyreg.__newobj__, (HistoryBuffer, ), {
            'max_length': 5,
            '_log_history': np.array([1.0]),
            '_count_history': np.array([1.0]),
            'statistics': 'shadowed'
        })
    with pytest.raises(UntrustedCheckpointError, match='HistoryBuffer state'):
        load_checkpoint_file(write(tmp_path, 'hb.pth', saved({'hb': evil})))


# 3. resuming deletes only files of the run's own folder ------------------------------------


def snapshot(folder):
    return {
        p: open(osp.join(folder, p), 'rb').read()
        for p in sorted(os.listdir(folder)) if osp.isfile(osp.join(folder, p))
    }


def test_resuming_another_runs_checkpoint_deletes_none_of_yours(tmp_path):
    other, mine = tmp_path / 'other', tmp_path / 'mine'
    make_runner(other, 3, max_keep_ckpts=3).train()  # keep_ckpt_ids [1, 2, 3]
    make_runner(mine, 2).train()  # your own epoch_1.pth, epoch_2.pth
    before = snapshot(mine)
    runner = make_runner(
        mine, 4, max_keep_ckpts=1, resume=True, load_from=str(other / 'epoch_3.pth'))
    runner.train()
    after = snapshot(mine)
    assert after['epoch_1.pth'] == before['epoch_1.pth']  # deleted before the fix
    assert after['epoch_2.pth'] == before['epoch_2.pth']
    assert 'epoch_4.pth' in after


def test_crafted_keep_ckpt_ids_delete_nothing(tmp_path):
    work = tmp_path / 'work'
    make_runner(work, 1).train()
    ckpt = load_checkpoint_file(str(work / 'epoch_1.pth'))
    ckpt['message_hub']['runtime_info']['keep_ckpt_ids'] = [1, 2, 3, 'x']
    ckpt['message_hub']['runtime_info']['best_ckpt'] = str(tmp_path / 'precious.txt')
    torch.save(ckpt, work / 'crafted.pth')
    for name in ('epoch_2.pth', 'epoch_3.pth'):
        (work / name).write_text('your file')
    (work / 'epoch_x.pth').mkdir()
    (work / 'epoch_x.pth' / 'inside.txt').write_text('your folder')
    (tmp_path / 'precious.txt').write_text('precious')
    runner = make_runner(
        work, 2, max_keep_ckpts=1, resume=True, load_from=str(work / 'crafted.pth'))
    runner.train()
    assert (work / 'epoch_2.pth').exists() and (work / 'epoch_3.pth').exists()
    assert (work / 'epoch_x.pth' / 'inside.txt').read_text() == 'your folder'
    assert (tmp_path / 'precious.txt').read_text() == 'precious'
    assert runner.message_hub.get_info('keep_ckpt_ids') == [2]


def test_resuming_your_own_run_still_keeps_max_keep_ckpts(tmp_path):
    make_runner(tmp_path, 3, max_keep_ckpts=3).train()
    make_runner(tmp_path, 4, max_keep_ckpts=2, resume=True).train()
    assert sorted(p for p in os.listdir(tmp_path)
                  if p.endswith('.pth')) == ['epoch_3.pth', 'epoch_4.pth']


# 4. URL schemes go through the same reader ------------------------------------------------


def test_url_schemes_load_cached_files_through_the_reader(tmp_path, monkeypatch):
    from mmdet.models.backbones import ResNet
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    cache = tmp_path / 'torch' / 'hub' / 'checkpoints'
    cache.mkdir(parents=True)
    marker = tmp_path / 'payload-ran'
    torch.save({'meta': TouchPayload(marker)}, cache / 'resnet50-0676ba61.pth')
    backbone = ResNet(
        depth=50, init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50'))
    with pytest.raises(UntrustedCheckpointError, match='torchvision://resnet50.*posix.system'):
        backbone.init_weights()  # the stock ResNet-50 configs' init_cfg
    from mmengine.runner.checkpoint import get_external_models
    v1c = get_external_models()['resnet50_v1c']
    torch.save({'meta': TouchPayload(marker)}, cache / osp.basename(v1c))
    for url in ('https://download.pytorch.org/models/resnet50-0676ba61.pth',
                'open-mmlab://resnet50_v1c', v1c):
        with pytest.raises(UntrustedCheckpointError, match='posix.system'):
            load_checkpoint(nn.Linear(1, 1), url)
    assert not marker.exists()
    # a genuine torchvision file (a plain state dict) loads
    torch.save(nn.Linear(2, 3).state_dict(), cache / 'resnet50-0676ba61.pth')
    model = nn.Linear(2, 3)
    load_checkpoint(model, 'torchvision://resnet50')


@pytest.mark.parametrize('url', ['s3://bucket/model.pth', 'pavi://model.pth'])
def test_remote_backends_are_refused_with_how_to(url):
    with pytest.raises(UntrustedCheckpointError, match='Copy the file to local disk'):
        load_checkpoint(nn.Linear(1, 1), url)


# 5. trust extends only to named paths and the run's own work dir ----------------------------


def test_trust_does_not_follow_last_checkpoint_out_of_the_work_dir(tmp_path):
    from mmengine.config import Config
    work, elsewhere = tmp_path / 'work', tmp_path / 'elsewhere.pth'
    work.mkdir()
    elsewhere.write_bytes(saved({'meta': TouchPayload(tmp_path / 'ran')}))
    (work / 'last_checkpoint').write_text(str(elsewhere))
    cfg = Config(dict(resume=True, load_from=None, work_dir=str(work), model=dict()))
    with pytest.raises(ValueError, match='outside the work dir'):
        checkpoints_of_config(cfg)
    (work / 'epoch_1.pth').write_bytes(b'')
    (work / 'last_checkpoint').write_text(str(work / 'epoch_1.pth'))
    assert checkpoints_of_config(cfg) == [str(work / 'epoch_1.pth')]


# 6. a memory budget -------------------------------------------------------------------------


def test_a_tiny_file_cannot_allocate_a_gibibyte(tmp_path):
    bytearray_file = write(tmp_path, 'alloc.pth', raw(Reduce(bytearray, (2**30, ))))
    assert osp.getsize(bytearray_file) < 100
    dtype = Reduce(np.dtype, ('O', False, True))
    objects = write(
        tmp_path, 'objects.pth',
        saved({
            'a':
            Reduce(MULTIARRAY._reconstruct, (np.ndarray, (0, ), b'b'),
                   (1, (2**27, ), dtype, False, []))
        }))
    genuine = write(tmp_path, 'genuine.pth', saved({'w': torch.zeros(4)}))
    _, out, baseline = load_in_subprocess(genuine)
    assert 'LOADED' in out, out
    for path, reason in ((bytearray_file, 'bytearray(1073741824)'), (objects,
                                                                     'not a plain numeric dtype')):
        code, out, rss = load_in_subprocess(path)
        assert code == 0 and 'REFUSED' in out and reason in out, out
        assert rss < baseline + 256, (rss, baseline)  # + 1024 MiB before


def test_budget_counts_the_objects_a_pickle_makes(tmp_path):
    lists = b'\x80\x02' + b']' * 600_000 + b'.'  # 600k empty lists: 68 MiB of objects
    with pytest.raises(UntrustedCheckpointError, match='budget'):
        load_checkpoint_file(write(tmp_path, 'lists.pth', lists))
    from isonet_det.engine.checkpoint_reader import CheckpointRefused, read_checkpoint
    with pytest.raises(CheckpointRefused, match='budget'):
        read_checkpoint(saved({'s': 'x' * 10_000}), max_pickle_bytes=4096)


def test_storages_must_be_in_the_file(tmp_path):
    import zipfile
    data = saved({'w': torch.zeros(1000)})
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        records = {i.filename: zf.read(i) for i in zf.infolist()}
    short = io.BytesIO()
    with zipfile.ZipFile(short, 'w') as zf:
        for name, content in records.items():
            zf.writestr(name, content[:8] if name.endswith('data/0') else content)
    with pytest.raises(UntrustedCheckpointError, match='declares 4000 bytes, the file holds 8'):
        load_checkpoint_file(write(tmp_path, 'short.pth', short.getvalue()))
    view = Reduce(torch._utils._rebuild_tensor_v2,
                  (torch.zeros(2).storage(), 0, (2**20, ), (1, ), False, collections.OrderedDict()))
    with pytest.raises(UntrustedCheckpointError, match='reaches past its storage'):
        load_checkpoint_file(write(tmp_path, 'view.pth', saved({'v': view})))


# 7. no process-wide state, thread-safe ------------------------------------------------------


class Allowed:
    pass


def test_loading_leaves_torch_allow_list_alone_and_is_thread_safe(tmp_path):
    if hasattr(torch.serialization, 'add_safe_globals'):
        torch.serialization.add_safe_globals([Allowed])
    path = tmp_path / 'epoch_1.pth'
    make_runner(tmp_path, 1).train()
    failures = []

    def load_many():
        for _ in range(8):
            try:
                load_checkpoint_file(str(path))
            except Exception as e:  # noqa: BLE001  (counted, then asserted on)
                failures.append(e)

    if hasattr(torch.serialization, 'get_safe_globals'):
        before = list(torch.serialization.get_safe_globals())
        during = []

        def spy(storage, location):  # called while the file is being read
            during.append(list(torch.serialization.get_safe_globals()))
            return storage

        load_checkpoint_file(str(path), spy)
        assert during and all(entries == before for entries in during)
    threads = [threading.Thread(target=load_many) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    if hasattr(torch.serialization, 'get_safe_globals'):
        assert Allowed in torch.serialization.get_safe_globals()


# 8. a non-finite loss or regulariser stops the run before any checkpoint ---------------------


@pytest.mark.parametrize('coeff', [float('nan'), float('inf'), -1.0, 'x'])
def test_non_finite_coeff_is_refused_at_build(coeff):
    with pytest.raises(ValueError, match='finite'):
        IsometryRegularizerHook(coeff=coeff)


class PoisonAtEpoch(Hook):

    def __init__(self, epoch, what):
        self.epoch, self.what = epoch, what

    def before_train_epoch(self, runner):
        if runner.epoch == self.epoch:
            if self.what == 'loss':
                runner.model.poison = True
            else:
                with torch.no_grad():
                    runner.model.conv.weight.fill_(float('inf'))


@pytest.mark.parametrize('what', ['loss', 'weights'])
def test_nan_stops_before_the_good_checkpoint_is_replaced(tmp_path, what):
    hooks = [dict(type='IsometryRegularizerHook', coeff=1e-4, module=None), PoisonAtEpoch(1, what)]
    runner = make_runner(tmp_path, 3, max_keep_ckpts=1, custom_hooks=hooks)
    with pytest.raises(FloatingPointError, match='before any checkpoint'):
        runner.train()
    assert sorted(p for p in os.listdir(tmp_path) if p.endswith('.pth')) == ['epoch_1.pth']
    state = load_checkpoint_file(str(tmp_path / 'epoch_1.pth'))['state_dict']
    assert all(torch.isfinite(v).all() for v in state.values())


# 9. nothing is overwritten; refusals read as errors, not tracebacks ----------------------------


def test_coco_subset_never_writes_through_a_planted_symlink(tmp_path):
    from isonet_det.datasets import write_coco_subset
    ann = tmp_path / 'ann.json'
    ann.write_text(
        json.dumps(
            dict(
                images=[dict(id=1, file_name='a.jpg', width=4, height=4)],
                annotations=[
                    dict(id=1, image_id=1, category_id=1, bbox=[0, 0, 1, 1], area=1, iscrowd=0)
                ],
                categories=[dict(id=1, name='cat')])))
    victim = tmp_path / 'victim.txt'
    victim.write_text('yours')
    out = tmp_path / 'subset.json'
    os.symlink(victim, f'{out}.tmp{os.getpid()}')  # the name the writer used before
    write_coco_subset(str(ann), str(out), ['cat'], None)
    assert victim.read_text() == 'yours'
    assert json.loads(out.read_text())['categories'][0]['name'] == 'cat'


def converter(src, dst):
    return subprocess.run(
        [sys.executable,
         osp.join(ROOT, 'tools/model_converters/isonet2mmdet.py'), src, dst],
        capture_output=True,
        text=True,
        timeout=300)


def test_converter_refusals_are_errors_with_the_trust_hint(tmp_path):
    import tarfile
    tar_file = tmp_path / 'old.tar'
    with tarfile.open(tar_file, 'w') as tf:
        info = tarfile.TarInfo('sys_info')
        info.size = 3
        tf.addfile(info, io.BytesIO(b'abc'))
    build_tuple = b'\x80\x02ccollections\nOrderedDict\n)R(K\x01tb.'
    unhashable = b'\x80\x02]q\x00Q.'  # a list as persistent id
    for name, data in (('old.tar', tar_file.read_bytes()), ('tuple.pth', build_tuple),
                       ('unhashable.pth', unhashable)):
        src = write(tmp_path, f'src-{name}', data)
        run = converter(src, str(tmp_path / f'out-{name}'))
        assert run.returncode == 2 and 'Traceback' not in run.stderr, run.stderr[-2000:]
        assert 'refusing to load' in run.stderr and 'ISONET_TRUSTED_CHECKPOINTS' in run.stderr


def test_converter_into_an_unwritable_folder_says_so(tmp_path):
    sys.path.insert(0, osp.join(ROOT, 'tests', 'test_models', 'test_converters'))
    from test_reference_checkpoint import reference_checkpoint

    from isonet_det.models import RISONet
    src = tmp_path / 'ref.pth'
    torch.save(reference_checkpoint(RISONet(depth=18)), src)
    run = converter(str(src), '/proc/isonet-det-test/out.pth')
    assert run.returncode == 2 and 'Traceback' not in run.stderr, run.stderr[-2000:]
    assert 'cannot write /proc/isonet-det-test/out.pth' in run.stderr
