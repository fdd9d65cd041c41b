"""Named-dimension jaxtyping aliases shared by all subpackages."""

from jaxtyping import Array, ArrayLike, Complex, Float, Inexact, Int, PRNGKeyArray, PyTree, Shaped

Scalar = Float[Array, ""]
ScalarLike = Float[ArrayLike, ""] | float
State = Float[Array, " state"]
Trajectory = Float[Array, "time state"]
Times = Float[Array, " time"]
Sequence = Inexact[Array, "time features"]
Key = PRNGKeyArray

__all__ = [
    "Array",
    "ArrayLike",
    "Complex",
    "Float",
    "Inexact",
    "Int",
    "Key",
    "PyTree",
    "Scalar",
    "ScalarLike",
    "Sequence",
    "Shaped",
    "State",
    "Times",
    "Trajectory",
]
