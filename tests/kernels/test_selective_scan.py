"""selective_scan: against a plain Python loop of Mamba's reference recurrence, hand-written
backward pass against autodiff through the loop, transforms, chunked inference, errors."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dynlearn.kernels import selective_scan

from tests.helpers import rel_err


def softplus(x):
    return jnp.logaddexp(x, 0.0) if isinstance(x, jax.Array) else np.logaddexp(x, 0.0)


def silu(x):
    xp = jnp if isinstance(x, jax.Array) else np
    return x / (1 + xp.exp(-x))


def loop_reference(u, delta, A, B, C, D=None, z=None, delta_bias=None, softplus_=False, h0=None):
    """Mamba's selective_scan_ref for one sequence, one time step at a time."""
    xp = jnp if isinstance(u, jax.Array) else np
    if delta_bias is not None:
        delta = delta + delta_bias[None, :]
    if softplus_:
        delta = softplus(delta)
    complex_ = any(xp.iscomplexobj(x) for x in (A, B, C))
    h = xp.zeros(A.shape, complex if complex_ else float) if h0 is None else h0
    # Explicit casts: the tests run with strict dtype promotion.
    dtype = h.dtype
    dt, du, A, B, C = (x.astype(dtype) for x in (delta, delta * u, A, B, C))
    ys = []
    for t in range(u.shape[0]):
        h = xp.exp(dt[t][:, None] * A) * h + du[t][:, None] * B[t][None, :]
        y = xp.sum(h * C[t][None, :], axis=1)
        ys.append(2 * y.real if complex_ else y)
    y = xp.stack(ys)
    if D is not None:
        y = y + u * D[None, :]
    if z is not None:
        y = y * silu(z)
    return y, h


def _problem(rng, length, channels, state, complex_):
    u = rng.normal(size=(length, channels))
    delta = rng.normal(size=(length, channels))
    A = -np.exp(rng.normal(size=(channels, state)))
    B = rng.normal(size=(length, state))
    C = rng.normal(size=(length, state))
    h0 = rng.normal(size=(channels, state))
    if complex_:
        A = A + 1j * rng.normal(size=A.shape)
        B = B + 1j * rng.normal(size=B.shape)
        C = C + 1j * rng.normal(size=C.shape)
        h0 = h0 + 1j * rng.normal(size=h0.shape)
    extras = dict(
        D=rng.normal(size=channels),
        z=rng.normal(size=(length, channels)),
        delta_bias=rng.normal(size=channels),
    )
    return (u, delta, A, B, C), extras, h0


scan = jax.jit(selective_scan, static_argnames=("delta_softplus", "return_last_state", "chunk"))


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    length=st.sampled_from([1, 7, 32, 45]),
    channels=st.sampled_from([1, 3]),
    state=st.sampled_from([1, 4]),
    chunk=st.sampled_from([1, 8, 64]),
    complex_=st.booleans(),
    options=st.sets(st.sampled_from(["D", "z", "delta_bias", "h0"])),
    seed=st.integers(0, 2**16),
)
def test_equals_python_loop(x64, length, channels, state, chunk, complex_, options, seed):
    rng = np.random.default_rng(seed)
    core, extras, h0 = _problem(rng, length, channels, state, complex_)
    u, delta = core[:2]
    if "delta_bias" not in options:
        delta = np.abs(delta)  # raw step sizes are used as given without the softplus
    softplus_ = "delta_bias" in options
    D = extras["D"] if "D" in options else None
    z = extras["z"] if "z" in options else None
    bias = extras["delta_bias"] if softplus_ else None
    h0 = h0 if "h0" in options else None
    y, last = scan(
        u,
        delta,
        *core[2:],
        D,
        z,
        delta_bias=bias,
        delta_softplus=softplus_,
        h0=h0,
        return_last_state=True,
        chunk=chunk,
    )
    y_ref, last_ref = loop_reference(u, delta, *core[2:], D, z, bias, softplus_, h0)
    assert y.shape == (length, channels) and y.dtype == np.float64
    assert last.dtype == (np.complex128 if complex_ else np.float64)
    assert rel_err(y, y_ref) < 1e-12
    assert rel_err(last, last_ref) < 1e-12


def _all_inputs(rng, complex_, length=13, channels=3, state=4):
    core, extras, h0 = _problem(rng, length, channels, state, complex_)
    return tuple(map(jnp.asarray, (*core, extras["D"], extras["z"], extras["delta_bias"], h0)))


