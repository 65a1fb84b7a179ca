"""Provider names resolve through the ``slidestream.providers`` entry points, ours and plugins'."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import slidestream as ss
from slidestream import providers
from slidestream.testing import FakeStreamingScriptProvider, FakeTTSProvider


def install_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tiny third-party package with one TTS provider, registered by its own metadata."""
    package = tmp_path / "site"
    (package / "shout_tts").mkdir(parents=True)
    (package / "shout_tts" / "__init__.py").write_text(
        textwrap.dedent(
            """
            from slidestream.testing import FakeTTSProvider

            class ShoutTTS(FakeTTSProvider):
                name = "shout"

                def __init__(self, loudness: int = 11, **options):
                    super().__init__(**options)
                    self.loudness = loudness
            """
        )
    )
    dist = package / "shout_tts-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: shout-tts\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[slidestream.providers]\nshout = shout_tts:ShoutTTS\nbroken = shout_tts_missing:Nope\n"
    )
    monkeypatch.syspath_prepend(str(package))


def test_builtins_are_registered_through_entry_points() -> None:
    infos = {info.name: info for info in providers.list_providers()}
    assert infos["test-tts"].distribution == "slidestream"
    assert infos["test-tts"].target == "slidestream.testing:FakeTTSProvider"
    assert isinstance(providers.get("test-tts"), FakeTTSProvider)
    assert isinstance(providers.get("test-script"), FakeStreamingScriptProvider)


def test_a_third_party_plugin_is_found_and_created_with_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_plugin(tmp_path, monkeypatch)
    infos = {info.name: info for info in providers.list_providers()}
    assert infos["shout"].distribution == "shout-tts"
    tts = providers.get("shout", loudness=3, words_per_second=4.0)
    assert isinstance(tts, ss.TTSProvider)
    assert tts.loudness == 3 and tts.words_per_second == 4.0
    assert providers.provider_kind(tts) == "tts"


async def _run_with_plugin(tmp_path: Path) -> ss.DeckResult:
    pipeline = ss.StreamingPipeline(
        script_provider="test-script", tts_provider="shout", output_dir=tmp_path / "out"
    )
    return await pipeline.run("Plugin", slides=2)


@pytest.mark.anyio
async def test_the_pipeline_uses_a_plugin_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_plugin(tmp_path, monkeypatch)
    deck = await _run_with_plugin(tmp_path)
    assert all(slide.audio_path for slide in deck.slides)


def test_unknown_names_suggest_close_matches() -> None:
    with pytest.raises(ss.ProviderNotFoundError, match="Did you mean 'test-tts'"):
        providers.get("test-ts")


def test_an_unimportable_plugin_gives_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_plugin(tmp_path, monkeypatch)
    with pytest.raises(ss.ConfigurationError, match=r"'broken'.*could not be imported"):
        providers.get("broken")


def test_wrong_options_give_a_configuration_error() -> None:
    with pytest.raises(ss.ConfigurationError, match="does not accept those options"):
        providers.get("test-tts", no_such_option=1)


def test_runtime_registration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("slidestream._registry._runtime", {})
    providers.register("quiet", FakeTTSProvider)
    assert isinstance(providers.get("quiet"), FakeTTSProvider)
    assert any(
        info.name == "quiet" and info.distribution is None for info in providers.list_providers()
    )


def test_protocols_are_runtime_checkable() -> None:
    assert isinstance(FakeStreamingScriptProvider(), ss.ScriptProvider)
    assert isinstance(FakeStreamingScriptProvider(), providers.SlideStreamingScriptProvider)
    assert not isinstance(FakeTTSProvider(), ss.ScriptProvider)
