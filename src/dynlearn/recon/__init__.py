"""Dynamical-systems reconstruction: PLRNNs with generalized teacher forcing, reservoir
computers, SINDy, and ensemble Kalman filtering with model-error discovery.
"""

from ._derivatives import AbstractDerivative as AbstractDerivative
from ._derivatives import FiniteDifference as FiniteDifference
from ._derivatives import SmoothedFiniteDifference as SmoothedFiniteDifference
from ._enkf import EnKFResult as EnKFResult
from ._enkf import enkf_analysis as enkf_analysis
from ._enkf import ensemble_kalman_filter as ensemble_kalman_filter
from ._gtf import estimate_forcing_alpha as estimate_forcing_alpha
from ._gtf import fit_gtf as fit_gtf
from ._gtf import gtf_loss as gtf_loss
from ._gtf import trajectory_windows as trajectory_windows
from ._medida import ModelErrorResult as ModelErrorResult
from ._medida import discover_model_error as discover_model_error
from ._medida import spectral_derivative_library as spectral_derivative_library
from ._plrnn import ShallowPLRNN as ShallowPLRNN
from ._reservoir import NVAR as NVAR
from ._reservoir import EchoStateNetwork as EchoStateNetwork
from ._reservoir import fit_readout as fit_readout
from ._reservoir import ridge_regression as ridge_regression
from ._sindy import SINDy as SINDy
from ._sindy import fit_sindy as fit_sindy
from ._sindy_library import AbstractLibrary as AbstractLibrary
from ._sindy_library import ConcatLibrary as ConcatLibrary
from ._sindy_library import CustomLibrary as CustomLibrary
from ._sindy_library import FourierLibrary as FourierLibrary
from ._sindy_library import PolynomialLibrary as PolynomialLibrary
from ._sindy_optimizers import RVM as RVM
from ._sindy_optimizers import SR3 as SR3
from ._sindy_optimizers import STLSQ as STLSQ
from ._sindy_optimizers import AbstractSparseOptimizer as AbstractSparseOptimizer
from ._sindy_optimizers import Ensemble as Ensemble
from ._sindy_optimizers import RVMPosterior as RVMPosterior
