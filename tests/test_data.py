"""Dataset catalog and loading: every catalog entry parses to MANIFEST's shape, errors are DatasetErrors."""

import dataclasses
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.data import DatasetError, DatasetSpec, GroupSpec, default_data_dir, load_catalog, load_dataset

CATALOG = Path(__file__).resolve().parent.parent / "datasets" / "imbalanced.yaml"
FIXTURE = default_data_dir() / "openml_cache_fixture"

# From shared/datasets/MANIFEST.md: rows, cols (incl. target), numeric/categorical features, minority count.
# The catalog reduces compas-violent (features: 9 of 53) and climate-model-simulation-crashes (drop: Study,
# Run); MANIFEST has 54 cols 20/33 and 21 cols 20/0 for them.
MANIFEST = {
    "adult": (48842, 15, 6, 8, 11687),
    "credit-g": (1000, 21, 7, 13, 300),
    "bank-marketing": (45211, 17, 7, 9, 5289),
    "default-credit-card": (30000, 24, 23, 0, 6636),
    "compas-violent": (4743, 10, 5, 4, 775),
    "law-school": (20798, 12, 10, 1, 2293),
    "sick": (3772, 30, 7, 22, 231),
    "mammography": (11183, 7, 6, 0, 260),
    "oil_spill": (937, 50, 49, 0, 41),
    "phoneme": (5404, 6, 5, 0, 1586),
    "ozone-level-8hr": (2534, 73, 72, 0, 160),
    "pc1": (1109, 22, 21, 0, 77),
    "kc1": (2109, 22, 21, 0, 326),
    "jm1": (10885, 22, 21, 0, 2106),
    "climate-model-simulation-crashes": (540, 19, 18, 0, 46),
    "wilt": (4839, 6, 5, 0, 261),
    "satellite": (5100, 37, 36, 0, 75),
    "piechart3": (1077, 38, 37, 0, 134),
    "coil2000": (9822, 86, 85, 0, 586),
    "seismic-bumps": (2584, 19, 14, 4, 170),
    "thoracic-surgery": (470, 17, 3, 13, 70),
    "haberman": (306, 4, 3, 0, 81),
    "diabetes": (768, 9, 8, 0, 268),
    "breast-cancer": (286, 10, 0, 9, 85),
    "abalone19": (4174, 9, 7, 1, 32),
    "yeast4": (1484, 9, 8, 0, 51),
    "car-vgood": (1728, 7, 0, 6, 65),
    "page-blocks0": (5472, 11, 10, 0, 559),
    "wdbc": (569, 31, 30, 0, 212),
}
WITH_GROUP = {"adult", "credit-g", "bank-marketing", "default-credit-card", "compas-violent", "law-school",
              "sick", "seismic-bumps", "thoracic-surgery", "diabetes", "breast-cancer", "abalone19"}


@pytest.fixture(scope="module")
def catalog() -> dict[str, DatasetSpec]:
    return load_catalog(CATALOG)


def spec_for(tmp_path: Path, text: str, name: str = "toy", **keys) -> DatasetSpec:
    """Write ``text`` to tmp_path/<name>.<format> and return a spec pointing at it with its real checksum."""
    fmt = keys.pop("format", "csv")
    path = tmp_path / f"{name}.{'dat' if fmt == 'keel' else fmt}"
    path.write_text(text)
    entry = {"name": name, "target": "label", "minority": "1", "format": fmt,
             "files": [{"path": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}], **keys}
    return DatasetSpec.from_mapping(entry, "test")


def test_catalog_declares_exactly_the_manifest_datasets(catalog):
    assert list(catalog) == list(MANIFEST)
    assert {n for n, s in catalog.items() if s.group is not None} == WITH_GROUP
    assert catalog["compas-violent"].openml_id is None and catalog["adult"].openml_id == 1590
    assert all(s.description for s in catalog.values())


