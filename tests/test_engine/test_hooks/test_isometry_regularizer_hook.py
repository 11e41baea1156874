"""One optimizer step with the hook == one step on ``loss + coeff * reg`` computed by hand."""
import copy
import os
import socket
import time

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.runner import Runner
from reference_math import direct_orthonormality, direct_penalty

from isonet_det.engine import IsometryRegularizerHook
from isonet_det.models import RISONet, delta_orthogonal_init_

COEFF = 0.01
SGD = dict(lr=0.01, momentum=0.9, weight_decay=1e-3)


class TinyDetector(nn.Module):
    """A backbone (R-ISONet, perturbed away from isometry) and a conv head."""

    def __init__(self, **backbone_kwargs):
        super().__init__()
        self.backbone = RISONet(
            depth=18,
            num_stages=2,
            out_indices=(0, 1),
            base_channels=4,
            residual_scale_init=0.5,
            **backbone_kwargs)
        self.backbone.init_weights()
        self.head = nn.Conv2d(8, 3, 3, padding=1)
        with torch.no_grad():
            for p in self.parameters():
                p.add_(0.05 * torch.randn_like(p))

    def loss(self, x):
        return self.head(self.backbone(x)[-1]).pow(2).mean()


def selected(model, module='backbone'):
    scope = model.backbone if module == 'backbone' else model
    return [
        m for m in scope.modules() if isinstance(m, nn.Conv2d) and m is not model.backbone.conv1
    ]


class FakeRunner:

    def __init__(self, model, optim_wrapper):
        self.model, self.optim_wrapper = model, optim_wrapper
        self.iter = 0


def train_with_hook(model, wrapper, batches, **hook_kwargs):
    hook = IsometryRegularizerHook(coeff=COEFF, **hook_kwargs)
    runner = FakeRunner(model, wrapper)
    wrapper.initialize_count_status(model, 0, len(batches))
    hook.before_train(runner)
    for i, x in enumerate(batches):
        hook.before_train_iter(runner, i)
        wrapper.update_params(model.loss(x))
    hook.after_train(runner)
    return model


def train_by_hand(model,
                  batches,
                  accumulate=1,
                  max_norm=None,
                  module='backbone',
                  penalty=direct_penalty):
    """SGD on mean-over-window(loss) + coeff * reg, the regulariser written into the loss."""
    opt = torch.optim.SGD(model.parameters(), **SGD)
    for start in range(0, len(batches), accumulate):
        opt.zero_grad()
        window = batches[start:start + accumulate]
        loss = sum(model.loss(x) for x in window) / len(window)
        loss = loss + COEFF * sum(penalty(c) for c in selected(model, module))
        loss.backward()
        if max_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        opt.step()
    return model


def assert_same_weights(a, b, rtol=1e-5):
    for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb, rtol=rtol, atol=1e-7, msg=name)


def batches(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(2, 3, 32, 32, generator=g) for _ in range(n)]


@pytest.mark.parametrize('module', ['backbone', None])
def test_equivalent_to_regulariser_in_the_loss(module):
    model = TinyDetector()
    expected = train_by_hand(copy.deepcopy(model), batches(3), module=module)
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), **SGD))
    got = train_with_hook(model, wrapper, batches(3), module=module)
    assert_same_weights(got, expected)


def test_orthonormality_variant_is_equivalent_to_its_loss_term():
    model = TinyDetector()
    expected = train_by_hand(copy.deepcopy(model), batches(2), penalty=direct_orthonormality)
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), **SGD))
    got = train_with_hook(model, wrapper, batches(2), regularizer='orthonormality')
    assert_same_weights(got, expected)
    logged = MessageHub.get_current_instance().get_scalar('train/orthonormality_reg')
    assert logged.current() > 0
    with pytest.raises(ValueError, match='regularizer'):
        IsometryRegularizerHook(regularizer='spectral')


def test_without_hook_the_update_differs():
    """Guards the test above: the regulariser's contribution is not negligible."""
    model = TinyDetector()
    expected = train_by_hand(copy.deepcopy(model), batches(2))
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), **SGD))
    for x in batches(2):
        wrapper.update_params(model.loss(x))
    diff = (model.backbone.layer2[0].conv2.weight - expected.backbone.layer2[0].conv2.weight)
    assert diff.abs().max() > 1e-4


