"""The old name of :mod:`nnmath.engine` (the compiled epoch), kept so that code using it runs."""

from .engine import *  # noqa: F403
from .engine import __all__  # noqa: F401