@pytest.mark.parametrize("name", list(MANIFEST))
def test_mirror_dataset_matches_manifest(catalog, name):
    rows, cols, n_num, n_cat, n_min = MANIFEST[name]
    ds = load_dataset(catalog[name])
    assert ds.source == "mirror" and ds.name == name and len(ds.sha256) == 64
    assert ds.X.shape == (rows, cols - 1) and ds.y.shape == (rows,) and ds.y.name == catalog[name].target
    assert ds.y.dtype == np.int64 and set(ds.y.unique()) == {0, 1} and int(ds.y.sum()) == n_min
    kinds = [str(t) for t in ds.X.dtypes]
    assert set(kinds) <= {"float64", "category"}
    assert (kinds.count("float64"), kinds.count("category")) == (n_num, n_cat)
    for c in ds.X.select_dtypes("category"):
        cats = list(ds.X[c].cat.categories)
        assert all(isinstance(v, str) and not v.startswith(("b'", " ")) and v != "?" for v in cats), (c, cats)
    if name in WITH_GROUP:
        assert ds.group.index.equals(ds.X.index) and ds.group.nunique() == 2
        assert set(ds.group.dropna()) == set(catalog[name].group.labels)
        assert catalog[name].group.column in ds.X  # the source column stays a feature
    else:
        assert ds.group is None


def test_parsed_values_match_an_independent_read(catalog):
    raw = default_data_dir() / "raw"
    ds = load_dataset(catalog["haberman"])
    ref = pd.read_csv(raw / "haberman" / "haberman.csv", header=None)
    np.testing.assert_array_equal(ds.X.to_numpy(), ref.iloc[:, :3].to_numpy(float))
    np.testing.assert_array_equal(ds.y.to_numpy(), (ref[3] == 2).to_numpy(int))
    # adult: '?' is missing (2799 workclass, 2809 occupation, 857 native-country over both files)
    adult = load_dataset(catalog["adult"])
    assert adult.X[["workclass", "occupation", "native-country"]].isna().sum().tolist() == [2799, 2809, 857]
    assert adult.X["age"].iloc[0] == 39.0 and adult.X["sex"].iloc[0] == "Male"
    # sick: b'F' / b'M' stripped, b'?' missing; group keeps the 150 missing sexes as NaN
    sick = load_dataset(catalog["sick"])
    assert list(sick.X["sex"].cat.categories) == ["F", "M"] and sick.X["sex"].isna().sum() == 150
    assert sick.group.isna().sum() == 150 and sick.X["TBG"].isna().all()
    # thoracic-surgery: b'2' codes are nominal (category), V16 (age) numeric
    thor = load_dataset(catalog["thoracic-surgery"])
    assert thor.X["V1"].dtype == "category" and thor.X["V16"].dtype == "float64"


def test_checksum_mismatch_is_an_error(catalog, tmp_path):
    spec = catalog["haberman"]
    target = tmp_path / spec.files[0].path
    target.parent.mkdir(parents=True)
    shutil.copy(default_data_dir() / spec.files[0].path, target)
    with target.open("a") as fh:
        fh.write("30,64,1,1\n")
    actual = hashlib.sha256(target.read_bytes()).hexdigest()
    with pytest.raises(DatasetError, match="checksum mismatch") as info:
        load_dataset(spec, tmp_path)
    message = str(info.value)
    assert spec.files[0].sha256 in message and actual in message and str(target) in message


def test_missing_files_without_openml_id(catalog, tmp_path):
    spec = dataclasses.replace(catalog["haberman"], openml_id=None)
    with pytest.raises(DatasetError) as info:
        load_dataset(spec, tmp_path)
    message = str(info.value)
    assert "'haberman'" in message and "raw/haberman/haberman.csv" in message and str(tmp_path) in message
    assert "no openml_id" in message and "BENCH_DATA_DIR" in message


def test_data_dir_comes_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("BENCH_DATA_DIR", str(tmp_path))
    assert default_data_dir() == tmp_path
    monkeypatch.delenv("BENCH_DATA_DIR")
    assert default_data_dir() == Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"


@pytest.fixture
def openml_offline(tmp_path, monkeypatch):
    """A writable copy of the openml-python test cache for test-server dataset 2 (anneal)."""
    import openml  # a dependency of the package: a missing one should fail, not skip
    cache = tmp_path / "cache"
    shutil.copytree(FIXTURE, cache)
    monkeypatch.setenv("BENCH_OPENML_CACHE", str(cache))
    monkeypatch.setenv("BENCH_OPENML_SERVER", "https://test.openml.org/api/v1/xml")
    return openml, cache


