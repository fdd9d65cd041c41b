"""Checkpoint files: round trip, atomicity, truncation and mismatch errors, no code execution."""

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest

from dynlearn.train import CheckpointError, load_checkpoint, save_checkpoint

from tests.helpers import tree_equal_bits


def _state(width=4):
    model = eqx.nn.MLP(2, 1, width, 1, key=jax.random.key(0))
    return model, {"count": jnp.array(3, jnp.int32), "mu": jnp.ones((width,))}


def test_round_trip_is_bit_exact(tmp_path):
    state = _state()
    key = jax.random.key(42)
    save_checkpoint(tmp_path / "c.dlc", state, step=17, key=key, metadata={"note": "x"})
    like = jax.tree_util.tree_map(lambda x: x * 0 if eqx.is_array(x) else x, state)
    loaded, step, key2, meta = load_checkpoint(tmp_path / "c.dlc", like)
    assert tree_equal_bits(eqx.filter(loaded, eqx.is_array), eqx.filter(state, eqx.is_array))
    assert step == 17 and meta == {"note": "x"}
    assert bool(jnp.all(jax.random.key_data(key2) == jax.random.key_data(key)))


def test_raw_uint32_keys_round_trip(tmp_path):
    key = jax.random.PRNGKey(3)
    save_checkpoint(tmp_path / "c.dlc", _state(), step=1, key=key)
    _, _, key2, _ = load_checkpoint(tmp_path / "c.dlc", _state())
    assert key2.dtype == jnp.uint32 and bool(jnp.all(key2 == key))


def test_overwrite_leaves_no_temporary_files(tmp_path):
    for step in range(3):
        save_checkpoint(tmp_path / "c.dlc", _state(), step=step, key=jax.random.key(0))
    assert [p.name for p in tmp_path.iterdir()] == ["c.dlc"]


def test_truncated_file_raises(tmp_path):
    path = tmp_path / "c.dlc"
    save_checkpoint(path, _state(), step=1, key=jax.random.key(0))
    raw = path.read_bytes()
    path.write_bytes(raw[:-10])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(path, _state())


def test_corrupted_payload_raises(tmp_path):
    path = tmp_path / "c.dlc"
    save_checkpoint(path, _state(), step=1, key=jax.random.key(0))
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="SHA-256 mismatch"):
        load_checkpoint(path, _state())


def test_mismatched_model_names_the_leaf(tmp_path):
    path = tmp_path / "c.dlc"
    save_checkpoint(path, _state(width=4), step=1, key=jax.random.key(0))
    with pytest.raises(CheckpointError, match=r"shape \(4, 2\).*shape \(8, 2\)"):
        load_checkpoint(path, _state(width=8))


def test_not_a_checkpoint_and_pickle_are_refused(tmp_path):
    import pickle

    path = tmp_path / "evil.dlc"
    path.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(CheckpointError, match="not a dynlearn checkpoint"):
        load_checkpoint(path, _state())
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.dlc", _state())


def _header_end(raw: bytes) -> int:
    """Offset of the first payload byte: magic, digest, length, JSON header."""
    import struct

    start = len(b"DYNLEARN-CHECKPOINT\n") + 32
    (n,) = struct.unpack("<Q", raw[start : start + 8])
    return start + 8 + n


