"""The registry: plain entry points, provider entry points (a family at once), families, lazy listing."""

import subprocess
import sys
from importlib.metadata import EntryPoint

import pytest
from typer.testing import CliRunner

from bench import registry
from bench.config import DATASETS_DIR, SuiteError, load_suite
from methods.duplication import Duplication


class Jitter(Duplication):
    """A stand-in for a third party's method."""


def provide_strings():
    return {"tp-one": "methods.duplication:Duplication", "tp-two": "methods.none:NoOversampling"}


def provide_classes():
    return {"tp-class": Jitter, "smote": Jitter}  # 'smote' is taken: the first registration stays


def provide_broken():
    raise RuntimeError("cannot list my methods")


@pytest.fixture
def third_party(monkeypatch):
    """Entry points as a third-party package would declare them, beside the installed ones."""
    here = __name__
    fake = {
        registry.GROUP: [EntryPoint("tp-plain", "methods.duplication:Duplication [jitters]", registry.GROUP),
                         EntryPoint("tp-bare", "methods.none:NoOversampling", registry.GROUP)],
        registry.PROVIDERS: [
            EntryPoint("tp-strings", f"{here}:provide_strings [third-party]", registry.PROVIDERS),
            EntryPoint("tp-classes", f"{here}:provide_classes", registry.PROVIDERS),
            EntryPoint("tp-broken", f"{here}:provide_broken", registry.PROVIDERS),
        ],
    }
    real = registry.entry_points
    monkeypatch.setattr(registry, "entry_points", lambda group: [*real(group=group), *fake[group]])
    registry._registered.cache_clear()
    yield
    registry._registered.cache_clear()


def test_families_of_the_built_ins():
    families = registry.families()
    assert families["smote"] == families["svm-smote"] == families["ros-shrinkage"] == "classic"
    assert families["ctgan"] == "generative" and families["opal"] == "llm"
    assert families["sv-prowsyn"] == families["sv-polynom-fit-smote-star"] == "smote-variants"
    assert sum(f == "smote-variants" for f in families.values()) == 91
    assert registry.available()["sv-prowsyn"] == "methods.smote_variants:ProWSyn"


def test_a_provider_registers_a_family(third_party):
    families, available = registry.families(), registry.available()
    assert families["tp-one"] == families["tp-two"] == "third-party"  # the provider's extra
    assert families["tp-class"] == "tp-classes"  # no extra: the provider's entry-point name
    assert families["tp-plain"] == "jitters" and families["tp-bare"] == registry.DEFAULT_FAMILY
    assert registry.resolve("tp-one") is Duplication and registry.resolve("tp-class") is Jitter
    assert available["tp-class"] == f"{__name__}:Jitter"
    # a name already taken keeps its first registration, and the clash is reported, as is a broken provider
    assert registry.resolve("smote").__name__ == "Smote"
    errors = registry.provider_errors()
    assert any("tp-classes" in e and "'smote'" in e for e in errors)
    assert any("tp-broken" in e and "cannot list my methods" in e for e in errors)


def test_list_methods_shows_families_and_provider_errors(third_party):
    from bench.cli import app

    result = CliRunner().invoke(app, ["list", "methods"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split()[1:] for line in result.output.splitlines()[1:] if line.strip()}
    assert rows["sv-prowsyn"] == ["smote-variants", "methods.smote_variants:ProWSyn"]
    assert rows["kmeans-smote"] == ["classic", "methods.kmeans_smote:KmeansSmote"]
    assert rows["tp-one"][0] == "third-party"
    assert "cannot list my methods" in result.output


def test_listing_imports_no_method_library():
    code = ("import sys; from typer.testing import CliRunner; from bench.cli import app; "
            "r = CliRunner().invoke(app, ['list', 'methods']); assert r.exit_code == 0, r.output; "
            "assert 'sv-prowsyn' in r.output; "
            "print(sorted(m for m in ('sklearn', 'smote_variants') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_unknown_name_summarises_the_big_family():
    with pytest.raises(registry.UnknownMethodError) as e:
        registry.resolve("sv-prowsin")
    message = str(e.value)
    assert "Did you mean 'sv-prowsyn'" in message
    assert "91 methods of family 'smote-variants'" in message and "smote, " in message
    assert "sv-adasyn," not in message  # listed by `bench list methods`, not in the error


def test_family_members_take_their_own_parameters():
    m = registry.create("sv-prowsyn", {"L": 3, "theta": 0.5}, random_state=4)
    assert (m.L, m.theta, m.n_neighbors, m.random_state) == (3, 0.5, 5, 4)
    assert {"L", "theta", "n_neighbors", "ratio", "random_state"} <= set(m.get_params())
    assert "proportion" not in m.get_params()  # set by the adapter from ratio
    with pytest.raises(TypeError, match=r"'sv-prowsyn'.*\['bogus'\].*its parameters are \[.*'theta'"):
        registry.create("sv-prowsyn", {"bogus": 1})


def test_a_suite_names_family_members_with_parameters(tmp_path):
    suite = tmp_path / "s.yaml"
    suite.write_text(f"catalog: {DATASETS_DIR / 'imbalanced.yaml'}\ndatasets: [haberman]\n"
                     "methods:\n  - sv-prowsyn: {L: 3}\n  - sv-polynom-fit-smote-poly\n")
    s = load_suite(str(suite))
    assert [(m.label, m.params) for m in s.methods if m.name.startswith("sv-")] == [
        ("sv-prowsyn(L=3)", {"L": 3}), ("sv-polynom-fit-smote-poly", {})]
    suite.write_text(suite.read_text().replace("{L: 3}", "{L: 3, proportion: 0.5}"))
    with pytest.raises(SuiteError, match=r"s.yaml:\d+: method 'sv-prowsyn' has no parameter\(s\) \['propor"):
        load_suite(str(suite))


def test_family_members_clone_and_pickle_like_any_class():
    import pickle

    from sklearn.base import clone

    m = registry.create("sv-prowsyn", {"L": 3}, random_state=4)
    again = pickle.loads(pickle.dumps(m))
    assert type(again) is type(m) is registry.resolve("sv-prowsyn")
    assert clone(m).get_params() == m.get_params() == again.get_params()
    assert "L=3" in repr(m)