def test_gradient_accumulation_adds_once_per_real_step():
    model = TinyDetector()
    expected = train_by_hand(copy.deepcopy(model), batches(4), accumulate=2)
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), **SGD), accumulative_counts=2)
    assert_same_weights(train_with_hook(model, wrapper, batches(4)), expected)


def test_added_before_gradient_clipping():
    model = TinyDetector()
    expected = train_by_hand(copy.deepcopy(model), batches(2), max_norm=0.05)
    wrapper = OptimWrapper(
        torch.optim.SGD(model.parameters(), **SGD), clip_grad=dict(max_norm=0.05))
    assert_same_weights(train_with_hook(model, wrapper, batches(2)), expected)


def _cpu_fused_optimizers() -> bool:
    param = nn.Parameter(torch.zeros(1))
    param.grad = torch.zeros(1)
    try:
        torch.optim.SGD([param], lr=0.1, fused=True).step()
    except (TypeError, RuntimeError):  # torch < 2.2: no `fused`; then CUDA-only kernels
        return False
    return True


CPU_GRAD_SCALER = hasattr(torch.amp, 'GradScaler')  # torch >= 2.3; older ones are CUDA-only
needs_cpu_amp = pytest.mark.skipif(
    not CPU_GRAD_SCALER,
    reason='this torch has no CPU GradScaler: its AMP path can only be checked on a GPU')
needs_cpu_fused = pytest.mark.skipif(
    not _cpu_fused_optimizers(), reason='this torch has no fused optimizers on the CPU')


def make_cpu_amp_wrapper(model, monkeypatch, init_scale, optimizer=None, **kwargs):
    import mmengine.optim.optimizer.amp_optimizer_wrapper as amp_module
    monkeypatch.setattr(amp_module, 'is_cuda_available', lambda: True)
    optimizer = optimizer or torch.optim.SGD(model.parameters(), **SGD)
    wrapper = AmpOptimWrapper(optimizer=optimizer, **kwargs)
    wrapper.loss_scaler = torch.amp.GradScaler('cpu', init_scale=init_scale)
    return wrapper


OPTIMIZERS = {
    'sgd-foreach': lambda params: torch.optim.SGD(params, foreach=True, **SGD),
    'sgd-fused': lambda params: torch.optim.SGD(params, fused=True, **SGD),
    'adamw-fused': lambda params: torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-2, fused=True),
    'adamw-plain':
    lambda params: torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-2, foreach=False),
}


def train_by_hand_with(make_optimizer, model, batches, max_norm=None):
    """``loss + coeff * reg`` by hand, stepped by a non-fused copy of the optimizer."""
    opt = make_optimizer(model.parameters())
    for group in opt.param_groups:
        group['fused'] = False
        group['foreach'] = False
    for x in batches:
        opt.zero_grad()
        loss = model.loss(x) + COEFF * sum(direct_penalty(c) for c in selected(model))
        loss.backward()
        if max_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        opt.step()
    return model


def optimizer_names(names):
    return [pytest.param(n, marks=needs_cpu_fused) if 'fused' in n else n for n in names]


@needs_cpu_amp
@pytest.mark.parametrize('name', optimizer_names(sorted(OPTIMIZERS)))
@pytest.mark.parametrize('max_norm', [None, 0.05])
def test_amp_grad_scaler_is_exact_for_plain_foreach_and_fused(name, max_norm, monkeypatch):
    """A fused optimizer unscales inside its kernel: the term must be scaled with the gradients
    (else it enters divided by the loss scale, 1024 here)."""
    model = TinyDetector()
    expected = train_by_hand_with(OPTIMIZERS[name], copy.deepcopy(model), batches(2), max_norm)
    clip = dict(clip_grad=dict(max_norm=max_norm)) if max_norm else {}
    wrapper = make_cpu_amp_wrapper(model, monkeypatch, 1024.0, OPTIMIZERS[name](model.parameters()),
                                   **clip)
    assert_same_weights(train_with_hook(model, wrapper, batches(2)), expected, rtol=1e-4)


