"""`kerasish.saving`: object registration for configs (file saving comes with its issue)."""

from .object_registry import get_registered_object, register_keras_serializable

__all__ = ["get_registered_object", "register_keras_serializable"]