def anneal(openml_id: int = 2) -> DatasetSpec:
    return DatasetSpec.from_mapping({
        "name": "anneal", "openml_id": openml_id, "target": "class", "minority": "U", "format": "arff",
        "files": [{"path": "raw/anneal/anneal.arff", "sha256": "0" * 64}]}, "test")


def test_openml_fallback_loads_from_cache(openml_offline, tmp_path):
    openml, cache = openml_offline
    server = openml.config.server
    ds = load_dataset(anneal(), tmp_path / "no-mirror")
    assert ds.source == "openml" and ds.X.shape == (898, 38) and int(ds.y.sum()) == 40
    assert {str(t) for t in ds.X.dtypes} == {"float64", "category"}
    data_file = cache / "org/openml/test/datasets/2/dataset.arff"
    assert ds.sha256 == hashlib.sha256(data_file.read_bytes()).hexdigest()
    assert openml.config.server == server  # the global openml config is restored


def test_openml_failure_is_a_dataset_error(openml_offline, tmp_path):
    # not in the cache: offline this fails to connect, online the id does not exist; either way a DatasetError
    with pytest.raises(DatasetError) as info:
        load_dataset(anneal(openml_id=999_999_999), tmp_path / "no-mirror")
    message = str(info.value)
    assert "'anneal'" in message and "OpenML id 999999999" in message and "raw/anneal/anneal.arff" in message


def test_label_problems_are_errors(tmp_path):
    rows = "x,label\n" + "".join(f"{i},0\n" for i in range(5))
    with pytest.raises(DatasetError, match="never occurs"):
        load_dataset(spec_for(tmp_path, rows), tmp_path)
    with pytest.raises(DatasetError, match="only one class"):
        load_dataset(spec_for(tmp_path, rows, minority="0"), tmp_path)
    with pytest.raises(DatasetError, match="is the majority"):
        load_dataset(spec_for(tmp_path, rows + "9,1\n", minority="0"), tmp_path)
    with pytest.raises(DatasetError, match=r"target column 'outcome' not found; columns: \['x', 'label'\]"):
        load_dataset(spec_for(tmp_path, rows, target="outcome"), tmp_path)


def test_rows_with_missing_target_are_dropped_and_labels_match_numerically(tmp_path):
    spec = spec_for(tmp_path, "x,label\n1,0.0\n2,1.0\n3,?\n4,0.0\n5,\n", minority="1")
    ds = load_dataset(spec, tmp_path)
    assert ds.y.tolist() == [0, 1, 0] and ds.X["x"].tolist() == [1.0, 2.0, 4.0]


def test_mapping_errors_name_the_problem(tmp_path):
    good = {"name": "toy", "target": "label", "minority": "1", "format": "csv",
            "files": [{"path": "toy.csv", "sha256": "a" * 64}]}
    DatasetSpec.from_mapping(good, "here")
    with pytest.raises(DatasetError, match=r"^here: unknown key\(s\) \['minorty'\]"):
        DatasetSpec.from_mapping({**good, "minorty": "1"}, "here")
    with pytest.raises(DatasetError, match="unknown read option 'delimiter'"):
        DatasetSpec.from_mapping({**good, "read": {"delimiter": ";"}}, "here")
    with pytest.raises(DatasetError, match="quote yes/no"):
        DatasetSpec.from_mapping({**good, "minority": True}, "here")
    with pytest.raises(DatasetError, match="sha256 must be 64"):
        DatasetSpec.from_mapping({**good, "files": [{"path": "toy.csv", "sha256": "abc"}]}, "here")
    with pytest.raises(DatasetError, match="at most one of"):
        DatasetSpec.from_mapping({**good, "group": {"column": "a", "threshold": 1, "values": ["x"]}}, "here")
    path = tmp_path / "cat.yaml"
    path.write_text("datasets:\n  - {name: a, target: t, minority: 1, format: csv, files: [], colour: red}\n")
    with pytest.raises(DatasetError, match=r"cat.yaml: dataset 'a': unknown key\(s\) \['colour'\]"):
        load_catalog(path)


