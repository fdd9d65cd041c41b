"""Atomic, code-free checkpoints of (model, optimizer state, step, PRNG key), and saved models
with their hyperparameters.

File layout (format 2): a magic line, the 32-byte SHA-256 of everything after it, an 8-byte
little-endian header length, a JSON header (format version, step, key data, every array leaf's
path, shape and dtype, payload length, user metadata, and for saved models the constructor and
its hyperparameters), then the payload written by `equinox.tree_serialise_leaves`. The digest
covers the header as well as the payload, so any change to the file after the magic line (a
flipped bit in the step, the key or a shape) is refused before anything is parsed. Loading
never runs code from the file (no pickle); every problem with a file raises `CheckpointError`.

Writing goes to a temporary file `.{name}.{pid}.{random}.tmp` in the same folder, is fsynced,
then renamed over the target, so a crash mid-write leaves the previous checkpoint intact; the
temporary files of writers that no longer run (a killed process) are removed by the next write.

Saved models follow the pattern of equinox's serialisation docs: the hyperparameters go into
the JSON header, and loading calls a constructor with them to build the skeleton into which
the arrays are read.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import io
import json
import logging
import os
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import numpy as np

_MAGIC = b"DYNLEARN-CHECKPOINT\n"
_VERSION = 2
_DIGEST = 32
_log = logging.getLogger("dynlearn.train")


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated, corrupted, or does not match the model it is
    loaded into."""


def _is_leaf_array(x) -> bool:
    return eqx.is_array(x) or isinstance(x, jax.ShapeDtypeStruct)