@needs_cpu_fused
def test_fused_term_follows_grad_scale_and_found_inf():
    """What a fused optimizer receives: the term times grad_scale, times 0 on a skipped step."""
    model = TinyDetector()
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), fused=True, **SGD))
    hook = IsometryRegularizerHook(coeff=COEFF)
    hook.before_train(FakeRunner(model, wrapper))
    att = hook._attachments[0]
    convs = att.convs
    reg_grads = torch.autograd.grad(
        sum(direct_penalty(c) for c in convs), [c.weight for c in convs])
    for found_inf in (0.0, 1.0):
        for c in convs:
            c.weight.grad = torch.ones_like(c.weight)
        wrapper.optimizer.grad_scale = torch.tensor(8.0)
        wrapper.optimizer.found_inf = torch.tensor(found_inf)
        att.added = False
        hook._add_gradient(att, before_clip=False)
        for c, g in zip(convs, reg_grads):
            expected = 1 + (1 - found_inf) * 8.0 * COEFF * g
            torch.testing.assert_close(c.weight.grad, expected, rtol=1e-5, atol=1e-7)
    del wrapper.optimizer.grad_scale, wrapper.optimizer.found_inf
    hook.after_train(None)


@needs_cpu_amp
@pytest.mark.parametrize('name', optimizer_names(['sgd-fused', 'adamw-fused', 'sgd-foreach']))
def test_amp_overflow_step_changes_nothing(name, monkeypatch):
    model = TinyDetector()
    before = copy.deepcopy(model)
    wrapper = make_cpu_amp_wrapper(model, monkeypatch, 1024.0, OPTIMIZERS[name](model.parameters()))
    hook = IsometryRegularizerHook(coeff=COEFF)
    runner = FakeRunner(model, wrapper)
    hook.before_train(runner)
    hook.before_train_iter(runner, 0)
    wrapper.update_params(model.loss(batches(1)[0]) * float('inf'))
    assert_same_weights(model, before, rtol=0)
    hook.after_train(runner)


@needs_cpu_amp
def test_amp_adds_after_unscaling(monkeypatch):
    model = TinyDetector()
    expected = train_by_hand(copy.deepcopy(model), batches(2))
    wrapper = make_cpu_amp_wrapper(model, monkeypatch, init_scale=1024.0)
    assert_same_weights(train_with_hook(model, wrapper, batches(2)), expected, rtol=1e-4)


@needs_cpu_amp
def test_amp_skipped_step_is_not_regularised(monkeypatch):
    model = TinyDetector()
    before = copy.deepcopy(model)
    wrapper = make_cpu_amp_wrapper(model, monkeypatch, init_scale=1024.0)
    hook = IsometryRegularizerHook(coeff=COEFF)
    runner = FakeRunner(model, wrapper)
    calls = []
    original = hook._add_gradient
    hook._add_gradient = lambda att: (calls.append(1), original(att))
    hook.before_train(runner)
    hook.before_train_iter(runner, 0)
    loss = model.loss(batches(1)[0]) * float('inf')  # overflow: GradScaler skips the step
    wrapper.update_params(loss)
    assert calls == []
    assert_same_weights(model, before, rtol=0)


def test_frozen_parameters_are_never_touched():
    model = TinyDetector(frozen_stages=1)
    model.train()
    frozen = {n: p.clone() for n, p in model.named_parameters() if not p.requires_grad}
    assert any('layer1' in n for n in frozen)
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), **SGD))
    train_with_hook(model, wrapper, batches(2))
    for n, p in model.named_parameters():
        if n in frozen:
            assert torch.equal(p, frozen[n]) and p.grad is None, n