def _fast(chunk):
    def f(u, delta, A, B, C, D, z, bias, h0):
        return selective_scan(
            u,
            delta,
            A,
            B,
            C,
            D,
            z,
            delta_bias=bias,
            delta_softplus=True,
            h0=h0,
            return_last_state=True,
            chunk=chunk,
        )

    return f


def _slow(u, delta, A, B, C, D, z, bias, h0):
    return loop_reference(u, delta, A, B, C, D, z, bias, True, h0)


def _derivatives(args, cots, tangents, fast, chunk):
    """vjp and jvp of the kernel (under jit) or of the loop (eagerly: compiling the unrolled
    loop's derivatives takes longer than running them op by op)."""
    if fast:
        return _jit_derivatives(_fast(chunk), args, cots, tangents)
    return jax.vjp(_slow, *args)[1](cots), jax.jvp(_slow, args, tangents)[1]


@functools.partial(jax.jit, static_argnums=0)
def _jit_derivatives(f, args, cots, tangents):
    return jax.vjp(f, *args)[1](cots), jax.jvp(f, args, tangents)[1]


@pytest.mark.parametrize("complex_, chunk", [(False, 1), (False, 4), (True, 5), (True, 64)])
def test_vjp_and_jvp_equal_autodiff_of_loop(x64, complex_, chunk):
    rng = np.random.default_rng(3)
    args = _all_inputs(rng, complex_)
    outs = _slow(*args)
    cots = (
        jnp.asarray(rng.normal(size=outs[0].shape)),
        jnp.asarray(rng.normal(size=outs[1].shape)),
    )
    if complex_:
        cots = (cots[0], cots[1].astype(jnp.complex128) * (1 - 0.5j))
    tangents = tuple(jnp.asarray(rng.normal(size=x.shape)).astype(x.dtype) for x in args)
    got_vjp, got_jvp = _derivatives(args, cots, tangents, True, chunk)
    want_vjp, want_jvp = _derivatives(args, cots, tangents, False, None)
    names = ["u", "delta", "A", "B", "C", "D", "z", "delta_bias", "h0"]
    for name, g, w in zip(names, got_vjp, want_vjp):
        assert g.dtype == w.dtype, name
        assert rel_err(g, w) < 1e-11, name
    for g, w in zip(got_jvp, want_jvp):
        assert rel_err(g, w) < 1e-11


def test_transforms(x64):
    rng = np.random.default_rng(4)
    args = _all_inputs(rng, False, length=12)
    fast = _fast(8)
    loss = lambda f: lambda *a: jnp.sum(jnp.sin(f(*a)[0])) + jnp.sum(f(*a)[1] ** 2)
    batch = lambda x: jnp.stack([x, 0.5 * x])
    batched = tuple(map(batch, args))

    y = jax.jit(jax.vmap(fast))(*batched)[0]
    assert rel_err(y[1], _slow(*(x[1] for x in batched))[0]) < 1e-12
    nested = jax.jit(jax.vmap(jax.vmap(fast)))(*map(batch, batched))[0]
    assert rel_err(nested[1, 1], _slow(*(0.25 * x for x in args))[0]) < 1e-12

    g_fast = jax.grad(loss(fast), argnums=(0, 2))
    g_slow = jax.grad(loss(_slow), argnums=(0, 2))  # eager: no compile of the unrolled loop
    want = g_slow(*args)
    total = lambda *a: jnp.sum(jax.vmap(loss(fast))(*a))
    got = jax.jit(jax.grad(total, argnums=(0, 2)))(*batched)
    assert all(rel_err(g[0], w) < 1e-11 for g, w in zip(got, want))

    jvp_of_grad = lambda g, x, t: jax.jvp(g, x, t)[1]
    tangents = tuple(0.3 * x for x in args)
    got = jax.jit(jvp_of_grad, static_argnums=0)(g_fast, args, tangents)
    want = jvp_of_grad(g_slow, args, tangents)
    assert all(rel_err(g, w) < 1e-10 for g, w in zip(got, want))


