"""Provider names resolve through the ``slidestream.providers`` entry points, ours and plugins'."""

from __future__ import annotations

import ast
import importlib
import textwrap
import types
from pathlib import Path

import pytest

import slidestream as ss
from slidestream import _registry, providers
from slidestream._types import ProviderKind
from slidestream.providers.tts.edge import EdgeTTSProvider
from slidestream.testing import (
    FakeImageProvider,
    FakeStreamingScriptProvider,
    FakeTTSProvider,
    FunctionTTSProvider,
)


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


def test_runtime_registration() -> None:
    with providers.override():
        providers.register("quiet", FakeTTSProvider)
        assert isinstance(providers.get("quiet"), FakeTTSProvider)
        assert any(
            info.name == "quiet" and info.distribution is None
            for info in providers.list_providers()
        )
    assert "quiet" not in {info.name for info in providers.list_providers()}


def test_protocols_are_runtime_checkable() -> None:
    assert isinstance(FakeStreamingScriptProvider(), ss.ScriptProvider)
    assert isinstance(FakeStreamingScriptProvider(), providers.SlideStreamingScriptProvider)
    assert not isinstance(FakeTTSProvider(), ss.ScriptProvider)


def test_override_puts_doubles_behind_names_for_the_block() -> None:
    with providers.override({"edge-tts": FakeTTSProvider, "fresh-name": FakeTTSProvider}):
        assert isinstance(providers.get("edge-tts"), FakeTTSProvider)
        assert isinstance(providers.get("fresh-name"), FakeTTSProvider)
        with providers.override({"edge-tts": FunctionTTSProvider}):  # nested: innermost wins
            assert _registry.load("edge-tts") is FunctionTTSProvider
        assert _registry.load("edge-tts") is FakeTTSProvider
    assert isinstance(providers.get("edge-tts"), EdgeTTSProvider)  # the entry point again
    with pytest.raises(ss.ProviderNotFoundError):
        providers.get("fresh-name")


def test_override_restores_the_registry_when_the_block_fails() -> None:
    with pytest.raises(RuntimeError), providers.override({"edge-tts": FakeTTSProvider}):
        raise RuntimeError("boom")
    assert isinstance(providers.get("edge-tts"), EdgeTTSProvider)


@pytest.mark.anyio
async def test_a_pipeline_resolves_overridden_names(tmp_path: Path) -> None:
    spoken: list[str] = []

    async def speak(text: str, *, voice: str | None, language: str) -> ss.SpeechClip:
        spoken.append(text)
        return await FakeTTSProvider().synthesize(text, voice=voice, language=language)

    with providers.override({"edge-tts": lambda: FunctionTTSProvider(speak)}):
        pipeline = ss.StreamingPipeline(
            script_provider="test-script",
            tts_provider="edge-tts",
            output_dir=tmp_path,
            assembler=ss.render.NullAssembler,
        )
        deck = await pipeline.run("Overridden", slides=2)
    assert len(spoken) == 2
    assert all(slide.audio_path for slide in deck.slides)


def test_provider_kind_is_a_kind_or_none() -> None:
    assert providers.provider_kind(FakeTTSProvider()) is ProviderKind.TTS
    assert providers.provider_kind(FakeTTSProvider) == "tts"  # a str enum: old comparisons hold
    assert providers.provider_kind(FakeImageProvider()) is ProviderKind.IMAGES
    assert providers.provider_kind(FakeStreamingScriptProvider) is ProviderKind.SCRIPT
    assert providers.provider_kind(object()) is None
    assert providers.provider_kind(lambda: None) is None


BUILT_INS = {
    "markdown": "slidestream.providers.script.markdown:MarkdownScriptProvider",
    "openai": "slidestream.providers.script.openai:OpenAIScriptProvider",
    "generated": "slidestream.providers.images.generated:GeneratedImageProvider",
    "local": "slidestream.providers.images.local:LocalImageProvider",
    "openverse": "slidestream.providers.images.openverse:OpenverseImages",
    "wikimedia": "slidestream.providers.images.wikimedia:WikimediaImages",
    "pexels": "slidestream.providers.images.pexels:PexelsImages",
    "unsplash": "slidestream.providers.images.unsplash:UnsplashImages",
    "piper": "slidestream.providers.tts.piper:PiperTTSProvider",
    "edge-tts": "slidestream.providers.tts.edge:EdgeTTSProvider",
    "openai-tts": "slidestream.providers.tts.openai:OpenAITTSProvider",
}


def test_built_ins_are_registered_by_their_public_modules() -> None:
    infos = {info.name: info.target for info in providers.list_providers()}
    assert {name: infos[name] for name in BUILT_INS} == BUILT_INS
    for target in BUILT_INS.values():
        module, name = target.split(":")
        provider_class = getattr(importlib.import_module(module), name)
        assert issubclass(provider_class, providers.Provider)
        assert provider_class.__module__ == module  # defined there, not re-exported


def test_the_earlier_paths_still_work() -> None:
    from slidestream.providers import edge, images, offline, openai
    from slidestream.providers.images import generated, local, openverse
    from slidestream.providers.script import markdown
    from slidestream.providers.script import openai as script_openai
    from slidestream.providers.tts import edge as tts_edge
    from slidestream.providers.tts import openai as tts_openai
    from slidestream.providers.tts import piper

    assert edge.EdgeTTSProvider is tts_edge.EdgeTTSProvider
    assert openai.OpenAIScriptProvider is script_openai.OpenAIScriptProvider
    assert openai.OpenAITTSProvider is tts_openai.OpenAITTSProvider
    assert openai.RetryPolicy is providers.RetryPolicy
    assert images.OpenverseImages is openverse.OpenverseImages
    assert offline.MarkdownScriptProvider is markdown.MarkdownScriptProvider
    assert offline.GeneratedImageProvider is generated.GeneratedImageProvider
    assert offline.LocalImageProvider is local.LocalImageProvider
    assert offline.PiperTTSProvider is piper.PiperTTSProvider
    earlier = {"DownloadPolicy", "ImageCandidate", "OpenverseImages", "PexelsImages",
               "SearchImageProvider", "UnsafeURLError", "UnsplashImages", "WikimediaImages",
               "check_url"}  # fmt: skip
    assert earlier <= set(images.__all__)


@pytest.mark.parametrize(
    "module",
    [
        "slidestream.providers",
        "slidestream.providers.images",
        "slidestream.providers.offline",
        "slidestream.providers.openai",
        "slidestream.testing",
    ],
)
def test_all_is_complete_and_sorted(module: str) -> None:
    imported = importlib.import_module(module)
    assert list(imported.__all__) == sorted(imported.__all__)
    assert all(hasattr(imported, name) for name in imported.__all__)
    public = {
        name
        for name, value in vars(imported).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and (module != "slidestream.testing" or getattr(value, "__module__", "") == module)
    }
    public.discard("annotations")  # from __future__
    assert public <= set(imported.__all__), public - set(imported.__all__)


def test_providers_import_nothing_from_the_renderer() -> None:
    package = Path(providers.__file__).parent
    for path in package.rglob("*.py"):
        depth = len(path.relative_to(package).parts) + 1  # dots that lead to slidestream/
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                target = node.module or ""
                if node.level:
                    target = "slidestream." * (node.level == depth) + target
                assert not target.startswith("slidestream.render"), f"{path}: {target}"
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("slidestream.render") for a in node.names), path
