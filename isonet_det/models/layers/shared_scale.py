"""The learnable scalar on the residual branch of R-ISONet (Qi et al. 2020, Sec. 3.3, eq. 8)."""
from mmcv.cnn import Scale
from mmengine.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class SharedScale(Scale):
    """``y = s * x`` with one learnable scalar ``s`` shared by all channels: mmcv's ``Scale``
    (a 0-dim parameter ``scale``) with ``s`` cast to the input's dtype, so fp16/bf16 activations
    under autocast stay fp16/bf16.

    In an R-ISONet block, ``SReLU(shortcut(x) + s * f(x))`` with ``s = 0`` at init makes every
    block exactly its shortcut, so the network starts as an isometry. The reference trains ``s``
    at 0.1x the base learning rate (``custom_keys={'residual_scale': dict(lr_mult=0.1)}`` on the
    block attribute name). Checkpoints that stored ``s`` with shape ``(1,)`` (isonet-det < 0.2)
    or ``(1, 1, 1, 1)`` still load.
    """

    def __init__(self, init_value: float = 0.0):
        super().__init__(scale=float(init_value))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale.to(x.dtype)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        key = prefix + 'scale'
        if key in state_dict and state_dict[key].dim() > 0 and state_dict[key].numel() == 1:
            state_dict[key] = state_dict[key].reshape(())
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
