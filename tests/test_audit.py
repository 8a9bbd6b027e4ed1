"""The static audit flags what tampering needs, by line, and raises no false alarm on honest work."""
import pytest

from autograder import samples
from autograder.audit import audit_notebook, audit_source
from tests.hostile import forgery
from tests.kit import RELEASE_NOTEBOOKS, notebooks, read

ATTACKS = {  # source -> words its flags must contain
    forgery.SYS_PATH_PACKAGE: "sys.path", forgery.META_PATH_FINDER: "sys.meta_path",
    forgery.IMPORT_HOOK: "builtins", forgery.WRAP_ENTRY_POINT: "imports the grader",
    forgery.FLOAT_FORMATTER: "formatter", forgery.DISPLAY_FORMAT: "formatters", forgery.KIT_MIME: "output type",
    forgery.EVENTS_AND_DISPLAYHOOK: "events", forgery.FAKE_HANDLER: "message handlers",
    forgery.PATCH_DURING_CHECK: "replaces a library attribute", forgery.BACKGROUND_THREAD: "starts a thread",
    forgery.HUNT_THE_KEY: "/proc", forgery.STEAL_KEY: "closures",
    "import ctypes\nctypes.string_at(0x1000, 32)": "ctypes",
    "import gc\nkey = [o for o in gc.get_objects() if type(o).__name__ == 'HMAC']": "gc",
    "import sys\nframe = sys._getframe(1)\nframe.f_back.f_locals": "frames",
    "open('/tmp/x/sitecustomize.py', 'w').write('import os')": "code, config or system file",
    "from pathlib import Path\nPath('helpers.py').write_text('x = 1')": "code, config or system file",
    "%%writefile grader.py\nprint(1)": "code, config or system file",
    "!cat /proc/self/environ": "shell command",
    "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)": "signal",
    "import sys\nsys.settrace(lambda *a: None)": "trace hook",
    "from torch.overrides import TorchFunctionMode": "intercepts torch",
    "x = eval('1 + 1')": "eval",
    "import torch\nsetattr(torch, 'allclose', lambda *a, **k: True)": "library object",
}


@pytest.mark.parametrize("source,words", list(ATTACKS.items()), ids=[f"attack{i}" for i in range(len(ATTACKS))])
def test_each_technique_is_flagged_with_its_line(source, words):
    found = audit_source(source)
    assert any(words in reason for _, reason in found), found
    assert all(1 <= line <= len(source.splitlines()) for line, _ in found)


def test_flags_name_the_cell_and_line():
    from tests.kit import check, code, notebook, solution

    nb = notebook([code("import torch", "setup"), solution("def f():\n    import gc\n    return gc", "f_sol"),
                   check("f", 1, "import gc  # the instructor's cell: never audited")])
    (flag,) = audit_notebook(nb)
    assert (flag.cell, flag.line, flag.code) == ("f_sol", 2, "import gc") and "gc" in flag.reason
    assert flag.text().startswith("needs review: cell f_sol, line 2: uses gc")


@pytest.mark.parametrize("notebook", notebooks(), ids=lambda p: p.stem)
def test_no_false_alarm_on_solutions_and_releases(notebook):
    assert audit_notebook(read(notebook)) == []
    assert audit_notebook(read(RELEASE_NOTEBOOKS / notebook.name)) == []


@pytest.mark.parametrize("module", samples.modules(), ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_no_false_alarm_on_the_sample_submissions(module):
    cases = [case for case, _ in module.BUGGY.values()] + list(module.ALTERNATIVES.values())
    cases.append(module.PARTIAL_MISTAKES)
    for replace in cases:
        for grade_id, source in replace.items():
            assert audit_source(source) == [], (module.NOTEBOOK, grade_id, audit_source(source))
