"""Loss weightings for PINNs: fixed, gradient-norm, NTK and causal (temporal) weights.

- Gradient-norm balancing: Wang, Teng & Perdikaris (2021) and Wang, Wang & Perdikaris, "An
  expert's guide to training physics-informed neural networks" (2023):
  `lambda_i = sum_j ||grad L_j|| / ||grad L_i||`.
- NTK balancing: Wang, Yu & Perdikaris, "When and why PINNs fail to train: a neural tangent kernel
  perspective" (J. Comput. Phys., 2022): `lambda_i = sum_j tr K_j / tr K_i`.
- Causal weights: Wang, Sankaran & Perdikaris, "Respecting causality is all you need for training
  physics-informed neural networks" (2022): split time into chunks with losses `L_i`;
  `w_i = exp(-eps sum_{k<i} L_k)` (exclusive cumulative sum, `w_1 = 1`) under `stop_gradient`.

The gradient-norm and NTK weights are recomputed at every step from the current minibatch, under
`stop_gradient` (a stateless loss cannot keep the papers' moving averages).
"""

from __future__ import annotations

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._validation import check_dtype, check_int, check_positive, check_shape


class AbstractWeighting(eqx.Module):
    """Maps the per-term losses of a `PINNLoss` to per-term weights (never differentiated)."""

    @abc.abstractmethod
    def __call__(self, loss, field, batch, losses: dict[str, Array]) -> dict[str, Array]:
        """Return one scalar weight per term name."""


class FixedWeights(AbstractWeighting):
    """Constant weights; terms not named get weight 1.

    **Arguments:**

    - `weights`: a mapping from term name to weight.
    """

    weights: dict[str, float]

    def __init__(self, weights: dict[str, float] | None = None):
        if weights is not None and not isinstance(weights, dict):
            raise TypeError(
                f"FixedWeights: weights must be a dict from term names to weights, got "
                f"{type(weights).__name__}"
            )
        for name, w in (weights or {}).items():
            check_positive("FixedWeights", f"weights[{name!r}]", w, allow_zero=True)
        self.weights = dict(weights or {})

    def __call__(self, loss, field, batch, losses):
        unknown = set(self.weights) - set(losses)
        if unknown:
            raise ValueError(
                f"FixedWeights: weights given for unknown terms {sorted(unknown)}; the loss has "
                f"terms {sorted(losses)}"
            )
        return {k: jnp.asarray(self.weights.get(k, 1.0), dtype=v.dtype) for k, v in losses.items()}


def _norm(tree) -> Array:
    leaves = jax.tree_util.tree_leaves(tree)
    return jnp.sqrt(sum(jnp.sum(jnp.square(x)) for x in leaves))


class GradNormWeights(AbstractWeighting):
    """Balance terms by the norms of their parameter gradients.

    `lambda_i = sum_j ||grad L_j|| / ||grad L_i||` (so every weighted term has the same gradient
    norm), recomputed at each step with one forward and one reverse pass per term.

    **Arguments:**

    - `max_weight`: upper clip, guarding against a term whose gradient vanishes.
    """

    max_weight: float = 1e6

    def __check_init__(self):
        check_positive("GradNormWeights", "max_weight", self.max_weight)

    def __call__(self, loss, field, batch, losses):
        params, static = eqx.partition(field, eqx.is_inexact_array)
        grads = jax.jacrev(lambda p: loss.term_losses(eqx.combine(p, static), batch)[0])(params)
        norms = {k: _norm(g) for k, g in grads.items()}
        total = sum(norms.values())
        tiny = jnp.finfo(total.dtype).tiny
        return {
            k: jax.lax.stop_gradient(jnp.minimum(total / jnp.maximum(n, tiny), self.max_weight))
            for k, n in norms.items()
        }


class NTKWeights(AbstractWeighting):
    """Balance terms by the traces of their neural tangent kernels.

    `tr K_i` is estimated as the mean over (at most `max_points`) points of the squared norm of
    the parameter gradient of each residual value; `lambda_i = sum_j tr K_j / tr K_i`.

    **Arguments:**

    - `max_points`: points per term used for the estimate.
    - `max_weight`: upper clip.
    """

    max_points: int = eqx.field(default=32, static=True)
    max_weight: float = 1e6

    def __check_init__(self):
        check_int("NTKWeights", "max_points", self.max_points)
        check_positive("NTKWeights", "max_weight", self.max_weight)

    def __call__(self, loss, field, batch, losses):
        params, static = eqx.partition(field, eqx.is_inexact_array)
        traces = {}
        for name, term in loss.terms.items():
            item = jax.tree_util.tree_map(lambda a: a[: self.max_points], batch[name])

            def values(p, one, term=term):
                one = jax.tree_util.tree_map(lambda a: a[None], one)
                return term(eqx.combine(p, static), one)[0]

            jac = jax.vmap(jax.jacrev(values), in_axes=(None, 0))(params, item)
            n = jax.tree_util.tree_leaves(item)[0].shape[0]
            traces[name] = _norm(jac) ** 2 / n
        total = sum(traces.values())
        tiny = jnp.finfo(total.dtype).tiny
        return {
            k: jax.lax.stop_gradient(jnp.minimum(total / jnp.maximum(t, tiny), self.max_weight))
            for k, t in traces.items()
        }


