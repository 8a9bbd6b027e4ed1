"""Which students handed in much the same work: winnowing fingerprints (copydetect, as MOSS), by index.

Each student's notebook gives two documents: the code of the cells they could edit, and their
written answers. The release is excluded twice over: a cell identical to a release cell is
dropped, and every k-gram of the release (the answer templates and the visible scaffolding, code
and text) is boilerplate that never counts as shared. Code is filtered first, as copydetect does
(variable, function and class names become V, F, O, strings S, comments and spaces vanish;
:mod:`.tokens`), so renamed variables and rewritten comments hide nothing; fingerprints are
position-free, so reordered functions hide nothing either.

No pair is compared with every other: an inverted index from fingerprint to the documents that
hold it counts, per pair of students, the fingerprints they share. Only pairs sharing a fair part
of the smaller document's fingerprints are compared with ``copydetect.compare_files`` (which also
finds the matching regions for the side-by-side view). A fingerprint found in more than
:func:`common_limit` students' documents is common knowledge (an idiom, the one obvious line)
and is dropped like boilerplate, as MOSS does.

A pair's similarity, per direction: the share of a student's own fingerprinted code (over all
notebooks) that matches the other's; its score is the larger of the two, or the larger share within
one notebook when at least :data:`MIN_OVERLAP` characters of it match (one copied notebook among
others written alone). It ranks pairs for a person to read; it never changes a score.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from copydetect import CodeFingerprint, compare_files
from copydetect.utils import get_token_coverage, highlight_overlap

from autograder.classreport.collect import ClassData, source_text
from autograder.classreport.tokens import document_fingerprints, filter_python, kgram_hashes

NOISE = 25  # k: the shortest match that counts, in filtered characters (copydetect's default)
GUARANTEE = 30  # any match this long is always found (the winnowing window is GUARANTEE - NOISE + 1)
CANDIDATE = 0.15  # compare a pair when it shares this share of the smaller document's fingerprints
MIN_SHARED = 2
TOP = 25  # pairs the report lists
SHOW_ABOVE = 0.4  # ... when their similarity is at least this
MIN_OVERLAP = 80  # ... and they share at least this many filtered characters (a few lines of code)
KINDS = ("code", "text")


@dataclass
class Doc:
    student: str
    notebook: str
    kind: str
    text: str
    fp: CodeFingerprint | None = None

    @property
    def coverage(self) -> float:
        return float(self.fp.token_coverage) if self.fp is not None else 0.0


@dataclass
class Match:
    """One notebook document of both students."""
    notebook: str
    kind: str
    similarity: tuple[float, float]
    overlap: int  # matching filtered characters
    left: str = ""  # highlighted HTML (escaped, <mark> around matching regions)
    right: str = ""


@dataclass
class Pair:
    a: str
    b: str
    similarity: tuple[float, float]  # of a's work that matches b's, of b's that matches a's (all notebooks)
    overlap: int
    matches: list[Match] = field(default_factory=list)

    @cached_property
    def score(self) -> float:
        """The larger share over the whole assignment, or in one notebook when that notebook alone matches
        substantially (a copied notebook among notebooks written alone)."""
        best = max((max(m.similarity) for m in self.matches if m.overlap >= MIN_OVERLAP), default=0.0)
        return max(*self.similarity, best)

    def to_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "score": round(self.score, 4),
                "similarity_a": round(self.similarity[0], 4), "similarity_b": round(self.similarity[1], 4),
                "overlap": self.overlap,
                "notebooks": [{"notebook": m.notebook, "kind": m.kind, "similarity_a": round(m.similarity[0], 4),
                               "similarity_b": round(m.similarity[1], 4), "overlap": m.overlap}
                              for m in self.matches]}


@dataclass
class Similarity:
    pairs: list[Pair]  # every compared pair, most similar first
    documents: int
    candidates: int  # pairs compared (of all possible pairs)
    possible: int
    common: int  # fingerprints dropped as common
    scores: list[float] = field(default_factory=list)
    listed: list[Pair] = field(default_factory=list)  # what the report lists: top(TOP, SHOW_ABOVE)

    def top(self, n: int = TOP, above: float = SHOW_ABOVE) -> list[Pair]:
        return [p for p in self.pairs if p.score >= above and p.overlap >= MIN_OVERLAP][:n]

    def listed_with(self, student: str) -> list[Pair]:
        return [p for p in self.listed if student in (p.a, p.b)]


def common_limit(n_students: int) -> int:
    """A fingerprint in more students' documents than this is common (MOSS's -m is 10)."""
    return max(10, math.ceil(0.1 * n_students))


# ---------------------------------------------------------------- documents
def _release_text(nb) -> tuple[set[str], set[str]]:
    """The release's cell sources and its lines (stripped), over code and markdown cells."""
    cells = [source_text(c) for c in nb.cells if c.get("cell_type") in ("code", "markdown")]
    return {c.strip() for c in cells}, {line.strip() for c in cells for line in c.splitlines() if line.strip()}


