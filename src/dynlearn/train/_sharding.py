"""Data parallelism: a 1-D device mesh over which batches are sharded.

Multi-host use: call `jax.distributed.initialize()` on every host before `fit`; `data_mesh()`
then spans all devices of all hosts (`jax.devices()`), each host passes the same `data`, and the
batch is split along the mesh's "data" axis. The model and optimizer state are replicated.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec


def data_mesh(devices=None) -> Mesh:
    """A 1-D `Mesh` named `"data"` over `devices` (default: all devices, every host included)."""
    devices = jax.devices() if devices is None else list(devices)
    return Mesh(np.asarray(devices), ("data",))


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """Sharding that splits the leading (batch) axis over the mesh's data axis."""
    return NamedSharding(mesh, PartitionSpec("data"))


def replicated(mesh: Mesh) -> NamedSharding:
    """Sharding that replicates an array on every device of the mesh."""
    return NamedSharding(mesh, PartitionSpec())
