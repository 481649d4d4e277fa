"""The Ray executor on a local Ray: same results as the process pool, failures and timeouts become rows."""

import pytest

ray = pytest.importorskip("ray")

from bench import runner  # noqa: E402
from bench.config import load_suite  # noqa: E402
from bench.executors import InlineExecutor, RayExecutor  # noqa: E402
from bench.store import ResultsStore  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")
def test_ray_runs_cells_and_records_failures(toy_suite, tmp_path, local_ray):
    path = toy_suite(["smote", "tests.plugins:Raising", "tests.plugins:Hanging"])
    suite = load_suite(str(path))
    store = ResultsStore(tmp_path / "r.sqlite")
    hanging = "tests.plugins:Hanging"
    # Real cells run without a time limit: on a loaded box Ray's workers (niced) took over 30 s for a toy cell
    # that takes under a second idle. Only the hanging cells meet a limit, so the test cannot time out a real one.
    real = suite.select(methods=[m.label for m in suite.methods if m.label != hanging])
    first = runner.run(real, store, RayExecutor(timeout=None, memory_gb=None), data_dir=path.parent,
                       show_progress=False)
    second = runner.run(suite, store, RayExecutor(timeout=5, memory_gb=None), data_dir=path.parent,
                        show_progress=False)
    status = store.frame("toy").groupby("method")["status"].agg(set).to_dict()
    assert status == {"none": {"ok"}, "duplication": {"ok"}, "smote": {"ok"}, "class-weights": {"ok"},
                      "threshold": {"ok"},
                      "tests.plugins:Raising": {"error"}, hanging: {"timeout"}}
    assert (first.ok, first.failed) == (15, 3) and (second.executed, second.failed) == (3, 3)
    assert (store.frame("toy").query("status == 'timeout'")["seconds"] == 5).all()  # its limit, from its start
    # the same cells give the same numbers in-process
    inline = ResultsStore(tmp_path / "inline.sqlite")
    runner.run(suite.select(methods=["smote"]), inline, InlineExecutor(), data_dir=path.parent, show_progress=False)
    cols = ["key", "minority_recall", "mcc"]
    ours = store.frame("toy").query("method == 'smote'")[cols].reset_index(drop=True)
    assert ours.equals(inline.frame("toy")[cols].query("key in @ours.key").reset_index(drop=True))


def _dies():
    import os

    os._exit(1)


def test_a_cancelled_cell_whose_worker_is_reported_dead_is_a_timeout(local_ray):
    # ray.cancel(force=True) kills the worker, and Ray may report that as the worker's death rather than as the
    # cancel: a cell the driver cancelled for running past its limit is a timeout either way, any other death a
    # crash.
    executor = RayExecutor(timeout=5, memory_gb=None)
    ref = ray.remote(max_retries=0)(_dies).remote()
    with pytest.raises(ray.exceptions.WorkerCrashedError):
        ray.get(ref)
    assert executor._outcome(ref, cancelled=True).status == "timeout"
    assert executor._outcome(ref, cancelled=False).status == "crashed"