def test_every_bit_flip_of_the_header_and_sampled_payload_flips_are_refused(tmp_path):
    import numpy as np

    path = tmp_path / "c.dlc"
    model = eqx.nn.Linear(2, 2, key=jax.random.key(0))
    save_checkpoint(path, model, step=7, key=jax.random.key(1), metadata={"run": 1})
    raw = path.read_bytes()
    end = _header_end(raw)
    rng = np.random.default_rng(0)
    payload_bits = rng.choice(np.arange(8 * end, 8 * len(raw)), size=200, replace=False)
    bits = list(range(8 * end)) + [int(b) for b in payload_bits]
    assert len(bits) > 2000
    flipped = tmp_path / "flipped.dlc"
    for bit in bits:
        corrupt = bytearray(raw)
        corrupt[bit // 8] ^= 1 << (bit % 8)
        flipped.write_bytes(bytes(corrupt))
        try:
            load_checkpoint(flipped, model)
        except CheckpointError:
            continue
        except Exception as err:  # noqa: BLE001 - the point is that nothing else escapes
            pytest.fail(f"bit {bit}: {type(err).__name__} instead of CheckpointError: {err}")
        pytest.fail(f"bit {bit} (byte {bit // 8} of {len(raw)}) was flipped and still loaded")
    loaded, step, _, meta = load_checkpoint(path, model)  # the original still loads
    assert step == 7 and meta == {"run": 1}


def test_structurally_bad_files_raise_checkpoint_error(tmp_path):
    path = tmp_path / "c.dlc"
    for raw in [b"", b"DYNLEARN-CHECKPOINT\n", b"DYNLEARN-CHECKPOINT\n" + b"\xff" * 40]:
        path.write_bytes(raw)
        with pytest.raises(CheckpointError):
            load_checkpoint(path, _state())
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_checkpoint(tmp_path, _state())  # a folder


def test_save_model_round_trip_without_a_skeleton(tmp_path):
    from dynlearn.pinn import FourierFeatures
    from dynlearn.train import load_model, save_model

    model = FourierFeatures(3, 5, scale=2.0, key=jax.random.key(4))
    hyper = {"in_size": 3, "n_features": 5, "scale": 2.0}
    save_model(tmp_path / "m.dlc", model, make=FourierFeatures, hyperparameters=hyper)
    loaded, hyper2, meta = load_model(tmp_path / "m.dlc")  # constructor found by name
    assert hyper2 == hyper and meta == {}
    assert tree_equal_bits(eqx.filter(loaded, eqx.is_array), eqx.filter(model, eqx.is_array))
    assert loaded.out_size == 10


def test_save_model_with_a_user_constructor(tmp_path):
    from dynlearn.train import load_model, save_model

    model = eqx.nn.MLP(2, 3, 8, 2, key=jax.random.key(1))
    hyper = {"in_size": 2, "out_size": 3, "width_size": 8, "depth": 2}
    save_model(tmp_path / "m.dlc", model, make=eqx.nn.MLP, hyperparameters=hyper)
    with pytest.raises(CheckpointError, match="pass make="):
        load_model(tmp_path / "m.dlc")  # never imports code outside dynlearn by name
    loaded, _, _ = load_model(tmp_path / "m.dlc", make=eqx.nn.MLP)
    assert tree_equal_bits(eqx.filter(loaded, eqx.is_array), eqx.filter(model, eqx.is_array))
    with pytest.raises(ValueError, match="does not rebuild"):
        save_model(
            tmp_path / "bad.dlc", model, make=eqx.nn.MLP, hyperparameters={**hyper, "width_size": 4}
        )
    with pytest.raises(TypeError, match="hyperparameters must be JSON"):
        save_model(tmp_path / "bad.dlc", model, make=eqx.nn.MLP, hyperparameters={"f": jnp.tanh})
    save_checkpoint(tmp_path / "state.dlc", model, step=1, key=jax.random.key(0))
    with pytest.raises(CheckpointError, match="not a saved model"):
        load_model(tmp_path / "state.dlc", make=eqx.nn.MLP)


def test_stale_temporary_files_are_removed(tmp_path):
    path = tmp_path / "c.dlc"
    (tmp_path / ".c.dlc.999999999.abc.tmp").write_bytes(b"half a checkpoint")
    (tmp_path / ".other.dlc.999999999.abc.tmp").write_bytes(b"not ours")
    save_checkpoint(path, _state(), step=1, key=jax.random.key(0))
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.dlc.999999999.abc.tmp", "c.dlc"]


def test_a_kill_during_a_write_leaves_no_orphan_on_the_next_run(tmp_path):
    import subprocess
    import sys
    import textwrap

    path = tmp_path / "c.dlc"
    # The child dies (SIGKILL) after writing its temporary file and before the rename.
    child = textwrap.dedent(
        f"""
        import os, signal
        import jax
        from dynlearn.train import save_checkpoint
        os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)
        save_checkpoint({str(path)!r}, {{"w": jax.numpy.ones(3)}}, step=1, key=jax.random.key(0))
        """
    )
    result = subprocess.run([sys.executable, "-c", child], capture_output=True, timeout=120)
    assert result.returncode == -9, result.stderr.decode()
    orphans = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(orphans) == 1 and not path.exists()
    save_checkpoint(path, {"w": jnp.zeros(3)}, step=2, key=jax.random.key(0))
    assert [p.name for p in tmp_path.iterdir()] == ["c.dlc"]
