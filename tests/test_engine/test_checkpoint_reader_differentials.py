"""The checkpoint reader against a hostile tester's third round: files other readers see
otherwise, trust through URL names, shared-reference nesting, the budget as a memory bound, and
errors that were not the reader's refusal (one test per finding)."""
import io
import os
import struct
import zipfile
import zlib

import pytest
import torch
from payloads import TouchPayload, saved, write, zip_checkpoint

from isonet_det.engine import UntrustedCheckpointError, load_checkpoint_file


def refused_as_malformed(path: str) -> str:
    with pytest.raises(UntrustedCheckpointError) as err:
        load_checkpoint_file(path)
    message = str(err.value)
    assert path in message and 'do not trust it' in message, message
    assert '--trust-checkpoint' not in message and 'ISONET_TRUSTED' not in message, message
    return message


# 1. one file, two readings ------------------------------------------------------------------


def two_archives(first: bytes, second: bytes) -> bytes:
    """``first``'s records and central directory, then ``second``'s records, then a central
    directory of ``first``'s size whose offsets point into ``second`` less the bytes before it,
    and ``first``'s end record: torch reads the central directory where the end record says
    (``first``), Python's zipfile where it finds it and moves every offset by the difference
    (``second``)."""
    end = first[-22:]
    assert end[:4] == b'PK\x05\x06'
    size, start = struct.unpack('<II', end[12:20])
    central = bytearray(first[start:start + size])
    body = bytearray(first[:start + size])
    other = zipfile.ZipFile(io.BytesIO(second))
    entries, i = [], 0
    while i < len(central):
        name_len, extra_len, comment_len = struct.unpack('<HHH', central[i + 28:i + 34])
        entries.append((i, central[i + 46:i + 46 + name_len].decode()))
        i += 46 + name_len + extra_len + comment_len
    offsets = {}
    for _, name in entries:
        data = other.read(name)
        offsets[name] = len(body)
        body += struct.pack('<4s5H3L2H', b'PK\x03\x04', 20, 0, 0, 0, 0, zlib.crc32(data), len(data),
                            len(data), len(name), 0) + name.encode() + data
    shift = len(body) - start
    for i, name in entries:
        data = other.read(name)
        struct.pack_into('<3L', central, i + 16, zlib.crc32(data), len(data), len(data))
        struct.pack_into('<L', central, i + 42, offsets[name] - shift)
    return bytes(body + central + end)


def test_zip_read_at_a_moved_central_directory_is_malformed(tmp_path):
    """Python's zipfile used to read the harmless archive, torch (once the file was trusted as
    the refusal advised) the one that runs code."""
    marker = tmp_path / 'ran'
    evil = saved({'w': torch.ones(1000), 'x': TouchPayload(marker)})
    harmless = saved({'w': torch.ones(2), 'meta': {'epoch': 1}})
    data = two_archives(evil, harmless)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:  # what the reader used to check
        assert zf.read('archive/data.pkl') == zipfile.ZipFile(
            io.BytesIO(harmless)).read('archive/data.pkl')
    message = refused_as_malformed(write(tmp_path, 'moved.pth', data))
    assert 'central directory' in message
    assert not marker.exists()


def test_legacy_pickle_before_a_zip_is_malformed(tmp_path):
    """torch decides the format by the first bytes (a legacy pickle here); Python's zipfile
    finds the zip at the end."""
    marker = tmp_path / 'ran'
    legacy = saved({'x': TouchPayload(marker)}, _use_new_zipfile_serialization=False)
    data = legacy + saved({'state_dict': {'w': torch.ones(2)}})
    refused_as_malformed(write(tmp_path, 'polyglot.pth', data))
    assert not marker.exists()


@pytest.mark.parametrize('cut', [0.5, 0.99])
def test_truncated_zip_is_malformed_not_trust_advice(tmp_path, cut):
    data = saved({'w': torch.ones(100)})
    refused_as_malformed(write(tmp_path, 'cut.pth', data[:int(len(data) * cut)]))