def test_selection_skips_stem_and_follows_module():
    model = TinyDetector()
    backbone = IsometryRegularizerHook(module='backbone').select_convs(model)
    everything = IsometryRegularizerHook(module=None).select_convs(model)
    assert model.backbone.conv1 not in backbone and model.backbone.conv1 not in everything
    assert model.head not in backbone and model.head in everything
    assert len(backbone) == 2 * 2 * 2 + 1  # 2 stages x 2 blocks x 2 convs + 1 projection
    with_stem = IsometryRegularizerHook(skip_stem=False).select_convs(model)
    assert model.backbone.conv1 in with_stem
    # any model, not only R-ISONet: a conv reading the 3-channel image is the stem
    plain = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Conv2d(8, 8, 3))
    assert IsometryRegularizerHook(module=None).select_convs(plain) == [plain[1]]
    with pytest.raises(AttributeError, match="no submodule 'neck'"):
        IsometryRegularizerHook(module='neck').select_convs(model)


def test_logs_the_regulariser_value():
    model = TinyDetector()
    value = sum(direct_penalty(c) for c in selected(model)).item()
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), **SGD))
    train_with_hook(model, wrapper, batches(1))
    logged = MessageHub.get_current_instance().get_scalar('train/isometry_reg').current()
    assert logged == pytest.approx(value, rel=1e-5)


def test_value_is_read_back_only_when_the_logger_reports(monkeypatch):
    model = TinyDetector()
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), **SGD))
    hook = IsometryRegularizerHook(coeff=COEFF)
    runner = FakeRunner(model, wrapper)
    hook.before_train(runner)
    hook._flush_interval = 3
    reads = []
    for name in ('item', 'tolist', '__float__'):
        original = getattr(torch.Tensor, name)
        monkeypatch.setattr(
            torch.Tensor,
            name,
            lambda self, *a, _o=original, _n=name: reads.append(_n) or _o(self, *a))
    hub = MessageHub.get_current_instance()
    before = len(hub.get_scalar('train/isometry_reg').data[0]) \
        if 'train/isometry_reg' in hub.log_scalars else 0
    for i, x in enumerate(batches(3)):
        hook.before_train_iter(runner, i)
        wrapper.update_params(model.loss(x))
        if i < 2:
            assert reads == [], i  # no host read inside a training step
        runner.train_dataloader = list(range(10))
        hook.after_train_iter(runner, i)
    assert reads == ['tolist']  # one read for the three iterations
    assert len(hub.get_scalar('train/isometry_reg').data[0]) == before + 3
    hook.after_train(runner)


# ---------------------------------------------------------------------- DDP, two processes
def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _run_ranks(worker, init_state, out_dir, nprocs=2, timeout=150, attempts=2):
    """``mp.spawn(worker, (nprocs, port, init_state, out_dir))`` that cannot block the suite: ranks
    still running after ``timeout`` s (a gloo rendezvous that never completes; a normal run takes
    20 s) are killed and the run is started again on a new port, and the test fails after
    ``attempts`` such hangs. A rank's error fails the test at once."""
    for _ in range(attempts):
        context = mp.start_processes(
            worker,
            args=(nprocs, _free_port(), init_state, out_dir),
            nprocs=nprocs,
            join=False,
            start_method='spawn')
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if context.join(timeout=1):
                return
        for process in context.processes:
            process.kill()
            process.join()
    pytest.fail(
        f'{worker.__name__}: {nprocs} ranks did not finish in {timeout} s, {attempts} times')


class _LossForward(TinyDetector):
    forward = TinyDetector.loss


def test_ddp_ranks_agree_and_match_the_averaged_loss(tmp_path):
    torch.manual_seed(0)
    model = _LossForward()
    init_state = copy.deepcopy(model.state_dict())
    _run_ranks(_ddp_worker_loss, init_state, str(tmp_path))
    r0 = torch.load(tmp_path / 'rank0.pth')
    r1 = torch.load(tmp_path / 'rank1.pth')
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k
    # single process: mean of the two ranks' losses + coeff * reg, the regulariser once
    opt = torch.optim.SGD(model.parameters(), **SGD)
    for x0, x1 in zip(batches(2, seed=100), batches(2, seed=101)):
        opt.zero_grad()
        loss = (model.loss(x0) + model.loss(x1)) / 2
        loss = loss + COEFF * sum(direct_penalty(c) for c in selected(model))
        loss.backward()
        opt.step()
    for k, v in model.state_dict().items():
        torch.testing.assert_close(r0[k], v, rtol=1e-5, atol=1e-7, msg=k)


