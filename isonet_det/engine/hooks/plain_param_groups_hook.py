"""Plain-dict optimizer param groups, so that ``compile=True`` can trace the optimizer step."""
from mmengine.hooks import Hook
from mmengine.optim import OptimWrapperDict
from mmengine.registry import HOOKS  # the root registry: found from every OpenMMLab scope


@HOOKS.register_module()
class PlainParamGroupsHook(Hook):
    """Turn the optimizer's param groups into plain ``dict`` objects before training.

    mmengine's ``DefaultOptimWrapperConstructor`` builds the groups of a ``paramwise_cfg`` (the
    ISONet recipes use one: SReLU thresholds without decay, residual scales at 0.1x lr) as
    ``ConfigDict`` objects, and with ``compile=True`` (mmengine compiles ``train_step``, the
    optimizer step included) TorchDynamo cannot trace a step over them (torch 2.14:
    ``'UserDefinedDictVariable' object has no attribute 'items'``). The keys and values are
    kept. Acts only when the config sets ``compile`` (``always=True`` to convert anyway).
    """

    priority = 'VERY_HIGH'

    def __init__(self, always: bool = False):
        self.always = always

    def before_train(self, runner) -> None:
        if not (self.always or getattr(runner, 'cfg', {}).get('compile')):
            return
        wrappers = (
            list(runner.optim_wrapper.values())
            if isinstance(runner.optim_wrapper, OptimWrapperDict) else [runner.optim_wrapper])
        for wrapper in wrappers:
            groups = wrapper.optimizer.param_groups
            groups[:] = [dict(g) if type(g) is not dict else g for g in groups]
