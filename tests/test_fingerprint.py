"""The grader's files and the MNIST folders are fingerprinted: a change while a notebook runs is seen."""
from autograder import fingerprint


def test_fingerprints_change_when_a_grader_file_changes(tmp_path):
    package = tmp_path / "autograder"
    package.mkdir()
    (package / "a.py").write_text("x = 1\n")
    before = fingerprint.code_fingerprint([package])
    (package / "a.py").write_text("x = 2\n")
    assert fingerprint.code_fingerprint([package]) != before
    assert fingerprint.code_fingerprint() == fingerprint.code_fingerprint()


def test_the_data_fingerprint_sees_a_file_written_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    (tmp_path / "MNIST").mkdir()
    before = fingerprint.data_fingerprint()
    (tmp_path / "MNIST" / "poisoned.pt").write_bytes(b"x")
    assert fingerprint.data_fingerprint() != before