def test_zip64_archives_still_load(tmp_path):
    """More than 65,535 records: the zip64 end record states the central directory's offset."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(saved({'w': torch.ones(3)}))) as src, \
            zipfile.ZipFile(out, 'w') as zf:
        for info in src.infolist():
            zf.writestr(info.filename, src.read(info))
        for k in range(65_536):
            zf.writestr(f'archive/x{k}', b'')
    assert b'PK\x06\x06' in out.getvalue()[-200:]
    loaded = load_checkpoint_file(write(tmp_path, 'zip64.pth', out.getvalue()))
    assert torch.equal(loaded['w'], torch.ones(3))


# 2. trust through a URL name ------------------------------------------------------------------


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    monkeypatch.setattr('isonet_det.engine.checkpoint._TRUSTED', set())
    cache = tmp_path / 'torch' / 'hub' / 'checkpoints'
    cache.mkdir(parents=True)
    return cache


def test_url_trust_does_not_cover_another_download_at_its_cache_path(tmp_path, hub_cache,
                                                                     monkeypatch):
    """https://evil/x/resnet50-0676ba61.pth lands where torchvision://resnet50 is looked up."""
    from mmengine.runner import CheckpointLoader
    marker = tmp_path / 'ran'
    (hub_cache / 'resnet50-0676ba61.pth').write_bytes(saved({'x': TouchPayload(marker)}))
    monkeypatch.setenv('ISONET_TRUSTED_CHECKPOINTS', 'torchvision://resnet50')
    with pytest.raises(UntrustedCheckpointError, match='does not match the hash') as err:
        CheckpointLoader.load_checkpoint('torchvision://resnet50', map_location='cpu')
    assert not marker.exists()
    assert 'ISONET_TRUSTED_CHECKPOINTS=torchvision' not in str(err.value)


def test_url_trust_covers_a_file_that_matches_the_hash_in_its_name(hub_cache, monkeypatch):
    import hashlib

    from mmengine.runner import CheckpointLoader
    data = saved({'fn': os.path.join})  # refused by the reader, harmless
    name = f'model-{hashlib.sha256(data).hexdigest()[:10]}.pth'
    (hub_cache / name).write_bytes(data)
    url = f'https://host/x/{name}'
    monkeypatch.setenv('ISONET_TRUSTED_CHECKPOINTS', url)
    assert CheckpointLoader.load_checkpoint(url)['fn'] is os.path.join


def test_url_without_a_hash_in_its_name_cannot_be_trusted_by_name(tmp_path, hub_cache, monkeypatch):
    from mmengine.runner import CheckpointLoader
    marker = tmp_path / 'ran'
    (hub_cache / 'plain.pth').write_bytes(saved({'x': TouchPayload(marker)}))
    url = 'https://host/x/plain.pth'
    monkeypatch.setenv('ISONET_TRUSTED_CHECKPOINTS', url)
    with pytest.raises(UntrustedCheckpointError, match='carries no hash') as err:
        CheckpointLoader.load_checkpoint(url)
    assert not marker.exists()
    path = os.path.realpath(hub_cache / 'plain.pth')
    assert f'ISONET_TRUSTED_CHECKPOINTS={path}' in str(err.value)


# 3. nesting through shared references -------------------------------------------------------


def rings(n: int, m: int, count: int) -> dict:
    """``count`` rings of ``n`` lists, ring k's list m-1 holding ring k+1's list m; the result
    reaches ring 0's list m at depth 2, but a walk from it (pickle.dumps of
    ``meta['dataset_meta']`` on resume) goes round every ring: about ``count * n`` deep."""
    all_rings = []
    for _ in range(count):
        ring = [[] for _ in range(n)]
        for i in range(n):
            ring[i].append(ring[(i + 1) % n])
        all_rings.append(ring)
    for k in range(count - 1):
        all_rings[k][m - 1].append(all_rings[k + 1][m])
    return {
        'rings': [ring[0] for ring in reversed(all_rings)],
        'meta': {
            'dataset_meta': all_rings[0][m],
            'epoch': 1
        }
    }


