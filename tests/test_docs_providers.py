"""docs/providers.md: its Python examples run, and it documents every registered provider.

Fenced ``python`` blocks are executed; ``py`` blocks are illustrations that need the network
or an extra that tests do not install.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from slidestream.providers import list_providers, override

DOC = Path(__file__).resolve().parents[1] / "docs" / "providers.md"


def python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", DOC.read_text(encoding="utf-8"), re.M | re.S)


def test_the_doc_has_runnable_examples() -> None:
    blocks = python_blocks()
    assert len(blocks) >= 2
    assert any("register(" in block for block in blocks)


@pytest.mark.parametrize("number", range(len(python_blocks())))
def test_python_example_runs(number: int) -> None:
    code = compile(python_blocks()[number], f"{DOC.name}[python block {number}]", "exec")
    with override():  # registrations the example makes end with it
        exec(code, {"__name__": f"providers_doc_{number}"})


def test_every_registered_provider_is_documented() -> None:
    documented = set(re.findall(r"^\| `([a-z0-9-]+)` \|", DOC.read_text(encoding="utf-8"), re.M))
    registered = {info.name for info in list_providers()}
    assert registered <= documented, registered - documented