def test_chunk_by_chunk_inference_equals_whole(x64):
    rng = np.random.default_rng(5)
    (u, delta, A, B, C), extras, _ = _problem(rng, 30, 3, 4, False)
    delta = np.abs(delta)
    whole, last = selective_scan(u, delta, A, B, C, extras["D"], return_last_state=True)
    first, state = selective_scan(
        u[:11], delta[:11], A, B[:11], C[:11], extras["D"], return_last_state=True
    )
    second, last2 = selective_scan(
        u[11:], delta[11:], A, B[11:], C[11:], extras["D"], h0=state, return_last_state=True
    )
    assert rel_err(jnp.concatenate([first, second]), whole) < 1e-12
    assert rel_err(last2, last) < 1e-12


def test_float32_stays_float32_and_matches():
    rng = np.random.default_rng(6)
    (u, delta, A, B, C), _, _ = _problem(rng, 50, 4, 3, False)
    args32 = [jnp.asarray(x, jnp.float32) for x in (u, np.abs(delta), A, B, C)]
    y = selective_scan(*args32)
    assert y.dtype == jnp.float32
    y_ref, _ = loop_reference(u, np.abs(delta), A, B, C)
    assert rel_err(y, y_ref) < 1e-4


def test_backward_keeps_only_chunk_entry_states():
    """Residuals of the fused backward pass: inputs plus one state per chunk, never (L, D, N)."""
    length, channels, state, chunk = 512, 8, 16, 64
    args = [
        jnp.ones((length, channels)),
        jnp.ones((length, channels)),
        -jnp.ones((channels, state)),
        jnp.ones((length, state)),
        jnp.ones((length, state)),
    ]
    loss = lambda *a: jnp.sum(selective_scan(*a, chunk=chunk, implementation="xla"))
    residuals = jax.eval_shape(lambda *a: jax.vjp(loss, *a)[1], *args)
    kept = sum(x.size for x in jax.tree_util.tree_leaves(residuals))
    inputs_and_output = sum(x.size for x in args) + length * channels
    states = (length // chunk + 4) * channels * state  # entries, h0, last state
    assert kept <= inputs_and_output + states
    assert states < length * channels * state / 16


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(delta=np.ones((9, 3))), r"delta.shape=\(9, 3\) but expected \(10, 3\)"),
        (dict(A=np.ones((2, 4))), r"A.shape=\(2, 4\) but expected \(3, N\)"),
        (dict(B=np.ones((10, 5))), r"B.shape=\(10, 5\) but expected \(10, 4\)"),
        (dict(C=np.ones((4, 10))), r"C.shape=\(4, 10\)"),
        (dict(D=np.ones(4)), r"D.shape=\(4,\)"),
        (dict(z=np.ones((10, 4))), r"z.shape=\(10, 4\)"),
        (dict(h0=np.ones((4, 3))), r"h0.shape=\(4, 3\)"),
        (dict(delta_bias=np.ones(2)), r"delta_bias.shape=\(2,\)"),
        (dict(u=np.ones((10, 3), np.int32)), "u must have a floating"),
        (dict(u=np.ones(10)), r"u.shape=\(10,\)"),
        (dict(u=np.ones((10, 3)) * 1j), "u must be real"),
        (dict(chunk=0), "chunk must be a positive integer"),
    ],
)
def test_bad_input_raises(change, match):
    kwargs = dict(
        u=np.ones((10, 3)),
        delta=np.ones((10, 3)),
        A=-np.ones((3, 4)),
        B=np.ones((10, 4)),
        C=np.ones((10, 4)),
    )
    kwargs.update(change)
    with pytest.raises(ValueError, match=match):
        selective_scan(**kwargs)


def test_grad_of_vmap_with_shared_parameters(x64):
    """A, D shared across the batch (in_axes None): their cotangents are summed over it."""
    rng = np.random.default_rng(7)
    args = _all_inputs(rng, False, length=9)
    batched = [jnp.stack([x, -0.5 * x]) for x in args]
    shared = (2, 5)  # A, D
    in_axes = tuple(None if i in shared else 0 for i in range(len(args)))
    for i in shared:
        batched[i] = args[i]

    def total(f):
        return lambda *a: jnp.sum(jax.vmap(lambda *x: f(*x)[0], in_axes)(*a) ** 2)

    got = jax.jit(jax.grad(total(_fast(4)), argnums=shared))(*batched)
    want = jax.grad(total(_slow), argnums=shared)(*batched)  # eager, as above
    assert all(rel_err(g, w) < 1e-11 for g, w in zip(got, want))
