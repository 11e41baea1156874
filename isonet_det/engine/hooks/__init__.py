from .checkpoint_hook import SafeCheckpointHook
from .isometry_regularizer_hook import IsometryRegularizerHook
from .plain_param_groups_hook import PlainParamGroupsHook

__all__ = ['IsometryRegularizerHook', 'PlainParamGroupsHook', 'SafeCheckpointHook']
