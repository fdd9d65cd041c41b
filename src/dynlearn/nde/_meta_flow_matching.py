"""Meta flow matching: a flow conditioned on an embedding of the population it transports.

Follows Atanackovic et al. (2024), "Meta Flow Matching": many pairs of populations
`(p_0^i, p_1^i)` are given as samples; a permutation-invariant set encoder embeds the initial
population, `e_i = φ(p_0^i)`, and one vector field `v(t, x, e)` is trained with the conditional
flow-matching loss on the straight path `x_t = (1 - t) x_0 + t x_1` between independent samples of
`p_0^i` and `p_1^i`, so that it generalises to initial populations not seen in training.
"""

from __future__ import annotations

from collections.abc import Callable

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp

from .._types import Array, Float, Key
from .._validation import check_dtype, check_finite, check_int
from ._latent_sde import _TimeMLP
from ._ode import NeuralODE


class SetEncoder(eqx.Module):
    """Deep-sets embedding of a population: `ρ(mean_j ψ(x_j))`, invariant to sample order.

    **Arguments:** `data_size` (sample dimension), `embed_size`, `width`, `depth`, `key`.
    """

    psi: eqx.nn.MLP
    rho: eqx.nn.MLP

    def __init__(
        self, data_size: int, embed_size: int, *, width: int = 64, depth: int = 2, key: Key
    ):
        data_size = check_int("SetEncoder", "data_size", data_size)
        embed_size = check_int("SetEncoder", "embed_size", embed_size)
        width = check_int("SetEncoder", "width", width)
        depth = check_int("SetEncoder", "depth", depth, minimum=0)
        k1, k2 = jax.random.split(key)
        self.psi = eqx.nn.MLP(data_size, width, width, depth, activation=jax.nn.gelu, key=k1)
        self.rho = eqx.nn.MLP(width, embed_size, width, 1, activation=jax.nn.gelu, key=k2)

    def __call__(self, population: Float[Array, "n dim"]) -> Float[Array, " embed"]:
        """The embedding of `population`, shape `(n, dim)`."""
        return self.rho(jnp.mean(jax.vmap(self.psi)(population), axis=0))


class MetaFlowMatching(eqx.Module):
    """A vector field `v(t, x, e)` conditioned on `e = encoder(initial population)`.

    **Arguments:**

    - `data_size`: sample dimension; `embed_size`: size of the population embedding.
    - `width`, `depth`: of the encoder's and the vector field's MLPs.
    - `key`: PRNG key.
    - `solver`, `stepsize_controller`: for `push` (default Tsit5, rtol = atol = 1e-5).

    Fields `encoder(population) -> e` and `vector_field(t, x, e) -> dx/dt` may be replaced by any
    callables of those signatures. Train with `meta_flow_matching_loss`; `push(population)`
    transports every sample of a population from `t = 0` to `t = 1`.
    """

    encoder: Callable
    vector_field: Callable
    solver: object
    stepsize_controller: object
    data_size: int = eqx.field(static=True)

    def __init__(
        self,
        data_size: int,
        embed_size: int = 16,
        *,
        width: int = 64,
        depth: int = 2,
        key: Key,
        solver=None,
        stepsize_controller=None,
    ):
        data_size = check_int("MetaFlowMatching", "data_size", data_size)
        embed_size = check_int("MetaFlowMatching", "embed_size", embed_size)
        width = check_int("MetaFlowMatching", "width", width)
        depth = check_int("MetaFlowMatching", "depth", depth, minimum=0)
        k1, k2 = jax.random.split(key)
        self.encoder = SetEncoder(data_size, embed_size, width=width, depth=depth, key=k1)
        # v(t, x, e) = MLP([t, x, e])
        self.vector_field = _TimeMLP(
            eqx.nn.MLP(
                1 + data_size + embed_size, data_size, width, depth, activation=jax.nn.gelu, key=k2
            ),
            positive=False,
        )
        self.solver = dfx.Tsit5() if solver is None else solver
        if stepsize_controller is None:
            stepsize_controller = dfx.PIDController(rtol=1e-5, atol=1e-5)
        self.stepsize_controller = stepsize_controller
        self.data_size = data_size

    def push(self, population: Array) -> Float[Array, "n dim"]:
        """Transport each sample of `population` (shape `(n, dim)`) from `t = 0` to `t = 1`."""
        population = check_dtype("MetaFlowMatching.push", "population", population)
        if population.ndim != 2 or population.shape[1] != self.data_size or not population.shape[0]:
            raise ValueError(
                f"MetaFlowMatching.push: population must have shape (n >= 1, {self.data_size}), "
                f"got shape {tuple(population.shape)}."
            )
        check_finite("MetaFlowMatching.push", "population", population)
        embedding = self.encoder(population)
        ode = NeuralODE(
            self.vector_field, solver=self.solver, stepsize_controller=self.stepsize_controller
        )
        ts = jnp.array([0.0, 1.0], population.dtype)
        return jax.vmap(lambda x: ode(ts, x, embedding)[-1])(population)


def meta_flow_matching_loss(model: MetaFlowMatching, batch: dict, *, key: Key) -> Float[Array, ""]:
    """Conditional flow-matching loss over a batch of population pairs, for `train.fit`.

    **Arguments:**

    - `model`: a `MetaFlowMatching` (or anything with `encoder` and `vector_field`).
    - `batch`: `{"x0": (B, n, dim), "x1": (B, n, dim)}`, samples of the initial and final
      population of each pair (no correspondence between them is assumed: the samples of `x1` are
      shuffled within each population, an independent coupling).
    - `key`: PRNG key for the times and the shuffles.

    **Returns:** the mean over populations and samples of `|v(t, x_t, e) - (x1 - x0)|^2`, with
    `e = encoder(x0 population)` and `x_t = (1 - t) x0 + t x1`, `t ~ U(0, 1)` per sample.
    """
    if not isinstance(batch, dict) or not {"x0", "x1"} <= set(batch):
        got = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise ValueError(
            "meta_flow_matching_loss: batch must be a dict with keys 'x0' and 'x1', each "
            f"(populations, samples, dim), got {got}."
        )
    x0s = check_dtype("meta_flow_matching_loss", "x0", batch["x0"], cast_integers=True)
    x1s = check_dtype("meta_flow_matching_loss", "x1", batch["x1"], cast_integers=True)
    check_finite("meta_flow_matching_loss", "batch", {"x0": x0s, "x1": x1s})
    if x0s.ndim != 3 or x0s.shape != x1s.shape:
        raise ValueError(
            "meta_flow_matching_loss: x0 and x1 must both have shape (populations, samples, dim); "
            f"got {x0s.shape} and {x1s.shape}"
        )

    def one(x0, x1, k):
        kt, kp = jax.random.split(k)
        x1 = jax.random.permutation(kp, x1, axis=0)
        t = jax.random.uniform(kt, (x0.shape[0], 1), x0.dtype)
        xt = (1 - t) * x0 + t * x1
        e = model.encoder(x0)
        v = jax.vmap(lambda tt, x: model.vector_field(tt[0], x, e))(t, xt)
        return jnp.mean(jnp.sum((v - (x1 - x0)) ** 2, axis=-1))

    keys = jax.random.split(key, x0s.shape[0])
    return jnp.mean(jax.vmap(one)(x0s, x1s, keys))
