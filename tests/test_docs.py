"""The Python examples in README.md and docs/ run as written, with test doubles behind the names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from slidestream import providers
from slidestream.testing import FakeImageProvider, FakeStreamingScriptProvider, FakeTTSProvider

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def python_blocks() -> list[tuple[str, str]]:
    found = []
    for page in DOCS:
        for number, code in enumerate(BLOCK.findall(page.read_text(encoding="utf-8")), start=1):
            found.append((f"{page.name}#{number}", code))
    return found


@pytest.mark.parametrize(("where", "code"), python_blocks(), ids=[w for w, _ in python_blocks()])
def test_documented_code_runs(
    where: str, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Online providers are replaced by the doubles under the same names: the code runs unchanged.
    doubles = {
        "openai": FakeStreamingScriptProvider,
        "openverse": FakeImageProvider,
        "edge-tts": FakeTTSProvider,
    }
    monkeypatch.chdir(tmp_path)
    with providers.override(doubles):
        exec(compile(code, where, "exec"), {"__name__": "__main__"})
