"""MAML for Hamiltonian networks: the inner loop against a plain loop, the meta-gradients against
a closed form (quadratic losses), central finite differences and a plain-loop first-order
reference, and adaptation on a closed-form Hamiltonian."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynlearn.nde import (
    HamiltonianNetwork,
    derivative_matching_loss,
    maml_adapt,
    maml_loss,
    symplectic_gradient,
)


@pytest.fixture(autouse=True)
def _x64():
    with jax.enable_x64(True):
        yield


def _oscillator_batch(key, n=32, omega=1.3):
    """States and exact time derivatives of H = p^2/2 + omega^2 q^2/2 (two degrees of freedom)."""
    y = jax.random.uniform(key, (n, 4), minval=-1.5, maxval=1.5, dtype=jnp.float64)
    dy = jnp.concatenate([y[:, 2:], -(omega**2) * y[:, :2]], axis=1)
    return y, dy


def _network(key, width=8, depth=1):
    net = HamiltonianNetwork(2, width=width, depth=depth, key=key)
    return jax.tree_util.tree_map(
        lambda x: x.astype(jnp.float64) if eqx.is_inexact_array(x) else x, net
    )


def test_derivative_matching_loss_is_the_mse_of_the_symplectic_gradient():
    net = _network(jax.random.key(0))
    y, dy = _oscillator_batch(jax.random.key(1), n=5)
    by_hand = np.mean(
        [(np.asarray(symplectic_gradient(net.hamiltonian, y[i])) - dy[i]) ** 2 for i in range(5)]
    )
    assert float(derivative_matching_loss(net, (y, dy))) == pytest.approx(by_hand, rel=1e-12)
    with pytest.raises(ValueError, match="equal shape"):
        derivative_matching_loss(net, (y, dy[:3]))


def test_adapt_matches_a_plain_gradient_descent_loop():
    net = _network(jax.random.key(0))
    batch = _oscillator_batch(jax.random.key(1))
    lr, steps = 0.05, 4
    ours = maml_adapt(net, derivative_matching_loss, batch, steps=steps, learning_rate=lr)
    params, static = eqx.partition(net, eqx.is_inexact_array)
    for _ in range(steps):  # reference: a Python loop of explicit updates
        g = jax.grad(lambda p: derivative_matching_loss(eqx.combine(p, static), batch))(params)
        params = jax.tree_util.tree_map(lambda a, b: a - lr * b, params, g)
    for a, b in zip(jax.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(params)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert maml_adapt(net, derivative_matching_loss, batch, steps=0, learning_rate=lr) is net


def test_adaptation_reduces_the_loss_on_a_closed_form_hamiltonian():
    net = _network(jax.random.key(2), width=32, depth=2)
    support = _oscillator_batch(jax.random.key(3), n=64)
    query = _oscillator_batch(jax.random.key(4), n=256)  # new states of the same system
    before = [float(derivative_matching_loss(net, b)) for b in (support, query)]
    adapted = maml_adapt(net, derivative_matching_loss, support, steps=100, learning_rate=0.3)
    after = [float(derivative_matching_loss(adapted, b)) for b in (support, query)]
    assert after[0] < 0.5 * before[0]
    assert after[1] < 0.5 * before[1]  # it generalizes to unseen states, not only the support


class _Quadratic(eqx.Module):
    theta: jax.Array


def _quadratic_loss(model, batch):
    a, b = batch
    return 0.5 * model.theta @ a @ model.theta - b @ model.theta


def _quadratic_tasks(key, n_tasks=3, dim=3):
    keys = jax.random.split(key, 4)
    m = jax.random.normal(keys[0], (2, n_tasks, dim, dim), dtype=jnp.float64)
    # symmetric positive definite
    a = jnp.einsum("stij,stkj->stik", m, m) + jnp.eye(dim)[None, None]
    b = jax.random.normal(keys[1], (2, n_tasks, dim), dtype=jnp.float64)
    return (a[0], b[0]), (a[1], b[1])


@pytest.mark.parametrize("first_order", [False, True])
def test_one_step_meta_gradient_matches_the_closed_form_on_quadratics(first_order):
    # L_t(θ) = θᵀAθ/2 - bᵀθ; one inner step θ' = θ - α(A_s θ - b_s); the query loss gradient
    # is (I - α A_s)(A_q θ' - b_q) for MAML and (A_q θ' - b_q) for first-order MAML.
    (a_s, b_s), (a_q, b_q) = _quadratic_tasks(jax.random.key(0))
    theta = jnp.array([0.3, -0.7, 1.1])
    alpha = 0.05
    grad = eqx.filter_grad(maml_loss)(
        _Quadratic(theta),
        _quadratic_loss,
        ((a_s, b_s), (a_q, b_q)),
        inner_steps=1,
        inner_learning_rate=alpha,
        first_order=first_order,
    ).theta
    expected = np.zeros(3)
    for t in range(a_s.shape[0]):
        inner = np.asarray(theta - alpha * (a_s[t] @ theta - b_s[t]))
        outer = np.asarray(a_q[t] @ inner - b_q[t])
        jac = np.eye(3) if first_order else np.eye(3) - alpha * np.asarray(a_s[t])
        expected += jac @ outer / a_s.shape[0]
    np.testing.assert_allclose(grad, expected, rtol=1e-12)


def test_maml_meta_gradient_matches_central_finite_differences():
    net = _network(jax.random.key(5))
    keys = jax.random.split(jax.random.key(6), 4)
    support = jax.tree_util.tree_map(
        lambda *x: jnp.stack(x),
        _oscillator_batch(keys[0], n=16, omega=0.8),
        _oscillator_batch(keys[1], n=16, omega=1.5),
    )
    query = jax.tree_util.tree_map(
        lambda *x: jnp.stack(x),
        _oscillator_batch(keys[2], n=16, omega=0.8),
        _oscillator_batch(keys[3], n=16, omega=1.5),
    )
    params, static = eqx.partition(net, eqx.is_inexact_array)

    def objective(p, first_order=False):
        return maml_loss(
            eqx.combine(p, static),
            derivative_matching_loss,
            (support, query),
            inner_steps=3,
            inner_learning_rate=0.05,
            first_order=first_order,
        )

    leaves, treedef = jax.tree_util.tree_flatten(params)
    direction = jax.tree_util.tree_unflatten(
        treedef,
        [
            jax.random.normal(k, x.shape, dtype=x.dtype)
            for k, x in zip(jax.random.split(jax.random.key(7), len(leaves)), leaves)
        ],
    )

    def along(grad):
        return float(
            sum(
                jnp.vdot(g, d)
                for g, d in zip(
                    jax.tree_util.tree_leaves(grad), jax.tree_util.tree_leaves(direction)
                )
            )
        )

    eps = 1e-5
    shift = lambda s: jax.tree_util.tree_map(lambda a, d: a + s * eps * d, params, direction)  # noqa: E731
    fd = float((objective(shift(1.0)) - objective(shift(-1.0))) / (2 * eps))
    full = jax.grad(objective)(params)
    scale = float(
        jnp.sqrt(sum(jnp.sum(g**2) for g in jax.tree_util.tree_leaves(full)))
        * jnp.sqrt(sum(jnp.sum(d**2) for d in jax.tree_util.tree_leaves(direction)))
    )
    assert abs(along(full) - fd) < 1e-7 * scale
    # the first-order gradient is a different vector, so this check can tell them apart
    first = jax.grad(lambda p: objective(p, first_order=True))(params)
    assert abs(along(first) - fd) > 1e-4 * scale


def test_first_order_meta_gradient_matches_a_plain_loop_reference():
    net = _network(jax.random.key(8))
    tasks = [
        (_oscillator_batch(jax.random.key(10 + t), n=12), _oscillator_batch(jax.random.key(20 + t)))
        for t in range(3)
    ]
    support = jax.tree_util.tree_map(lambda *x: jnp.stack(x), *[s for s, _ in tasks])
    query = jax.tree_util.tree_map(lambda *x: jnp.stack(x), *[q for _, q in tasks])
    lr, steps = 0.03, 2
    grad = eqx.filter_grad(maml_loss)(
        net,
        derivative_matching_loss,
        (support, query),
        inner_steps=steps,
        inner_learning_rate=lr,
        first_order=True,
    )
    params, static = eqx.partition(net, eqx.is_inexact_array)
    loss_of = lambda p, b: derivative_matching_loss(eqx.combine(p, static), b)  # noqa: E731
    reference = jax.tree_util.tree_map(jnp.zeros_like, params)
    for s, q in tasks:  # adapt by hand, then the query gradient at the adapted parameters
        p = params
        for _ in range(steps):
            p = jax.tree_util.tree_map(lambda a, g: a - lr * g, p, jax.grad(loss_of)(p, s))
        g = jax.grad(loss_of)(p, q)
        reference = jax.tree_util.tree_map(lambda r, x: r + x / len(tasks), reference, g)
    grad_params, _ = eqx.partition(grad, eqx.is_inexact_array)
    for a, b in zip(jax.tree_util.tree_leaves(grad_params), jax.tree_util.tree_leaves(reference)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)


def test_errors_name_the_argument_and_value():
    net = _network(jax.random.key(0))
    batch = _oscillator_batch(jax.random.key(1))
    with pytest.raises(ValueError, match="steps"):
        maml_adapt(net, derivative_matching_loss, batch, steps=-1, learning_rate=0.1)
    with pytest.raises(ValueError, match="learning_rate"):
        maml_adapt(net, derivative_matching_loss, batch, steps=1, learning_rate=0.0)
    with pytest.raises(ValueError, match=r"\(support, query\)"):
        maml_loss(net, derivative_matching_loss, batch[0])
    stacked = jax.tree_util.tree_map(lambda x: jnp.stack([x, x]), batch)
    three = jax.tree_util.tree_map(lambda x: jnp.stack([x, x, x]), batch)
    with pytest.raises(ValueError, match="leading task axis"):
        maml_loss(net, derivative_matching_loss, (stacked, three))
