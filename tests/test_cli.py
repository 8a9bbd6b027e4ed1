"""The command line: each option says what it limits, and a name scripts already use keeps working."""
from __future__ import annotations

from autograder.cli import build_parser


def _args(*argv):
    return build_parser().parse_args(list(argv))


def test_grade_limits_one_cell_and_class_grade_one_student():
    assert _args("grade", "nb.ipynb", "--cell-timeout", "30").cell_timeout == 30
    assert _args("class-grade", "course", "autoencoders", "--student-timeout", "600").student_timeout == 600
    assert _args("grade", "nb.ipynb").cell_timeout is None
    assert _args("class-grade", "course", "autoencoders").student_timeout is None


def test_the_old_timeout_option_still_means_what_it_meant_in_each_command():
    assert _args("grade", "nb.ipynb", "--timeout", "30").cell_timeout == 30
    assert _args("class-grade", "course", "autoencoders", "--timeout", "600").student_timeout == 600


def test_help_names_the_unit_of_each_timeout(capsys):
    for command, option, unit in (("grade", "--cell-timeout", "one notebook cell"),
                                  ("class-grade", "--student-timeout", "one student's whole assignment")):
        try:
            _args(command, "--help")
        except SystemExit:
            pass
        text = " ".join(capsys.readouterr().out.split())
        assert option in text and unit in text, text
        assert "--timeout" not in text.replace(option, "")