def _ddp_worker_loss(rank, world_size, port, init_state, out_dir):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world_size)
    model = _LossForward()
    model.load_state_dict(init_state)
    ddp = nn.parallel.DistributedDataParallel(model)
    wrapper = OptimWrapper(torch.optim.SGD(ddp.parameters(), **SGD))
    hook = IsometryRegularizerHook(coeff=COEFF)
    runner = FakeRunner(ddp, wrapper)
    hook.before_train(runner)
    for i, x in enumerate(batches(2, seed=100 + rank)):
        hook.before_train_iter(runner, i)
        wrapper.update_params(ddp(x))
    torch.save(model.state_dict(), os.path.join(out_dir, f'rank{rank}.pth'))
    dist.destroy_process_group()


# ---------------------------------------------------------------------- a real Runner
class RunnerModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.net = TinyDetector()
        self.backbone = self.net.backbone

    def forward(self, inputs, mode='tensor'):
        loss = self.net.loss(torch.stack(inputs))
        return dict(loss=loss) if mode == 'loss' else loss


def test_in_a_runner_from_config(tmp_path):
    model = RunnerModel()
    expected = train_by_hand(copy.deepcopy(model.net), [torch.stack(b) for b in _runner_batches()])
    dataset = [dict(inputs=x) for b in _runner_batches() for x in b]
    runner = Runner(
        model=model,
        work_dir=str(tmp_path),
        default_scope='mmdet',
        train_dataloader=dict(
            dataset=dataset,
            batch_size=2,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='pseudo_collate')),
        train_cfg=dict(by_epoch=False, max_iters=3),
        optim_wrapper=dict(optimizer=dict(type='SGD', **SGD)),
        custom_hooks=[dict(type='IsometryRegularizerHook', coeff=COEFF)],
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1), checkpoint=None),
        log_level='INFO')
    runner.train()
    assert_same_weights(model.net, expected)
    log = next(tmp_path.glob('*/*.log')).read_text()
    assert 'isometry_reg:' in log


def _runner_batches():
    g = torch.Generator().manual_seed(7)
    return [[torch.randn(3, 32, 32, generator=g) for _ in range(2)] for _ in range(3)]


# ---------------------------------------------------------------------- lazy regularisation
@pytest.mark.parametrize('interval', [2, 3])
def test_lazy_regularisation_adds_interval_times_the_term_every_interval_steps(interval):
    """Steps 1, interval + 1, ...: loss + interval * coeff * reg; the steps between: loss."""
    model = TinyDetector()
    expected = copy.deepcopy(model)
    opt = torch.optim.SGD(expected.parameters(), **SGD)
    for step, x in enumerate(batches(5)):
        opt.zero_grad()
        loss = expected.loss(x)
        if step % interval == 0:
            loss = loss + interval * COEFF * sum(direct_penalty(c) for c in selected(expected))
        loss.backward()
        opt.step()
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), **SGD))
    got = train_with_hook(model, wrapper, batches(5), interval=interval)
    assert_same_weights(got, expected)


def test_interval_one_is_the_reference_and_bad_intervals_are_refused():
    model = TinyDetector()
    expected = train_by_hand(copy.deepcopy(model), batches(3))
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), **SGD))
    assert_same_weights(train_with_hook(model, wrapper, batches(3), interval=1), expected)
    for bad in (0, -2, 1.5):
        with pytest.raises(ValueError, match='interval'):
            IsometryRegularizerHook(interval=bad)


# ---------------------------------------------------------------------- sharding across ranks
SHARD_CASES = ('plain', 'accumulate-2') + (
    ('amp-fused', ) if CPU_GRAD_SCALER and _cpu_fused_optimizers() else ())


