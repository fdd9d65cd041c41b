"""Argument checks shared by the public entry points.

Every check raises at call time (before anything is traced or compiled) with a message that
names the function, the argument, the value it got and what it expects, e.g.
`fit: batch_size must be a positive int, got batch_size=0.` Checks of values that are only known
at run time (inside `jit`) use `equinox.error_if` in the calling code instead.

Each validator takes `where` (the public function's name, used as the message prefix) and `name`
(the argument's name) and returns the value converted to what the caller works with.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def _prefix(where: str | None) -> str:
    return f"{where}: " if where else ""


def _show(value: Any) -> str:
    """A short description of a value for an error message."""
    if value is None:
        return "None"
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None and dtype is not None and len(shape) > 0:
        return f"an array of shape {tuple(shape)} and dtype {dtype}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_tracer(x) -> bool:
    return isinstance(x, jax.core.Tracer)


def as_array(where: str | None, name: str, value) -> jax.Array:
    """`value` as a JAX array; `TypeError` naming the argument for None and non-numeric values.

    **Arguments:**

    - `where`: the public function's name (message prefix).
    - `name`: the argument's name.
    - `value`: the value passed.

    **Returns:** `jnp.asarray(value)`.
    """
    if value is None:
        raise TypeError(f"{_prefix(where)}{name} must be an array, got None.")
    if isinstance(value, str | bytes):
        raise TypeError(f"{_prefix(where)}{name} must be an array of numbers, got {value!r}.")
    try:
        out = jnp.asarray(value)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{_prefix(where)}{name} must be an array of numbers, got {_show(value)} ({err})."
        ) from None
    if not (jnp.issubdtype(out.dtype, jnp.number) or out.dtype == jnp.bool_):
        raise TypeError(
            f"{_prefix(where)}{name} must be an array of numbers, got dtype {out.dtype}."
        )
    return out


def check_dtype(
    where: str | None, name: str, x, *, complex_ok: bool = False, cast_integers: bool = False
) -> jax.Array:
    """`x` with a floating (or, when `complex_ok`, complex) dtype.

    **Arguments:**

    - `where`, `name`: as in `as_array`.
    - `x`: an array.
    - `complex_ok`: accept complex dtypes; otherwise they are refused (never silently dropped).
    - `cast_integers`: cast integer and boolean arrays to JAX's default float instead of
      refusing them.

    **Returns:** `x` as a JAX array.

    **Raises:** `TypeError` naming the dtype and what is accepted.
    """
    x = as_array(where, name, x)
    if jnp.issubdtype(x.dtype, jnp.complexfloating):
        if complex_ok:
            return x
        raise TypeError(
            f"{_prefix(where)}{name} must be real floating point, got complex dtype {x.dtype}; "
            f"pass the real and imaginary parts as separate features if you mean both."
        )
    if jnp.issubdtype(x.dtype, jnp.floating):
        return x
    if cast_integers:
        return x.astype(jnp.asarray(0.0).dtype)
    kind = "floating or complex" if complex_ok else "floating point"
    raise TypeError(
        f"{_prefix(where)}{name} must have a {kind} dtype, got dtype {x.dtype}; cast it, e.g. "
        f"{name}.astype(jnp.float32)."
    )


def check_shape(
    where: str | None,
    name: str,
    x,
    *,
    ndim: int | Sequence[int] | None = None,
    shape: Sequence[int | None] | None = None,
    meaning: str | None = None,
) -> jax.Array:
    """`x` as an array of the given rank and/or shape (`None` entries of `shape` match any size).

    **Arguments:**

    - `where`, `name`: as in `as_array`.
    - `x`: an array.
    - `ndim`: the accepted rank, or ranks.
    - `shape`: the expected shape; `None` entries match any size.
    - `meaning`: how the axes read, e.g. `"(time, state)"`, for the message.

    **Returns:** `x` as a JAX array.

    **Raises:** `ValueError` naming the shape received and the one expected.
    """
    x = as_array(where, name, x)
    axes = f" {meaning}" if meaning else ""
    if ndim is not None:
        ranks = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in ranks:
            want = " or ".join(str(r) for r in ranks)
            raise ValueError(
                f"{_prefix(where)}{name} must have {want} dimension(s){axes}, got shape "
                f"{tuple(x.shape)}."
            )
    if shape is not None:
        expected = tuple(shape)
        ok = x.ndim == len(expected) and all(e is None or e == s for e, s in zip(expected, x.shape))
        if not ok:
            want = "(" + ", ".join("*" if e is None else str(e) for e in expected) + ")"
            if len(expected) == 1:
                want = want[:-1] + ",)"
            raise ValueError(
                f"{_prefix(where)}{name} must have shape {want}{axes}, got shape {tuple(x.shape)}."
            )
    return x


def check_finite(where: str | None, name: str, x) -> None:
    """Refuse NaN or inf in concrete data (skipped for traced values, which the caller must
    guard with `equinox.error_if` if it matters).

    **Arguments:**

    - `where`, `name`: as in `as_array`.
    - `x`: an array or PyTree of arrays.

    **Raises:** `ValueError` with the number and first position of the non-finite entries.
    """
    for path, leaf in jax.tree_util.tree_leaves_with_path(x):
        if _is_tracer(leaf):
            continue
        arr = np.asarray(leaf)
        if not (
            np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.complexfloating)
        ):
            continue
        bad = ~np.isfinite(arr)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            label = f"{name}{jax.tree_util.keystr(path)}"
            raise ValueError(
                f"{_prefix(where)}{label} contains {int(bad.sum())} NaN or inf value(s) (first at "
                f"index {first}); pass finite values (remove or impute the missing ones)."
            )


def _is_int(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | np.integer)


def check_int(where: str | None, name: str, value, *, minimum: int = 1) -> int:
    """`value` as a Python int `>= minimum` (counts, sizes, lengths).

    **Arguments:**

    - `where`, `name`: as in `as_array`.
    - `value`: the value passed.
    - `minimum`: the smallest accepted value (1: positive, 0: non-negative).

    **Returns:** `int(value)`.

    **Raises:** `TypeError` for non-integers (floats, bools, None), `ValueError` below `minimum`.
    """
    if not _is_int(value):
        raise TypeError(f"{_prefix(where)}{name} must be an int, got {name}={_show(value)}.")
    if value < minimum:
        what = {0: "a non-negative int", 1: "a positive int"}.get(minimum, f"an int >= {minimum}")
        raise ValueError(f"{_prefix(where)}{name} must be {what}, got {name}={value}.")
    return int(value)


def _real_scalar(where: str | None, name: str, value) -> float | None:
    """`value` as a Python float, or None for a tracer; TypeError unless a real scalar."""
    if value is None or isinstance(value, bool | str):
        raise TypeError(f"{_prefix(where)}{name} must be a real number, got {name}={value!r}.")
    if _is_tracer(value):
        return None
    arr = np.asarray(value)
    if arr.shape != () or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise TypeError(f"{_prefix(where)}{name} must be a real scalar, got {name}={_show(value)}.")
    return float(arr)


def check_positive(
    where: str | None, name: str, value, *, allow_zero: bool = False
) -> Any:
    """A real scalar `> 0` (or `>= 0` with `allow_zero`): steps, tolerances, scales.

    Traced values pass through unchecked (their check belongs in `equinox.error_if`).

    **Arguments:**

    - `where`, `name`: as in `as_array`.
    - `value`: a Python number or a scalar array.
    - `allow_zero`: accept 0.

    **Returns:** `value` unchanged.

    **Raises:** `TypeError` for non-numbers and complex values, `ValueError` for out-of-range,
    NaN or inf values.
    """
    x = _real_scalar(where, name, value)
    if x is None:  # a tracer: checked by the caller's own runtime checks, if any
        return value
    ok = np.isfinite(x) and (x >= 0 if allow_zero else x > 0)
    if not ok:
        want = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{_prefix(where)}{name} must be finite and {want}, got {name}={x!r}.")
    return value


def check_option(where: str | None, name: str, value, options: Iterable[str]) -> str:
    """`value` if it is one of `options`; otherwise `ValueError` listing them, with the closest
    match suggested.

    **Arguments:**

    - `where`, `name`: as in `as_array`.
    - `value`: the option given.
    - `options`: the accepted names.

    **Returns:** `value`.
    """
    options = sorted(options)
    if isinstance(value, str) and value in options:
        return value
    hint = ""
    if isinstance(value, str):
        close = difflib.get_close_matches(value, options, n=1)
        if close:
            hint = f" Did you mean {close[0]!r}?"
    raise ValueError(
        f"{_prefix(where)}{name} must be one of {options}, got {name}={value!r}.{hint}"
    )


def check_names(where: str | None, name: str, given: Iterable[str], known: Iterable[str]) -> None:
    """Refuse keys of a dict argument (e.g. parameter overrides) that are not `known`.

    **Arguments:**

    - `where`, `name`: as in `as_array`.
    - `given`: the keys passed.
    - `known`: the accepted keys.

    **Raises:** `ValueError` naming each unknown key, with close matches suggested.
    """
    known = sorted(known)
    unknown = sorted(set(given) - set(known))
    if not unknown:
        return
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(str(key), known, n=1)
        if close:
            hints.append(f"{key!r} -> {close[0]!r}?")
    hint = f" Did you mean: {', '.join(hints)}" if hints else ""
    raise ValueError(
        f"{_prefix(where)}{name} has unknown name(s) {unknown}; known names are {known}.{hint}"
    )


def check_same_length(where: str | None, **arrays) -> int:
    """The common leading length of paired arrays, e.g. `check_same_length("f", x=x, y=y)`.

    **Arguments:**

    - `where`: as in `as_array`.
    - `arrays`: the arrays by argument name.

    **Returns:** the common leading length.

    **Raises:** `ValueError` listing each argument's length.
    """
    lengths = {k: int(np.shape(v)[0]) if np.ndim(v) else None for k, v in arrays.items()}
    if None in lengths.values() or len(set(lengths.values())) > 1:
        detail = ", ".join(
            f"{k} has {v if v is not None else 'no'} rows" for k, v in lengths.items()
        )
        raise ValueError(
            f"{_prefix(where)}{', '.join(arrays)} must have the same leading length; {detail}."
        )
    return next(iter(lengths.values()))


def check_callable(where: str | None, name: str, value) -> Any:
    """`value` if it is callable; otherwise `TypeError` naming the argument.

    **Arguments:**

    - `where`, `name`: as in `as_array`.
    - `value`: the value passed.

    **Returns:** `value`.
    """
    if not callable(value):
        raise TypeError(f"{_prefix(where)}{name} must be callable, got {name}={_show(value)}.")
    return value


def check_in_range(
    where: str | None, name: str, value, low: float, high: float, *, open_low: bool = False
) -> Any:
    """A real scalar in `[low, high]` (or `(low, high]` with `open_low`): rates, fractions.

    Traced values pass through unchecked.

    **Arguments:**

    - `where`, `name`: as in `as_array`.
    - `value`: a Python number or a scalar array.
    - `low`, `high`: the bounds.
    - `open_low`: exclude `low`.

    **Returns:** `value` unchanged.

    **Raises:** `TypeError` for non-numbers, `ValueError` for out-of-range or NaN values.
    """
    x = _real_scalar(where, name, value)
    if x is None:  # a tracer: checked by the caller's own runtime checks, if any
        return value
    ok = (low < x if open_low else low <= x) and x <= high
    if not ok:
        interval = f"{'(' if open_low else '['}{low:g}, {high:g}]"
        raise ValueError(f"{_prefix(where)}{name} must lie in {interval}, got {name}={x!r}.")
    return value


def refuse_if(x, bad, message: str):
    """Raise `ValueError(message)` now if the concrete boolean `bad` is true; for a traced `bad`
    return `equinox.error_if(x, bad, message)` (the run-time check); otherwise return `x`.

    **Arguments:**

    - `x`: the value the run-time check is attached to.
    - `bad`: a Python bool or a boolean scalar array, concrete or traced.
    - `message`: the error message (name the function, the argument and the value).

    **Returns:** `x`, or `x` guarded by `equinox.error_if`.
    """
    if _is_tracer(bad):
        import equinox as eqx

        return eqx.error_if(x, bad, message)
    if bool(np.asarray(bad)):
        raise ValueError(message)
    return x
