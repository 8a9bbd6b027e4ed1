"""The docs keep up with the code: the README's map of the kit names every module there is."""
from __future__ import annotations

import re

from tests.kit import REPO


def _developer_map() -> str:
    text = (REPO / "README.md").read_text()
    section = text[text.index("## For developers of the kit"):]
    return re.search(r"```\n(.*?)```", section, re.S).group(1)


def test_the_readme_map_names_every_module_of_the_grader_and_the_students_package():
    words = set(re.findall(r"[\w.]+/?", _developer_map()))
    missing = []
    for package in ("autograder", "course_utils"):
        for path in sorted((REPO / package).iterdir()):
            if path.name.startswith(("_", ".")):
                continue
            if path.suffix == ".py" and path.name not in words:
                missing.append(f"{package}/{path.name}")
            if path.is_dir() and (path / "__init__.py").exists() and f"{path.name}/" not in words:
                missing.append(f"{package}/{path.name}/")
    assert not missing, f"the README's map (For developers of the kit) does not name {missing}"


def test_the_readme_map_names_no_module_that_is_gone():
    named = re.findall(r"\b(\w+\.py)\b", _developer_map())
    existing = {p.name for package in ("autograder", "course_utils") for p in (REPO / package).rglob("*.py")}
    gone = sorted(set(named) - existing - {"pyproject.toml"})
    assert not gone, f"the README's map names modules that no longer exist: {gone}"
