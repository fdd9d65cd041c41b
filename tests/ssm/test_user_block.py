"""A user-written sequence block works end to end: in the stack, step == call, training with
`dynlearn.train.fit`, and the hidden-state analysis through its dynamical system."""

import re
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import dynlearn.ssm as ssm
from dynlearn import kernels
from dynlearn.train import fit


class EMA(ssm.AbstractSequenceBlock):
    """Exponential moving average per channel, `h_t = a h_{t-1} + (1 - a) x_t`, then a linear
    read-out; `a = sigmoid(logit)` is learned."""

    logit: jax.Array
    W: jax.Array
    d_model: int = eqx.field(static=True)

    def __init__(self, d_model, *, key):
        k1, k2 = jax.random.split(key)
        self.logit = jax.random.normal(k1, (d_model,))
        self.W = jax.random.normal(k2, (d_model, d_model)) / jnp.sqrt(d_model)
        self.d_model = d_model

    def __call__(self, xs, *, key=None):
        a = jax.nn.sigmoid(self.logit)
        hs = kernels.linear_scan(jnp.broadcast_to(a, xs.shape), (1 - a)[None, :] * xs)
        return hs @ self.W.T

    def init_state(self):
        return jnp.zeros(self.d_model, self.logit.dtype)

    def step(self, state, x):
        a = jax.nn.sigmoid(self.logit)
        state = a * state + (1 - a) * x
        return state, self.W @ state

    def dynamical_system(self, xs):
        L, d = xs.shape
        a = jax.nn.sigmoid(self.logit)
        eye = jnp.eye(d, dtype=xs.dtype)
        system = ssm.LinearSystem(
            jnp.broadcast_to(a, (L, d)),
            jnp.broadcast_to((1 - a)[:, None] * eye, (L, d, d)),
            jnp.broadcast_to(self.W, (L, d, d)),
            jnp.zeros((L, d, d), xs.dtype),
        )
        return system, xs


def _plain_ema(block, xs):
    """Independent reference: the recurrence written out in NumPy."""
    a = 1 / (1 + np.exp(-np.asarray(block.logit, np.float64)))
    h, ys = np.zeros(block.d_model), []
    for x in np.asarray(xs, np.float64):
        h = a * h + (1 - a) * x
        ys.append(np.asarray(block.W, np.float64) @ h)
    return np.stack(ys)


def _stepped(model, xs):
    return jax.lax.scan(lambda s, x: model.step(s, x), model.init_state(), xs)[1]


def test_user_block_alone(getkey):
    block = EMA(4, key=getkey())
    xs = jax.random.normal(getkey(), (10, 4))
    np.testing.assert_allclose(block(xs), _plain_ema(block, xs), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_stepped(block, xs), block(xs), rtol=1e-5, atol=1e-6)
    system, u = block.dynamical_system(xs)
    np.testing.assert_allclose(system(u), block(xs), rtol=1e-5, atol=1e-6)


def test_abstract_block_cannot_be_instantiated():
    with pytest.raises(TypeError):
        ssm.AbstractSequenceBlock()


def _windows(key, n, length):
    """Noisy sine windows; the target is the next value (one-step-ahead prediction)."""
    k1, k2 = jax.random.split(key)
    phase = jax.random.uniform(k1, (n, 1), maxval=2 * jnp.pi)
    t = jnp.arange(length + 1, dtype=phase.dtype)[None, :] * 0.3 + phase
    series = jnp.sin(t) + 0.01 * jax.random.normal(k2, t.shape)
    return {"xs": series[:, :-1, None], "ys": series[:, 1:, None]}


def _loss(model, batch, *, key):
    pred = jax.vmap(model)(batch["xs"])
    return jnp.mean((pred - batch["ys"]) ** 2)


def test_user_block_in_the_stack_trains_and_steps(getkey):
    model = ssm.SequenceModel(EMA, 8, 2, 1, d_in=1, mlp=True, key=getkey())
    assert all(isinstance(b, EMA) for b in model.mixers)
    data = _windows(getkey(), 64, 24)
    before = float(_loss(model, data, key=None))
    trained, _ = fit(
        model, _loss, data, optax.adam(1e-2), steps=40, batch_size=16, key=getkey(), progress=False
    )
    after = float(_loss(trained, data, key=None))
    assert after < 0.5 * before

    xs = data["xs"][0]
    full = trained(xs)
    np.testing.assert_allclose(_stepped(trained, xs), full, rtol=1e-5, atol=1e-5)

    # the analysis reaches the user's recurrence: diagonal A_t = a, exponents log a
    inputs, _ = trained.intermediates(xs)
    exps = ssm.hidden_state_lyapunov(trained.mixers[1], inputs[1], k=8)
    a = jax.nn.sigmoid(trained.mixers[1].logit)
    np.testing.assert_allclose(exps, jnp.sort(jnp.log(a))[::-1], rtol=1e-5)


def test_docs_user_block_example_runs(getkey):
    """The user-block example of docs/ssm.md runs as written, and its stack steps == calls."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "ssm.md").read_text(encoding="utf-8")
    (code,) = [b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S) if "class EMA" in b]
    namespace: dict = {}
    exec(compile(code, "docs/ssm.md", "exec"), namespace)
    model = namespace["model"]
    assert isinstance(model.mixers[0], namespace["EMA"])
    xs = jax.random.normal(getkey(), (10, 1))
    np.testing.assert_allclose(_stepped(model, xs), model(xs), rtol=1e-5, atol=1e-5)


class NoSystem(ssm.AbstractSequenceBlock):
    """A block without a dynamical-systems view (a token-wise nonlinearity)."""

    d_model: int = eqx.field(static=True)

    def __call__(self, xs, *, key=None):
        return jnp.tanh(xs)

    def init_state(self):
        return ()

    def step(self, state, x):
        return state, jnp.tanh(x)


def test_block_without_dynamical_system(getkey):
    model = ssm.SequenceModel([NoSystem(4)], 4, 1, 2, d_in=3, key=getkey())
    xs = jax.random.normal(getkey(), (5, 3))
    np.testing.assert_allclose(_stepped(model, xs), model(xs), rtol=1e-6, atol=1e-6)
    with pytest.raises(TypeError, match="no dynamical_system"):
        ssm.hidden_state_lyapunov(model.mixers[0], xs @ jnp.zeros((3, 4)))
