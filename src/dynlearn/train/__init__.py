"""The thin trainer shared by every model family.

`fit` drives any `loss(model, batch, *, key)` with any optax transform: fused steps per dispatch,
validation, callbacks, atomic checkpoints with bit-exact resume, non-finite guards and data
parallelism over a device mesh.
"""

from ._batching import check_data as check_data
from ._batching import sample_batch as sample_batch
from ._checkpoint import CheckpointError as CheckpointError
from ._checkpoint import load_checkpoint as load_checkpoint
from ._checkpoint import load_model as load_model
from ._checkpoint import save_checkpoint as save_checkpoint
from ._checkpoint import save_model as save_model
from ._fit import NonFiniteLossError as NonFiniteLossError
from ._fit import fit as fit
from ._history import History as History
from ._precision import cast_floating as cast_floating
from ._precision import mixed_precision as mixed_precision
from ._sharding import data_mesh as data_mesh