def test_nesting_through_shared_references_is_refused(tmp_path):
    import pickle
    import sys
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)  # to write the file
    try:
        data = saved(rings(95, 50, 12))  # each ring within 100 from the root
    finally:
        sys.setrecursionlimit(limit)
    path = write(tmp_path, 'rings.pth', data)
    with pytest.raises(UntrustedCheckpointError, match='rings.pth.*nested more than 100 deep'):
        load_checkpoint_file(path)
    small = load_checkpoint_file(write(tmp_path, 'small.pth', saved(rings(20, 10, 4))))
    pickle.dumps(small['meta']['dataset_meta'])  # 80 lists in cycles: within the bound


# 5. errors that were not the reader's refusal -----------------------------------------------


def test_chained_tar_long_names_are_refused_with_the_file_name(tmp_path):
    import tarfile
    out = b''
    for _ in range(400):  # a RecursionError in tarfile before
        info = tarfile.TarInfo('././@LongLink')
        info.size, info.type = 2, tarfile.GNUTYPE_LONGNAME
        out += info.tobuf(format=tarfile.GNU_FORMAT) + b'a\0' + b'\0' * 510
    last = tarfile.TarInfo('x')
    out += last.tobuf(format=tarfile.GNU_FORMAT) + b'\0' * 1024
    refused_as_malformed(write(tmp_path, 'chain.tar', out))


def on_device(location: str) -> bytes:
    """A zip checkpoint of one float tensor whose storage was saved on ``location``."""

    def text(value):
        data = value.encode()
        return b'\x8c' + bytes([len(data)]) + data

    pkl = (b'\x80\x02}' + text('w') + b'ctorch._utils\n_rebuild_tensor_v2\n((' + text('storage') +
           b'ctorch\nFloatStorage\n' + text('0') + text(location) +
           b'K\x02tQK\x00K\x02\x85K\x01\x85\x89ccollections\nOrderedDict\n)RtRs.')
    return zip_checkpoint(pkl, b'\0' * 8)


@pytest.mark.parametrize('location',
                         ['meta', 'lazy', 'mkldnn', 'xla', 'hpu', 'privateuseone', 'hip', 'hip:0'])
def test_storages_on_unsupported_devices_are_the_readers_refusal(tmp_path, location):
    path = write(tmp_path, 'dev.pth', on_device(location))
    with pytest.raises(UntrustedCheckpointError, match='dev.pth'):
        load_checkpoint_file(path)  # map_location=None: mmengine's default
    loaded = load_checkpoint_file(path, map_location='cpu')
    assert torch.equal(loaded['w'], torch.zeros(2))
    assert torch.equal(
        load_checkpoint_file(write(tmp_path, 'cpu.pth', on_device('cpu')))['w'], torch.zeros(2))


def test_checkpoint_hook_skips_runtime_info_keys_that_are_not_strings(tmp_path):
    """A genuine checkpoint's message hub may hold any key: before_train crashed on an int."""
    from tiny_runner import make_runner
    make_runner(tmp_path, 1).train()
    ckpt = load_checkpoint_file(str(tmp_path / 'epoch_1.pth'))
    ckpt['message_hub']['runtime_info'][7] = 'seven'
    torch.save(ckpt, tmp_path / 'int_key.pth')
    runner = make_runner(tmp_path, 2, resume=True, load_from=str(tmp_path / 'int_key.pth'))
    runner.train()
    assert runner.epoch == 2 and runner.message_hub.runtime_info[7] == 'seven'


# 6. names from the file in a refusal that offers trust --------------------------------------


def test_names_from_the_file_are_quoted_and_cut_in_the_refusal(tmp_path):
    module = 'os\n\nThis file is safe to trust. ' + 'x' * 200
    pkl = (b'\x80\x04\x8c' + bytes([len(module)]) + module.encode() + b'\x8c\x06system\x93.')
    path = write(tmp_path, 'names.pth', _zip_of(pkl))
    with pytest.raises(UntrustedCheckpointError) as err:
        load_checkpoint_file(path)
    message = str(err.value)
    assert '\n' not in message and 'x' * 100 not in message, message
    assert repr(module[:80]) in message, message


def _zip_of(pkl: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, 'w') as zf:
        for name, content in (('data.pkl', pkl), ('byteorder', b'little'), ('version', b'3\n')):
            zf.writestr(f'archive/{name}', content)
    return out.getvalue()
