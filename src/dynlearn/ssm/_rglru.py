"""A gated linear RNN: the real-gated linear recurrent unit (RG-LRU).

"Griffin: Mixing Gated Linear Recurrences with Local Attention for Efficient Language Models"
(De et al., 2024). Per channel, with recurrence gate `r_t = sigmoid(W_a x_t + b_a)` and input
gate `i_t = sigmoid(W_x x_t + b_x)`:

    a_t = sigma(Lambda)^(c r_t),   h_t = a_t h_{t-1} + sqrt(1 - a_t^2) (i_t x_t),

a diagonal linear time-varying system (Sieber et al.'s dynamical-systems framework) run by
`dynlearn.kernels.linear_scan`. An output projection mixes the channels.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from .._types import Array, Float, Key
from .._validation import check_int, check_positive
from ._block import AbstractSequenceBlock
from ._common import check_sequence, check_state, check_token
from ._dsf import LinearSystem
from ._scan import linear_scan


class RGLRU(AbstractSequenceBlock):
    """A real-gated linear recurrent unit mapping `(L, d_model)` to `(L, d_model)`.

    **Arguments:**

    - `d_model`: width (one recurrence per channel).
    - `c`: the gate sharpness constant (8 in Griffin).
    - `a_min`, `a_max`: range of the initial decay `sigma(Lambda)` (drawn uniformly).
    - `key`: PRNG key (keyword-only).
    """

    Wa: Float[Array, "d_model d_model"]
    ba: Float[Array, " d_model"]
    Wx: Float[Array, "d_model d_model"]
    bx: Float[Array, " d_model"]
    Lambda: Float[Array, " d_model"]
    Wo: Float[Array, "d_model d_model"]
    d_model: int = eqx.field(static=True)
    c: float = eqx.field(static=True)

    def __init__(
        self, d_model: int, *, c: float = 8.0, a_min: float = 0.9, a_max: float = 0.999, key: Key
    ):
        d_model = check_int("RGLRU", "d_model", d_model)
        check_positive("RGLRU", "c", c)
        if not 0 < a_min <= a_max < 1:
            raise ValueError(
                f"RGLRU: need 0 < a_min <= a_max < 1 (decays), got a_min={a_min!r}, "
                f"a_max={a_max!r}."
            )
        dtype = jnp.zeros(()).dtype
        k1, k2, k3, k4 = jax.random.split(key, 4)
        bound = d_model**-0.5
        self.Wa = jax.random.uniform(k1, (d_model, d_model), dtype, -bound, bound)
        self.Wx = jax.random.uniform(k2, (d_model, d_model), dtype, -bound, bound)
        self.Wo = jax.random.uniform(k3, (d_model, d_model), dtype, -bound, bound)
        self.ba = jnp.zeros(d_model, dtype)
        self.bx = jnp.zeros(d_model, dtype)
        a = jax.random.uniform(k4, (d_model,), dtype, a_min, a_max)
        self.Lambda = jnp.log(a) - jnp.log1p(-a)  # sigmoid(Lambda) = a
        self.d_model = d_model
        self.c = c

    def _gates(self, xs):
        r = jax.nn.sigmoid(xs @ self.Wa.T + self.ba[None, :])
        i = jax.nn.sigmoid(xs @ self.Wx.T + self.bx[None, :])
        log_a = self.c * r * jax.nn.log_sigmoid(self.Lambda)[None, :]
        a = jnp.exp(log_a)
        gain = jnp.sqrt(-jnp.expm1(2 * log_a))  # sqrt(1 - a^2)
        return a, gain * i

    def __call__(
        self, xs: Float[Array, "..."], *, key: Key | None = None
    ) -> Float[Array, "L d_model"]:
        """Run the recurrence over one sequence with a parallel linear scan.

        **Arguments:**

        - `xs`: input of shape `(L, d_model)`.
        - `key`: unused (accepted for a uniform block interface).

        **Returns:**

        Outputs of shape `(L, d_model)`.
        """
        xs = check_sequence("RGLRU", xs, self.d_model)
        a, b = self._gates(xs)
        return linear_scan(a, b * xs) @ self.Wo.T

    def init_state(self) -> Float[Array, " d_model"]:
        """Zero state for [`dynlearn.ssm.RGLRU.step`][].

        **Returns:**

        An array of shape `(d_model,)`.
        """
        return jnp.zeros(self.d_model, self.Wa.dtype)

    def step(self, state: Float[Array, " d_model"], x: Float[Array, "..."]):
        """Advance one token.

        **Arguments:**

        - `state`: the hidden state `(d_model,)`.
        - `x`: one token of shape `(d_model,)`.

        **Returns:**

        `(new_state, y)` with `y` of shape `(d_model,)`.
        """
        x = check_token("RGLRU", x, self.d_model)
        check_state("RGLRU", state, (self.d_model,))
        a, b = self._gates(x[None, :])
        h = a[0] * state + b[0] * x
        return h, self.Wo @ h

    def dynamical_system(
        self, xs: Float[Array, "..."]
    ) -> tuple[LinearSystem, Float[Array, "L d_model"]]:
        """The diagonal linear time-varying system: `A_t = diag(a_t)`,
        `B_t = diag(sqrt(1 - a_t^2) i_t)`, `C_t = W_o`, `D_t = 0`.

        **Arguments:**

        - `xs`: input of shape `(L, d_model)`.

        **Returns:**

        `(system, u)` with `u = xs` and `system(u)` equal to the block's output.
        """
        xs = check_sequence("RGLRU", xs, self.d_model)
        a, b = self._gates(xs)
        L, d = xs.shape
        eye = jnp.eye(d, dtype=xs.dtype)
        system = LinearSystem(
            a,
            b[:, :, None] * eye[None],
            jnp.broadcast_to(self.Wo, (L, d, d)),
            jnp.zeros((L, d, d), xs.dtype),
        )
        return system, xs
