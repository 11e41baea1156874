from .config import iter_dicts
from .files import check_new_folder, write_new_file

__all__ = ['check_new_folder', 'write_new_file', 'iter_dicts']