def test_shards_are_disjoint_complete_balanced_and_in_module_order():
    from isonet_det.ops import isometry_macs, shard_by_cost
    convs = IsometryRegularizerHook().select_convs(nn.ModuleDict(dict(backbone=RISONet(50))))
    total = sum(isometry_macs(c) for c in convs)
    for world in (2, 3, 8):
        shards = shard_by_cost(convs, world)
        flat = [id(c) for s in shards for c in s]
        assert sorted(flat) == sorted(id(c) for c in convs) and len(set(flat)) == len(convs)
        position = {id(c): i for i, c in enumerate(convs)}
        for s in shards:
            assert [position[id(c)] for c in s] == sorted(position[id(c)] for c in s)
        largest = max(isometry_macs(c) for c in convs)
        # longest-first greedy: no shard exceeds the mean by more than the largest conv
        assert max(sum(isometry_macs(c) for c in s) for s in shards) <= total / world + largest
        assert shard_by_cost(convs, world) == shards  # the same split on every rank


def test_sharded_ddp_update_equals_the_unsharded_one(tmp_path):
    """Two gloo ranks: the sharded hook (each rank half the convs, the term riding on DDP's
    all-reduce) gives the unsharded hook's weights, with plain SGD, gradient accumulation and
    AMP with a fused optimizer, and the ranks stay identical."""
    torch.manual_seed(0)
    init_state = copy.deepcopy(_LossForward().state_dict())
    _run_ranks(_ddp_worker_sharded, init_state, str(tmp_path))
    for case in SHARD_CASES:
        runs = {(r, s): torch.load(tmp_path / f'{case}-shard{s}-rank{r}.pth')
                for r in (0, 1) for s in (0, 1)}
        for k, v in runs[0, 0].items():
            assert torch.equal(runs[1, 1][k], runs[0, 1][k]), (case, k)
            torch.testing.assert_close(runs[0, 1][k], v, rtol=1e-5, atol=1e-7, msg=(case, k))
        assert not all(torch.equal(runs[0, 0][k], init_state[k]) for k in init_state)
        shares = torch.load(tmp_path / f'{case}-shares.pth')
        assert shares[0] > 0 and shares[1] > 0 and shares[0] + shares[1] == shares['total']


def _ddp_worker_sharded(rank, world_size, port, init_state, out_dir):
    import mmengine.optim.optimizer.amp_optimizer_wrapper as amp_module
    amp_module.is_cuda_available = lambda: True  # a CPU GradScaler stands in for CUDA's
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world_size)
    for case in SHARD_CASES:
        shares = {}
        for shard in (False, True):
            model = _LossForward()
            model.load_state_dict(init_state)
            ddp = nn.parallel.DistributedDataParallel(model)
            if case == 'amp-fused':
                wrapper = AmpOptimWrapper(
                    optimizer=torch.optim.SGD(ddp.parameters(), fused=True, **SGD))
                wrapper.loss_scaler = torch.amp.GradScaler('cpu', init_scale=1024.0)
            else:
                wrapper = OptimWrapper(
                    torch.optim.SGD(ddp.parameters(), **SGD),
                    accumulative_counts=2 if case == 'accumulate-2' else 1)
            data = batches(4, seed=100 + rank)
            wrapper.initialize_count_status(ddp, 0, len(data))
            hook = IsometryRegularizerHook(coeff=COEFF, shard=shard)
            runner = FakeRunner(ddp, wrapper)
            hook.before_train(runner)
            if shard:
                shares[rank] = len(hook._attachments[0].convs)
                shares['total'] = len(hook.select_convs(ddp))
            for i, x in enumerate(data):
                hook.before_train_iter(runner, i)
                with wrapper.optim_context(ddp):
                    loss = ddp(x)
                wrapper.update_params(loss)
            hook.after_train(runner)
            torch.save(model.state_dict(),
                       os.path.join(out_dir, f'{case}-shard{int(shard)}-rank{rank}.pth'))
        gathered = [None, None]
        dist.all_gather_object(gathered, shares[rank])
        if rank == 0:
            torch.save({
                0: gathered[0],
                1: gathered[1],
                'total': shares['total']
            }, os.path.join(out_dir, f'{case}-shares.pth'))
    dist.destroy_process_group()


