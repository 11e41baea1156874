"""mmengine's CheckpointHook, with the bookkeeping a resumed checkpoint carries checked first.

A checkpoint's message hub names the files its run kept (``keep_ckpt_ids``) and its best
checkpoints (``best_ckpt``, ``best_ckpt_<metric>``); mmengine's hook deletes them as its
``max_keep_ckpts`` / ``save_best`` rules say, in whatever folder it now writes to. Read from a
file, those names are data a file chose: resuming another run's checkpoint into a folder that
holds your own, or a crafted one, would delete your files (``rmtree`` on folders too).

This hook keeps an entry only when the run resumed from a checkpoint inside its own checkpoint
folder, and the entry names a regular file (no folder, no symlink) there: an int step not later
than the resumed one for ``keep_ckpt_ids``, a ``best_*`` file for the best paths. Everything
else is dropped with a warning, so resuming never deletes a file the run's lineage did not write.
It is registered as ``CheckpointHook`` in mmengine's root registry when the plugin is imported,
so every config's ``default_hooks.checkpoint`` gets it.
"""
import logging
import os.path as osp

from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log
from mmengine.registry import HOOKS

from ..mmengine_internals import resumed_checkpoint

_BEST_PREFIX = 'best_ckpt'


@HOOKS.register_module(name='CheckpointHook', force=True)
class SafeCheckpointHook(CheckpointHook):
    """``CheckpointHook`` (same arguments) that validates resumed bookkeeping (module doc)."""

    def before_train(self, runner) -> None:
        info = runner.message_hub.runtime_info
        resumed = {
            key: info.pop(key)
            for key in list(info)
            if isinstance(key, str) and (key == 'keep_ckpt_ids' or key.startswith(_BEST_PREFIX))
        }
        super().before_train(runner)  # sees no bookkeeping: deletes nothing
        if not resumed:
            return
        kept = self._validated(runner, resumed)
        for key, value in kept.items():
            runner.message_hub.update_info(key, value)
        if self.save_best is not None:
            if len(self.key_indicators) == 1:
                self.best_ckpt_path = kept.get(_BEST_PREFIX)
            else:
                for key in self.key_indicators:
                    self.best_ckpt_path_dict[key] = kept.get(f'{_BEST_PREFIX}_{key}')
        if self.max_keep_ckpts > 0:
            ids = list(kept.get('keep_ckpt_ids', []))
            while len(ids) > self.max_keep_ckpts:
                self._remove_kept(ids.pop(0))
            self.keep_ckpt_ids.clear()
            self.keep_ckpt_ids.extend(ids)
            runner.message_hub.update_info('keep_ckpt_ids', ids)

    def _remove_kept(self, step: int) -> None:
        from mmengine.dist import is_main_process
        path = osp.join(self.out_dir, self.filename_tmpl.format(step))
        if is_main_process() and osp.isfile(path) and not osp.islink(path):
            self.file_backend.remove(path)

    def _in_out_dir(self, path: str) -> bool:
        out_dir = osp.realpath(self.out_dir)
        return (isinstance(path, str) and osp.isfile(path) and not osp.islink(path)
                and osp.dirname(osp.realpath(path)) == out_dir)

    def _validated(self, runner, resumed: dict) -> dict:
        """The entries of ``resumed`` that name this run's own files (module docstring)."""
        source = resumed_checkpoint(runner)
        local = '://' not in str(self.out_dir)
        if not (local and source and self._in_out_dir(osp.abspath(source))):
            self._warn(f'resumed from {source}, which is not in this run\'s checkpoint folder '
                       f'{self.out_dir}: its bookkeeping ({", ".join(resumed)}) is not applied '
                       'there, so no earlier checkpoint is deleted')
            return {}
        step = runner.epoch if self.by_epoch else runner.iter
        kept = {}
        for key, value in resumed.items():
            if key == 'keep_ckpt_ids':
                ids, seen = [], set()
                for entry in value if isinstance(value, list) else []:
                    if (type(entry) is int and 0 < entry <= step and entry not in seen
                            and self._in_out_dir(
                                osp.join(self.out_dir, self.filename_tmpl.format(entry)))):
                        ids.append(entry)
                        seen.add(entry)
                if ids != value:
                    self._warn(f'keep_ckpt_ids {value!r} from {source}: keeping {ids}, the '
                               'steps whose checkpoint files are in this run\'s folder')
                kept[key] = ids
            elif (isinstance(value, str) and self._in_out_dir(value)
                  and osp.basename(value).startswith('best_')):
                kept[key] = value
            else:
                self._warn(f'{key} {value!r} from {source} is not a best checkpoint in this '
                           'run\'s folder: dropped, it will not be deleted')
        return kept

    @staticmethod
    def _warn(message: str) -> None:
        print_log(f'CheckpointHook: {message}', logger='current', level=logging.WARNING)
