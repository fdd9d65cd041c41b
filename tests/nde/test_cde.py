"""NeuralCDE: a closed form that holds for every control path, missing data, shapes, errors."""

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynlearn.nde import HermiteCubicControl, LinearControl, NeuralCDE, RectilinearControl


class CommutingField(eqx.Module):
    # dz = B z dt + A z dx with diagonal A, B: z(T) = exp(B (T - t0) + A (x(T) - x(t0))) z0 for
    # any continuous path, so only the (filled) end values of the data matter.
    a: jax.Array
    b: jax.Array

    def __call__(self, t, z, args):
        return jnp.stack([self.b * z, self.a * z], axis=1)


@pytest.mark.parametrize("control", [LinearControl(), HermiteCubicControl(), RectilinearControl()])
def test_closed_form_and_missing_values(x64, control, getkey):
    model = NeuralCDE(
        1,
        2,
        2,
        width=4,
        depth=1,
        key=getkey(),
        control=control,
        stepsize_controller=dfx.PIDController(rtol=1e-9, atol=1e-9),
    )
    a, b = jnp.array([0.3, -0.7]), jnp.array([-0.2, 0.1])
    model = eqx.tree_at(lambda m: m.vector_field, model, CommutingField(a, b))
    model = eqx.tree_at(lambda m: m.readout, model, lambda z: z)
    ts = jnp.array([0.0, 0.3, 0.5, 1.2, 2.0])
    xs = jnp.array([[1.0], [-0.5], [2.0], [0.7], [1.5]])
    ctrl0 = jnp.array([0.0, 1.0])
    z0 = model.initial(ctrl0)
    exact = jnp.exp(b * 2.0 + a * (1.5 - 1.0)) * z0
    # missing interior values do not change the answer; a missing end is filled forward
    holes = xs.at[1, 0].set(jnp.nan).at[3, 0].set(jnp.nan)
    end_missing = xs.at[4, 0].set(jnp.nan)

    @eqx.filter_jit
    def run(m):  # one compiled solve per control (compiling the solves dominates)
        return jax.vmap(lambda x: m.sequence(ts, x))(jnp.stack([xs, holes, end_missing]))

    seqs = run(model)
    exact_seq = jnp.exp(b[None] * ts[:, None] + a[None] * (xs - 1.0)) * z0[None]
    np.testing.assert_allclose(seqs[0], exact_seq, rtol=1e-6)
    np.testing.assert_allclose(seqs[0, -1], exact, rtol=1e-6)
    np.testing.assert_allclose(seqs[1, -1], exact, rtol=1e-6)
    exact_end = jnp.exp(b * 2.0 + a * (0.7 - 1.0)) * z0
    np.testing.assert_allclose(seqs[2, -1], exact_end, rtol=1e-6)
    if isinstance(control, HermiteCubicControl):  # __call__ (saves only t1) on the default path
        out = eqx.filter_jit(lambda m, x: jax.vmap(lambda xx: m(ts, xx))(x))(
            model, jnp.stack([holes, end_missing])
        )
        np.testing.assert_allclose(out[0], exact, rtol=1e-6)
        np.testing.assert_allclose(out[1], exact_end, rtol=1e-6)


def test_gradients_with_missing_data_are_finite(getkey):
    model = NeuralCDE(2, 4, 3, width=8, depth=1, key=getkey(), observation_counts=True)
    ts = jnp.linspace(0.0, 1.0, 6)
    xs = jax.random.normal(getkey(), (6, 2)).at[2, 1].set(jnp.nan).at[0, 0].set(jnp.nan)

    @eqx.filter_jit
    @eqx.filter_grad
    def grad(m):
        return jnp.sum(m(ts, xs) ** 2)

    leaves = jax.tree_util.tree_leaves(eqx.filter(grad(model), eqx.is_inexact_array))
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in leaves)


def test_bad_shapes(getkey):
    model = NeuralCDE(2, 4, 3, width=8, depth=1, key=getkey())
    with pytest.raises(ValueError, match="matching"):
        model(jnp.linspace(0.0, 1.0, 5), jnp.ones((4, 2)))
    with pytest.raises(ValueError, match="data_size"):
        NeuralCDE(0, 4, 3, key=getkey())