def test_bytes_repr_cells_are_stripped(tmp_path):
    text = ("num,code,word,label\n"
            "1.5,b'1',b'red',b'1'\n"
            "2.0,b'2',b'?',b'0'\n"
            "?,b'1',b' blue',b'0'\n")
    ds = load_dataset(spec_for(tmp_path, text), tmp_path)
    assert ds.y.tolist() == [1, 0, 0]
    assert ds.X["num"].dtype == "float64" and np.isnan(ds.X["num"].iloc[2])
    # b'..' marks a nominal attribute in scipy.io.arff exports, so digit codes stay categorical
    assert ds.X["code"].dtype == "category" and list(ds.X["code"].cat.categories) == ["1", "2"]
    assert list(ds.X["word"].cat.categories) == ["blue", "red"] and ds.X["word"].isna().tolist() == [0, 1, 0]


def test_keel_parsing(tmp_path):
    text = ("@relation toy\n"
            "@attribute Sex {M, F, I}\n"
            "@attribute Length real [0.075, 0.815]\n"
            "@attribute Rings integer [1, 29]\n"
            "@attribute label  {1, 0}\n"
            "@inputs Sex, Length, Rings\n"
            "@outputs label\n"
            "@data\n"
            "M, 0.455, 15, 0\n"
            "I, .35, 7,1\n"
            "\n"
            "F, 0.53, ?, 0\n")
    spec = spec_for(tmp_path, text, format="keel", group={"column": "Sex", "values": ["I"]})
    ds = load_dataset(spec, tmp_path)
    assert list(ds.X.columns) == ["Sex", "Length", "Rings"] and ds.y.tolist() == [0, 1, 0]
    assert ds.X["Sex"].dtype == "category" and ds.X["Length"].tolist() == [0.455, 0.35, 0.53]
    assert ds.X["Rings"].dtype == "float64" and np.isnan(ds.X["Rings"].iloc[2])
    assert ds.group.tolist() == ["other", "I", "other"]


def test_csv_read_options(tmp_path):
    text = "|preamble\n1;a;'no'\n2;b;'yes.'\n3;a;'no.'\n"
    read = {"header": False, "names": ["n", "s", "label"], "sep": ";", "comment": "|", "quotechar": "'",
            "strip_label_suffix": "."}
    ds = load_dataset(spec_for(tmp_path, text, minority="yes", read=read), tmp_path)
    assert ds.y.tolist() == [0, 1, 0] and ds.X["n"].tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(DatasetError, match="lists 2 columns but the file has 3"):
        spec = spec_for(tmp_path, text, minority="yes", read={**read, "names": ["n", "label"]})
        load_dataset(spec, tmp_path)


def test_group_rules():
    age = pd.Series([20.0, 25.0, 40.0, 61.0, np.nan] + [30.0] * 20)
    assert GroupSpec("age", threshold=25).apply(age, "t")[:5].tolist()[:4] == ["<=25", "<=25", ">25", ">25"]
    ranged = GroupSpec("age", range=(25, 60), labels=("mid", "out")).apply(age, "t")
    assert ranged[:5].tolist()[:4] == ["out", "mid", "mid", "out"] and pd.isna(ranged[4])
    sex = pd.Series(["F", "M", "F"], dtype="category")
    assert GroupSpec("sex").apply(sex, "t").tolist() == ["F", "M", "F"]
    assert GroupSpec("sex", values=("F",), labels=("female", "male")).apply(sex, "t").tolist() == [
        "female", "male", "female"]
    assert GroupSpec("code", values=("2",)).apply(pd.Series([1.0, 2.0]), "t").tolist() == ["other", "2"]
    with pytest.raises(DatasetError, match="3 levels"):
        GroupSpec("race").apply(pd.Series(["a", "b", "c"], dtype="category"), "t")
    with pytest.raises(DatasetError, match="missing"):
        GroupSpec("age", threshold=25).apply(pd.Series([20.0, np.nan, 30.0]), "t")
