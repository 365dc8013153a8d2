"""shmkit: multi-process data pipelines on one machine, from Python.

Shared arrays (:class:`SharedArray`), the object store (:class:`StoreServer`,
:class:`Brain`), the binary logger (:class:`LogWriter`, :class:`DataLogger`,
:func:`assemble_log_archives`, :class:`LogArchiveReader`), the zero-copy
channel (:class:`Channel`, its :class:`Publisher` and :class:`Subscriber`)
and the exception classes under :class:`Error`. Everything here is the C++ library underneath;
:mod:`shmkit.compat` offers ataraxis-data-structures' names on top of it.
"""

from ._shmkit import *  # noqa: F401,F403
from ._shmkit import __doc__ as _native_doc  # noqa: F401

__version__ = "0.1.0"


def _present_as_shmkit():
    # help() and repr() show `shmkit.SharedArray`, not the private module.
    from . import _shmkit

    for _name in dir(_shmkit):
        _obj = getattr(_shmkit, _name)
        if isinstance(_obj, type) and getattr(_obj, "__module__", "") in ("shmkit._shmkit", "_shmkit"):
            try:
                _obj.__module__ = "shmkit"
            except (AttributeError, TypeError):
                pass


_present_as_shmkit()
del _present_as_shmkit
