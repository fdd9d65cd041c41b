"""NeuralODE: closed forms, exact NFE, adjoint gradients against finite differences, errors."""

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import io_callback

from dynlearn.nde import FixedGrid, NeuralODE, nfe_per_step, trajectory_mse


class Linear(eqx.Module):
    a: jax.Array

    def __call__(self, t, y, args):
        return self.a @ y


class MLPField(eqx.Module):
    mlp: eqx.nn.MLP

    def __init__(self, d, key):
        self.mlp = eqx.nn.MLP(
            d, d, 8, 2, activation=jax.nn.softplus, final_activation=jnp.tanh, key=key
        )

    def __call__(self, t, y, args):
        return self.mlp(y)


def test_linear_closed_form(x64):
    a = jnp.array([[0.0, 1.0], [-1.0, -0.1]])
    ts = jnp.linspace(0.0, 5.0, 11)
    y0 = jnp.array([1.0, 0.0])
    model = NeuralODE(Linear(a), stepsize_controller=dfx.PIDController(rtol=1e-10, atol=1e-10))
    ys = model(ts, y0)
    exact = jax.vmap(lambda t: jax.scipy.linalg.expm(a * t) @ y0)(ts)
    np.testing.assert_allclose(ys, exact, rtol=1e-7, atol=1e-8)


def test_fixed_grid_rk4_order(x64):
    a = jnp.array([[0.0, 1.0], [-1.0, 0.0]])
    ts = jnp.linspace(0.0, 2.0, 5)
    y0 = jnp.array([1.0, 0.0])
    exact = jax.vmap(lambda t: jax.scipy.linalg.expm(a * t) @ y0)(ts)
    errs = []
    for k in (4, 8):
        sol = NeuralODE(Linear(a), solver=FixedGrid("rk4", k)).solve(ts, y0)
        errs.append(float(jnp.max(jnp.abs(sol.ys - exact))))
        assert int(sol.stats["nfe"]) == 4 * k * 4
    assert 14 < errs[0] / errs[1] < 18  # fourth order: halving dt divides the error by 16


def counted(rhs):
    """`(field, count)`: the vector field `rhs(t, y)` that adds one to `count[0]` per call,
    at run time (a host callback adding zero to its output)."""
    count = [0]

    def bump():
        count[0] += 1
        return np.zeros((), np.float32)

    def field(t, y, args):
        z = io_callback(bump, jax.ShapeDtypeStruct((), jnp.float32), ordered=False)
        return rhs(t, y) + z

    return field, count


@pytest.mark.parametrize(
    "solver,adaptive",
    [
        (dfx.Tsit5(), True),
        (dfx.Dopri5(), False),
        (dfx.Bosh3(), True),
        (dfx.Heun(), True),
        (dfx.Euler(), False),
        (dfx.Dopri8(), True),
    ],
)
def test_nfe_exact(solver, adaptive):
    field, count = counted(lambda t, y: -y * jnp.sin(t) + jnp.cos(3 * y))

    if adaptive and isinstance(solver, dfx.Euler):
        adaptive = False  # no error estimate: Euler runs at constant step in both cases
    ctrl = dfx.PIDController(rtol=1e-4, atol=1e-4) if adaptive else dfx.ConstantStepSize()
    model = NeuralODE(field, solver=solver, stepsize_controller=ctrl, dt0=None if adaptive else 0.1)
    sol = model.solve(jnp.linspace(0.0, 3.0, 4), jnp.array([1.0, 2.0]))
    jax.block_until_ready(sol.ys)
    assert int(sol.stats["nfe"]) == count[0]
    if not adaptive:
        per, start = nfe_per_step(solver)
        assert count[0] == 30 * per + start


@pytest.mark.parametrize("method", ["rk4", "tsit5"])
def test_fixed_grid_nfe_exact(method):
    """FixedGrid reports the evaluations the fused kernel makes (FSAL: s - 1 per step)."""
    field, count = counted(lambda t, y: -y)

    model = NeuralODE(field, solver=FixedGrid(method, 10))
    sol = model.solve(jnp.linspace(0.0, 3.0, 4), jnp.array([1.0, 2.0]))
    jax.block_until_ready(sol.ys)
    assert int(sol.stats["nfe"]) == count[0] == {"rk4": 4 * 30, "tsit5": 6 * 30}[method]
    np.testing.assert_allclose(sol.ys[-1], np.exp(-3.0) * np.array([1.0, 2.0]), rtol=1e-5)


def test_gradients_backsolve_direct_and_finite_differences_agree(x64, getkey):
    field = MLPField(3, getkey())
    ctrl = dfx.PIDController(rtol=1e-10, atol=1e-10)
    ts = jnp.linspace(0.0, 1.0, 4)
    y0 = jnp.array([0.5, -0.3, 0.2])

    def make(adjoint):
        return NeuralODE(field, stepsize_controller=ctrl, adjoint=adjoint)

    @eqx.filter_jit
    def loss(m):
        return jnp.sum(m(ts, y0) ** 2)

    weight = lambda m: m.vector_field.mlp.layers[0].weight  # noqa: E731
    direct = weight(eqx.filter_jit(eqx.filter_grad(loss))(make(dfx.RecursiveCheckpointAdjoint())))
    back = weight(
        eqx.filter_jit(eqx.filter_grad(loss))(make(dfx.BacksolveAdjoint(stepsize_controller=ctrl)))
    )
    np.testing.assert_allclose(back, direct, rtol=1e-6, atol=1e-9)
    model = make(dfx.RecursiveCheckpointAdjoint())
    w, eps = weight(model), 1e-6
    for idx in [(0, 0), (7, 2)]:
        wp = eqx.tree_at(weight, model, w.at[idx].add(eps))
        wm = eqx.tree_at(weight, model, w.at[idx].add(-eps))
        fd = (loss(wp) - loss(wm)) / (2 * eps)
        np.testing.assert_allclose(direct[idx], fd, rtol=1e-5, atol=1e-8)


