"""odeint_fixed and iterate: plain-loop references, convergence orders, derivatives through the
checkpointed scan, PyTree states, transforms and input errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dynlearn.kernels import ButcherTableau, iterate, odeint_fixed
from dynlearn.kernels._butcher import TABLEAUX
from dynlearn.kernels._fixed_step import _block_length

from tests.helpers import rel_err, tree_allclose

METHODS = ["euler", "midpoint", "heun", "rk4", "tsit5", "dopri5"]


def rotation_field(t, y, args):
    """Damped, forced oscillator: a smooth problem with a closed-form solution family."""
    omega, forcing = args
    return jnp.stack([omega * y[1], -omega * y[0] + forcing * jnp.cos(t)])


def loop_reference(f, y0, ts, args, tableau, steps):
    """Textbook explicit Runge-Kutta, one stage at a time, no FSAL, plain Python loops."""
    ys = [y0]
    y = y0
    for i in range(len(ts) - 1):
        dt = (ts[i + 1] - ts[i]) / steps
        for j in range(steps):
            t = ts[i] + j * dt
            ks = []
            for s in range(tableau.stages):
                y_stage = y
                for coef, k in zip(tableau.a[s - 1] if s else (), ks):
                    y_stage = y_stage + (dt * coef).astype(k.dtype) * k
                ks.append(f(t + tableau.c[s] * dt, y_stage, args))
            for coef, k in zip(tableau.b, ks):
                y = y + (dt * coef).astype(k.dtype) * k
        ys.append(y)
    return jnp.stack(ys)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    method=st.sampled_from(METHODS),
    num_times=st.sampled_from([1, 2, 5]),
    steps=st.sampled_from([1, 3, 7]),
    seed=st.integers(0, 2**16),
)
def test_equals_python_loop(x64, method, num_times, steps, seed):
    rng = np.random.default_rng(seed)
    ts = jnp.asarray(np.sort(rng.uniform(0, 2, num_times)) + np.arange(num_times))
    y0 = jnp.asarray(rng.normal(size=2))
    args = (jnp.asarray(1.3), jnp.asarray(0.4))
    ys = odeint_fixed(rotation_field, ts, y0, args, method=method, steps_per_interval=steps)
    expected = loop_reference(rotation_field, y0, ts, args, TABLEAUX[method], steps)
    assert ys.shape == (num_times, 2)
    assert rel_err(ys, expected) < 1e-12


@pytest.mark.parametrize("method", METHODS)
def test_convergence_order(x64, method):
    """Slope of log(error) against log(dt) on y' = A y (rotation), exact exp(tA) y0."""
    omega = 2.0
    y0 = jnp.array([1.0, 0.5])
    t1 = 1.0
    exact = np.array(
        [
            np.cos(omega * t1) * 1.0 + np.sin(omega * t1) * 0.5,
            -np.sin(omega * t1) * 1.0 + np.cos(omega * t1) * 0.5,
        ]
    )
    order = TABLEAUX[method].order
    steps = [8, 16, 32] if order >= 4 else [32, 64, 128]
    solve = jax.jit(
        lambda n: odeint_fixed(
            rotation_field,
            jnp.array([0.0, t1]),
            y0,
            (omega, 0.0),
            method=method,
            steps_per_interval=n,
        ),
        static_argnums=0,
    )
    errors = [np.max(np.abs(np.asarray(solve(n))[-1] - exact)) for n in steps]
    slope = np.polyfit(np.log(t1 / np.array(steps)), np.log(errors), 1)[0]
    assert abs(slope - order) < 0.3, (method, slope, errors)


