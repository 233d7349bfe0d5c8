"""Every Python example of the README is exercised by a test.

Each ```python block must appear, line for line (whitespace and blank lines
aside), in a module under ``tests/``: when the README and
the tested copy drift apart, this fails. Configuration-only blocks are listed
in ``NOT_CODE`` with the reason.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

#: Blocks that configure a project rather than run code, by their first line.
NOT_CODE = {
    "# settings.py": "settings fragment; the same values are in tests/settings.py",
}


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", markdown, flags=re.DOTALL | re.MULTILINE)


def normalised(text: str) -> list[str]:
    # Whitespace inside a line does not count either (a formatter aligns comments).
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def copies_in_tests() -> list[list[str]]:
    return [normalised(path.read_text()) for path in (ROOT / "tests").rglob("*.py")]


def contains(haystack: list[str], needle: list[str]) -> bool:
    width = len(needle)
    return any(haystack[i : i + width] == needle for i in range(len(haystack) - width + 1))


ALL_BLOCKS = python_blocks(README.read_text())
BLOCKS = [block for block in ALL_BLOCKS if block.splitlines()[0] not in NOT_CODE]


def test_the_readme_has_examples():
    assert len(BLOCKS) >= 8
    assert len(ALL_BLOCKS) - len(BLOCKS) == len(NOT_CODE)  # each exemption still matches


@pytest.mark.parametrize("block", BLOCKS, ids=[b.splitlines()[0][:50] for b in BLOCKS])
def test_readme_example_is_exercised_by_a_test(block):
    needle = normalised(block)
    assert any(contains(source, needle) for source in copies_in_tests()), (
        "this README example is not copied into any test under tests/"
    )
