"""`kerasish.models`: Model (functional and subclassed) and Sequential."""

from .model import Model
from .sequential import Sequential

__all__ = ["Model", "Sequential"]
