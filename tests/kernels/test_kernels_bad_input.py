"""Bad input to the kernels: the error type, and a message that names the argument; fixed-step
solves that blow up say when the state became non-finite."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynlearn import kernels

# The test suite runs dynlearn under jaxtyping's import hook with beartype, which rejects an
# argument of the wrong type (None for an array, a float for an int) before the function body
# runs. Users do not run that hook, so these tests call the undecorated functions and check
# dynlearn's own messages.
iterate, linear_scan, odeint_fixed, selective_scan = (
    getattr(f, "__wrapped__", f)
    for f in (kernels.iterate, kernels.linear_scan, kernels.odeint_fixed, kernels.selective_scan)
)
FIELD = lambda t, y, args: -y
TS = jnp.array([0.0, 0.5, 1.0])


def _selective(**overrides):
    args = dict(
        u=jnp.ones((6, 2)),
        delta=jnp.ones((6, 2)),
        A=-jnp.ones((2, 4)),
        B=jnp.ones((6, 4)),
        C=jnp.ones((6, 4)),
    )
    args.update(overrides)
    return selective_scan(args.pop("u"), args.pop("delta"), args.pop("A"), args.pop("B"), **args)


@pytest.mark.parametrize(
    "call, error, names",
    [
        (lambda: linear_scan(None, jnp.ones((5, 3))), TypeError, "a must be an array, got None"),
        (lambda: linear_scan(jnp.ones((5, 3)), jnp.ones((4, 3))), ValueError, "a.shape=(5, 3)"),
        (lambda: linear_scan(jnp.ones((5, 3), int), jnp.ones((5, 3))), ValueError, "a.dtype"),
        (lambda: linear_scan(jnp.ones((5, 3)), jnp.ones((5, 3)), jnp.ones(4)), ValueError, "h0"),
        (lambda: linear_scan(jnp.ones(()), jnp.ones(())), ValueError, "b must have a leading"),
        (
            lambda: linear_scan(jnp.ones((5, 3)), jnp.ones((5, 3)), method="asoc"),
            ValueError,
            "method",
        ),
        (lambda: _selective(u=None), TypeError, "u must be an array, got None"),
        (lambda: _selective(u=jnp.ones(6)), ValueError, "u.shape=(6,)"),
        (lambda: _selective(delta=jnp.ones((5, 2))), ValueError, "delta.shape=(5, 2)"),
        (lambda: _selective(A=jnp.ones((3, 4))), ValueError, "A.shape=(3, 4)"),
        (lambda: _selective(B=jnp.ones((5, 4))), ValueError, "B.shape=(5, 4)"),
        (lambda: _selective(u=jnp.ones((6, 2), int)), ValueError, "u.dtype=int32"),
        (lambda: _selective(implementation="palas"), ValueError, "implementation"),
        (lambda: _selective(chunk=0), ValueError, "chunk"),
        (lambda: odeint_fixed(FIELD, TS, None), TypeError, "y0 must be an array"),
        (lambda: odeint_fixed(FIELD, None, jnp.ones(2)), TypeError, "ts must be an array"),
        (lambda: odeint_fixed(None, TS, jnp.ones(2)), TypeError, "vector_field must be callable"),
        (
            lambda: odeint_fixed(FIELD, jnp.array([0.0, jnp.nan]), jnp.ones(2)),
            ValueError,
            "ts must be finite",
        ),
        (
            lambda: odeint_fixed(FIELD, TS, jnp.ones(2), method="rk45"),
            ValueError,
            "method must be one of ['dopri5', 'euler', 'heun', 'midpoint', 'rk4', 'tsit5'], got "
            "method='rk45'. Did you mean 'rk4'?",
        ),
        (
            lambda: odeint_fixed(FIELD, TS, jnp.ones(2), steps_per_interval=2.0),
            ValueError,
            "steps_per_interval",
        ),
        (lambda: odeint_fixed(FIELD, TS, jnp.ones(2), throw=1), TypeError, "throw"),
        (lambda: iterate(lambda x: x, None, 2), TypeError, "x0 must be an array"),
        (lambda: iterate(lambda x: x, jnp.ones(2), 2.0), ValueError, "n_steps must be"),
        (lambda: iterate("f", jnp.ones(2), 2), TypeError, "map_fn must be callable"),
    ],
)
def test_bad_input_names_the_argument(call, error, names):
    with pytest.raises(error) as info:
        call()
    assert names in str(info.value)


BLOW_UP = lambda t, y, args: y**2  # y(t) = 1 / (1 - t) from y(0) = 1: infinite at t = 1
TS_BLOW_UP = jnp.linspace(0.0, 2.0, 21)
MESSAGE = r"state became non-finite at t=1\.2 \(it was finite at t=1\.1\); reduce the step"


def test_blow_up_is_reported_with_its_time_eagerly():
    with pytest.raises(Exception, match=MESSAGE):
        odeint_fixed(BLOW_UP, TS_BLOW_UP, jnp.ones(()))


def test_blow_up_is_reported_under_jit_and_grad():
    with pytest.raises(Exception, match=MESSAGE):
        jax.jit(lambda y: odeint_fixed(BLOW_UP, TS_BLOW_UP, y))(jnp.ones(())).block_until_ready()
    with pytest.raises(Exception, match=MESSAGE):
        jax.grad(lambda y: odeint_fixed(BLOW_UP, TS_BLOW_UP, y)[-1])(jnp.ones(()))
    # Save times that are arguments of the jitted function are named by index.
    solve = jax.jit(lambda y, ts: odeint_fixed(BLOW_UP, ts, y))
    with pytest.raises(Exception, match=r"non-finite at save time ts\[12\] \(it was finite at"):
        solve(jnp.ones(()), TS_BLOW_UP).block_until_ready()


def test_blow_up_in_one_member_of_a_vmapped_batch_is_reported():
    solve = jax.vmap(lambda y: odeint_fixed(BLOW_UP, TS_BLOW_UP, y))
    ok = solve(jnp.array([0.1, 0.2]))  # blow-up times 10 and 5: outside [0, 2]
    assert bool(jnp.all(jnp.isfinite(ok)))
    with pytest.raises(Exception, match="state became non-finite"):
        solve(jnp.array([0.1, 1.0])).block_until_ready()


def test_non_finite_y0_is_named():
    with pytest.raises(Exception, match="y0 contains NaN or inf"):
        odeint_fixed(FIELD, TS, jnp.array([1.0, jnp.nan]))


def test_throw_false_returns_the_values_as_today():
    ys = odeint_fixed(BLOW_UP, TS_BLOW_UP, jnp.ones(()), throw=False)
    assert ys.shape == (21,)
    assert bool(jnp.all(jnp.isfinite(ys[:12]))) and not bool(jnp.isfinite(ys[-1]))
    # before the blow-up the solution is the exact 1 / (1 - t), to RK4 accuracy
    np.testing.assert_allclose(ys[:6], 1 / (1 - TS_BLOW_UP[:6]), rtol=1e-3)


def test_finite_solutions_pass_the_check_with_pytree_states():
    ys = odeint_fixed(lambda t, y, a: {"p": -y["p"]}, TS, {"p": jnp.ones(3)})
    np.testing.assert_allclose(ys["p"][-1], np.exp(-1.0) * np.ones(3), rtol=1e-3)


def test_blow_up_is_reported_when_the_field_closes_over_traced_arrays():
    # y0 and ts are constants, but the field closes over a traced scale: the solve is traced.
    @jax.jit
    def solve(scale):
        return odeint_fixed(lambda t, y, a: scale * y**2, TS_BLOW_UP, jnp.ones(()))

    assert bool(jnp.all(jnp.isfinite(solve(jnp.asarray(0.1)))))
    with pytest.raises(Exception, match=MESSAGE):
        solve(jnp.asarray(1.0)).block_until_ready()
