"""Python code as copydetect compares it: tokenized by one regular expression instead of pygments, and
k-grams hashed the same way in every process.

copydetect's ``filter_code`` lexes with pygments and replaces variable names with ``V``, function
names with ``F``, class names with ``O``, strings with ``S`` and drops comments and white space;
the result and its offsets (where characters were removed, to map matches back onto the source)
feed its winnowing. Lexing with pygments costs about 20 ms for a notebook's answers: a minute for a
class of 300. :func:`filter_python` gives the same kind of filtered text and offsets in the same
format from a single compiled regular expression, about ten times faster. Keywords, builtins,
``self``, numbers, operators and imported module names stay as they are, as with pygments.

copydetect hashes k-grams with Python's ``hash``, which is salted per process: winnowing would pick
other fingerprints in every run (and in every worker process). :func:`kgram_hashes` is a fixed hash,
so the report gives the same pairs and scores every time it is written.
"""
from __future__ import annotations

import builtins
import keyword
import re

import numpy as np

_TOKEN = re.compile(r"""
 (?P<ws>(?:[ \t\f\r\n]|\\\r?\n)+)
|(?P<comment>\#[^\r\n]*)
|(?P<string>(?P<prefix>[rRbBuUfF]{1,2})?(?:'''[\s\S]*?(?:'''|\Z)|\"\"\"[\s\S]*?(?:\"\"\"|\Z)
           |'(?:\\.|[^\\'\r\n])*'?|"(?:\\.|[^\\"\r\n])*"?))
|(?P<number>0[xXbBoO][0-9a-fA-F_]+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?[jJ]?)
|(?P<name>[^\W\d]\w*)
|(?P<op>\*\*=?|//=?|>>=?|<<=?|->|:=|\.\.\.|[-+*/%@&|^=<>!]=|\S)
""", re.VERBOSE)

LITERAL_NAMES = frozenset(keyword.kwlist) | frozenset(dir(builtins)) | {"self", "cls"}


def _name_token(name: str, previous: str, mode: str) -> str:
    if previous == "def" or (name.startswith("__") and name.endswith("__") and len(name) > 4):
        return "F"
    if previous == "class":
        return "O"
    if previous == "." and mode == "":  # an attribute, even one named like a builtin (.float(), .sum())
        return "V"
    if name in LITERAL_NAMES or mode in ("import", "from"):  # module names stay, as pygments' Name.Namespace
        return name
    return "V"


def _string_token(text: str, prefix: str | None) -> str:
    body = text[len(prefix or ""):]
    out = "S" if prefix else ""
    if body[:3] in ("'''", '"""'):
        return out + "S"
    return out + ('""' if len(body) <= 2 else '"S"')


def _mode(name: str, mode: str) -> str:
    """Where an import statement is: "import" (module names), "from" (the module), "names" (what is imported)."""
    if name == "import":
        return "names" if mode == "from" else "import"
    if name == "from" and mode == "":
        return "from"
    return mode


def filter_python(code: str) -> tuple[str, np.ndarray]:
    """(filtered code, offsets) as ``copydetect.utils.filter_code`` returns them."""
    out: list[str] = []
    length = offset = 0
    offsets = [[0, 0]]
    previous, mode = "", ""
    for m in _TOKEN.finditer(code):
        kind, text = m.lastgroup if m.lastgroup != "prefix" else "string", m.group()
        if kind in ("ws", "comment"):
            offsets.append([length - 1, offset])
            offset += len(text)
            if "\n" in text and not text.rstrip(" \t").endswith("\\\n"):
                mode = ""
            continue
        if kind == "name":
            token = _name_token(text, previous, mode)
            mode = _mode(text, mode)
            previous = text
        elif kind == "string":
            token, previous = _string_token(text, m.group("prefix")), "S"
        else:
            token, previous = text, text
        out.append(token)
        length += len(token)
        if token != text:
            offsets.append([length - 1, offset])
            offset += len(text) - len(token)
    return "".join(out), np.array(offsets)


# ---------------------------------------------------------------- hashing, the same in every process
_BASE = np.uint64(0x100000001B3)
_MIX = np.uint64(0xBF58476D1CE4E5B9)


def kgram_hashes(text: str, k: int) -> np.ndarray:
    """A 64-bit hash of every k-character substring, as ``copydetect.utils.hashed_kgrams`` gives with
    Python's ``hash`` but the same in every process and run (a polynomial hash, then mixed)."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    n = len(codes) - k + 1
    if n <= 0:
        return np.array([], dtype=np.int64)
    with np.errstate(over="ignore"):
        h = np.zeros(n, dtype=np.uint64)
        for j in range(k):  # k vector steps, each over every k-gram at once (arithmetic mod 2**64)
            h = h * _BASE + codes[j:j + n]
        h ^= h >> np.uint64(31)
        h *= _MIX
        h ^= h >> np.uint64(29)
    return h.view(np.int64)


def document_fingerprints(text: str, k: int, window: int, exclude: np.ndarray | None = None) -> tuple[set, dict]:
    """copydetect's ``get_document_fingerprints`` (its robust winnowing), on :func:`kgram_hashes`, without the
    hashes in ``exclude`` (a sorted array: the boilerplate)."""
    from copydetect.utils import winnow

    hashes, idx = winnow(kgram_hashes(text, k), window_size=window, remove_duplicates=False)
    if exclude is not None and len(exclude) and len(hashes):
        at = np.minimum(np.searchsorted(exclude, hashes), len(exclude) - 1)
        keep = exclude[at] != hashes
        hashes, idx = hashes[keep], idx[keep]
    hash_dict: dict = {}
    for value, i in zip(hashes.tolist(), idx.tolist()):
        hash_dict.setdefault(value, []).append(i)
    return set(hash_dict), hash_dict
