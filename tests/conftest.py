import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def toy_suite(tmp_path: Path):
    """Write a small real-looking dataset and a suite over it; return a function (methods, **suite keys) -> path."""
    rng = np.random.default_rng(0)
    n = 120
    y = (rng.random(n) < 0.2).astype(int)
    frame = pd.DataFrame({
        "x1": rng.normal(size=n) + 1.5 * y,
        "x2": rng.uniform(0, 5, size=n),
        "kind": rng.choice(["p", "q", "r"], size=n),
        "sex": np.where(rng.random(n) < 0.4, "f", "m"),
        "label": y,
    })
    frame.loc[[3, 7], "x2"] = np.nan  # the runner imputes from the training fold
    csv = tmp_path / "toy.csv"
    frame.to_csv(csv, index=False)
    sha = hashlib.sha256(csv.read_bytes()).hexdigest()

    def write(methods, **keys):
        suite = {"name": "toy", "folds": 3, "repeats": 1, "seeds": [0], "classifiers": ["logreg"], **keys}
        head = "\n".join(f"{k}: {v}" for k, v in suite.items())
        method_lines = "\n".join(f"  - {m}" for m in methods)
        text = "\n".join([
            head,
            "datasets:",
            "  - name: toy",
            "    openml_id: null",
            "    target: label",
            '    minority: "1"',
            "    format: csv",
            f"    files: [{{path: toy.csv, sha256: {sha}}}]",
            "    group: {column: sex}",
            "methods:",
            method_lines,
            "",
        ])
        path = tmp_path / "toy.yaml"
        path.write_text(text)
        return path

    write.data_dir = tmp_path
    return write