def causal_weights(
    chunk_losses: Float[ArrayLike, " chunks"], eps: float | Float[ArrayLike, ""]
) -> Float[Array, " chunks"]:
    """Causal weights `w_i = exp(-eps sum_{k<i} L_k)`, an exclusive cumulative sum, `w_1 = 1`.

    The result carries no gradient (`stop_gradient`), so minimising `sum_i w_i L_i` never
    trades an early chunk's loss for a later one's weight.

    **Arguments:**

    - `chunk_losses`: the losses `L_i` of the time chunks, in time order.
    - `eps`: the causality parameter (a number, or a scalar array so that a compiled step can
      take any `eps` without recompiling).

    **Returns:** the weights, shape `(chunks,)`.
    """
    check_positive("causal_weights", "eps", eps, allow_zero=True)
    losses = check_shape(
        "causal_weights",
        "chunk_losses",
        check_dtype("causal_weights", "chunk_losses", chunk_losses, cast_integers=True),
        ndim=1,
        meaning="(chunks,)",
    )
    losses = jax.lax.stop_gradient(losses)
    exclusive = jnp.cumsum(losses) - losses
    return jax.lax.stop_gradient(jnp.exp(-eps * exclusive))


class CausalWeights(eqx.Module):
    """Causal training of one time-dependent term (usually the PDE residual).

    The term's points are assigned to `n_chunks` equal time chunks of `[t0, t1]` by their time
    coordinate; `L_i` is the mean squared residual in chunk `i` (an empty chunk counts 0) and the
    term's loss becomes `(1/n_chunks) sum_i w_i L_i` with `w = causal_weights(L, eps)`.
    Minibatches may therefore be random: chunks need not be filled evenly. With
    `initial_term`, that term's loss (times `initial_weight`, usually the weight it has in the
    total loss) is added in front of the sum, as the paper allows: no chunk then gets weight
    before the initial condition is fitted.

    **Arguments:**

    - `n_chunks`: number of time chunks.
    - `eps`: the causality parameter, a number or a scalar array (see `train_causal` for the
      annealing schedule).
    - `t_range`: `(t0, t1)`.
    - `term`: name of the term to reweight.
    - `time_index`: which coordinate is time (default: the last).
    - `initial_term`: optionally the name of the initial-condition term to prepend.
    - `initial_weight`: the factor on the prepended initial-condition loss.
    """

    n_chunks: int = eqx.field(static=True)
    eps: float | Float[Array, ""]
    t_range: tuple[float, float] = eqx.field(static=True)
    term: str = eqx.field(default="residual", static=True)
    time_index: int = eqx.field(default=-1, static=True)
    initial_term: str | None = eqx.field(default=None, static=True)
    initial_weight: float = 1.0

    def __check_init__(self):
        check_int("CausalWeights", "n_chunks", self.n_chunks)
        check_positive("CausalWeights", "eps", self.eps, allow_zero=True)
        if not isinstance(self.t_range, tuple | list) or len(self.t_range) != 2:
            raise TypeError(f"CausalWeights: t_range must be a pair (t0, t1), got {self.t_range!r}")
        for i, t in enumerate(self.t_range):
            if not np.isfinite(t):
                raise ValueError(f"CausalWeights: t_range[{i}] must be finite, got {t!r}")
        if not isinstance(self.term, str):
            raise TypeError(f"CausalWeights: term must be a term name, got term={self.term!r}")
        check_int("CausalWeights", "time_index", self.time_index, minimum=-(2**31))
        if not self.t_range[1] > self.t_range[0]:
            raise ValueError(f"CausalWeights: t_range must be increasing, got {self.t_range}")
        if isinstance(self.initial_weight, (int, float)) and not self.initial_weight >= 0:
            raise ValueError(
                f"CausalWeights: initial_weight must be non-negative, got {self.initial_weight}"
            )

    def chunk_losses(
        self, squared: Float[Array, " n"], points: Float[Array, "n d"]
    ) -> Float[Array, " chunks"]:
        """Mean of `squared` over the points of each time chunk (0 for an empty chunk)."""
        t0, t1 = self.t_range
        t = points[:, self.time_index]
        idx = jnp.clip(
            jnp.floor((t - t0) / (t1 - t0) * self.n_chunks).astype(jnp.int32), 0, self.n_chunks - 1
        )
        sums = jax.ops.segment_sum(squared, idx, num_segments=self.n_chunks)
        counts = jax.ops.segment_sum(jnp.ones_like(squared), idx, num_segments=self.n_chunks)
        return sums / jnp.maximum(counts, 1)

    def __call__(
        self, squared: Float[Array, " n"], points: Float[Array, "n d"], initial: Array | None
    ) -> tuple[Array, Array]:
        """`(loss, weights)` for the term's per-point squared residuals."""
        chunks = self.chunk_losses(squared, points)
        if initial is None:
            w = causal_weights(chunks, self.eps)
        else:
            ext = jnp.concatenate([jnp.reshape(self.initial_weight * initial, (1,)), chunks])
            w = causal_weights(ext, self.eps)[1:]
        return jnp.mean(w * chunks), w