def own_lines(source: str, released_lines: set[str]) -> str:
    """A cell without the lines the release already has (the template's signature, docstring, placeholders)."""
    return "\n".join(line for line in source.splitlines() if line.strip() and line.strip() not in released_lines)


def documents(data: ClassData) -> list[Doc]:
    """Per student and notebook, the code they wrote and their written answers (the release left out)."""
    docs = []
    for info in data.notebooks:
        cells, lines = _release_text(data.release[info.name]) if info.name in data.release else (set(), set())
        for student in data.students:
            sub = student.notebooks.get(info.name)
            if sub is None or not sub.editable:
                continue
            for kind in KINDS:
                parts = [(name, own) for name, ctype, src in sub.editable
                         if (ctype == "code") == (kind == "code") and src.strip() not in cells
                         and (own := own_lines(src, lines))]
                if not parts:
                    continue
                if kind == "code":
                    text = "".join(f"# ── cell {name} ──\n{src}\n\n" for name, src in parts)
                else:
                    text = "".join(f"{src}\n\n" for _, src in parts)
                docs.append(Doc(student.id, info.name, kind, text))
    return docs


def _fingerprint(text: str, kind: str, window: int, boilerplate: np.ndarray | None = None) -> CodeFingerprint:
    """copydetect's fingerprint of a document: code filtered (names, strings, comments), k-grams winnowed,
    the boilerplate's k-grams left out.

    ``CodeFingerprint(...)`` would lex with pygments and hash with Python's ``hash`` (another seed in every
    process); :func:`filter_python` gives the same filtered text and offsets faster, the k-grams are hashed
    alike in every run, and the rest is copydetect's own winnowing and bookkeeping.
    """
    filtered, offsets = filter_python(text) if kind == "code" else (text, np.array([]))
    hashes, idx = document_fingerprints(filtered, NOISE, window, boilerplate)
    fp = CodeFingerprint.__new__(CodeFingerprint)
    fp.filename, fp.raw_code, fp.filtered_code, fp.offsets = f"{kind} document", text, filtered, offsets
    fp.hashes, fp.hash_idx, fp.k = hashes, idx, NOISE
    fp.token_coverage = get_token_coverage(idx, NOISE, len(filtered))
    return fp


def boilerplate(data: ClassData) -> dict[tuple[str, str], np.ndarray]:
    """(notebook, kind) -> every k-gram hash of the release's cells of that kind, sorted."""
    out = {}
    for name, nb in data.release.items():
        for kind in KINDS:
            text = "\n\n".join(source_text(c) for c in nb.cells if (c.get("cell_type") == "code") == (kind == "code")
                               and c.get("cell_type") in ("code", "markdown"))
            filtered = filter_python(text)[0] if kind == "code" else text
            out[(name, kind)] = np.unique(kgram_hashes(filtered, NOISE))
    return out


def fingerprint_all(docs: list[Doc], bp: dict) -> None:
    """Every document's fingerprint (a millisecond each: a pool of processes would cost more than it saves)."""
    for doc in docs:
        try:
            doc.fp = _fingerprint(doc.text, doc.kind, GUARANTEE - NOISE + 1, bp.get((doc.notebook, doc.kind)))
        except Exception:  # a document that cannot be fingerprinted is left out, never the report
            doc.fp = None


def _drop(fp: CodeFingerprint, hashes: set) -> None:
    drop = fp.hashes & hashes
    if drop:
        fp.hashes = fp.hashes - drop
        fp.hash_idx = {h: i for h, i in fp.hash_idx.items() if h not in drop}
        fp.token_coverage = get_token_coverage(fp.hash_idx, fp.k, len(fp.filtered_code))


