"""The student release is generated from solutions/, never edited by hand, and hides what it must."""
import json
import re

import pytest

from autograder.cells import check_line, is_check_cell, is_kit_notebook
from tests.kit import (REPO, RELEASE_NOTEBOOKS, SOLUTION_NOTEBOOKS, check_cells, nbgrader_meta, notebooks, plain_lines,
                       read, rubrics)


def test_every_notebook_has_a_release():
    assert notebooks(), "no source notebooks"
    assert sorted(p.name for p in RELEASE_NOTEBOOKS.glob("*")) == sorted(p.name for p in notebooks())


@pytest.mark.slow
def test_committed_release_equals_a_fresh_generation(tmp_path):
    from autograder.course import generate_release

    fresh = generate_release(tmp_path / "release")
    for nb in notebooks():
        committed = json.loads((RELEASE_NOTEBOOKS / nb.name).read_text())
        generated = json.loads((fresh / nb.name).read_text())
        assert committed == generated, f"{nb.name}: assignments/ is stale: run `make release` (autograder release)"
    assert sorted(p.name for p in fresh.iterdir()) == sorted(p.name for p in RELEASE_NOTEBOOKS.iterdir())


def _solution_lines(nb) -> set[str]:
    lines = set()
    for cell in nb.cells:
        inside = False
        for line in cell.source.splitlines():
            if "### BEGIN SOLUTION" in line:
                inside = True
            elif "### END SOLUTION" in line:
                inside = False
            elif inside and len(line.strip()) > 12:
                lines.add(line.strip())
    return lines


def _hidden_check_lines() -> set[str]:
    lines = set()
    for path in (REPO / "autograder" / "checks").glob("*.py"):
        for line in path.read_text().splitlines():
            line = line.strip()
            if len(line) > 25 and not line.startswith(("#", "import", "from", '"""', "return", "raise")):
                lines.add(line)
    return lines


@pytest.mark.parametrize("notebook", notebooks(), ids=lambda p: p.stem)
def test_release_holds_no_solution_and_no_hidden_check(notebook):
    release_text = (RELEASE_NOTEBOOKS / notebook.name).read_text()
    released = read(RELEASE_NOTEBOOKS / notebook.name)
    sources = "\n".join(c.source for c in released.cells)
    assert "BEGIN SOLUTION" not in release_text and "BEGIN HIDDEN" not in release_text
    leaked = [line for line in _solution_lines(read(notebook)) if line in sources]
    # A line may legitimately stand outside a solution region too (a signature, a docstring).
    outside = "\n".join(re.sub(r"### BEGIN SOLUTION.*?### END SOLUTION", "", c.source, flags=re.S)
                        for c in read(notebook).cells)
    leaked = [line for line in leaked if line not in outside]
    assert not leaked, f"solution lines in the release: {leaked[:3]}"
    hidden = [line for line in _hidden_check_lines() if line in sources]
    assert not hidden, f"hidden-check code in the release: {hidden[:3]}"
    assert "pytest.mark" not in release_text and "def test_" not in release_text


@pytest.mark.parametrize("notebook", notebooks(), ids=lambda p: p.stem)
def test_the_tas_rubrics_are_not_in_the_release(notebook):
    """Each written answer of the solutions holds its rubric; the student's copy has only the answer box."""
    found = rubrics(notebook)
    assert found and all(len(plain_lines(text)) >= 2 for text in found.values()), found
    release_text = (RELEASE_NOTEBOOKS / notebook.name).read_text()
    leaked = [line for text in found.values() for line in plain_lines(text) if line in release_text]
    assert not leaked, f"rubric lines in the release: {leaked[:3]}"
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in read(RELEASE_NOTEBOOKS / notebook.name).cells
               if c.metadata.get("nbgrader", {}).get("grade_id") in found}
    assert answers == {gid: "YOUR ANSWER HERE" for gid in found}, answers


@pytest.mark.parametrize("notebook", notebooks(), ids=lambda p: p.stem)
def test_blanks_name_their_function(notebook):
    for cell in read(RELEASE_NOTEBOOKS / notebook.name).cells:
        for match in re.finditer(r"raise NotImplementedError\((.*)\)", cell.source):
            assert re.fullmatch(r'"Student exercise: [A-Za-z_][\w.]*"', match.group(1)), match.group(0)


@pytest.mark.parametrize("notebook", notebooks(), ids=lambda p: p.stem)
def test_check_cells_are_one_line_worth_their_checks(notebook):
    from autograder import registry

    for folder in (SOLUTION_NOTEBOOKS, RELEASE_NOTEBOOKS):
        nb = read(folder / notebook.name)
        assert is_kit_notebook(nb), f"{folder.name}/{notebook.name} is not marked as a kit notebook"
        cells = check_cells(nb)
        assert cells, "a graded notebook has check cells"
        for cell in nb.cells:
            if is_check_cell(cell):
                gid = nbgrader_meta(cell)["grade_id"]
                assert cell.source == check_line(gid, registry.cell_points(gid)), gid
                assert nbgrader_meta(cell).get("locked"), gid


def test_sync_finds_nothing_to_change():
    """Points are declared on the checks; `autograder sync` writes them into the notebooks (make release runs it)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "sync", "--check"], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_grade_ids_are_unique():
    """nbgrader needs unique ids within a notebook; the check registry needs check ids unique across all."""
    checks = {}
    for notebook in notebooks():
        ids = [nbgrader_meta(c).get("grade_id") for c in read(notebook).cells if nbgrader_meta(c).get("grade_id")]
        assert len(ids) == len(set(ids)), f"duplicate grade ids in {notebook.name}"
        for gid in check_cells(read(notebook)):
            assert gid not in checks, f"check cell {gid} in both {checks[gid]} and {notebook.name}"
            checks[gid] = notebook.name
    from autograder import registry

    orphans = set(registry.all_cells()) - set(checks)
    assert not orphans, f"checks registered for cells no notebook has: {orphans}"


@pytest.mark.parametrize("folder", ["solutions", "assignments"])
def test_notebooks_are_committed_without_outputs(folder):
    for path in (REPO / folder).rglob("*.ipynb"):
        for cell in read(path).cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{path.name} has outputs"


def test_release_folder_holds_only_notebooks():
    extra = [p for p in (REPO / "assignments").rglob("*") if p.is_file() and p.suffix != ".ipynb"]
    assert not extra, f"non-notebook files in the release: {extra}"


# Lines that provided code everywhere uses too: teaching the same idiom twice gives nothing away.
IDIOMS = {"loss.backward()", "optimizer.zero_grad()", "optimizer.step()", "with torch.no_grad():", "return x",
          "model.train()", "model.eval()"}


def _solution_regions(nb) -> list[list[str]]:
    regions = []
    for cell in nb.cells:
        for block in re.findall(r"### BEGIN SOLUTION(.*?)### END SOLUTION", cell.source, flags=re.S):
            lines = [line.strip() for line in block.splitlines()]
            regions.append([line for line in lines if len(line) >= 16 and line not in IDIOMS])
    return regions


def test_no_release_gives_away_another_notebooks_answers():
    """The whole assignment is released at once: part 4 must not hand out part 1's PCA, say."""
    releases = {nb.name: "\n".join(c.source for c in read(RELEASE_NOTEBOOKS / nb.name).cells) for nb in notebooks()}
    for source in notebooks():
        for region in _solution_regions(read(source)):
            for name, text in releases.items():
                found = [line for line in region if line in text]
                if name != source.name and len(found) >= 2 and len(found) >= len(region) / 2:
                    raise AssertionError(f"{name} shows an answer of {source.name}: {found[:3]}")
