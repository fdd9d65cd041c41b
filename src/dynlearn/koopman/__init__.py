"""Koopman operator learning with verified spectra.

Dictionaries of observables (strategy objects), exact DMD, EDMD, kernel EDMD and generator EDMD
with quadrature weights, ResDMD residuals and pseudospectra (Colbrook & Townsend; Colbrook, Mezic
& Stepanenko), Koopman autoencoders, a Koopman VAE with a linear latent prior (`KoopmanVAE`) and the
Koopman VAE of Naiman et al. with its recurrent prior (`KoVAE`).
"""

from ._autoencoder import (
    KoopmanAutoencoder as KoopmanAutoencoder,
)
from ._autoencoder import (
    koopman_autoencoder_loss as koopman_autoencoder_loss,
)
from ._decomposition import KoopmanDecomposition as KoopmanDecomposition
from ._dictionaries import (
    AbstractDictionary as AbstractDictionary,
)
from ._dictionaries import (
    Concatenation as Concatenation,
)
from ._dictionaries import (
    Fourier as Fourier,
)
from ._dictionaries import (
    GaussianRBF as GaussianRBF,
)
from ._dictionaries import (
    Hermite as Hermite,
)
from ._dictionaries import (
    Identity as Identity,
)
from ._dictionaries import (
    Learned as Learned,
)
from ._dictionaries import (
    Legendre as Legendre,
)
from ._dictionaries import (
    Monomials as Monomials,
)
from ._dictionaries import (
    RandomFourierFeatures as RandomFourierFeatures,
)
from ._dictionaries import (
    TensorProduct as TensorProduct,
)
from ._dictionaries import (
    ThinPlateRBF as ThinPlateRBF,
)
from ._dictionaries import (
    TimeDelays as TimeDelays,
)
from ._dictionaries import (
    delay_embed as delay_embed,
)
from ._dictionaries import (
    multi_indices as multi_indices,
)
from ._edmd import (
    dmd as dmd,
)
from ._edmd import (
    edmd as edmd,
)
from ._edmd import (
    edmd_operator as edmd_operator,
)
from ._edmd import (
    generator_edmd as generator_edmd,
)
from ._kernel_edmd import KernelDictionary as KernelDictionary
from ._kernel_edmd import kernel_edmd as kernel_edmd
from ._kernels import (
    AbstractKernel as AbstractKernel,
)
from ._kernels import (
    GaussianKernel as GaussianKernel,
)
from ._kernels import (
    LaplacianKernel as LaplacianKernel,
)
from ._kernels import (
    PolynomialKernel as PolynomialKernel,
)
from ._kovae import KoVAE as KoVAE
from ._kovae import eigenvalue_penalties as eigenvalue_penalties
from ._kovae import fill_gaps as fill_gaps
from ._kovae import gaussian_kl as gaussian_kl
from ._kovae import koopman_least_squares as koopman_least_squares
from ._kovae import kovae_loss as kovae_loss
from ._kvae import KoopmanVAE as KoopmanVAE
from ._kvae import kvae_loss as kvae_loss
from ._latent import (
    AbstractLatentOperator as AbstractLatentOperator,
)
from ._latent import (
    DenseOperator as DenseOperator,
)
from ._latent import (
    StableOperator as StableOperator,
)
from ._latent import (
    UnitaryOperator as UnitaryOperator,
)
from ._resdmd import ResDMD as ResDMD
from ._resdmd import resdmd as resdmd
from ._snapshots import snapshot_pairs as snapshot_pairs
from ._spectral_measure import (
    autocorrelations as autocorrelations,
)
from ._spectral_measure import (
    cosine_filter as cosine_filter,
)
from ._spectral_measure import (
    fejer_filter as fejer_filter,
)
from ._spectral_measure import (
    spectral_measure as spectral_measure,
)