def test_pytree_state_and_float32():
    def field(t, y, args):
        return {"x": y["v"], "v": -y["x"] * args}

    y0 = {"x": jnp.ones(3, jnp.float32), "v": jnp.zeros(3, jnp.float32)}
    ts = jnp.linspace(0.0, 1.0, 5)
    ys = odeint_fixed(field, ts, y0, jnp.float32(1.0), method="tsit5", steps_per_interval=4)
    assert ys["x"].shape == (5, 3) and ys["x"].dtype == jnp.float32
    np.testing.assert_allclose(ys["x"][:, 0], np.cos(np.asarray(ts)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method, steps", [("rk4", 2), ("tsit5", 1), ("heun", 3)])
def test_gradients_and_transforms(x64, method, steps):
    """grad w.r.t. y0, args and ts equals autodiff through the loop; vmap, jvp, jvp of grad."""
    ts = jnp.array([0.0, 0.4, 1.1])
    y0 = jnp.array([0.3, -0.7])
    args = (jnp.asarray(1.3), jnp.asarray(0.4))
    tableau = TABLEAUX[method]

    def loss(solver):
        return lambda y0, args, ts: jnp.sum(jnp.sin(solver(y0, args, ts)))

    fast = loss(
        lambda y0, args, ts: odeint_fixed(
            rotation_field, ts, y0, args, method=method, steps_per_interval=steps
        )
    )
    slow = loss(lambda y0, args, ts: loop_reference(rotation_field, y0, ts, args, tableau, steps))
    # The unrolled reference is differentiated eagerly: under jit, XLA spends tens of seconds
    # compiling its derivative.
    g_fast = jax.jit(jax.grad(fast, argnums=(0, 1, 2)))
    g_slow = jax.grad(slow, argnums=(0, 1, 2))
    assert tree_allclose(g_fast(y0, args, ts), g_slow(y0, args, ts), rtol=1e-11, atol=1e-13)

    tangents = (jnp.array([1.0, 2.0]), (jnp.asarray(0.5), jnp.asarray(-1.0)), jnp.zeros(3))
    jvp = lambda f: lambda p, t: jax.jvp(f, p, t)[1]
    primals = (y0, args, ts)
    got_jvp = jax.jit(jvp(fast))(primals, tangents)
    assert rel_err(got_jvp, jvp(slow)(primals, tangents)) < 1e-11
    # jvp of grad against central differences of the gradient (autodiff through the unrolled
    # reference loop is too slow to compile at second order).
    got = jax.jit(jvp(jax.grad(fast, argnums=(0, 1))))(primals, tangents)
    eps = 1e-6
    shift = lambda sign: jax.tree_util.tree_map(lambda p, t: p + sign * eps * t, primals, tangents)
    grad_fast = jax.jit(jax.grad(fast, argnums=(0, 1)))  # compiled once for both points
    g_plus, g_minus = (grad_fast(*shift(sign)) for sign in (1, -1))
    want = jax.tree_util.tree_map(lambda a, b: (a - b) / (2 * eps), g_plus, g_minus)
    assert tree_allclose(got, want, rtol=1e-6, atol=1e-8)

    y0s = jnp.stack([y0, 2 * y0, -y0])
    batched = jax.jit(jax.vmap(jax.vmap(fast, (0, None, None)), (None, 0, None)))
    omegas = (jnp.array([1.3, 0.5]), jnp.array([0.4, 0.4]))
    values = batched(y0s, omegas, ts)
    assert values.shape == (2, 3)
    assert abs(values[1, 2] - slow(-y0, (0.5, 0.4), ts)) < 1e-12


@pytest.mark.parametrize("argnums", [(0,), (2,), (1, 2)])
def test_gradient_of_a_subset_of_inputs(x64, argnums):
    """The backward pass skips the cotangents nobody asked for (constant save times or
    parameters); the ones asked for still equal autodiff through the loop."""
    ts = jnp.array([0.0, 0.4, 1.1])
    y0 = jnp.array([0.3, -0.7])
    args = (jnp.asarray(1.3), jnp.asarray(0.4))
    tableau = TABLEAUX["tsit5"]

    def fast(y0, args, ts):
        ys = odeint_fixed(rotation_field, ts, y0, args, method="tsit5", steps_per_interval=3)
        return jnp.sum(jnp.sin(ys))

    def slow(y0, args, ts):
        return jnp.sum(jnp.sin(loop_reference(rotation_field, y0, ts, args, tableau, 3)))

    got = jax.jit(jax.grad(fast, argnums=argnums))(y0, args, ts)
    want = jax.grad(slow, argnums=argnums)(y0, args, ts)  # eager: jit compiles for tens of s
    assert tree_allclose(got, want, rtol=1e-11, atol=1e-13)


def test_parameter_gradient_over_many_blocks_and_unused_non_finite_parameters(x64):
    """The parameter cotangent summed over several intervals of several blocks equals the
    loop's, and a parameter the field ignores gets an exact zero even when it is not finite
    (the backward pass starts its sum from the first block's cotangent, not from zeros)."""
    ts = jnp.array([0.0, 0.5, 0.7, 1.6])
    y0 = jnp.array([0.3, -0.7])
    args = {
        "used": (jnp.asarray(1.3), jnp.asarray(0.4)),
        "unused": jnp.array([jnp.inf, jnp.nan, -jnp.inf]),
    }
    field = lambda t, y, a: rotation_field(t, y, a["used"])

    def fast(args):
        ys = odeint_fixed(field, ts, y0, args, method="rk4", steps_per_interval=8)
        return jnp.sum(jnp.sin(ys))

    def slow(args):
        return jnp.sum(jnp.sin(loop_reference(field, y0, ts, args, TABLEAUX["rk4"], 8)))

    got = jax.jit(jax.grad(fast))(args)
    want = jax.grad(slow)(args)  # eager: jit of the unrolled loop's gradient compiles for ~30 s
    assert np.array_equal(got["unused"], np.zeros(3))
    assert tree_allclose(got["used"], want["used"], rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("method", ["tsit5", "euler"])
def test_gradient_through_closed_over_arrays(x64, method):
    """Arrays the vector field closes over (an equinox module's weights, a captured scalar)
    get the gradients of autodiff through the loop; integer args traced by vmap also work."""
    import equinox as eqx

    mlp = eqx.nn.MLP(2, 2, 8, 1, activation=jnp.tanh, key=jax.random.key(0))
    mlp = jax.tree_util.tree_map(lambda x: x.astype(jnp.float64) if eqx.is_array(x) else x, mlp)
    ts = jnp.array([0.0, 0.3])
    y0 = jnp.array([0.4, -0.2])

    def loss(model, scale, solver):
        field = lambda t, y, args: scale * model(y) * jnp.cos(t)
        return jnp.sum(solver(field, y0, ts) ** 2)

    fast = lambda f, y0, ts: odeint_fixed(f, ts, y0, method=method, steps_per_interval=3)
    slow = lambda f, y0, ts: loop_reference(f, y0, ts, None, TABLEAUX[method], 3)
    scale = jnp.asarray(0.7)
    grads = [
        eqx.filter_jit(eqx.filter_grad(lambda m, s: loss(m, s, fast)))(mlp, scale),
        eqx.filter_grad(lambda m, s: loss(m, s, slow))(mlp, scale),  # eager: no long compile
    ]
    assert tree_allclose(grads[0], grads[1], rtol=1e-10, atol=1e-13)

    powers = jnp.array([1, 2, 3])
    field = lambda t, y, n: -y * n.astype(y.dtype)
    got = jax.vmap(lambda n: odeint_fixed(field, ts, y0, n, method=method))(powers)
    want = jnp.stack([loop_reference(field, y0, ts, n, TABLEAUX[method], 1) for n in powers])
    assert rel_err(got, want) < 1e-12


def test_complex_state_gradient(x64):
    """The hand-written adjoint on a complex state equals autodiff through the loop."""
    field = lambda t, y, w: jnp.stack([w * y[1], -w * y[0] * jnp.cos(t).astype(y.dtype)])
    ts = jnp.array([0.0, 0.5, 1.2])
    y0 = jnp.array([0.3 + 0.2j, -0.5 + 0.1j])
    w = jnp.asarray(1.3 + 0.4j)

    def loss(solve):
        return lambda y0, w: jnp.sum(jnp.abs(solve(y0, w)) ** 2)

    fast = loss(lambda y0, w: odeint_fixed(field, ts, y0, w, method="tsit5", steps_per_interval=3))
    slow = loss(lambda y0, w: loop_reference(field, y0, ts, w, TABLEAUX["tsit5"], 3))
    got = jax.jit(jax.grad(fast, argnums=(0, 1)))(y0, w)
    want = jax.grad(slow, argnums=(0, 1))(y0, w)  # the loop eagerly
    assert tree_allclose(got, want, rtol=1e-11, atol=1e-13)


def test_backward_memory_grows_like_sqrt_of_steps():
    """Residuals kept for reverse mode: ~2 sqrt(n) states, not n (checkpointed blocks)."""
    field = lambda t, y, args: -args * y

    def residual_size(n):
        loss = lambda y0, k: jnp.sum(
            odeint_fixed(field, jnp.array([0.0, 1.0]), y0, k, method="rk4", steps_per_interval=n)
        )
        res = jax.eval_shape(lambda y0, k: jax.vjp(loss, y0, k)[1], jnp.ones(64), jnp.asarray(1.0))
        return sum(x.size for x in jax.tree_util.tree_leaves(res))

    small, large = residual_size(100), residual_size(10_000)
    assert large < 64 * 300  # 100x the steps: about 10x the states, far below 10_000 states
    assert large / small < 20


@pytest.mark.parametrize("total, per_interval", [(13, 13), (1000, 1), (1000, 1000), (40, 8)])
def test_block_length(total, per_interval):
    block = _block_length(total, per_interval)
    assert 1 <= block <= per_interval
    intervals = total // per_interval
    stored = intervals * -(-per_interval // block)  # block-boundary states kept for reverse mode
    # Beyond the saved outputs (one per interval), about 2 sqrt(total) states.
    assert stored + block <= intervals + 4 * np.sqrt(total) + 2


def test_custom_tableau_and_iterate():
    ralston = ButcherTableau("ralston", c=(0.0, 2 / 3), a=((2 / 3,),), b=(0.25, 0.75), order=2)
    # Evaluations per step: first-same-as-last methods reuse their last stage.
    assert ralston.evaluations == 2
    assert (TABLEAUX["rk4"].evaluations, TABLEAUX["tsit5"].evaluations) == (4, 6)
    ys = odeint_fixed(
        lambda t, y, a: -y,
        jnp.array([0.0, 1.0]),
        jnp.ones(1),
        method=ralston,
        steps_per_interval=200,
    )
    np.testing.assert_allclose(ys[-1, 0], np.exp(-1.0), rtol=1e-5)

    # Heun written first-same-as-last: its third stage is the next step's first, so the solve
    # takes 2 evaluations per step and equals plain Heun.
    heun_fsal = ButcherTableau(
        "heun_fsal",
        c=(0.0, 1.0, 1.0),
        a=((1.0,), (0.5, 0.5)),
        b=(0.5, 0.5, 0.0),
        order=2,
        fsal=True,
    )
    assert heun_fsal.evaluations == 2
    solve = lambda method: odeint_fixed(
        lambda t, y, a: -y * jnp.cos(t), jnp.array([0.0, 0.7, 1.5]), jnp.ones(2), method=method
    )
    assert rel_err(solve(heun_fsal), solve("heun")) < 1e-6
    with pytest.raises(ValueError, match=r"marked fsal but b\[-1\]=0.1 is not 0"):
        ButcherTableau(
            "bad", c=(0.0, 1.0, 1.0), a=((1.0,), (0.5, 0.5)), b=(0.5, 0.5, 0.1), order=2, fsal=True
        )

    logistic = lambda x: 3.2 * x * (1 - x)  # periodic regime: float32 stays close
    orbit = iterate(logistic, jnp.asarray(0.3), 20)
    x, expected = 0.3, [0.3]
    for _ in range(20):
        x = 3.2 * x * (1 - x)
        expected.append(x)
    assert orbit.shape == (21,)
    np.testing.assert_allclose(orbit, expected, rtol=1e-4)
    tree = iterate(lambda s: {"a": s["a"] * 2.0}, {"a": jnp.ones(2)}, 3)
    np.testing.assert_allclose(tree["a"][:, 0], [1, 2, 4, 8])
    assert iterate(logistic, jnp.asarray(0.3), 0).shape == (1,)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(ts=jnp.array([0.0, 1.0, 0.5])), "strictly increasing"),
        (dict(ts=jnp.array([0.0, 0.0])), "strictly increasing"),
        (dict(ts=jnp.zeros((2, 2))), r"ts.shape=\(2, 2\)"),
        (dict(ts=jnp.zeros((0,))), r"ts.shape=\(0,\)"),
        (dict(ts=jnp.array([0, 1])), "ts must be real floating"),
        (dict(steps_per_interval=0), "steps_per_interval must be >= 1"),
        (dict(method="rk45"), "method must be one of"),
        (dict(y0=jnp.ones(2, jnp.int32)), r"y0 must have a floating.*shape \(2,\)"),
        (dict(y0=jnp.ones(3)), "must return a PyTree with the structure and shapes of y0"),
    ],
)
def test_bad_input_raises(kwargs, match):
    call = dict(y0=jnp.ones(2), ts=jnp.array([0.0, 1.0]), method="rk4", steps_per_interval=2)
    call.update(kwargs)
    field = lambda t, y, args: jnp.stack([y[0], y[1]])
    with pytest.raises(ValueError, match=match):
        odeint_fixed(field, call.pop("ts"), call.pop("y0"), **call)


def test_traced_non_increasing_ts_raise_at_run_time():
    solve = jax.jit(lambda ts: odeint_fixed(lambda t, y, a: -y, ts, jnp.ones(1)))
    with pytest.raises(Exception, match="strictly increasing"):
        solve(jnp.array([0.0, 1.0, 0.5])).block_until_ready()


def test_iterate_bad_input():
    with pytest.raises(ValueError, match="n_steps must be a non-negative int"):
        iterate(lambda x: x, jnp.ones(2), -1)
    with pytest.raises(ValueError, match="map_fn must return a PyTree like x0"):
        iterate(lambda x: x[:1], jnp.ones(2), 3)


def test_eager_calls_reuse_the_compiled_solver():
    """Outside jit, a second call with the same vector field and shapes does not trace the
    field again (it runs the cached compiled solver) and gives the new inputs' solution."""
    traces = []

    def field(t, y, rate):
        traces.append(1)
        return -rate * y

    ts = jnp.linspace(0.0, 1.0, 3)
    first = odeint_fixed(field, ts, jnp.ones(2), jnp.asarray(0.5), steps_per_interval=4)
    after_first = len(traces)
    second = odeint_fixed(field, ts, 2 * jnp.ones(2), jnp.asarray(1.5), steps_per_interval=4)
    assert after_first > 0 and len(traces) == after_first
    np.testing.assert_allclose(first[-1], np.exp(-0.5), rtol=1e-4)
    np.testing.assert_allclose(second[-1], 2 * np.exp(-1.5), rtol=1e-4)


def test_vmap_solves_the_batched_state_with_shared_parameters(x64):
    """vmap over y0 (and over some parameters) runs one solve of the batched state: results,
    grad of vmap and vmap of grad equal the per-sample solves."""
    ts = jnp.array([0.0, 0.4, 1.1])
    y0s = jnp.array([[0.3, -0.7], [1.0, 0.2], [-0.5, 0.4]])
    omegas = jnp.array([1.3, 0.7, 0.2])
    damping = jnp.asarray(0.4)
    tableau = TABLEAUX["tsit5"]

    def fast(y0, omega, damping):
        ys = odeint_fixed(
            rotation_field, ts, y0, (omega, damping), method="tsit5", steps_per_interval=3
        )
        return jnp.sum(jnp.sin(ys))

    def slow(y0, omega, damping):
        ys = loop_reference(rotation_field, y0, ts, (omega, damping), tableau, 3)
        return jnp.sum(jnp.sin(ys))

    for in_axes in [(0, None, None), (0, 0, None), (None, 0, None)]:
        args = (y0s if in_axes[0] == 0 else y0s[0], omegas if in_axes[1] == 0 else omegas[0])
        got = jax.jit(jax.vmap(fast, in_axes))(*args, damping)
        want = jax.vmap(slow, in_axes)(*args, damping)
        assert rel_err(got, want) < 1e-12
    # The kernel under jit (one compile per transform instead of one per eager scan), the loop
    # reference eagerly.
    total = lambda f: lambda y0s, w, d: jnp.sum(jax.vmap(f, (0, 0, None))(y0s, w, d))
    grad_total = lambda f: jax.grad(total(f), argnums=(0, 1, 2))
    call = (y0s, omegas, damping)
    grads = [jax.jit(grad_total(fast))(*call), grad_total(slow)(*call)]
    assert tree_allclose(grads[0], grads[1], rtol=1e-11, atol=1e-13)
    per_sample_grad = lambda f: jax.vmap(jax.grad(f, argnums=(0, 2)), (0, 0, None))
    per_sample = [
        jax.jit(per_sample_grad(fast))(*call),
        per_sample_grad(slow)(*call),
    ]
    assert tree_allclose(per_sample[0], per_sample[1], rtol=1e-11, atol=1e-13)


def test_eager_calls_see_new_module_weights():
    """The eager cache keys on the vector field's structure, not its array values: an equinox
    module with new weights gives the new solution."""
    import equinox as eqx

    class Decay(eqx.Module):
        rate: jax.Array

        def __call__(self, t, y, args):
            return -self.rate * y

    ts = jnp.linspace(0.0, 1.0, 2)
    for rate in (0.5, 2.0):
        ys = odeint_fixed(Decay(jnp.asarray(rate)), ts, jnp.ones(2), steps_per_interval=8)
        np.testing.assert_allclose(ys[-1], np.exp(-rate), rtol=1e-4)


def test_vmap_grad_pytree_state_with_padded_blocks(x64):
    """The batching rule on a dict state, with 7 steps per interval cut into padded blocks."""
    ts = jnp.array([0.0, 0.5, 0.9, 1.6])
    tableau = TABLEAUX["tsit5"]

    def field(t, y, w):
        return {"x": w * y["v"], "v": -w * y["x"] + jnp.sin(t) * y["v"]}

    y0s = {"x": jnp.array([0.3, -1.0, 0.8]), "v": jnp.array([0.1, 0.4, -0.2])}

    def loss(solve):
        def one(y0, w):
            ys = solve(y0, w)
            return jnp.sum(ys["x"] ** 2) + jnp.sum(jnp.cos(ys["v"]))

        return lambda y0s, w: jnp.sum(jax.vmap(one, (0, None))(y0s, w))

    def flat_field(t, z, w):
        out = field(t, {"x": z[0], "v": z[1]}, w)
        return jnp.stack([out["x"], out["v"]])

    def slow_solve(y0, w):
        zs = loop_reference(flat_field, jnp.stack([y0["x"], y0["v"]]), ts, w, tableau, 7)
        return {"x": zs[:, 0], "v": zs[:, 1]}

    fast = loss(lambda y0, w: odeint_fixed(field, ts, y0, w, method="tsit5", steps_per_interval=7))
    slow = loss(slow_solve)
    w = jnp.asarray(1.7)
    got = jax.jit(jax.grad(fast, argnums=(0, 1)))(y0s, w)
    want = jax.grad(slow, argnums=(0, 1))(y0s, w)  # the loop eagerly
    assert tree_allclose(got, want, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize(
    "field, args",
    [
        (lambda t, y, a: -y, None),  # no residual to record at all
        (lambda t, y, a: jnp.cos(t) * jnp.ones_like(y), None),  # independent of y
        (lambda t, y, a: a * jnp.ones_like(y), 0.3),  # parameter, no residual
        (lambda t, y, a: a * t * y, 0.7),
    ],
)
@pytest.mark.parametrize("method", ["tsit5", "rk4"])
def test_gradient_of_fields_with_few_residuals(x64, field, args, method):
    """The recorded adjoint handles vector fields whose pullbacks save nothing (or only
    parameters): gradients equal autodiff through the loop."""
    ts = jnp.array([0.0, 0.5, 1.0])
    y0 = jnp.array([1.0, -2.0])
    argnums = (0,) if args is None else (0, 1)
    args = None if args is None else jnp.asarray(args)  # float64 under the x64 fixture

    def loss(solve):
        return lambda y0, a: jnp.sum(solve(y0, a) ** 2)

    fast = loss(lambda y0, a: odeint_fixed(field, ts, y0, a, method=method, steps_per_interval=7))
    slow = loss(lambda y0, a: loop_reference(field, y0, ts, a, TABLEAUX[method], 7))
    got = jax.jit(jax.grad(fast, argnums=argnums))(y0, args)
    want = jax.grad(slow, argnums=argnums)(y0, args)  # the loop eagerly
    assert tree_allclose(got, want, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("method", ["tsit5", "rk4"])
def test_batched_mlp_field_with_a_small_first_layer(x64, method):
    """A neural ODE as in the benchmark (an MLP vmapped over a batch of 3-dimensional states):
    its first product is written out as a sum (`_small_dots`) and the stage values are kept
    apart (`Schedule.isolate_stages`); solution, gradients and jvp of grad equal the loop."""
    import equinox as eqx

    from dynlearn.kernels._small_dots import has_small_contractions

    mlp = eqx.nn.MLP(3, 3, 16, 2, activation=jnp.tanh, key=jax.random.key(0))
    mlp = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64) if eqx.is_array(a) else a, mlp)
    params, static = eqx.partition(mlp, eqx.is_array)
    field = lambda t, y, p: jax.vmap(eqx.combine(p, static))(y) * jnp.cos(t)
    y0 = jax.random.normal(jax.random.key(1), (5, 3))
    ts = jnp.array([0.0, 0.2, 0.5])
    assert has_small_contractions(lambda y: field(0.0, y, params), y0)

    fast = lambda p, y0: odeint_fixed(field, ts, y0, p, method=method, steps_per_interval=4)
    slow = lambda p, y0: loop_reference(field, y0, ts, p, TABLEAUX[method], 4)
    assert rel_err(jax.jit(fast)(params, y0), slow(params, y0)) < 1e-12
    loss = lambda f: lambda p, y0: jnp.sum(jnp.sin(f(p, y0)))
    grads = [
        jax.jit(jax.grad(loss(fast), argnums=(0, 1)))(params, y0),
        jax.grad(loss(slow), argnums=(0, 1))(params, y0),  # eager: no long compile
    ]
    assert tree_allclose(grads[0], grads[1], rtol=1e-11, atol=1e-13)
    tangent = jax.tree_util.tree_map(jnp.ones_like, params)
    hvp = lambda f: lambda p, t: jax.jvp(lambda p: jax.grad(loss(f))(p, y0), (p,), (t,))[1]
    hvps = [jax.jit(hvp(fast))(params, tangent), hvp(slow)(params, tangent)]  # loop eagerly
    assert tree_allclose(hvps[0], hvps[1], rtol=1e-10, atol=1e-12)