def test_plain_param_groups_only_with_compile():
    from mmengine.config import ConfigDict

    from isonet_det.engine import PlainParamGroupsHook
    model = nn.Linear(2, 2)
    for compile_cfg, expected in ((None, ConfigDict), (True, dict), (dict(backend='eager'), dict)):
        opt = torch.optim.SGD([ConfigDict(params=list(model.parameters()), lr=0.1)], lr=0.1)
        runner = FakeRunner(model, OptimWrapper(opt))
        runner.cfg = dict(compile=compile_cfg)
        PlainParamGroupsHook().before_train(runner)
        group = opt.param_groups[0]
        assert type(group) is expected and group['lr'] == 0.1 and len(group['params']) == 2


@pytest.mark.parametrize('scope', [
    'mmdet',
    pytest.param('mmseg', marks=pytest.mark.extras),
    pytest.param('mmpretrain', marks=pytest.mark.extras), 'mmengine'
])
def test_hook_and_srelu_resolve_from_every_openmmlab_scope(scope):
    """Registered in mmengine's root registries: `type='IsometryRegularizerHook'`, `'SReLU'`,
    `'Delta'`, `'ISOUNet'` and `'RISONet'` / `'ISONet'` need no scope prefix in MMDetection,
    MMSegmentation or MMPretrain configs."""
    import importlib

    from mmengine.registry import init_default_scope

    import isonet_det  # noqa: F401
    if scope != 'mmengine':
        importlib.import_module(f'{scope}.registry')
    init_default_scope(scope)
    registry = importlib.import_module(
        f'{scope}.registry' if scope != 'mmengine' else 'mmengine.registry')
    hook = registry.HOOKS.build(dict(type='IsometryRegularizerHook', coeff=1e-4))
    assert type(hook).__name__ == 'IsometryRegularizerHook'
    assert type(registry.MODELS.build(dict(type='SReLU', num_channels=4))).__name__ == 'SReLU'
    assert registry.MODELS.get('ISOUNet') is not None
    for backbone in ('RISONet', 'ISONet'):  # plain type= names in every scope's configs
        assert registry.MODELS.build(dict(type=backbone, depth=18)).depth == 18
    assert registry.WEIGHT_INITIALIZERS.get('Delta') is not None


@pytest.mark.parametrize('weight_decay,coeff', [(1e-4, 1e-4), (5e-4, 1e-3), (2e-4, 1e-3)])
def test_weight_decay_and_regulariser_settle_at_their_equilibrium(weight_decay, coeff):
    """For a scaled orthogonal kernel W = a Q, wd/2 ||W||^2 + coeff/2 ||W W^T - I||^2 is smallest
    at a^2 = 1 - wd / (2 coeff) (0.5 at the reference's wd = coeff = 1e-4; without the regulariser
    weight decay alone takes a to 0). Under SGD with momentum and weight decay (the
    configs' optimizer) and the hook, a Delta-Orthogonal kernel goes there and stays orthogonal."""
    conv = nn.Conv2d(8, 8, 3, padding=1, bias=False)
    delta_orthogonal_init_(conv.weight)
    model = nn.Sequential(nn.Conv2d(3, 8, 1), conv)  # a stem (skipped) and the regularised conv
    model.loss = lambda x: 0.0 * model(x).sum()  # only weight decay and the regulariser act
    lr = 2.0  # lr * coeff sets the rate, not the equilibrium
    wrapper = OptimWrapper(
        torch.optim.SGD(conv.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay))
    hook = IsometryRegularizerHook(coeff=coeff, module=None)
    runner = FakeRunner(model, wrapper)
    steps = 4000
    wrapper.initialize_count_status(model, 0, steps)
    hook.before_train(runner)
    x = torch.randn(1, 3, 3, 3)
    assert hook.select_convs(model) == [conv]
    for i in range(steps):
        hook.before_train_iter(runner, i)
        wrapper.update_params(model.loss(x))
    hook.after_train(runner)
    expected = 1 - weight_decay / (2 * coeff)
    centre = conv.weight.detach()[:, :, 1, 1]
    a2 = centre.pow(2).sum().item() / 8
    assert a2 == pytest.approx(expected, abs=2e-3)
    torch.testing.assert_close(centre @ centre.T, a2 * torch.eye(8), atol=1e-5, rtol=0)
    assert conv.weight.detach()[:, :, [0, 0, 2, 2], [0, 2, 0, 2]].abs().max() < 1e-5
