"""Lyapunov spectra against published values and exact identities."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynlearn.analysis import (
    Flow,
    Map,
    kaplan_yorke_dimension,
    lyapunov_spectrum,
    lyapunov_time,
    max_lyapunov,
)


# Local reference systems, written independently of dynlearn.systems.
def lorenz(t, y, args):
    x, v, z = y[0], y[1], y[2]
    return jnp.stack([10.0 * (v - x), x * (28.0 - z) - v, x * v - (8.0 / 3.0) * z])


def rossler(t, y, args):
    a, b, c = 0.2, 0.2, 5.7
    x, v, z = y[0], y[1], y[2]
    return jnp.stack([-v - z, x + a * v, b + z * (x - c)])


def henon(x):
    return jnp.stack([1.0 - 1.4 * x[0] ** 2 + x[1], 0.3 * x[0]])


def test_lorenz_spectrum(x64):
    spectrum = lyapunov_spectrum(
        lorenz, jnp.array([1.0, 1.0, 1.0]), dt=0.01, n_steps=100_000, transient=1000, qr_every=5
    )
    assert spectrum.shape == (3,)
    np.testing.assert_allclose(spectrum, [0.906, 0.0, -14.57], atol=0.02)


def test_henon_spectrum(x64):
    spectrum = lyapunov_spectrum(henon, jnp.array([0.1, 0.1]), n_steps=100_000, transient=100)
    np.testing.assert_allclose(spectrum, [0.419, -1.624], rtol=0.01)
    # The Jacobian determinant of the Henon map is -b everywhere: the sum is exactly log b.
    np.testing.assert_allclose(jnp.sum(spectrum), np.log(0.3), rtol=1e-10)


def test_linear_flow_real_parts_of_eigenvalues(x64):
    # Eigenvalues 0.3, -0.5 +- 2i, -1.2 in a non-normal basis.
    block = jnp.array(
        [[0.3, 0.0, 0.0, 0.0], [0.0, -0.5, 2.0, 0.0], [0.0, -2.0, -0.5, 0.0], [0.0, 0.0, 0.0, -1.2]]
    )
    basis = jnp.eye(4) + 0.4 * jax.random.normal(jax.random.key(1), (4, 4), dtype=jnp.float64)
    a = basis @ block @ jnp.linalg.inv(basis)
    expected = np.sort(np.real(np.linalg.eigvals(np.asarray(a))))[::-1]
    np.testing.assert_allclose(expected, [0.3, -0.5, -0.5, -1.2], atol=1e-12)

    spectrum = lyapunov_spectrum(
        lambda t, y, args: args @ y,
        jnp.zeros(4),
        args=a,
        kind="flow",
        dt=0.01,
        n_steps=20_000,
        transient=1000,
    )
    np.testing.assert_allclose(spectrum, expected, atol=0.01)
    # The first k are the k largest.
    top2 = lyapunov_spectrum(
        lambda t, y, args: args @ y,
        jnp.zeros(4),
        args=a,
        kind="flow",
        dt=0.01,
        n_steps=20_000,
        transient=1000,
        k=2,
    )
    np.testing.assert_allclose(top2, expected[:2], atol=0.01)


def test_linear_map_log_moduli(x64):
    a = jnp.array([[0.5, 1.0], [0.0, 2.0]])
    spectrum = lyapunov_spectrum(lambda x: a @ x, jnp.zeros(2), n_steps=2000)
    np.testing.assert_allclose(spectrum, [np.log(2.0), np.log(0.5)], atol=2e-3)


def test_sum_equals_time_averaged_divergence(x64):
    # Rossler's divergence a + x - c varies along the orbit; average it on a separate RK4 run.
    dt, n_steps, transient = 0.01, 100_000, 5000
    y0 = jnp.array([1.0, 1.0, 0.0])
    spectrum = lyapunov_spectrum(rossler, y0, dt=dt, n_steps=n_steps, transient=transient)

    def rk4(y):
        k1 = rossler(0, y, None)
        k2 = rossler(0, y + dt / 2 * k1, None)
        k3 = rossler(0, y + dt / 2 * k2, None)
        k4 = rossler(0, y + dt * k3, None)
        return y + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)

    def divergence(y):
        return jnp.trace(jax.jacfwd(lambda y_: rossler(0, y_, None))(y))

    def body(y, _):
        return rk4(y), divergence(y)

    y, _ = jax.lax.scan(body, y0, None, length=transient)
    _, divs = jax.lax.scan(body, y, None, length=n_steps)
    mean_div = float(jnp.mean(divs))
    assert abs(mean_div - (0.2 - 5.7)) > 0.1  # the divergence is not constant
    np.testing.assert_allclose(float(jnp.sum(spectrum)), mean_div, rtol=5e-3)
    # Rossler: one positive exponent (~0.07), one zero.
    assert 0.05 < float(spectrum[0]) < 0.1
    assert abs(float(spectrum[1])) < 5e-3


class NeuralFlow(eqx.Module):
    """A stand-in for a learned model: an MLP vector field behind a `vector_field` method."""

    mlp: eqx.nn.MLP

    def vector_field(self, t, y, args):
        return self.mlp(y) - y


class HenonMap(eqx.Module):
    a: jax.Array
    b: jax.Array

    def step(self, x):
        return jnp.stack([1.0 - self.a * x[0] ** 2 + x[1], self.b * x[0]])


def test_objects_with_the_flow_or_map_interface(x64, getkey):
    henon_map = HenonMap(jnp.array(1.4), jnp.array(0.3))
    assert isinstance(henon_map, Map) and not isinstance(henon_map, Flow)
    from_object = lyapunov_spectrum(henon_map, jnp.array([0.1, 0.1]), n_steps=5000)
    from_fn = lyapunov_spectrum(henon, jnp.array([0.1, 0.1]), n_steps=5000)
    np.testing.assert_allclose(from_object, from_fn, rtol=1e-10)

    mlp = eqx.nn.MLP(3, 3, 16, 2, activation=jnp.tanh, key=getkey())
    mlp = jax.tree_util.tree_map(lambda x: x.astype(jnp.float64) if eqx.is_array(x) else x, mlp)
    model = NeuralFlow(mlp)
    assert isinstance(model, Flow)
    spectrum = lyapunov_spectrum(model, jnp.zeros(3), dt=0.05, n_steps=4000, transient=200)
    assert spectrum.shape == (3,) and bool(jnp.all(jnp.isfinite(spectrum)))
    assert bool(jnp.all(spectrum[:-1] >= spectrum[1:]))


def test_jit_vmap_and_float32():
    # Default float32: runs under strict dtype promotion, vmaps over initial conditions.
    y0s = jnp.array([[0.1, 0.1], [0.0, 0.2]], dtype=jnp.float32)
    spectra = jax.vmap(lambda y: lyapunov_spectrum(henon, y, n_steps=5000, transient=100))(y0s)
    assert spectra.dtype == jnp.float32 and spectra.shape == (2, 2)
    np.testing.assert_allclose(spectra, [[0.419, -1.624]] * 2, atol=0.03)


def test_under_outer_jit_with_traced_parameters(x64):
    # Parameters and dt may be traced by a caller's jit; the result is differentiable-friendly.
    @jax.jit
    def top_exponent(rho, dt):
        field = lambda t, y, args: jnp.stack(
            [10.0 * (y[1] - y[0]), y[0] * (args - y[2]) - y[1], y[0] * y[1] - 8.0 / 3.0 * y[2]]
        )
        y0 = jnp.array([1.0, 1.0, 1.0])
        return max_lyapunov(field, y0, args=rho, dt=dt, n_steps=20_000, transient=500, kind="flow")

    np.testing.assert_allclose(top_exponent(28.0, 0.01), 0.906, atol=0.05)
    # rho = 20 lies below the onset of chaos (24.74): a stable fixed point, negative exponent.
    assert float(top_exponent(20.0, 0.01)) < 0


def test_max_lyapunov_and_lyapunov_time(x64):
    lam = max_lyapunov(henon, jnp.array([0.1, 0.1]), n_steps=50_000, transient=100)
    assert lam.shape == ()
    np.testing.assert_allclose(lam, 0.419, rtol=0.01)
    np.testing.assert_allclose(lyapunov_time(jnp.array([0.906, 0.0, -14.57])), 1 / 0.906)
    np.testing.assert_allclose(lyapunov_time(jnp.array(0.5)), 2.0)
    assert jnp.isinf(lyapunov_time(jnp.array([-0.1, -1.0])))


def test_kaplan_yorke_dimension(x64):
    # Lorenz: 2 + 0.906 / 14.57.
    np.testing.assert_allclose(
        kaplan_yorke_dimension(jnp.array([0.906, 0.0, -14.57])), 2 + 0.906 / 14.57
    )
    # Henon: 1 + 0.419 / 1.624; order of the input does not matter.
    np.testing.assert_allclose(
        kaplan_yorke_dimension(jnp.array([-1.624, 0.419])), 1 + 0.419 / 1.624
    )
    # Partial sums: 1, 1.5, 0.5 -> j = 3, D = 3 + 0.5 / 2.
    np.testing.assert_allclose(kaplan_yorke_dimension(jnp.array([1.0, 0.5, -1.0, -2.0])), 3.25)
    assert float(kaplan_yorke_dimension(jnp.array([-0.1, -1.0]))) == 0.0
    assert float(kaplan_yorke_dimension(jnp.array([0.1, 0.0]))) == 2.0


def test_bad_input():
    y0 = jnp.array([1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="dt"):
        lyapunov_spectrum(lorenz, y0, n_steps=10)
    with pytest.raises(ValueError, match="dt"):
        lyapunov_spectrum(henon, jnp.zeros(2), n_steps=10, dt=0.1)
    with pytest.raises(ValueError, match="k must be"):
        lyapunov_spectrum(lorenz, y0, n_steps=10, dt=0.01, k=4)
    with pytest.raises(ValueError, match="empty"):
        lyapunov_spectrum(lorenz, jnp.zeros(0), n_steps=10, dt=0.01)
    with pytest.raises(ValueError, match="same structure"):
        lyapunov_spectrum(lambda x: (x, x[0]), jnp.zeros(2), kind="map", n_steps=10)
    with pytest.raises(ValueError, match="same structure"):
        lyapunov_spectrum(lambda x: x[:1], jnp.zeros(2), kind="map", n_steps=10)
    with pytest.raises(ValueError, match="multiple"):
        lyapunov_spectrum(lorenz, y0, n_steps=10, dt=0.01, qr_every=3)
    with pytest.raises(ValueError, match="n_steps"):
        lyapunov_spectrum(lorenz, y0, n_steps=0, dt=0.01)
    with pytest.raises(ValueError, match="kind"):
        lyapunov_spectrum(lambda a, b: a, y0, n_steps=10, dt=0.01)
    with pytest.raises(ValueError, match="kind"):
        lyapunov_spectrum(lorenz, y0, n_steps=10, dt=0.01, kind="ode")
    with pytest.raises(TypeError, match="vector_field"):
        lyapunov_spectrum(object(), y0, n_steps=10, dt=0.01)
    with pytest.raises(ValueError, match="empty"):
        lyapunov_time(jnp.zeros(0))
    with pytest.raises(eqx.EquinoxRuntimeError, match="reduce dt"):
        lyapunov_spectrum(lorenz, y0, n_steps=100, dt=1.0)  # RK4 unstable: the orbit blows up
    with pytest.raises(ValueError, match="1-D"):
        kaplan_yorke_dimension(jnp.ones((2, 2)))


def test_dynlearn_systems(x64):
    # The zoo's systems plug in directly; they agree with the local reference equations.
    from dynlearn import systems

    lorenz_system = systems.get("Lorenz").replace(params={"beta": 8.0 / 3.0})
    y0 = jnp.array([1.0, 1.0, 1.0])
    ours = lyapunov_spectrum(lorenz_system, y0, dt=0.01, n_steps=2000, transient=100)
    local = lyapunov_spectrum(lorenz, y0, dt=0.01, n_steps=2000, transient=100)
    np.testing.assert_allclose(ours, local, rtol=1e-8)

    henon_system = systems.get("Henon")
    assert henon_system.discrete
    spectrum = lyapunov_spectrum(henon_system, n_steps=20_000)  # y0 from the system
    np.testing.assert_allclose(spectrum, [0.419, -1.624], rtol=0.01)


def test_learned_model_classes(x64):
    # A dynlearn.nde.NeuralODE is a flow through its `.vector_field`.
    from dynlearn.nde import NeuralODE
    from dynlearn.recon import ShallowPLRNN

    y0 = jnp.array([1.0, 1.0, 1.0])
    from_node = lyapunov_spectrum(NeuralODE(lorenz), y0, dt=0.01, n_steps=1000)
    np.testing.assert_allclose(
        from_node, lyapunov_spectrum(lorenz, y0, dt=0.01, n_steps=1000), rtol=1e-10
    )

    # A PLRNN is a map through its `.step`. This one settles on a stable fixed point, where the
    # exponents are the log-moduli of the eigenvalues of its closed-form Jacobian.
    plrnn = ShallowPLRNN(2, 4, 16, clipped=True, key=jax.random.key(1))
    plrnn = jax.tree_util.tree_map(
        lambda x: x.astype(jnp.float64) if eqx.is_inexact_array(x) else x, plrnn
    )
    z = jax.lax.fori_loop(0, 3000, lambda _, z: plrnn.step(z), jnp.ones(4))
    assert float(jnp.linalg.norm(plrnn.step(z) - z)) < 1e-12
    expected = np.sort(np.log(np.abs(np.linalg.eigvals(np.asarray(plrnn.jacobian(z))))))[::-1]
    spectrum = lyapunov_spectrum(plrnn, jnp.ones(4), n_steps=5000, transient=1000)
    np.testing.assert_allclose(spectrum, expected, atol=1e-3)


def test_ssm_hidden_state_complex_pytree(x64, getkey):
    # An S4D layer's recurrence with its input fixed at zero is the map h -> A_bar * h on a
    # complex (d_model, modes) state; each complex entry is two real coordinates, and both carry
    # the exponent log|A_bar|.
    from dynlearn.ssm import S4D

    block = S4D(2, 4, key=getkey())
    a_bar, _, _ = block.discrete()
    expected = np.sort(np.repeat(np.log(np.abs(np.asarray(a_bar))).ravel(), 2))[::-1]
    zero = jnp.zeros(2)
    spectrum = lyapunov_spectrum(
        lambda h: block.step(h, zero)[0], block.init_state() + 1.0, n_steps=20_000
    )
    assert spectrum.shape == (2 * a_bar.size,) and spectrum.dtype == jnp.float64
    np.testing.assert_allclose(spectrum, expected, atol=2e-4)

    # A PyTree state: a rotation-scaling on one leaf, a contraction on the other.
    def step(state):
        x, y = state["x"], state["y"]
        rotation = jnp.array([[0.0, -1.0], [1.0, 0.0]])
        return {"x": 1.1 * (rotation @ x), "y": 0.5 * y}

    spectrum = lyapunov_spectrum(
        step, {"x": jnp.zeros(2), "y": jnp.zeros(1)}, kind="map", n_steps=4000
    )
    np.testing.assert_allclose(spectrum, np.log([1.1, 1.1, 0.5]), atol=1e-3)


def test_input_driven_selective_recurrence(x64, getkey):
    # A Mamba-style diagonal recurrence h <- exp(delta(u) A) h + delta(u) B u driven by a token
    # sequence: its exponents are A_n times the mean step size over the averaged window.
    a = -jnp.array([0.5, 1.0, 2.0, 4.0])
    b = jnp.array([1.0, -1.0, 0.5, 2.0])
    us = jax.random.normal(getkey(), (3100,), dtype=jnp.float64)
    delta = lambda u: jax.nn.softplus(0.8 * u - 1.0)

    def step(h, u):
        return jnp.exp(delta(u) * a) * h + delta(u) * b * u

    transient, n_steps = 100, 3000
    spectrum = lyapunov_spectrum(step, jnp.zeros(4), inputs=us, n_steps=n_steps, transient=100)
    expected = np.sort(np.asarray(a) * float(jnp.mean(delta(us[transient:]))))[::-1]
    np.testing.assert_allclose(spectrum, expected, atol=1e-3)
    with pytest.raises(ValueError, match="transient \\+ n_steps"):
        lyapunov_spectrum(step, jnp.zeros(4), inputs=us[:100], n_steps=n_steps, transient=100)
    with pytest.raises(ValueError, match="inputs drive maps only"):
        lyapunov_spectrum(lorenz, jnp.ones(3), inputs=us, dt=0.01, n_steps=10)


def test_mixed_real_and_complex_leaves(x64):
    # A closed-loop SSM state holds complex and real leaves together: a complex diagonal map
    # contributes log|a| twice, a real one log|b| once.
    a = jnp.array([0.9 * jnp.exp(0.3j), 0.5 * jnp.exp(-1.1j)])

    def step(state):
        h, u = state
        return a * h, jnp.array([0.8, -0.2]) * u

    state = (jnp.ones(2, jnp.complex128), jnp.ones(2))
    spectrum = lyapunov_spectrum(step, state, kind="map", n_steps=3000)
    expected = np.sort(np.log([0.9, 0.9, 0.5, 0.5, 0.8, 0.2]))[::-1]
    np.testing.assert_allclose(spectrum, expected, atol=1e-3)


class _ScaledMap(eqx.Module):
    """The Henon map as a model of the contract, with a sampling step `dt`."""

    dt: float

    def init_state(self, context):
        return context[-1]

    def observe(self, x):
        return x

    def step(self, x):
        return henon(x)


def test_models_of_the_contract_given_context(x64):
    # Context instead of a state: the state is init_state(context), the exponents are per unit
    # time of the model's own dt (or dt=), k defaults to the observed dimension.
    context = jnp.stack([jnp.array([0.0, 0.0]), jnp.array([0.1, 0.1])])
    per_step = lyapunov_spectrum(henon, jnp.array([0.1, 0.1]), n_steps=5000, transient=100)
    model = _ScaledMap(0.5)
    np.testing.assert_allclose(
        lyapunov_spectrum(model, context, n_steps=5000, transient=100), per_step / 0.5, rtol=1e-10
    )
    np.testing.assert_allclose(
        lyapunov_spectrum(model, context, n_steps=5000, transient=100, dt=0.25),
        per_step / 0.25,
        rtol=1e-10,
    )
    # A state given directly: all exponents, as for any map.
    direct = lyapunov_spectrum(model, jnp.array([0.1, 0.1]), n_steps=5000, transient=100)
    np.testing.assert_allclose(direct, per_step / 0.5, rtol=1e-10)
    with pytest.raises(ValueError, match="dt must be positive"):
        lyapunov_spectrum(model, context, n_steps=10, dt=-1.0)
