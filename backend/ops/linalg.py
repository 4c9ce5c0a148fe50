"""Linear algebra: matmul (batched, broadcasting), dot and einsum."""

from __future__ import annotations

__all__: list = []
