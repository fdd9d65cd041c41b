"""Bad input to the trainer and checkpoints: the error type, and a message that names the
argument and the value."""

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
import pytest

from dynlearn import train
from dynlearn.train import CheckpointError, load_checkpoint, load_model, save_model

# The test suite runs dynlearn under jaxtyping's import hook with beartype, which rejects an
# argument of the wrong type before the function body runs; users do not run that hook, so
# these tests call the undecorated function and check dynlearn's own messages.
fit = getattr(train.fit, "__wrapped__", train.fit)


def _problem(n=32):
    x = jax.random.normal(jax.random.key(0), (n, 3))
    return eqx.nn.Linear(3, 1, key=jax.random.key(1)), (x, x[:, :1])


def mse(model, batch, *, key):
    x, y = batch
    return jnp.mean((jax.vmap(model)(x) - y) ** 2)


@pytest.mark.parametrize(
    "kwargs, error, names",
    [
        (dict(steps=0), ValueError, "fit: steps must be a positive int, got steps=0"),
        (dict(steps=2.5), TypeError, "fit: steps must be an int, got steps=2.5"),
        (dict(batch_size=0), ValueError, "batch_size must be a positive int, got batch_size=0"),
        (dict(batch_size=None), TypeError, "batch_size must be an int, got batch_size=None"),
        (dict(batch_size=64), ValueError, "batch_size=64 is larger than the number of samples"),
        (dict(steps_per_dispatch=0), ValueError, "steps_per_dispatch must be a positive int"),
        (dict(val_every=0, val_data="x"), ValueError, "val_every must be a positive int"),
        (dict(val_every=5), ValueError, "pass val_data and val_every together"),
        (dict(checkpoint_every=-1, checkpoint_path="c"), ValueError, "checkpoint_every must"),
        (dict(checkpoint_every=5), ValueError, "checkpoint_every needs checkpoint_path"),
        (dict(loss_fn="mse"), TypeError, "loss_fn must be callable"),
        (dict(optimizer=0.1), TypeError, "optimizer must be an optax.GradientTransformation"),
        (dict(data=None), TypeError, "data must be a PyTree of arrays, got None"),
        (dict(data=(jnp.ones((32, 3)), ["a"] * 32)), TypeError, "data[1]"),
        (dict(data=(jnp.ones((32, 3)), jnp.ones((31, 1)))), ValueError, "data[1]: 31"),
        (dict(data=(jnp.ones((0, 3)), jnp.ones((0, 1)))), ValueError, "data has no samples"),
        (dict(mesh="all"), ValueError, "mesh must be a jax.sharding.Mesh, None or 'auto'"),
    ],
)
def test_fit_bad_input_names_the_argument(kwargs, error, names):
    model, data = _problem()
    call = dict(
        model=model,
        loss_fn=mse,
        data=data,
        optimizer=optax.sgd(0.1),
        steps=3,
        batch_size=8,
        key=jax.random.key(0),
        progress=False,
    )
    call.update(kwargs)
    with pytest.raises(error) as info:
        fit(**call)
    assert names in str(info.value)


def test_wrong_width_validation_data_is_named_before_training():
    model, (x, y) = _problem()
    with pytest.raises(ValueError) as info:
        fit(
            model,
            mse,
            (x, y),
            optax.sgd(0.1),
            steps=3,
            batch_size=8,
            key=jax.random.key(0),
            progress=False,
            val_data=(jnp.ones((10, 4)), jnp.ones((10, 1))),
            val_every=1,
        )
    message = str(info.value)
    assert "val_data[0] has per-sample shape (4,) (shape (10, 4))" in message
    assert "data[0] has (3,)" in message


def test_validation_data_with_another_structure_or_dtype_is_named():
    model, (x, y) = _problem()
    args = dict(steps=3, batch_size=8, key=jax.random.key(0), progress=False, val_every=1)
    with pytest.raises(ValueError, match="val_data must have the structure of data"):
        fit(model, mse, (x, y), optax.sgd(0.1), val_data=x, **args)
    with pytest.raises(ValueError, match=r"val_data\[1\] has dtype int32, but data\[1\]"):
        fit(model, mse, (x, y), optax.sgd(0.1), val_data=(x, jnp.ones((32, 1), int)), **args)


def test_checkpoint_and_model_files_bad_input(tmp_path):
    model, _ = _problem()
    with pytest.raises(CheckpointError, match=r"checkpoint '.*nope\.dlc' does not exist"):
        load_checkpoint(tmp_path / "nope.dlc", model)
    with pytest.raises(CheckpointError, match=r"'.*nope\.dlc' does not exist"):
        load_model(tmp_path / "nope.dlc", make=eqx.nn.Linear)
    with pytest.raises(ValueError, match="make must be a module-level function or class"):
        save_model(tmp_path / "m.dlc", model, make=lambda **k: model, hyperparameters={})
    with pytest.raises(TypeError, match="metadata must be JSON-serialisable"):
        train.save_checkpoint(
            tmp_path / "c.dlc", model, step=0, key=jax.random.key(0), metadata={"x": object()}
        )
    with pytest.raises(IsADirectoryError, match="checkpoint_path .* is a folder"):
        fit(
            model,
            mse,
            _problem()[1],
            optax.sgd(0.1),
            steps=1,
            batch_size=8,
            key=jax.random.key(0),
            progress=False,
            checkpoint_path=tmp_path,
        )
