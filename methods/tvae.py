"""TVAE (Xu et al., NeurIPS 2019): a variational autoencoder for tabular rows, through sdv's ``TVAESynthesizer``."""

from bench.generative import GenerativeOversampler
from methods import _sdv


class Tvae(GenerativeOversampler):
    """Grow cells with rows decoded from a tabular variational autoencoder.

    With ``strategy="per_cell"`` (the default) a model is fitted on each grown cell's rows alone. TVAE cannot
    condition: with ``"conditional"`` one model learns the whole training fold with the cell as a column,
    samples freely, and the base keeps the rows of each grown cell (rejection sampling). TVAE decodes a
    categorical column to its most likely level, so a minority cell comes out far rarer than it is (1-5 % of
    the rows drawn for a 26-30 % class on haberman and credit-g) and sometimes not enough to fill the cell: the
    run then stops with a RuntimeError (2 of 15 quick-suite cells at 300 epochs).

    Parameters
    ----------
    epochs : int
        Passes over the training rows; the library's 300, which costs a cell about 2.5 s of one CPU core on
        300 rows, 5 s on 1,000 and 13 s on 5,000 (per_cell). At 100 epochs TVAE lost most minority levels.
    batch_size : int
        Rows per training step; a table smaller than a batch trains on one (partial) batch per epoch.
    embedding_dim, compress_dims, decompress_dims, loss_factor
        As in sdv's ``TVAESynthesizer`` (latent size, encoder and decoder hidden widths, weight of the
        reconstruction error); library defaults.
    enable_gpu : bool
        Train on CUDA when torch sees a GPU.
    strategy, measure_quality, ratio, group_column, random_state
        See `bench.generative.GenerativeOversampler`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> X = pd.DataFrame({"a": np.arange(30.0), "c": pd.Categorical(["x", "y"] * 15)})
    >>> y = pd.Series([0] * 20 + [1] * 10)
    >>> X_res, y_res = Tvae(epochs=2, random_state=0).fit_resample(X, y)
    >>> y_res.value_counts().to_dict()
    {0: 20, 1: 20}
    """

    min_cell_rows = 2  # sdv's numeric transformer (a Bayesian Gaussian mixture) needs two rows

    def __init__(self, epochs: int = 300, batch_size: int = 500, embedding_dim: int = 128,
                 compress_dims: tuple[int, ...] = (128, 128), decompress_dims: tuple[int, ...] = (128, 128),
                 loss_factor: float = 2, enable_gpu: bool = True, *,
                 strategy: str = "per_cell", measure_quality: bool = True, ratio: float = 1.0,
                 group_column: str | None = None, random_state: int | None = None):
        super().__init__(strategy=strategy, measure_quality=measure_quality, ratio=ratio,
                         group_column=group_column, random_state=random_state)
        self.epochs = epochs
        self.batch_size = batch_size
        self.embedding_dim = embedding_dim
        self.compress_dims = compress_dims
        self.decompress_dims = decompress_dims
        self.loss_factor = loss_factor
        self.enable_gpu = enable_gpu

    def _fit(self, X, condition_column):
        params = {"epochs": self.epochs, "batch_size": self.batch_size, "embedding_dim": self.embedding_dim,
                  "compress_dims": tuple(self.compress_dims), "decompress_dims": tuple(self.decompress_dims),
                  "loss_factor": self.loss_factor}
        self.synthesizer_, info = _sdv.fit("tvae", params, X, self.seed(2 * self.fit_index_), self.enable_gpu)
        self.report_.update(info)

    def _sample(self, n, condition):
        # no conditioning in TVAE: rows of every cell come back with the cell column; the base keeps the right ones
        return _sdv.sample(self.synthesizer_, n)
