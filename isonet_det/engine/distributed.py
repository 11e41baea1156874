"""Distributed runs on a CPU-only torch (gloo), which mmengine 0.10.7 does not set up itself."""
import torch
import torch.distributed as dist
from mmengine.config import Config


def setup_cpu_distributed(cfg: Config) -> None:
    """Prepare ``cfg`` for a torchrun launch on machines without CUDA.

    mmengine 0.10.7's ``init_dist('pytorch')`` calls ``torch.cuda.set_device`` and its
    ``Runner.wrap_model`` passes ``device_ids=[LOCAL_RANK]`` to DDP, both of which fail without
    CUDA. So the process group is initialised here with gloo (the Runner then skips its own) and
    DDP is told to use no device ids. A no-op with CUDA or without a launcher.
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher != 'pytorch':
        raise RuntimeError(f'--launcher {launcher} needs CUDA; on CPU use --launcher pytorch '
                           '(tools/dist_train.sh, torchrun)')
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=None)
    cfg.setdefault('env_cfg', {})['dist_cfg'] = dict(backend='gloo')