def _leaf_signature(tree) -> list[list]:
    out = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(eqx.filter(tree, _is_leaf_array))[0]:
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


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def remove_stale_temporaries(path) -> list[Path]:
    """Delete temporary files left next to checkpoint `path` by writers that no longer run.

    **Arguments:**

    - `path`: the checkpoint file.

    **Returns:** the files removed.
    """
    path = Path(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    for tmp in path.parent.glob(_temp_prefix(path) + "*.tmp"):
        pid_text = tmp.name[len(_temp_prefix(path)) :].split(".", 1)[0]
        if pid_text.isdigit() and int(pid_text) != os.getpid() and _alive(int(pid_text)):
            continue  # another live process is writing this checkpoint right now
        try:
            tmp.unlink()
            removed.append(tmp)
        except OSError:  # pragma: no cover - removed concurrently or not ours to remove
            pass
    if removed:
        _log.info("removed %d stale temporary file(s) of %s", len(removed), path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def check_writable(path, *, where: str = "save_checkpoint") -> Path:
    """Make sure a checkpoint can be written at `path` (folder created, a temporary file created
    and removed there), and remove stale temporary files of the same checkpoint.

    **Arguments:**

    - `path`: the checkpoint file.
    - `where`: the calling function's name, for the message.

    **Returns:** `path` as a `Path`.

    **Raises:** `OSError` naming the path and the reason, before any work is done.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{where}: checkpoint_path {str(path)!r} is a folder; name a file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f"{_temp_prefix(path)}{os.getpid()}.", suffix=".tmp", dir=path.parent
        )
        os.close(fd)
        os.unlink(tmp)
    except OSError as err:
        raise type(err)(
            f"{where}: cannot write checkpoints to {str(path)!r} ({err.strerror or err}); "
            "choose a writable location before training."
        ) from err
    remove_stale_temporaries(path)
    return path


def _write(path: Path, header: dict, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    header_bytes = json.dumps(header).encode("utf-8")
    body = struct.pack("<Q", len(header_bytes)) + header_bytes + payload
    digest = hashlib.sha256(body).digest()
    fd, tmp = tempfile.mkstemp(
        prefix=f"{_temp_prefix(path)}{os.getpid()}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(_MAGIC)
            f.write(digest)
            f.write(body)
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


def _payload(state) -> bytes:
    buffer = io.BytesIO()
    eqx.tree_serialise_leaves(buffer, state)
    return buffer.getvalue()


def save_checkpoint(path, state, *, step: int, key, metadata: dict | None = None) -> None:
    """Atomically write `state` (any PyTree, e.g. `(model, opt_state)`), `step` and `key`.

    **Arguments:**

    - `path`: target file; its folder is created if needed.
    - `state`: PyTree whose array leaves are saved.
    - `step`: the number of completed training steps.
    - `key`: the run's PRNG key (typed or raw uint32).
    - `metadata`: optional JSON-serialisable dict stored in the header.

    **Raises:** `TypeError` if `metadata` is not JSON-serialisable; `OSError` if the file cannot
    be written.
    """
    path = Path(path)
    payload = _payload(state)
    header = {
        "format": _VERSION,
        "kind": "state",
        "step": int(step),
        "key": _key_to_json(key),
        "leaves": _leaf_signature(state),
        "payload_bytes": len(payload),
        "metadata": _jsonable("metadata", metadata or {}),
    }
    _write(path, header, payload)


def _jsonable(name: str, value):
    try:
        json.dumps(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be JSON-serialisable: {err}") from None
    return value


def _read(path: Path) -> tuple[dict, bytes]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist") from None
    except OSError as err:
        raise CheckpointError(f"checkpoint {str(path)!r} cannot be read: {err}") from None
    if not raw.startswith(_MAGIC):
        raise CheckpointError(f"{str(path)!r} is not a dynlearn checkpoint (bad magic bytes)")
    offset = len(_MAGIC)
    if len(raw) < offset + _DIGEST + 8:
        raise CheckpointError(f"checkpoint {str(path)!r} is truncated (no header)")
    digest, body = raw[offset : offset + _DIGEST], raw[offset + _DIGEST :]
    if hashlib.sha256(body).digest() != digest:
        (n,) = struct.unpack("<Q", body[:8])
        if len(body) < 8 + n:
            raise CheckpointError(f"checkpoint {str(path)!r} is truncated inside its header")
        raise CheckpointError(
            f"checkpoint {str(path)!r} is corrupted or truncated (SHA-256 mismatch over header "
            "and payload), or was written by an older dynlearn (format 1)"
        )
    (n,) = struct.unpack("<Q", body[:8])
    try:
        header = json.loads(body[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"checkpoint {str(path)!r} has a malformed header: {err}") from None
    payload = body[8 + n :]
    _check_header(path, header, len(payload))
    return header, payload


def _check_header(path: Path, header, payload_len: int) -> None:
    """The header's schema; the digest already matched, so a failure here means a file written
    by something other than this version of `save_checkpoint`."""

    def bad(what):
        return CheckpointError(f"checkpoint {str(path)!r} has a malformed header: {what}")

    if not isinstance(header, dict):
        raise bad("not a JSON object")
    if header.get("format") != _VERSION:
        raise CheckpointError(
            f"checkpoint {str(path)!r} has format {header.get('format')!r}; this dynlearn reads "
            f"format {_VERSION}"
        )
    step = header.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise bad(f"step={step!r}")
    key = header.get("key")
    if not (
        isinstance(key, dict)
        and isinstance(key.get("typed"), bool)
        and isinstance(key.get("data"), list)
        and (not key["typed"] or isinstance(key.get("impl"), str))
    ):
        raise bad(f"key={key!r}")
    leaves = header.get("leaves")
    if not isinstance(leaves, list) or not all(
        isinstance(e, list)
        and len(e) == 3
        and isinstance(e[0], str)
        and isinstance(e[1], list)
        and all(isinstance(d, int) and d >= 0 for d in e[1])
        and isinstance(e[2], str)
        for e in leaves
    ):
        raise bad("leaf table")
    if header.get("payload_bytes") != payload_len:
        raise CheckpointError(
            f"checkpoint {str(path)!r} is truncated: payload has {payload_len} bytes, header "
            f"says {header.get('payload_bytes')!r}"
        )
    if not isinstance(header.get("metadata"), dict):
        raise bad("metadata")


def _match(path: Path, saved: list, like) -> None:
    expected = _leaf_signature(like)
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


def _deserialise(path: Path, payload: bytes, like):
    try:
        return eqx.tree_deserialise_leaves(io.BytesIO(payload), like)
    except Exception as err:  # the digest matched, so this is a writer/reader mismatch
        raise CheckpointError(f"checkpoint {str(path)!r} could not be read: {err}") from None


def load_checkpoint(path, like):
    """Load a checkpoint written by `save_checkpoint` into the structure of `like`.

    **Arguments:**

    - `path`: the checkpoint file.
    - `like`: a PyTree with the same structure, shapes and dtypes as the saved `state`
      (e.g. a freshly built model and `optimizer.init(model)`).

    **Returns:** `(state, step, key, metadata)`.

    **Raises:** `CheckpointError` if the file is missing, truncated, corrupted anywhere after
    its magic line (header or payload), or its leaves differ from `like` (the message names
    the first differing leaf).
    """
    path = Path(path)
    header, payload = _read(path)
    _match(path, header["leaves"], like)
    state = _deserialise(path, payload, like)
    try:
        key = _key_from_json(header["key"])
    except Exception as err:
        raise CheckpointError(f"checkpoint {str(path)!r} has a malformed key: {err}") from None
    return state, int(header["step"]), key, header["metadata"]


def _qualified_name(make: Callable) -> str:
    module = getattr(make, "__module__", None)
    qualname = getattr(make, "__qualname__", None)
    if not module or not qualname or "<" in qualname:
        raise ValueError(
            f"save_model: make must be a module-level function or class (importable by name), "
            f"got {make!r}"
        )
    return f"{module}:{qualname}"


def _resolve(path: Path, name: str) -> Callable:
    module_name, _, qualname = name.partition(":")
    if not (module_name == "dynlearn" or module_name.startswith("dynlearn.")):
        raise CheckpointError(
            f"checkpoint {str(path)!r} was saved with make={name!r}; pass make= to load_model "
            "(dynlearn imports only its own constructors by name)"
        )
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as err:
        raise CheckpointError(
            f"checkpoint {str(path)!r} names constructor {name!r}, which this dynlearn does not "
            f"have ({err}); pass make= to load_model"
        ) from None
    return obj


def _build(make: Callable, hyperparameters: dict):
    kwargs = dict(hyperparameters)
    try:
        params = inspect.signature(make).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        params = {}
    if "key" in params and "key" not in kwargs:
        # The arrays are replaced by the saved ones: any key builds the skeleton.
        kwargs["key"] = jax.random.key(0)
    return make(**kwargs)


def save_model(
    path, model, *, make: Callable, hyperparameters: dict, metadata: dict | None = None
) -> None:
    """Save `model` with the hyperparameters that rebuild it, so that `load_model(path)` needs
    no hand-built skeleton.

    `make(**hyperparameters)` (plus `key=` if `make` takes one) must build a model with the
    same structure, shapes and dtypes as `model`; this is checked here, so a checkpoint that
    cannot be loaded is refused when it is written rather than when it is read.

    **Arguments:**

    - `path`: target file (written atomically, like `save_checkpoint`).
    - `model`: the trained model (any PyTree).
    - `make`: a module-level function or class, e.g. `eqx.nn.MLP` or a function of yours.
    - `hyperparameters`: JSON-serialisable keyword arguments of `make`.
    - `metadata`: optional JSON-serialisable dict stored in the header.

    **Raises:** `TypeError` for hyperparameters that are not JSON-serialisable; `ValueError` if
    `make` is not importable by name or builds a model that differs from `model`.
    """
    path = Path(path)
    name = _qualified_name(make)
    hyperparameters = _jsonable("hyperparameters", dict(hyperparameters))
    skeleton = eqx.filter_eval_shape(_build, make, hyperparameters)
    try:
        _match(path, _leaf_signature(model), skeleton)
    except CheckpointError as err:
        raise ValueError(
            f"save_model: make(**hyperparameters) does not rebuild this model: {err}"
        ) from None
    if jax.tree_util.tree_structure(skeleton) != jax.tree_util.tree_structure(model):
        raise ValueError(
            "save_model: make(**hyperparameters) builds a model with a different structure "
            "(non-array fields differ); check the hyperparameters."
        )
    payload = _payload(model)
    header = {
        "format": _VERSION,
        "kind": "model",
        "step": 0,
        "key": _key_to_json(jax.random.PRNGKey(0)),
        "leaves": _leaf_signature(model),
        "payload_bytes": len(payload),
        "metadata": _jsonable("metadata", metadata or {}),
        "make": name,
        "hyperparameters": hyperparameters,
    }
    _write(path, header, payload)


def load_model(path, make: Callable | None = None):
    """Load a model written by `save_model`, rebuilding its skeleton from the saved
    hyperparameters.

    **Arguments:**

    - `path`: the file.
    - `make`: the constructor to call with the saved hyperparameters. Default: the one named
      in the file, imported by name only if it is part of dynlearn (a file never makes
      dynlearn import other code); pass your own function for models built outside dynlearn.

    **Returns:** `(model, hyperparameters, metadata)`.

    **Raises:** `CheckpointError` if the file is missing, corrupted, was not written by
    `save_model`, or its arrays do not fit the model `make` builds.
    """
    path = Path(path)
    header, payload = _read(path)
    if header.get("kind") != "model" or not isinstance(header.get("hyperparameters"), dict):
        raise CheckpointError(
            f"{str(path)!r} is a training checkpoint, not a saved model; use load_checkpoint "
            "with a skeleton, or write the model with save_model"
        )
    if make is None:
        if not isinstance(header.get("make"), str):
            raise CheckpointError(f"checkpoint {str(path)!r} has a malformed header: make")
        make = _resolve(path, header["make"])
    hyperparameters = header["hyperparameters"]
    try:
        skeleton = _build(make, hyperparameters)
    except Exception as err:
        raise CheckpointError(
            f"checkpoint {str(path)!r}: {header.get('make')}(**{hyperparameters!r}) failed: {err}"
        ) from err
    _match(path, header["leaves"], skeleton)
    return _deserialise(path, payload, skeleton), hyperparameters, header["metadata"]
