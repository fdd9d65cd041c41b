"""Gradient-based meta-learning (MAML) of Hamiltonian networks across physical systems.

Follows Song & Jeong (ICLR 2024), "Towards Cross Domain Generalization of Hamiltonian
Representation via Meta Learning", which meta-trains a Hamiltonian model with MAML (Finn, Abbeel,
Levine, ICML 2017, "Model-Agnostic Meta-Learning") on tasks drawn from several physical systems
so that a few gradient steps adapt it to a system it never saw. A task is a *support* batch (the
data the inner loop adapts on) and a *query* batch (where the adapted model is scored); the outer
loop minimises the query loss after adaptation, averaged over tasks.

- `maml_adapt` is the inner loop: plain gradient descent on the model's floating-point leaves. It is
  differentiable, so the full (second-order) MAML meta-gradient flows through it.
- `maml_loss` is the outer objective; with `first_order=True` (first-order MAML, "FOMAML") the
  gradient through the inner loop is cut, so its gradient is the query-loss gradient taken at the
  adapted parameters. Both plug into `dynlearn.train.fit` as a loss over a batch of tasks.
- `derivative_matching_loss` is the loss of Hamiltonian networks trained on `(state, time
  derivative)` pairs: the mean squared error of the model's vector field.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp

from .._types import Array, Float
from .._validation import check_int, check_positive


def derivative_matching_loss(model: Callable, batch: tuple) -> Float[Array, ""]:
    """Mean squared error between a vector field and observed time derivatives.

    **Arguments:**

    - `model`: a vector field `model(t, y, args)` (e.g. a `HamiltonianNetwork`), autonomous.
    - `batch`: `(y, dy)`, states and their time derivatives, both of shape `(batch, state)`.

    **Returns:** `mean((model(0, y) - dy)^2)` over the batch and the state components.
    """
    y, dy = batch
    if y.ndim != 2 or y.shape != dy.shape:
        raise ValueError(
            "derivative_matching_loss: batch must be (y, dy) of equal shape (batch, state), got "
            f"shapes {y.shape} and {dy.shape}"
        )
    pred = jax.vmap(lambda s: model(0.0, s, None))(y)
    return jnp.mean((pred - dy) ** 2)


def maml_adapt(model, loss_fn: Callable, batch, *, steps: int, learning_rate: float):
    """Adapt `model` to `batch` by `steps` steps of plain gradient descent (MAML's inner loop).

    Only floating-point array leaves move (`eqx.is_inexact_array`). The loop is written with
    `jax.lax.scan`, so it is differentiable with respect to `model` (second-order MAML) and
    compiles once for any number of steps.

    **Arguments:**

    - `model`: the model (a PyTree, usually an `eqx.Module`).
    - `loss_fn`: `loss_fn(model, batch) -> scalar`.
    - `batch`: the adaptation data, any PyTree `loss_fn` accepts.
    - `steps`: number of gradient steps, an int `>= 0` (0 returns `model`).
    - `learning_rate`: step size `> 0`.

    **Returns:** the adapted model, `θ_{k+1} = θ_k - learning_rate * ∇loss_fn(θ_k, batch)`.
    """
    steps = check_int("maml_adapt", "steps", steps, minimum=0)
    check_positive("maml_adapt", "learning_rate", learning_rate)
    if steps == 0:
        return model
    params, static = eqx.partition(model, eqx.is_inexact_array)

    def step(p, _):
        grads = jax.grad(lambda q: loss_fn(eqx.combine(q, static), batch))(p)
        return jax.tree_util.tree_map(lambda a, g: a - learning_rate * g, p, grads), None

    params, _ = jax.lax.scan(step, params, None, length=steps)
    return eqx.combine(params, static)


def maml_loss(
    model,
    loss_fn: Callable,
    tasks,
    *,
    inner_steps: int = 1,
    inner_learning_rate: float = 1e-3,
    first_order: bool = False,
) -> Float[Array, ""]:
    """The MAML objective: the query loss after adapting on the support data, mean over tasks.

    `jax.grad` of this function is the meta-gradient. With `first_order=False` it is the exact
    gradient through the inner loop (MAML); with `first_order=True` the adapted parameters are
    treated as `θ + stop_gradient(θ' - θ)`, so the gradient is `∇L_query(θ')` (first-order MAML)
    and no second derivatives are taken.

    **Arguments:**

    - `model`: the meta-parameters (the shared initialization).
    - `loss_fn`: `loss_fn(model, batch) -> scalar`, used for both the inner and the query loss.
    - `tasks`: `(support, query)`, two PyTrees whose leaves share a leading task axis.
    - `inner_steps`: gradient steps of the inner loop (`>= 0`).
    - `inner_learning_rate`: step size of the inner loop (`> 0`).
    - `first_order`: cut the gradient through the inner loop.

    **Returns:** the mean over tasks of `loss_fn(maml_adapt(model, support), query)`.

    With `fit`: `fit(model, lambda m, tasks, *, key: maml_loss(m, loss_fn, tasks, ...),
    (support, query), optimizer, batch_size=tasks_per_step, ...)`.
    """
    inner_steps = check_int("maml_loss", "inner_steps", inner_steps, minimum=0)
    check_positive("maml_loss", "inner_learning_rate", inner_learning_rate)
    if not isinstance(tasks, tuple) or len(tasks) != 2:
        raise ValueError(
            f"maml_loss: tasks must be a (support, query) tuple, got {type(tasks).__name__}"
        )
    support, query = tasks
    sizes = {x.shape[0] for x in jax.tree_util.tree_leaves((support, query))}
    if len(sizes) != 1:
        raise ValueError(
            "maml_loss: support and query leaves must share the leading task axis, got sizes "
            f"{sorted(sizes)}"
        )
    params, static = eqx.partition(model, eqx.is_inexact_array)

    def one_task(s, q):
        adapted = maml_adapt(
            model, loss_fn, s, steps=inner_steps, learning_rate=inner_learning_rate
        )
        if first_order:
            new, _ = eqx.partition(adapted, eqx.is_inexact_array)
            new = jax.tree_util.tree_map(
                lambda a, b: a + jax.lax.stop_gradient(b - a), params, new
            )
            adapted = eqx.combine(new, static)
        return loss_fn(adapted, q)

    return jnp.mean(jax.vmap(one_task)(support, query))