def test_augmented_state():
    field = lambda t, y, args: jnp.concatenate([y[2:], -y[:2]])  # noqa: E731
    model = NeuralODE(field, augment_dim=2)
    ys = model(jnp.linspace(0.0, 1.0, 3), jnp.array([1.0, 2.0]))
    assert ys.shape == (3, 2)
    # the augmented velocity starts at zero: y(t) = y0 cos(t)
    np.testing.assert_allclose(ys[-1], jnp.array([1.0, 2.0]) * jnp.cos(1.0), rtol=1e-3)


def test_max_steps_raises_and_flags():
    field = lambda t, y, args: -1000.0 * y  # noqa: E731
    ts = jnp.linspace(0.0, 10.0, 3)
    model = NeuralODE(
        field,
        solver=dfx.Euler(),
        stepsize_controller=dfx.ConstantStepSize(),
        dt0=1e-3,
        max_steps=16,
    )
    with pytest.raises(Exception, match="increase max_steps"):
        jax.block_until_ready(model(ts, jnp.ones(2)))
    flagged = NeuralODE(
        field,
        solver=dfx.Euler(),
        stepsize_controller=dfx.ConstantStepSize(),
        dt0=1e-3,
        max_steps=16,
        throw=False,
    )
    sol = flagged.solve(ts, jnp.ones(2))
    assert sol.result == dfx.RESULTS.max_steps_reached


def test_bad_inputs():
    model = NeuralODE(lambda t, y, args: -y)
    with pytest.raises(Exception, match="NaN"):
        jax.block_until_ready(model(jnp.linspace(0.0, 1.0, 3), jnp.array([1.0, jnp.nan])))
    with pytest.raises(ValueError, match="ts must be 1-D"):
        model(jnp.zeros((2, 2)), jnp.ones(2))
    with pytest.raises(ValueError, match=r"len\(ts\)"):
        trajectory_mse(model, jnp.linspace(0.0, 1.0, 5), jnp.ones((4, 2)))
    with pytest.raises(ValueError, match="dt0"):
        NeuralODE(lambda t, y, args: -y, stepsize_controller=dfx.ConstantStepSize())
    with pytest.raises(ValueError, match="method"):
        FixedGrid("rk5")


def test_trains_with_fit(getkey):
    import optax

    from dynlearn.train import fit

    a = jnp.array([[-0.1, 2.0], [-2.0, -0.1]])
    ts = jnp.linspace(0.0, 1.0, 10)
    y0s = jax.random.normal(getkey(), (32, 2))
    flows = jax.vmap(lambda t: jax.scipy.linalg.expm(a * t))(ts)  # exact data, no solve
    data = {"ys": jnp.einsum("tij,bj->bti", flows, y0s)}
    model = NeuralODE(Linear(jnp.zeros((2, 2))), solver=FixedGrid("rk4"))

    def loss(m, batch, *, key):
        return jnp.mean(jax.vmap(lambda ys: trajectory_mse(m, ts, ys))(batch["ys"]))

    trained, hist = fit(
        model, loss, data, optax.adam(1e-1), steps=96, batch_size=16, key=getkey(), progress=False
    )
    assert hist[-1]["loss"] < 1e-2 * hist[0]["loss"]


@pytest.mark.parametrize("solver", [FixedGrid("rk4"), dfx.Tsit5()], ids=["fixed", "diffrax"])
def test_throw_false_has_no_run_time_checks(solver):
    """throw=False lets non-finite values through instead of raising (throw=True raises); on
    the fixed grid it compiles without host callbacks, so JAX's persistent cache can keep the
    program (diffrax's own solve keeps input checks of its own)."""
    ts = jnp.linspace(0.0, 1.0, 5)
    field = lambda t, y, args: -y
    quiet = NeuralODE(field, solver=solver, throw=False)
    loud = NeuralODE(field, solver=solver)
    if isinstance(solver, FixedGrid):
        assert "callback" not in str(jax.make_jaxpr(lambda y: quiet(ts, y))(jnp.ones(2)))
        assert "callback" in str(jax.make_jaxpr(lambda y: loud(ts, y))(jnp.ones(2)))
    bad = jnp.array([1.0, jnp.nan])
    ys = jax.jit(lambda y: quiet(ts, y))(bad)
    assert not jnp.any(jnp.isfinite(ys[1:, 1]))
    if isinstance(solver, FixedGrid):  # the components do not mix: the finite one is exact
        assert jnp.allclose(ys[:, 0], jnp.exp(-ts), rtol=1e-3)
    else:
        assert quiet.solve(ts, bad).result != dfx.RESULTS.successful
    with pytest.raises(Exception, match="NaN"):
        jax.block_until_ready(jax.jit(lambda y: loud(ts, y))(bad))
