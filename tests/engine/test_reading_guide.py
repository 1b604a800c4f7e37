"""docs/engine.md links to lines of the engine: they must still point at what they name."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = (ROOT / "docs" / "engine.md").read_text()
LINK = re.compile(r"\[([^\]]+)\]\(\.\./engine/(\w+\.py)(?:#L(\d+))?\)")


def test_every_engine_module_is_in_the_guide_and_the_package_docstring():
    import engine

    modules = {path.stem for path in (ROOT / "engine").glob("*.py")} - {"__init__", "__main__"}
    assert {name for name in modules if f"../engine/{name}.py" not in GUIDE} == set()
    assert {name for name in modules if not re.search(rf"\b{name}\b", engine.__doc__)} == set()


def test_line_links_point_at_what_they_name():
    wrong = []
    for text, file_name, line in LINK.findall(GUIDE):
        lines = (ROOT / "engine" / file_name).read_text().splitlines()
        if not line:
            continue
        target = lines[int(line) - 1]
        # [`Network.fit`](...#L239): the line defines or calls fit; [network.py:135]: any line
        named = re.fullmatch(r"`([\w.]+)(?:\(.*\))?`", text)
        wanted = named.group(1).split(".")[-1] if named else None
        if wanted and wanted not in target:
            wrong.append((text, file_name, line, target.strip()))
        if not target.strip():
            wrong.append((text, file_name, line, "blank line"))
    assert wrong == []


@pytest.mark.parametrize("module", ["textbook.py", "network.py"])  # the reference, the fast path
def test_the_bp_equations_are_where_the_guide_says(module):
    source = (ROOT / "engine" / module).read_text().splitlines()
    for equation in ("BP1", "BP2", "BP3", "BP4"):
        [line] = re.findall(rf"\*\*{equation}\*\* \(\[{re.escape(module)}:(\d+)\]", GUIDE)
        assert source[int(line) - 1].strip().startswith(f"# {equation}:"), (module, equation)


def test_the_guide_leads_with_the_reference():
    first_section = GUIDE.split("\n## ")[2]  # after the title and the map
    assert first_section.startswith("1. Start here: the reference")
    assert "../engine/textbook.py" in first_section and "../engine/network.py" not in first_section
