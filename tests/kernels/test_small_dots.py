"""Small-contraction products written out as sums: values, derivatives and transforms against
the original functions, and which products are (and are not) rewritten."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynlearn.kernels._small_dots import (
    MAX_CONTRACTION,
    has_small_contractions,
    unroll_small_contractions,
)

from tests.helpers import rel_err, tree_allclose


def primitives(fn, *args):
    """Names of the primitives of `fn`'s program, looking inside `jit` and `custom_jvp` calls."""
    names = []

    def walk(jaxpr):
        for eqn in jaxpr.eqns:
            names.append(eqn.primitive.name)
            for key in ("jaxpr", "call_jaxpr"):
                sub = eqn.params.get(key)
                if sub is not None:
                    walk(getattr(sub, "jaxpr", sub))

    walk(jax.make_jaxpr(fn)(*args).jaxpr)
    return names


def layer(w, b, x):
    return jnp.tanh(x @ w + b[None, :])


@pytest.mark.parametrize("k", [1, 3, MAX_CONTRACTION])
def test_values_and_derivatives_equal_the_original(x64, k):
    keys = jax.random.split(jax.random.key(k), 3)
    x = jax.random.normal(keys[0], (5, k))
    w = jax.random.normal(keys[1], (k, 7))
    b = jax.random.normal(keys[2], (7,))
    fast = unroll_small_contractions(layer)
    assert "dot_general" not in primitives(lambda *a: jax.vjp(fast, *a)[0], w, b, x)
    assert rel_err(fast(w, b, x), layer(w, b, x)) < 1e-14
    loss = lambda f: lambda w, b, x: jnp.sum(f(w, b, x) ** 2)
    grads = [jax.grad(loss(f), argnums=(0, 1, 2))(w, b, x) for f in (fast, layer)]
    assert tree_allclose(grads[0], grads[1], rtol=1e-13, atol=1e-15)
    tangents = (jnp.ones_like(w), jnp.zeros_like(b), jnp.cos(x))
    jvps = [jax.jvp(f, (w, b, x), tangents) for f in (fast, layer)]
    assert tree_allclose(jvps[0], jvps[1], rtol=1e-13, atol=1e-15)
    hessian_vector = [
        jax.jvp(jax.grad(loss(f)), (w, b, x), tangents)[1] for f in (fast, layer)
    ]
    assert tree_allclose(hessian_vector[0], hessian_vector[1], rtol=1e-12, atol=1e-14)
    batched = [jax.vmap(f, (None, None, 0))(w, b, jnp.stack([x, 2 * x])) for f in (fast, layer)]
    assert rel_err(batched[0], batched[1]) < 1e-14


def test_vmapped_linear_layer_folds_its_transpose(x64):
    """`vmap` of an equinox Linear makes `W @ x` then a transpose: both become one sum."""
    mlp = eqx.nn.MLP(3, 2, 16, 1, activation=jnp.tanh, key=jax.random.key(0))
    mlp = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64) if eqx.is_array(a) else a, mlp)
    params, static = eqx.partition(mlp, eqx.is_array)
    x = jax.random.normal(jax.random.key(1), (6, 3))

    def apply(p, x):
        return jax.vmap(eqx.combine(p, static))(x)

    fast = unroll_small_contractions(apply)
    names = primitives(fast, params, x)
    # The first layer (3 -> 16) is written out; the second (16 -> 2) stays a product.
    assert names.count("dot_general") == 1
    assert names.count("transpose") == 1
    assert rel_err(fast(params, x), apply(params, x)) < 1e-14
    loss = lambda f: lambda p, x: jnp.sum(jnp.sin(f(p, x)))
    grads = [jax.grad(loss(f), argnums=(0, 1))(params, x) for f in (fast, apply)]
    assert tree_allclose(grads[0], grads[1], rtol=1e-13, atol=1e-15)


def test_large_batched_and_integer_products_are_left_alone():
    x = jnp.ones((4, MAX_CONTRACTION + 1))
    w = jnp.ones((MAX_CONTRACTION + 1, 3))
    assert not has_small_contractions(lambda x, w: x @ w, x, w)
    batched = lambda a, b: jnp.einsum("bij,bjk->bik", a, b)
    a, b = jnp.ones((2, 3, 2)), jnp.ones((2, 2, 5))
    assert not has_small_contractions(batched, a, b)
    assert "dot_general" in primitives(unroll_small_contractions(batched), a, b)
    ints = jnp.ones((3, 2), jnp.int32)
    assert not has_small_contractions(lambda x: x @ ints.T, ints)
    assert has_small_contractions(lambda x, w: x @ w, jnp.ones((4, 2)), jnp.ones((2, 3)))


def test_nested_jit_complex_and_preferred_dtype(x64):
    """Products inside a `jit` are rewritten too; complex operands; an explicit accumulation
    dtype is kept."""
    keys = jax.random.split(jax.random.key(3), 4)
    z = jax.lax.complex(jax.random.normal(keys[0], (4, 2)), jax.random.normal(keys[1], (4, 2)))
    m = jax.lax.complex(jax.random.normal(keys[2], (2, 3)), jnp.full((2, 3), -0.5))

    @jax.jit
    def inner(z, m):
        return jnp.exp(z @ m)

    fn = lambda z, m: inner(z, m) * 2.0
    fast = unroll_small_contractions(fn)
    assert has_small_contractions(fn, z, m)
    assert "dot_general" not in primitives(fast, z, m)
    assert rel_err(fast(z, m), fn(z, m)) < 1e-14

    x32 = jax.random.normal(keys[3], (5, 2), jnp.float32)
    w32 = jnp.ones((2, 3), jnp.float32)
    wide = lambda x, w: jax.lax.dot_general(
        x, w, (((1,), (0,)), ((), ())), preferred_element_type=jnp.float64
    )
    out = unroll_small_contractions(wide)(x32, w32)
    assert out.dtype == jnp.float64
    np.testing.assert_allclose(out, wide(x32, w32), rtol=1e-14)
