"""The continuous-time token dynamics of deep selective SSMs and its convergence criterion.

"Demystifying the Token Dynamics of Deep Selective State Space Models" (Vo, Pham, Tong, Nguyen,
ICLR 2025). Reading depth as time, a stack of S6 layers with shared parameters becomes the flow

    dx_l/dt = sum_{j <= l} (S_C x_l)^T [prod_{k=j+1}^{l} exp(Delta_k A)] (S_B x_j) Delta_j x_j

per channel, with `Delta_j = softplus(S_Delta x_j + b_Delta)`. For one-dimensional tokens and
`A = -a I` every term of the sum carries `x_l x_j^2 >= 0` times positive weights, so the sign of
`mu = S_C^T S_B` decides the fate of all tokens at once: `mu < 0` drives every token to zero
(`x_1 ~ t^{-1/2}`), `mu > 0` makes every token diverge. In higher dimensions the paper reports
the same split by the signs of the eigenvalues of `S_C^T S_B`.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .._types import Array, Float
from .._validation import check_dtype, check_int
from ._scan import selective_scan


class SelectiveTokenDynamics(eqx.Module):
    """The continuous-time limit of a deep S6 stack, as a flow on `L` tokens of dimension `D`.

    Satisfies the flow interface `vector_field(t, y, args)` of `dynlearn.analysis` with the
    tokens flattened into `y` of shape `(L * D,)`.

    **Arguments:**

    - `S_B`, `S_C`: input and output projections, shape `(N, D)` (`B_l = S_B x_l`).
    - `S_delta`, `b_delta`: step-size projection `(D, D)` and bias `(D,)`.
    - `A`: diagonal state matrix per channel, shape `(D, N)`, negative entries.
    - `num_tokens`: the sequence length `L`.
    """

    S_B: Float[Array, "N D"]
    S_C: Float[Array, "N D"]
    S_delta: Float[Array, "D D"]
    b_delta: Float[Array, " D"]
    A: Float[Array, "D N"]
    num_tokens: int = eqx.field(static=True)

    def __check_init__(self):
        check_int("SelectiveTokenDynamics", "num_tokens", self.num_tokens)
        N, D = self.S_B.shape if self.S_B.ndim == 2 else (None, None)
        if (
            N is None
            or
            self.S_C.shape != (N, D)
            or self.S_delta.shape != (D, D)
            or self.b_delta.shape != (D,)
            or self.A.shape != (D, N)
        ):
            raise ValueError(
                "SelectiveTokenDynamics: expected S_B, S_C (N, D), S_delta (D, D), b_delta (D,), "
                f"A (D, N); got {self.S_B.shape}, {self.S_C.shape}, {self.S_delta.shape}, "
                f"{self.b_delta.shape}, {self.A.shape}"
            )

    def tokens_derivative(self, x: Float[Array, "L D"]) -> Float[Array, "L D"]:
        """`dx/dt` for tokens `x` of shape `(L, D)` (one S6 layer without skip or gate).

        **Arguments:**

        - `x`: the tokens.

        **Returns:**

        The time derivative, shape `(L, D)`.
        """
        delta = x @ self.S_delta.T
        return selective_scan(
            x,
            delta,
            self.A,
            x @ self.S_B.T,
            x @ self.S_C.T,
            delta_bias=self.b_delta,
            delta_softplus=True,
        )

    def vector_field(self, t, y: Float[Array, " LD"], args=None) -> Float[Array, " LD"]:
        """The flow on flattened tokens, `y` of shape `(L * D,)`.

        **Arguments:**

        - `t`: time (unused: the flow is autonomous).
        - `y`: flattened tokens.
        - `args`: unused.

        **Returns:**

        `dy/dt` of shape `(L * D,)`.
        """
        D = self.S_B.shape[1]
        if jnp.shape(y) != (self.num_tokens * D,):
            raise ValueError(
                f"SelectiveTokenDynamics.vector_field: y must have shape ({self.num_tokens * D},) "
                f"(num_tokens * D flattened), got shape {jnp.shape(y)}."
            )
        return self.tokens_derivative(y.reshape(self.num_tokens, D)).reshape(-1)


def token_dynamics_criterion(S_B, S_C) -> dict:
    """Classify the token dynamics of a selective SSM as convergent or divergent.

    Uses the eigenvalues of the symmetric part of `S_C^T S_B` (`mu = S_C^T S_B` in the
    one-dimensional case of Vo et al., where the criterion is a theorem): all negative means every
    token converges to zero (the scenario the paper shows hurts performance); any positive one
    means tokens diverge.

    **Arguments:**

    - `S_B`, `S_C`: input and output projections of shape `(N, D)`.

    **Returns:**

    A dict with `"scenario"` (`"convergent"` or `"divergent"`) and `"eigenvalues"` (ascending,
    a NumPy array of length `D`).
    """
    S_B = np.asarray(check_dtype("token_dynamics_criterion", "S_B", S_B), np.float64)
    S_C = np.asarray(check_dtype("token_dynamics_criterion", "S_C", S_C), np.float64)
    if S_B.ndim != 2 or S_B.shape != S_C.shape:
        raise ValueError(
            "token_dynamics_criterion: S_B and S_C must both be (N, D), got "
            f"{S_B.shape} and {S_C.shape}"
        )
    M = S_C.T @ S_B
    eig = np.linalg.eigvalsh((M + M.T) / 2)
    return {"scenario": "convergent" if np.all(eig < 0) else "divergent", "eigenvalues": eig}
