"""Atomic, code-free checkpoints of (model, optimizer state, step, PRNG key).

File layout: a magic line, an 8-byte little-endian header length, a JSON header (format version,
step, key data, every array leaf's shape and dtype, the SHA-256 of the payload, user metadata),
then the payload written by `equinox.tree_serialise_leaves`. Loading never runs code from the
file (no pickle); a truncated, corrupted or mismatched file raises `CheckpointError` saying what
differs. Writing goes to a temporary file in the same folder, is fsynced, then renamed over the
target, so a crash mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import tempfile
from pathlib import Path

import equinox as eqx
import jax
import numpy as np

_MAGIC = b"DYNLEARN-CHECKPOINT\n"
_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file is truncated, corrupted, or does not match the model it is loaded into."""


def _leaf_signature(tree) -> list[list]:
    out = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(eqx.filter(tree, eqx.is_array))[0]:
        out.append([jax.tree_util.keystr(path), list(np.shape(leaf)), str(leaf.dtype)])
    return out


def _key_to_json(key) -> dict:
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        return {
            "typed": True,
            "impl": str(jax.random.key_impl(key)),
            "data": np.asarray(jax.random.key_data(key)).tolist(),
        }
    return {"typed": False, "impl": None, "data": np.asarray(key).tolist()}


def _key_from_json(info: dict):
    data = np.asarray(info["data"], dtype=np.uint32)
    if info["typed"]:
        return jax.random.wrap_key_data(data, impl=info["impl"])
    return jax.numpy.asarray(data)


def save_checkpoint(path, state, *, step: int, key, metadata: dict | None = None) -> None:
    """Atomically write `state` (any PyTree, e.g. `(model, opt_state)`), `step` and `key`.

    **Arguments:**

    - `path`: target file; its folder is created if needed.
    - `state`: PyTree whose array leaves are saved.
    - `step`: the number of completed training steps.
    - `key`: the run's PRNG key (typed or raw uint32).
    - `metadata`: optional JSON-serialisable dict stored in the header.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    eqx.tree_serialise_leaves(buffer, state)
    payload = buffer.getvalue()
    header = {
        "format": _VERSION,
        "step": int(step),
        "key": _key_to_json(key),
        "leaves": _leaf_signature(state),
        "sha256": hashlib.sha256(payload).hexdigest(),
        "payload_bytes": len(payload),
        "metadata": metadata or {},
    }
    header_bytes = json.dumps(header).encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(_MAGIC)
            f.write(struct.pack("<Q", len(header_bytes)))
            f.write(header_bytes)
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on folders
        pass


def _read(path: Path) -> tuple[dict, bytes]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist") from None
    if not raw.startswith(_MAGIC):
        raise CheckpointError(f"{str(path)!r} is not a dynlearn checkpoint (bad magic bytes)")
    offset = len(_MAGIC)
    if len(raw) < offset + 8:
        raise CheckpointError(f"checkpoint {str(path)!r} is truncated (no header length)")
    (n,) = struct.unpack("<Q", raw[offset : offset + 8])
    offset += 8
    if len(raw) < offset + n:
        raise CheckpointError(f"checkpoint {str(path)!r} is truncated inside its header")
    try:
        header = json.loads(raw[offset : offset + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"checkpoint {str(path)!r} has a corrupted header: {err}") from None
    payload = raw[offset + n :]
    if header.get("format") != _VERSION:
        raise CheckpointError(
            f"checkpoint {str(path)!r} has format {header.get('format')!r}; this dynlearn reads "
            f"format {_VERSION}"
        )
    if len(payload) != header["payload_bytes"]:
        raise CheckpointError(
            f"checkpoint {str(path)!r} is truncated: payload has {len(payload)} bytes, header "
            f"says {header['payload_bytes']}"
        )
    if hashlib.sha256(payload).hexdigest() != header["sha256"]:
        raise CheckpointError(f"checkpoint {str(path)!r} is corrupted (SHA-256 mismatch)")
    return header, payload


def load_checkpoint(path, like):
    """Load a checkpoint written by `save_checkpoint` into the structure of `like`.

    **Arguments:**

    - `path`: the checkpoint file.
    - `like`: a PyTree with the same structure, shapes and dtypes as the saved `state`
      (e.g. a freshly built model and `optimizer.init(model)`).

    **Returns:** `(state, step, key, metadata)`.

    **Raises:** `CheckpointError` if the file is missing, truncated, corrupted, or its leaves
    differ from `like` (the message names the first differing leaf).
    """
    path = Path(path)
    header, payload = _read(path)
    expected = _leaf_signature(like)
    saved = header["leaves"]
    if len(saved) != len(expected):
        raise CheckpointError(
            f"checkpoint {str(path)!r} holds {len(saved)} arrays but the model/optimizer given "
            f"has {len(expected)}; was it written for a different model?"
        )
    for (sp, ss, sd), (ep, es, ed) in zip(saved, expected):
        if ss != es or sd != ed:
            raise CheckpointError(
                f"checkpoint {str(path)!r} does not match: leaf {sp} was saved with shape "
                f"{tuple(ss)} dtype {sd}, but {ep} has shape {tuple(es)} dtype {ed}"
            )
    state = eqx.tree_deserialise_leaves(io.BytesIO(payload), like)
    return state, int(header["step"]), _key_from_json(header["key"]), header["metadata"]
