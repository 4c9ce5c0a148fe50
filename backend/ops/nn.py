"""Neural-network ops: softmax, log_softmax, fused crossentropies, moments, one_hot."""

from __future__ import annotations

__all__: list = []
