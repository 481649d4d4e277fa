"""CTGAN (Xu et al., NeurIPS 2019): a conditional GAN for tabular rows, through sdv's ``CTGANSynthesizer``."""

from bench.generative import GenerativeOversampler
from methods import _sdv

MAX_VALUES = 60_000_000  # encoded values a fit trains on at most (see `Ctgan`'s max_values)


class Ctgan(GenerativeOversampler):
    """Grow cells with rows from a conditional tabular GAN.

    With ``strategy="conditional"`` (the default) one GAN learns the whole training fold with the cell as a
    discrete column and is asked for rows of each grown cell through its conditional vector (rows that still
    come out in another cell are dropped and drawn again); with ``"per_cell"`` a GAN is fitted on each grown
    cell's rows alone. On the quick datasets conditional gave the higher minority recall (0.563 vs 0.529,
    xgboost, 2 seeds x 5 folds) at equal balanced accuracy and MCC.

    Parameters
    ----------
    epochs : int
        Passes over the training rows. 100 costs a cell about 6 s of one CPU core on 300 rows, 13 s on
        1,000 and 50 s on 5,000 (conditional; per_cell fits only the grown cell's rows); the library's default
        300 (about 3x that) is the suite variant ``ctgan: {epochs: 300}``.
    batch_size : int
        Rows per training step; even and a multiple of ``pac``. CTGAN draws its batches with replacement, so a
        table smaller than a batch trains one step per epoch.
    embedding_dim, generator_dim, discriminator_dim, pac, discriminator_steps
        As in sdv's ``CTGANSynthesizer`` (noise size, hidden layer widths, rows per discriminator pack,
        discriminator updates per generator update); library defaults.
    enable_gpu : bool
        Train on CUDA when torch sees a GPU.
    max_values : int or None
        The most encoded values one fit trains on: its steps x ``batch_size`` x the table's encoded width
        (`methods._sdv.encoded_width`, an upper bound of CTGAN's one-hot levels plus mode columns). On big or
        wide folds the epochs are lowered to stay under it (at least one); folds of up to a few thousand rows
        train the full ``epochs``. A step costs in proportion to its batch times the width, so the cap bounds
        the training time of a fit: with the 60 million default a CTGAN cell of the largest datasets (adult,
        bank-marketing, default-credit-card, coil2000) took 118-165 s of one core, where 100 epochs need
        about 15 min on adult (extrapolated). ``None`` trains every epoch. The README's CTGAN section has
        the measurements and the cost in quality; ``method.epochs`` and ``method.training_steps`` record
        what a cell trained.
    strategy, measure_quality, ratio, group_column, random_state
        See `bench.generative.GenerativeOversampler`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> X = pd.DataFrame({"a": np.arange(30.0), "c": pd.Categorical(["x", "y"] * 15)})
    >>> y = pd.Series([0] * 20 + [1] * 10)
    >>> X_res, y_res = Ctgan(epochs=2, random_state=0).fit_resample(X, y)
    >>> y_res.value_counts().to_dict()
    {0: 20, 1: 20}
    """

    min_cell_rows = 2  # sdv's numeric transformer (a Bayesian Gaussian mixture) needs two rows

    def __init__(self, epochs: int = 100, batch_size: int = 500, embedding_dim: int = 128,
                 generator_dim: tuple[int, ...] = (256, 256), discriminator_dim: tuple[int, ...] = (256, 256),
                 pac: int = 10, discriminator_steps: int = 1, enable_gpu: bool = True,
                 max_values: int | None = MAX_VALUES, *,
                 strategy: str = "conditional", measure_quality: bool = True, ratio: float = 1.0,
                 group_column: str | None = None, random_state: int | None = None):
        super().__init__(strategy=strategy, measure_quality=measure_quality, ratio=ratio,
                         group_column=group_column, random_state=random_state)
        self.epochs = epochs
        self.batch_size = batch_size
        self.embedding_dim = embedding_dim
        self.generator_dim = generator_dim
        self.discriminator_dim = discriminator_dim
        self.pac = pac
        self.discriminator_steps = discriminator_steps
        self.enable_gpu = enable_gpu
        self.max_values = max_values

    def train_epochs(self, X) -> int:
        """Epochs to train on ``X``: ``epochs``, or fewer so that training sees at most ``max_values`` values.

        A step costs in proportion to its batch times the table's encoded width, so the cap holds the training
        time of a fit near a constant whatever the fold's size and width.
        """
        if self.max_values is None:
            return self.epochs
        per_epoch = max(len(X) // self.batch_size, 1)  # CTGAN's own count of steps in an epoch
        steps = self.max_values // (self.batch_size * _sdv.encoded_width(X))
        return max(1, min(self.epochs, steps // per_epoch))

    def _fit(self, X, condition_column):
        if self.batch_size % 2 or self.batch_size % self.pac:
            raise ValueError(f"CTGAN needs an even batch_size that is a multiple of pac={self.pac}, "
                             f"not {self.batch_size}")
        if self.max_values is not None and not (isinstance(self.max_values, int) and self.max_values >= 1):
            raise ValueError(f"CTGAN's max_values must be a whole number >= 1 or None, not {self.max_values!r}")
        epochs = self.train_epochs(X)
        steps = epochs * max(len(X) // self.batch_size, 1)
        # per_cell fits several generators: the fewest epochs of its fits, the steps of them all
        self.report_["epochs"] = min(epochs, self.report_.get("epochs", epochs))
        self.report_["training_steps"] = self.report_.get("training_steps", 0) + steps
        params = {"epochs": epochs, "batch_size": self.batch_size, "embedding_dim": self.embedding_dim,
                  "generator_dim": tuple(self.generator_dim), "discriminator_dim": tuple(self.discriminator_dim),
                  "pac": self.pac, "discriminator_steps": self.discriminator_steps}
        self.synthesizer_, info = _sdv.fit("ctgan", params, X, self.seed(2 * self.fit_index_), self.enable_gpu,
                                          condition_column)
        self.condition_column_ = condition_column
        self.report_.update(info)

    def _sample(self, n, condition):
        if condition is None:
            return _sdv.sample(self.synthesizer_, n)
        return _sdv.sample(self.synthesizer_, n, (self.condition_column_, condition))
