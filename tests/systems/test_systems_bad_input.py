"""Bad input to trajectories and datasets: the error type, and a message that names the
argument; solves that stop early say why."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynlearn import systems
from dynlearn.systems import Flow, load_dataset, make_dataset

# The test suite runs dynlearn under jaxtyping's import hook with beartype, which rejects an
# argument of the wrong type (a list for a dict, a string for a solver) before the function
# body runs. Users do not run that hook, so these tests call the undecorated functions and
# check dynlearn's own messages.
trajectory, trajectories = (
    getattr(f, "__wrapped__", f) for f in (systems.trajectory, systems.trajectories)
)

LORENZ = systems.get("Lorenz")
# y' = k y^2 from y(0) = 1 blows up at t = 1 / k
BLOW_UP = Flow("blow_up", lambda t, y, p: [p["k"] * y[0] ** 2], {"k": 1.0}, [1.0], 0.1, 1.0)


@pytest.mark.parametrize(
    "kwargs, error, names",
    [
        (dict(y0=jnp.array([jnp.nan, 1.0, 1.0])), ValueError, "y0 contains NaN or inf"),
        (dict(y0=jnp.array([1.0, jnp.inf, 1.0])), ValueError, "y0 contains NaN or inf"),
        (dict(y0=jnp.array([1j, 1.0, 1.0])), TypeError, "y0 must be real floating point"),
        (dict(y0=jnp.ones(2)), ValueError, "y0 must have shape (3,)"),
        (dict(args={"sigmaa": 1.0}), ValueError, "args has unknown name(s) ['sigmaa']"),
        (dict(args={"sigmaa": 1.0}), ValueError, "'sigmaa' -> 'sigma'"),
        (dict(args=[1.0]), TypeError, "args must be a dict"),
        (dict(rtol=-1.0), ValueError, "rtol must be finite and positive, got rtol=-1.0"),
        (dict(atol=0.0), ValueError, "atol must be finite and positive, got atol=0.0"),
        (dict(dt=0.0), ValueError, "dt must be finite and positive, got dt=0.0"),
        (dict(dt=-1.0), ValueError, "dt must be finite and positive"),
        (dict(dt=float("nan")), ValueError, "dt must be finite and positive, got dt=nan"),
        (dict(max_steps=0), ValueError, "max_steps must be a positive int, got max_steps=0"),
        (dict(solver="tsit5"), TypeError, "solver must be a diffrax solver"),
        (dict(stepsize_controller=1e-3), TypeError, "stepsize_controller must be"),
        (dict(n_points=0), ValueError, "n_points must be an int >= 1, got n_points=0"),
        (dict(transient=-1), ValueError, "transient must be an int >= 0"),
    ],
)
def test_trajectory_bad_input_names_the_argument(kwargs, error, names):
    call = dict(n_points=10)
    call.update(kwargs)
    with pytest.raises(error) as info:
        trajectory(LORENZ, call.pop("n_points"), **call)
    assert names in str(info.value)


@pytest.mark.parametrize(
    "kwargs, error, names",
    [
        (dict(args={"rho ": 28.0}), ValueError, "args has unknown name(s) ['rho ']"),
        (dict(rtol=0.0), ValueError, "rtol must be finite and positive"),
        (dict(spread=-1.0), ValueError, "spread must be finite and non-negative"),
        (dict(dtype=jnp.int32), ValueError, "dtype must be a real floating dtype"),
        (dict(n_trajectories=0), ValueError, "n_trajectories must be an int >= 1"),
    ],
)
def test_trajectories_bad_input_names_the_argument(kwargs, error, names):
    call = dict(n_trajectories=2, key=jax.random.key(0))
    call.update(kwargs)
    with pytest.raises(error) as info:
        trajectories(LORENZ, call.pop("n_trajectories"), 10, **call)
    assert names in str(info.value)


def test_blow_up_is_named_instead_of_max_steps():
    with pytest.raises(Exception, match="trajectory of blow_up: .* the state is blowing up"):
        trajectory(BLOW_UP, 30, dt=0.1)
    # the same system with a gentle parameter is fine: the check only fires on failure
    ys = trajectory(BLOW_UP, 30, dt=0.1, args={"k": 0.1})
    np.testing.assert_allclose(ys[-1, 0], 1 / (1 - 0.1 * 2.9), rtol=1e-4)


def test_traced_nan_initial_state_is_named():
    solve = jax.jit(lambda y0: trajectory(LORENZ, 10, y0=y0))
    with pytest.raises(Exception, match="trajectory of Lorenz: .*y0 contains NaN or inf"):
        solve(jnp.array([jnp.nan, 1.0, 1.0])).block_until_ready()


def test_running_out_of_steps_with_a_bounded_state_says_increase_max_steps():
    with pytest.raises(Exception, match="used all max_steps=16 steps while the state stayed"):
        trajectory(LORENZ, 100, dt=0.1, max_steps=16)


def test_make_dataset_bad_sizes_name_the_argument():
    key = jax.random.key(0)
    for kwargs, names in [
        (dict(window=0), "window must be a positive int, got window=0"),
        (dict(n_points=-5), "n_points must be a positive int"),
        (dict(noise=-0.1), "noise must be finite and non-negative"),
        (dict(dt=0.0), "dt must be finite and positive"),
    ]:
        with pytest.raises(ValueError) as info:
            make_dataset(LORENZ, key=key, **kwargs)
        assert names in str(info.value)


def test_load_dataset_on_a_garbage_file_names_the_path(tmp_path):
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not a zip archive")
    with pytest.raises(ValueError, match=r"load_dataset: path='.*garbage\.npz' is not a dataset"):
        load_dataset(garbage)
    partial = tmp_path / "partial.npz"
    np.savez(partial, train=np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"partial\.npz.*lacks the field\(s\) \['val'"):
        load_dataset(partial)
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        load_dataset(tmp_path / "missing.npz")


def _first_nonfinite_iteration(step, y0, n):
    """Independent reference: a NumPy loop, the first iteration whose state is NaN or inf."""
    y = np.asarray(y0)
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(n):
            if not np.all(np.isfinite(y)):
                return k, y
            y = step(y)
    return -1, y


@pytest.mark.parametrize(
    "name, args, step",
    [
        ("Logistic", {"r": 5.0}, lambda y: np.float32(5.0) * y * (np.float32(1.0) - y)),
        (
            "Henon",
            {"a": 5.0},
            lambda y: np.array(
                [np.float32(1.0) - np.float32(5.0) * y[0] ** 2 + y[1], np.float32(0.3) * y[0]],
                np.float32,
            ),
        ),
    ],
)
def test_unbounded_map_orbit_names_the_iteration_and_value(name, args, step):
    system = systems.get(name)
    y0 = np.asarray(system.y0, np.float32)
    k, value = _first_nonfinite_iteration(step, y0, 100)
    assert k > 1
    with pytest.raises(Exception, match=rf"trajectory of {name}: the orbit left every bound: "
                       rf"iteration {k} from y0 \(row {k} of the trajectory\) is \[") as info:
        trajectory(system, 50, y0=jnp.asarray(y0), args=args)
    assert f"the last finite state, iteration {k - 1}, was" in str(info.value)
    assert str(value.tolist()[0]) in str(info.value)  # the non-finite value itself
    # within the transient: said so
    with pytest.raises(Exception, match=rf"iteration {k} from y0 \(within the transient\)"):
        trajectory(system, 5, y0=jnp.asarray(y0), args=args, transient=k + 2)
    # traced (jit, vmap): the message says what happened, without run-time values
    solve = jax.jit(lambda y: trajectory(system, 50, y0=y, args=args))
    with pytest.raises(Exception, match="orbit left every bound: an iterate is NaN or inf"):
        solve(jnp.asarray(y0)).block_until_ready()
    # a bounded orbit of the same map is untouched
    ys = trajectory(system, 50, y0=jnp.asarray(y0))
    assert bool(jnp.all(jnp.isfinite(ys)))
