"""pytest plugin for running nbgrader's own test files with the kit's configuration loaded (tests/test_nbgrader_compat.py).

Loaded with ``-p tests.nbgrader_compat_plugin`` in the pytest that runs nbgrader's tests from the installed
package; not a test module of the kit. It

* fails (as an error of that test) every nbgrader test during which an nbgrader command was initialised
  *without* the kit's settings in its configuration, so a run in which the kit was not really loaded can
  never pass for a run with the kit;
* runs one share of the collected tests only (``--compat-chunk I/N``: every N-th test from the I-th), so the
  kit's suite can spread one nbgrader file over several pytest-xdist items;
* writes every test's outcome, and which tests were collected, to ``--compat-report PATH`` (JSON).
"""
from __future__ import annotations

import functools
import json

import pytest

# What the kit's nbgrader_config.py puts in each list (none of nbgrader's tests that the kit runs sets these).
KIT_SETTINGS = {
    ("GenerateAssignment", "preprocessors"): "autograder.nbgrader_ext.NamedClearSolutions",
    ("Autograde", "sanitize_preprocessors"): "autograder.nbgrader_ext.RestoreFromSource",
    ("Autograde", "autograde_preprocessors"): "autograder.nbgrader_ext.KitExecute",
    ("GenerateFeedback", "preprocessors"): "autograder.nbgrader_ext.StripFeedback",
}

_apps = {"with_kit": 0, "without_kit": []}


def missing_kit_settings(config) -> list[str]:
    """The kit settings that ``config`` lacks ([] when the kit's configuration was loaded)."""
    missing = []
    for (section, key), name in KIT_SETTINGS.items():
        value = config[section][key] if section in config and key in config[section] else []
        if not isinstance(value, (list, tuple)) or name not in value:
            missing.append(f"{section}.{key} without {name}")
    return missing


def pytest_addoption(parser):
    group = parser.getgroup("nbgrader-compat", "nbgrader's tests with the kit's configuration")
    group.addoption("--compat-chunk", default="0/1", help="run the I-th of N shares of the collected tests (I/N)")
    group.addoption("--compat-report", default=None, help="write each test's outcome to this JSON file")
    group.addoption("--compat-no-kit-check", action="store_true",
                    help="do not require the kit's settings in nbgrader's configuration (the baseline run)")


def pytest_configure(config):
    config._compat = {"collected": [], "selected": [], "outcomes": {}, "reasons": {}}
    if config.getoption("compat_no_kit_check"):
        return
    from nbgrader.apps.baseapp import NbGrader

    original = NbGrader.initialize
    if getattr(original, "_kit_compat", False):
        return

    @functools.wraps(original)
    def initialize(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        if getattr(self, "subapp", None) is None:  # the app that runs the command (not its NbGraderApp parent)
            missing = missing_kit_settings(self.config)
            if missing:
                _apps["without_kit"].append(f"{type(self).__name__}: " + "; ".join(missing))
            else:
                _apps["with_kit"] += 1
        return result

    initialize._kit_compat = True
    NbGrader.initialize = initialize


def pytest_collection_modifyitems(session, config, items):
    index, count = (int(x) for x in config.getoption("compat_chunk").split("/"))
    config._compat["collected"] = [item.nodeid for item in items]
    keep = [item for i, item in enumerate(items) if i % count == index]
    drop = [item for item in items if item not in keep]
    if drop:
        config.hook.pytest_deselected(items=drop)
    items[:] = keep
    config._compat["selected"] = [item.nodeid for item in keep]


@pytest.fixture(autouse=True)
def _kit_configuration_was_loaded(request):
    """Every nbgrader command a test ran must have had the kit's settings."""
    if request.config.getoption("compat_no_kit_check"):
        yield
        return
    _apps["without_kit"].clear()
    yield
    if _apps["without_kit"]:
        pytest.fail("the kit's nbgrader configuration was not loaded: " + " | ".join(_apps["without_kit"][:3]),
                    pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    compat = item.config._compat
    previous = compat["outcomes"].get(item.nodeid)
    if report.failed:
        state = "failed" if report.when == "call" else "error"
        if previous not in ("failed", "error"):
            compat["outcomes"][item.nodeid] = state
            compat["reasons"][item.nodeid] = str(report.longrepr).strip().splitlines()[-1][:300] \
                if report.longrepr else ""
    elif report.skipped:
        if previous is None:
            compat["outcomes"][item.nodeid] = "skipped"
            longrepr = report.longrepr
            compat["reasons"][item.nodeid] = str(longrepr[2] if isinstance(longrepr, tuple) else longrepr)[:300]
    elif report.when == "call" and previous is None:
        compat["outcomes"][item.nodeid] = "passed"


def pytest_sessionfinish(session, exitstatus):
    path = session.config.getoption("compat_report")
    if not path:
        return
    compat = session.config._compat
    with open(path, "w") as fh:
        json.dump({**compat, "apps_with_kit": _apps["with_kit"], "exitstatus": int(exitstatus)}, fh, indent=1)
