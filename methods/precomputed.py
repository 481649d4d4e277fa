"""Rows generated elsewhere (e.g. by GPT-4 for the OPAL paper), benchmarked like a live method."""

from bench.oversampler import PoolOversampler


class Precomputed(PoolOversampler):
    """Add rows from the dataset's ``synthetic`` file named ``source``, in file order.

    The dataset entry names the file per seed (``synthetic: {gpt4: "dir/rows_{seed}.csv"}``) with its sha256;
    rows are typed like the training data. Rows are not filtered by label or group: what the file holds is
    what gets added, so an augmentation sweep reproduces "the first k rows of the file".

    Parameters
    ----------
    source : str
        Name of the dataset's synthetic file.
    """

    def __init__(self, source: str = "", *, ratio=1.0, group_column=None, random_state=None):
        super().__init__(ratio=ratio, group_column=group_column, random_state=random_state)
        self.source = source

    def bind(self, context):
        self.context_ = context

    def _pool(self, X, y):
        from bench.splits import load_parts

        ctx = getattr(self, "context_", None)
        if ctx is None or not self.source:
            raise ValueError("precomputed needs `source` (a synthetic file of the dataset) and a run context")
        rows = load_parts(ctx.dataset, ctx.seed, ctx.data_dir, sources=(self.source,))[self.source]
        return rows.X, rows.y
