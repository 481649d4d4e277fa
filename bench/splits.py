"""Fixed train/test files and rows generated elsewhere, for datasets that ship them (the OPAL paper's do).

The parts of one seed (train, test, and any synthetic files) are parsed together, so that every part gets the
same column types and category levels, then cut apart again. Every file is checked against its sha256.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from bench.data import Dataset, DatasetError, DatasetSpec, FileSpec, _build, default_data_dir
from bench.readers import read_mirror


def part_paths(spec: DatasetSpec, seed: int, sources: tuple[str, ...] = ()) -> dict[str, str]:
    """Relative paths of the train and test files (and the named synthetic files) of ``seed``."""
    if seed not in spec.splits.get("seeds", ()):
        raise DatasetError(f"dataset '{spec.name}' has fixed splits for seeds {list(spec.splits.get('seeds', ()))},"
                           f" not {seed}")
    unknown = [s for s in sources if s not in spec.synthetic]
    if unknown:
        raise DatasetError(f"dataset '{spec.name}' has no synthetic rows named {unknown}; "
                           f"it has {sorted(spec.synthetic) or 'none'}")
    templates = {"train": spec.splits["train"], "test": spec.splits["test"], **{s: spec.synthetic[s] for s in sources}}
    return {part: t.format(seed=seed) for part, t in templates.items()}


def load_parts(spec: DatasetSpec, seed: int, data_dir: Path | None = None,
               sources: tuple[str, ...] = ()) -> dict[str, Dataset]:
    """Load the parts of ``seed``: ``{"train": ..., "test": ..., <source>: ...}``, typed alike."""
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    frames, nominal, shas = [], set(), []
    for part, rel in part_paths(spec, seed, sources).items():
        if rel not in spec.checksums:
            raise DatasetError(f"dataset '{spec.name}': no sha256 declared for {rel} under 'checksums'")
        if not (data_dir / rel).is_file():
            raise DatasetError(f"dataset '{spec.name}': {part} file {rel} missing under {data_dir}; set "
                               "BENCH_DATA_DIR (or --data-dir) to a copy of shared/datasets")
        one = dataclasses.replace(spec, files=(FileSpec(rel, spec.checksums[rel]),))
        frame, nom, sha = read_mirror(one, data_dir)
        frames.append(frame.assign(__part__=part))
        nominal |= nom
        shas.append(sha)
    whole = pd.concat(frames, ignore_index=True)
    parts_of = whole.pop("__part__")
    # The minority check belongs to the training part (a test set may be balanced; synthetic rows are all minority).
    ds = _build(spec, whole, nominal, "+".join(shas), "mirror", check_minority=False)
    if len(ds.X) != len(whole):
        raise DatasetError(f"dataset '{spec.name}': rows without a label in the split files of seed {seed}")
    out = {}
    for part in parts_of.unique():
        rows = (parts_of == part).to_numpy()
        out[part] = Dataset(
            spec.name, ds.X[rows].reset_index(drop=True), ds.y[rows].reset_index(drop=True),
            None if ds.group is None else ds.group[rows].reset_index(drop=True), ds.sha256, "mirror", spec,
        )
    if out["train"].y.nunique() < 2:
        raise DatasetError(f"dataset '{spec.name}': the training file of seed {seed} has a single class")
    return out
