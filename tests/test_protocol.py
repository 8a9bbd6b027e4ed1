"""How the executor and the grader in the kernel talk: a key over a pipe, signed results, fingerprints."""
import hashlib
import hmac
import os
import subprocess
import sys

from autograder import protocol


def test_signatures_bind_every_field_to_the_key():
    key = protocol.new_key()
    signer = hmac.new(key, digestmod=hashlib.sha256)
    result = {"kind": "check", "nonce": "n1", "cell": {"grade_id": "f", "score": 1.0}}
    signature = protocol.sign(signer, result)
    assert protocol.verify(key, result, signature)
    assert not protocol.verify(protocol.new_key(), result, signature)
    assert not protocol.verify(key, {**result, "nonce": "n2"}, signature)
    assert not protocol.verify(key, {**result, "cell": {"grade_id": "f", "score": 2.0}}, signature)
    assert not protocol.verify(key, result, None) and not protocol.verify(key, {"x": float("nan")}, "0")


def test_the_key_crosses_a_pipe_that_is_closed_after_reading():
    read_end, write_end = os.pipe()
    key = protocol.new_key()
    os.write(write_end, key)
    os.close(write_end)
    assert bytes(protocol.read_key(read_end)) == key
    try:
        os.fstat(read_end)
        raise AssertionError("the pipe is still open")
    except OSError:
        pass


def test_the_grading_kernel_refuses_to_start_without_the_executor():
    proc = subprocess.run([sys.executable, "-I", "-m", "autograder.kernel", "-f", "/tmp/none.json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "only the kit's executor starts it" in proc.stderr


def test_fingerprints_change_when_a_grader_file_changes(tmp_path):
    package = tmp_path / "autograder"
    package.mkdir()
    (package / "a.py").write_text("x = 1\n")
    before = protocol.code_fingerprint([package])
    (package / "a.py").write_text("x = 2\n")
    assert protocol.code_fingerprint([package]) != before
    assert protocol.code_fingerprint() == protocol.code_fingerprint()
