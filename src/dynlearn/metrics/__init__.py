"""Forecast and attractor metrics.

- Forecast: `smape`, `nrmse`, `valid_prediction_time` (in Lyapunov times, sMAPE or NRMSE
  threshold), `n_step_prediction_error`.
- Attractor: `state_space_divergence` (D_stsp), `power_spectrum_distance` (D_H), their
  `noise_floor`, `lyapunov_exponent_error`, `correlation_dimension_error`.
- Generated sequences: TimeGAN's `discriminative_score` and `predictive_score` (post-hoc GRUs),
  and TimeGAN's sine data set `timegan_sines`.
"""

from ._attractor import correlation_dimension_error as correlation_dimension_error
from ._attractor import lyapunov_exponent_error as lyapunov_exponent_error
from ._attractor import noise_floor as noise_floor
from ._attractor import power_spectrum_distance as power_spectrum_distance
from ._attractor import state_space_divergence as state_space_divergence
from ._forecast import n_step_prediction_error as n_step_prediction_error
from ._forecast import nrmse as nrmse
from ._forecast import smape as smape
from ._forecast import valid_prediction_time as valid_prediction_time
from ._generative import discriminative_score as discriminative_score
from ._generative import predictive_score as predictive_score
from ._generative import timegan_sines as timegan_sines

__all__ = [
    "correlation_dimension_error",
    "discriminative_score",
    "lyapunov_exponent_error",
    "n_step_prediction_error",
    "noise_floor",
    "nrmse",
    "power_spectrum_distance",
    "predictive_score",
    "smape",
    "state_space_divergence",
    "timegan_sines",
    "valid_prediction_time",
]
