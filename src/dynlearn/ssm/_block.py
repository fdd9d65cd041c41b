"""The abstract sequence block every SSM, attention and RNN block of `dynlearn.ssm` subclasses.

A sequence block is a causal map from one sequence `(L, d_model)` to `(L, d_model)` that is also
a recurrence: `__call__` runs the whole sequence (convolution, parallel scan, masked attention),
`init_state()` and `step(state, x)` run it one token at a time, and both agree numerically. Blocks
that are linear time-varying systems in some signal also return that system (the
dynamical-systems view of Sieber et al., 2024). A user's block subclasses
`AbstractSequenceBlock` and then works in [`dynlearn.ssm.SequenceModel`][] and with the analysis.
"""

from __future__ import annotations

import abc
from typing import Any

import equinox as eqx

from .._types import Array, Float, Key, PyTree


class AbstractSequenceBlock(eqx.Module):
    """Base class of sequence blocks: a causal sequence map with a recurrent form.

    Subclasses define a `d_model` field (the input and output width; a static field) and the
    three methods below. A block that is a linear time-varying system in some signal `u` may also
    define `dynamical_system(xs) -> (system, u)`, returning a [`dynlearn.ssm.LinearSystem`][]
    with `system(u)` equal to `__call__(xs)`; [`dynlearn.ssm.hidden_state_lyapunov`][] uses it.
    All built-in blocks (S4, S4D, S5, Mamba, softmax and linear attention, RG-LRU) do.

    Example of a user's block (an exponential moving average per channel with a learned decay):

    ```python
    class EMA(ssm.AbstractSequenceBlock):
        logit: jax.Array
        d_model: int = eqx.field(static=True)

        def __init__(self, d_model, *, key):
            self.logit = jax.random.normal(key, (d_model,))
            self.d_model = d_model

        def __call__(self, xs, *, key=None):
            a = jax.nn.sigmoid(self.logit)
            return kernels.linear_scan(jnp.broadcast_to(a, xs.shape), (1 - a)[None, :] * xs)

        def init_state(self):
            return jnp.zeros(self.d_model)

        def step(self, state, x):
            a = jax.nn.sigmoid(self.logit)
            state = a * state + (1 - a) * x
            return state, state
    ```
    """

    d_model: eqx.AbstractVar[int]

    @abc.abstractmethod
    def __call__(
        self, xs: Float[Array, "L d_model"], *, key: Key | None = None
    ) -> Float[Array, "L d_model"]:
        """Run the block over one whole sequence (parallel mode).

        **Arguments:**

        - `xs`: input of shape `(L, d_model)`.
        - `key`: PRNG key for stochastic blocks (keyword-only; deterministic blocks ignore it).

        **Returns:**

        Outputs of shape `(L, d_model)`; row `t` depends on rows `0..t` of `xs` only.
        """

    @abc.abstractmethod
    def init_state(self) -> PyTree[Any]:
        """The state before the first token (a PyTree of arrays, usually zeros).

        **Returns:**

        The block's recurrent state, accepted by `step`.
        """

    @abc.abstractmethod
    def step(
        self, state: PyTree[Any], x: Float[Array, " d_model"]
    ) -> tuple[PyTree[Any], Float[Array, " d_model"]]:
        """Advance one token.

        **Arguments:**

        - `state`: the state from `init_state()` or from the previous `step`.
        - `x`: one token of shape `(d_model,)`.

        **Returns:**

        `(new_state, y)`; stepping through `xs` from `init_state()` gives the rows of
        `__call__(xs)`.
        """