# ---------------------------------------------------------------- the index
def candidate_pairs(docs: list[Doc], limit: int) -> tuple[dict[tuple[str, str], list[tuple[int, int]]], int]:
    """{(a, b): [(doc of a, doc of b)...]} of pairs worth comparing, and the number of common fingerprints."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, doc in enumerate(docs):
        if doc.fp is not None and doc.fp.hashes:
            groups[(doc.notebook, doc.kind)].append(i)
    found: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    n_common = 0
    for members in groups.values():
        hashes = np.concatenate([np.fromiter(docs[i].fp.hashes, dtype=np.int64) for i in members])
        owners = np.concatenate([np.full(len(docs[i].fp.hashes), k, dtype=np.int64) for k, i in enumerate(members)])
        order = np.argsort(hashes, kind="stable")
        hashes, owners = hashes[order], owners[order]
        starts = np.flatnonzero(np.r_[True, hashes[1:] != hashes[:-1]])
        sizes = np.diff(np.r_[starts, len(hashes)])
        common = set(hashes[starts[sizes > limit]].tolist())
        n_common += len(common)
        for i in members:
            _drop(docs[i].fp, common)
        keys = []
        for start, size in zip(starts[(sizes >= 2) & (sizes <= limit)], sizes[(sizes >= 2) & (sizes <= limit)]):
            own = owners[start:start + size]
            a, b = np.triu_indices(size, 1)
            keys.append(own[a] * len(members) + own[b])
        if not keys:
            continue
        pair_keys, shared = np.unique(np.concatenate(keys), return_counts=True)
        sizes_of = np.array([len(docs[i].fp.hashes) for i in members])
        for key, count in zip(pair_keys.tolist(), shared.tolist()):
            x, y = divmod(key, len(members))
            smaller = max(1, min(sizes_of[x], sizes_of[y]))
            if count >= MIN_SHARED and count / smaller >= CANDIDATE:
                i, j = members[x], members[y]
                if docs[i].student > docs[j].student:
                    i, j = j, i
                found[(docs[i].student, docs[j].student)].append((i, j))
    return found, n_common


# ---------------------------------------------------------------- comparing the candidates
def compare(docs: list[Doc], found: dict) -> list[Pair]:
    coverage: dict[str, float] = defaultdict(float)
    for doc in docs:
        coverage[doc.student] += doc.coverage
    pairs = []
    for (a, b), doc_pairs in found.items():
        matches, over_a, over_b = [], 0.0, 0.0
        for i, j in doc_pairs:
            overlap, sims, _ = compare_files(docs[i].fp, docs[j].fp)
            if overlap <= 0:
                continue
            matches.append(Match(docs[i].notebook, docs[i].kind, (float(sims[0]), float(sims[1])), int(overlap)))
            over_a += sims[0] * docs[i].coverage
            over_b += sims[1] * docs[j].coverage
        if matches:
            sim = (over_a / coverage[a] if coverage[a] else 0.0, over_b / coverage[b] if coverage[b] else 0.0)
            pairs.append(Pair(a, b, (min(1.0, sim[0]), min(1.0, sim[1])), sum(m.overlap for m in matches), matches))
    pairs.sort(key=lambda p: (-p.score, -p.overlap, p.a, p.b))
    return pairs


def _marked(doc: Doc, slices) -> str:
    from markupsafe import escape

    if len(slices[0]) == 0:
        return str(escape(doc.text))
    text, _ = highlight_overlap(doc.text, np.asarray(slices), '<mark>', '</mark>', escape_html=True)
    return text


def add_highlights(docs: list[Doc], found: dict, pairs: list[Pair]) -> None:
    """The side-by-side view of the listed pairs: both documents, the matching regions marked."""
    for pair in pairs:
        lookup = {(docs[i].notebook, docs[i].kind): (i, j) for i, j in found[(pair.a, pair.b)]}
        for match in pair.matches:
            i, j = lookup[(match.notebook, match.kind)]
            _, _, (left, right) = compare_files(docs[i].fp, docs[j].fp)
            match.left, match.right = _marked(docs[i], left), _marked(docs[j], right)


def similar_pairs(data: ClassData, top: int = TOP, above: float = SHOW_ABOVE) -> Similarity:
    docs = documents(data)
    fingerprint_all(docs, boilerplate(data))
    students = {d.student for d in docs}
    found, n_common = candidate_pairs(docs, common_limit(len(students)))
    pairs = compare(docs, found)
    result = Similarity(pairs, len(docs), len(found), len(students) * (len(students) - 1) // 2, n_common,
                        [p.score for p in pairs])
    result.listed = result.top(top, above)
    add_highlights(docs, found, result.listed)
    return result



