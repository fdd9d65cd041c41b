"""The discrete adjoint of fixed-step explicit Runge-Kutta steps, written out by hand.

Used by `_rk_xla.backward` when the save times are constant (no cotangent for `ts`, the usual
case). For each block of steps, from the last to the first:

1. *Recompute* the block from its stored start state, a plain forward scan in which every
   vector-field evaluation also returns the residuals of its pullback (`StageVjp.record`);
2. *transpose* it, a reverse scan over the block's steps that applies the adjoint of one RK
   step (below) using those residuals, so the vector field is not run forward again;
3. add the *parameter* cotangent of all the block's evaluations, from the same residuals and
   the evaluations' cotangents, as a few large products (`StageVjp.params_cotangent`).

Memory: one block of residuals at a time, blocks of about sqrt(n) steps.

Adjoint of one step (Hairer, Norsett & Wanner, "Solving ODEs I", Section II.3, written for the
discrete step): with stages `Y_i = y + dt * sum_j a_ij k_j`, `k_i = f(Y_i)` and
`y_next = y + dt * sum_i b_i k_i`, and `g` the cotangent of `y_next`, the cotangents of the
stage values are `lam_i = dt * (b_i g + sum_{j > i} a_ji mu_j)`, those of the stage inputs
`mu_i = J_i^T lam_i`, taken from the last stage down, and the cotangent of `y` is
`g + sum_i mu_i`.

A first-same-as-last method's last stage is the next step's first, which every step evaluates
itself (`_rk_xla.rk_step`): so no cotangent travels between steps or blocks besides the
state's.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._butcher import ButcherTableau
from ._stage_vjp import StageVjp

tree_map = jax.tree_util.tree_map


def _index(x, i):
    return lax.dynamic_index_in_dim(x, i, keepdims=False)


def _outer(coefs, tree):
    """`coefs[:, None] * tree` leafwise: a new leading axis over the (1-D) `coefs`."""
    n = coefs.shape[0]

    def leaf(x):
        shape = (n,) + x.shape
        c = lax.broadcast_in_dim(lax.convert_element_type(coefs, x.dtype), shape, (0,))
        return lax.mul(c, lax.broadcast_in_dim(x, shape, tuple(range(1, x.ndim + 1))))

    return tree_map(leaf, tree)


def _times(tree, dt):
    """`dt * tree` for a traced scalar `dt`, leafwise."""
    return tree_map(lambda x: lax.mul(x, lax.convert_element_type(dt, x.dtype)), tree)


def _stage_rows(tableau: ButcherTableau) -> np.ndarray:
    """Row i holds stage i's coefficients `a_ij` (zero for j >= i), padded to a square."""
    n_ks = tableau.evaluations
    rows = np.zeros((n_ks, n_ks))
    for i in range(1, n_ks):
        rows[i, :i] = tableau.a[i - 1][:i]
    return rows


def step_adjoint(tableau: ButcherTableau, stage: StageVjp, records, dt, g_next, indices, rows):
    """Cotangents through one RK step, from its recorded evaluations.

    `records` stacks the residuals of the step's evaluations (`rk_step`'s) along a leading
    axis; `g_next` is the cotangent of `y_next`. Returns `(g_y, lams)`: the cotangent of the
    step's `y` and those of its stage values, stacked in the order of `records`. `indices` are
    the stages' indices as run-time scalars: every stage's backward kernels are then the same
    computation, which XLA compiles once (a constant index would be folded into each kernel,
    making them all different). `rows` are the rows of `_stage_rows`, likewise hidden from
    XLA.
    """
    n_ks = tableau.evaluations

    def residuals(e):
        return [_index(r, indices[e]) for r in records]

    # All the stages' `lam_i / dt` stacked, `sums[i] = b_i g + sum_{j > i} a_ji mu_j`: each
    # stage adds its `mu` to every row with its (run-time) row of the tableau, so one kernel
    # serves every stage (and no loop-invariant `dt * a_ji` scalar is formed, which XLA would
    # hoist into a kernel of its own).
    sums = _outer(np.asarray(tableau.b[:n_ks]), g_next)
    g_y = g_next
    for i in range(n_ks - 1, -1, -1):
        index = indices[i]
        lam = _times(tree_map(lambda s, index=index: _index(s, index), sums), dt)
        mu = stage.y_cotangent(residuals(i), lam)
        g_y = tree_map(lax.add, g_y, mu)
        if i > 0:
            sums = tree_map(lax.add, sums, _outer(rows[i], mu))
    return g_y, _times(sums, dt)


def block_adjoint(
    tableau: ButcherTableau,
    schedule,
    run_block,
    stage: StageVjp,
    y_start,
    b,
    t0,
    dt,
    g_end,
):
    """The adjoint of block `b` of the interval from `t0`.

    `g_end` is the cotangent of the block's end state. Returns `(g_y_start, g_params)`: the
    cotangent of the start state and the parameter cotangent of the block's evaluations (None
    without `stage.with_params`). `run_block(f, y, b, t0, dt, record)` is
    `_rk_xla._run_block` with the tableau and schedule bound.
    """
    block = schedule.block
    _, records = run_block(stage.record, y_start, b, t0, dt, True)
    # Run-time stage indices (unsigned: no negative-index handling to compile) and tableau
    # rows: constants behind a barrier, which XLA passes along without computing anything.
    indices, rows = lax.optimization_barrier(
        (
            tuple(jnp.uint32(e) for e in range(tableau.evaluations)),
            tuple(jnp.asarray(row) for row in _stage_rows(tableau)),
        )
    )

    def step_back(g, x):
        step_records, j = x
        _, step_dt = schedule.step(b * block + j, t0, dt)
        return step_adjoint(tableau, stage, step_records, step_dt, g, indices, rows)

    g_y, lams = lax.scan(step_back, g_end, (records, jnp.arange(block)), reverse=True)
    if not stage.with_params:
        return g_y, None

    def flat(x):
        return x.reshape((-1,) + x.shape[2:])

    g_params = stage.params_cotangent([flat(r) for r in records], tree_map(flat, lams))
    return g_y, g_params
