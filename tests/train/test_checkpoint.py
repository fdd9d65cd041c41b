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
