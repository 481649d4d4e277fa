"""index.html in a real headless browser: it loads from disk with no console errors and no network, every
figure shows, and clicking a column header sorts the table.

Needs Debian's chromium (``make test`` installs it: ``apt-get install -y --no-install-recommends chromium``) and
the ``playwright`` Python package (the ``test`` extra). Playwright's own browser download is not used: the test
launches the system chromium through ``executable_path`` (override with ``BENCH_CHROMIUM=/path/to/chrome``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bench.leaderboard import report
from tests.test_leaderboard import synthetic_store

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOW = ("install it with `make test` (which runs `apt-get install -y --no-install-recommends chromium`), "
       "or point BENCH_CHROMIUM at a Chrome/Chromium binary")


def chromium() -> str:
    """The system chromium, or a failure that says how to get one (never a silent skip)."""
    candidates = [os.environ.get("BENCH_CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser"),
                  "/usr/bin/chromium"]
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    pytest.fail(f"no chromium found for the browser test: {HOW}", pytrace=False)


@pytest.fixture(scope="module")
def page_url(tmp_path_factory) -> str:
    tmp = tmp_path_factory.mktemp("browser")
    store = synthetic_store(tmp / "r.sqlite", n_datasets=4, classifiers=("xgboost",), folds=2)
    report.write(store.frame("toy"), "toy", tmp / "lb")
    return (tmp / "lb" / "index.html").as_uri()


@pytest.fixture(scope="module")
def browser():
    exe = chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the browser test needs playwright: pip install -e '.[test]' (or `make test`)", pytrace=False)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, timeout=120_000)
        yield b
        b.close()


def column(table, i: int) -> list[str]:
    return table.locator(f"tbody tr td:nth-child({i})").all_inner_texts()


def test_page_loads_offline_without_errors(browser, page_url):
    page = browser.new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(page_url, wait_until="load")
    assert errors == []
    assert all(u.startswith(("file://", "data:")) for u in requests), requests
    assert page.title() == "Leaderboard: toy"
    images = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.getAttribute('src'), i.naturalWidth])")
    assert len(images) >= 5 and all(width > 0 for _, width in images), images
    page.close()


def test_clicking_a_header_sorts_the_rows(browser, page_url):
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(page_url, wait_until="load")
    table = page.locator("#headline-xgboost-minority_recall")
    by_rank = column(table, 2)  # method names, best mean rank first
    assert len(by_rank) == 5

    header = table.locator("thead th").nth(1)  # "method"
    header.click()
    ascending = column(table, 2)
    assert ascending == sorted(by_rank) and ascending != by_rank
    assert header.get_attribute("aria-sort") == "ascending"
    header.click()
    assert column(table, 2) == sorted(by_rank, reverse=True)

    table.locator("thead th").nth(2).click()  # "mean rank": numbers sort as numbers, back to rank order
    ranks = [float(x) for x in column(table, 3) if x != "—"]
    assert ranks == sorted(ranks) and column(table, 2)[: len(ranks)] == by_rank[: len(ranks)]

    details = page.locator("#xgboost-minority_recall details")  # per-dataset table: a hidden table sorts too
    details.locator("summary").click()
    per_dataset = details.locator("table")
    first_method = per_dataset.locator("thead th").nth(1)
    first_method.click()
    values = [float(x.split()[0]) for x in column(per_dataset, 2) if x[0].isdigit()]
    assert values == sorted(values)
    assert errors == []
    page.close()
