from .files import write_new_file

__all__ = ['write_new_file']
