"""The cache store: keys, checksummed entries, damage detection, eviction, sharing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import slidestream as ss
from slidestream._cache import (
    CacheStore,
    RunCache,
    canonical_json,
    clear,
    default_cache_dir,
    format_size,
    make_key,
    parse_size,
    provider_identity,
    prune,
    resolve_cache_dir,
    usage,
)
from slidestream._types import CacheKind
from slidestream._version import __version__
from slidestream.providers import FallbackTTS
from slidestream.testing import FakeTTSProvider, FunctionTTSProvider

KEY = make_key(CacheKind.TTS, {"text": "hello"})


def entry_files(store: CacheStore, key: str = KEY) -> list[Path]:
    folder = store.entry_path(CacheKind.TTS, key).parent
    return sorted(p for p in folder.iterdir() if p.name.startswith(key)) if folder.exists() else []


def put_clip(store: CacheStore, key: str = KEY, audio: bytes = b"RIFF-audio") -> None:
    store.put(CacheKind.TTS, key, data={"format": "wav"}, blobs={"audio": audio}, made_s=1.5)


# -- keys -----------------------------------------------------------------------------------------


def test_a_key_depends_on_every_part_and_on_nothing_else() -> None:
    parts = {"text": "a", "voice": None, "options": {"x": 1, "y": 2}}
    one = make_key(CacheKind.TTS, parts)
    same = make_key(CacheKind.TTS, {"options": {"y": 2, "x": 1}, "voice": None, "text": "a"})
    assert one == same and len(one) == 64
    assert make_key(CacheKind.TTS, {**parts, "text": "b"}) != one
    assert make_key(CacheKind.FRAME, parts) != one


def test_canonical_json_digests_bytes_and_refuses_what_is_not_plain() -> None:
    text = canonical_json({"b": b"\x00" * 10, "a": [Path("x"), CacheKind.TTS, (1, 2)]})
    assert text.startswith(b'{"a":["x","tts",[1,2]],"b":{"sha256":"')
    with pytest.raises(ValueError, match="JSON"):
        canonical_json({"bad": float("nan")})
    with pytest.raises(TypeError, match="cannot be part of a cache key"):
        canonical_json({"bad": object()})


# -- entries --------------------------------------------------------------------------------------


def test_an_entry_comes_back_with_its_blobs_and_metadata(tmp_path: Path) -> None:
    store = CacheStore(tmp_path / "cache")
    assert store.get(CacheKind.TTS, KEY).entry is None
    put_clip(store)
    found = store.get(CacheKind.TTS, KEY)
    assert found.problem is None and found.entry is not None
    assert found.entry.blobs == {"audio": b"RIFF-audio"}
    assert found.entry.data == {"format": "wav"} and found.entry.made_s == 1.5
    assert (tmp_path / "cache" / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f59")
    names = [path.name for path in entry_files(store)]
    assert names[0].startswith(KEY + ".audio.") and names[1] == KEY + ".json"
    assert not [name for name in names if name.startswith(".")], "no temporary file is left"


@pytest.mark.parametrize(
    "damage",
    ["truncated blob", "changed blob", "missing blob", "edited metadata", "half-written metadata"],
)
def test_a_damaged_entry_is_reported_and_discarded_never_returned(
    tmp_path: Path, damage: str
) -> None:
    store = CacheStore(tmp_path)
    put_clip(store, audio=b"x" * 1000)
    blob, meta = entry_files(store)
    if damage == "truncated blob":
        blob.write_bytes(blob.read_bytes()[:500])
    elif damage == "changed blob":
        blob.write_bytes(b"y" * 1000)
    elif damage == "missing blob":
        blob.unlink()
    elif damage == "edited metadata":
        data = json.loads(meta.read_text())
        data["data"]["format"] = "mp3"
        meta.write_text(json.dumps(data))
    else:
        meta.write_bytes(meta.read_bytes()[:40])
    found = store.get(CacheKind.TTS, KEY)
    assert found.entry is None
    assert found.problem is not None and KEY[:12] in found.problem
    assert entry_files(store) == [], "the damaged entry is removed"
    assert store.get(CacheKind.TTS, KEY).problem is None, "next time it is a plain miss"


def test_a_rewritten_entry_replaces_the_old_one(tmp_path: Path) -> None:
    store = CacheStore(tmp_path)
    put_clip(store, audio=b"first")
    put_clip(store, audio=b"second")
    found = store.get(CacheKind.TTS, KEY).entry
    assert found is not None and found.blobs["audio"] == b"second"


def test_an_entry_under_another_key_is_refused(tmp_path: Path) -> None:
    store = CacheStore(tmp_path)
    other = make_key(CacheKind.TTS, {"text": "other"})
    put_clip(store, other)
    moved = store.entry_path(CacheKind.TTS, KEY)
    moved.parent.mkdir(parents=True, exist_ok=True)
    store.entry_path(CacheKind.TTS, other).rename(moved)
    assert "names another key" in (store.get(CacheKind.TTS, KEY).problem or "")


@pytest.mark.anyio
async def test_the_run_cache_discards_an_entry_that_does_not_decode(tmp_path: Path) -> None:
    store = CacheStore(tmp_path)
    put_clip(store)
    cache = RunCache(store, max_bytes=10**9)

    def decode(entry: object) -> str:
        raise KeyError("duration_s")

    assert await cache.load(CacheKind.TTS, KEY, decode, index=3) is None
    assert cache.reused == [] and "does not decode" in cache.problems[0]
    assert entry_files(store) == []
    put_clip(store)
    assert await cache.load(CacheKind.TTS, KEY, lambda entry: "ok", index=3) == "ok"
    assert cache.reused_by(3) == {"cached_tts": 1.5}


@pytest.mark.anyio
async def test_an_unwritable_cache_never_fails_the_run(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache = RunCache(CacheStore(blocker), max_bytes=10**9)
    await cache.keep(CacheKind.TTS, KEY, data={}, blobs={"audio": b"x"})
    assert cache.written == 0 and "could not store a tts entry" in cache.problems[0]
    assert await cache.load(CacheKind.TTS, KEY, lambda entry: entry) is None


# -- eviction -------------------------------------------------------------------------------------


def aged_store(tmp_path: Path, count: int) -> tuple[CacheStore, list[str]]:
    store = CacheStore(tmp_path)
    keys = []
    now = time.time()
    for number in range(count):
        key = make_key(CacheKind.TTS, {"n": number})
        put_clip(store, key, audio=bytes(1000))
        os.utime(store.entry_path(CacheKind.TTS, key), (now - 1000 + number, now - 1000 + number))
        keys.append(key)
    return store, keys


def test_pruning_removes_the_least_recently_used_entries_first(tmp_path: Path) -> None:
    store, keys = aged_store(tmp_path, 5)
    assert store.get(CacheKind.TTS, keys[0]).entry is not None  # used now: the newest
    sizes = {key: sum(p.stat().st_size for p in entry_files(store, key)) for key in keys}
    wanted = sizes[keys[0]] + sizes[keys[3]] + sizes[keys[4]]
    pruned = prune(store, wanted)
    assert pruned.entries == 2 and pruned.bytes == sizes[keys[1]] + sizes[keys[2]]
    kept = [key for key in keys if store.get(CacheKind.TTS, key).entry is not None]
    assert kept == [keys[0], keys[3], keys[4]]
    assert usage(store).bytes == wanted


def test_an_entry_dated_in_the_future_is_not_kept_as_the_most_recently_used(
    tmp_path: Path,
) -> None:
    """A clock set back (or an entry copied from a machine ahead) must not pin an entry."""
    store, keys = aged_store(tmp_path, 3)
    future = time.time() + 86_400
    os.utime(store.entry_path(CacheKind.TTS, keys[0]), (future, future))
    stray = store.entry_path(CacheKind.TTS, keys[0]).parent / ".left-by-a-crash.tmp"
    stray.write_bytes(b"1234")
    os.utime(stray, (future, future))
    for key in keys[1:]:
        assert store.get(CacheKind.TTS, key).entry is not None  # used now
    sizes = [sum(p.stat().st_size for p in entry_files(store, key)) for key in keys]
    pruned = prune(store, sizes[1] + sizes[2])
    assert pruned.entries == 1 and pruned.bytes == sizes[0] + 4
    kept = [key for key in keys if store.get(CacheKind.TTS, key).entry is not None]
    assert kept == keys[1:] and not stray.exists()


def test_pruning_keeps_strays_younger_than_the_grace_period(tmp_path: Path) -> None:
    store, keys = aged_store(tmp_path, 1)
    folder = store.entry_path(CacheKind.TTS, keys[0]).parent
    young = folder / ("f" * 64 + ".audio.0123")
    old = folder / ".half-written.tmp"
    young.write_bytes(b"1234")
    old.write_bytes(b"12345678")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert usage(store).stray_bytes == 12
    pruned = prune(store, 10**9)
    assert pruned.entries == 0 and pruned.bytes == 8
    assert young.exists() and not old.exists()


def test_clearing_empties_the_cache_and_says_how_much(tmp_path: Path) -> None:
    store, _keys = aged_store(tmp_path, 3)
    before = usage(store)
    assert before.entries == 3 and before.kinds[CacheKind.TTS].entries == 3
    done = clear(store)
    assert done.entries == 3 and done.bytes == before.bytes
    assert usage(store).entries == 0
    assert [p.name for p in tmp_path.iterdir()] == ["CACHEDIR.TAG"]


def test_two_processes_sharing_a_cache_never_see_a_half_entry(tmp_path: Path) -> None:
    """Writers, readers and a pruner at once: every read is a whole entry or a miss."""
    worker = textwrap.dedent(
        """
        import sys, time
        from slidestream._cache import CacheStore, make_key, prune
        from slidestream._types import CacheKind
        store, role = CacheStore(sys.argv[1]), sys.argv[2]
        end = time.monotonic() + 1.5
        keys = [make_key(CacheKind.TTS, {"n": n}) for n in range(8)]
        seen = 0
        while time.monotonic() < end:
            for n, key in enumerate(keys):
                if role == "prune":
                    prune(store, 20_000, grace_s=0)
                    continue
                blob = bytes([n]) * (5000 + n)
                store.put(CacheKind.TTS, key, data={"n": n}, blobs={"audio": blob})
                found = store.get(CacheKind.TTS, key)
                if found.problem:
                    continue  # vanished under a pruner: reported, and a miss
                if found.entry is not None:
                    assert found.entry.blobs["audio"] == blob, "a wrong blob was returned"
                    seen += 1
        print(seen)
        """
    )
    roles = ["write", "write", "prune"]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", worker, str(tmp_path), role],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for role in roles
    ]
    outputs = [process.communicate(timeout=60) for process in processes]
    for process, (_out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
    assert sum(int(out) for out, _ in outputs) > 0


# -- where, how big -------------------------------------------------------------------------------


def test_the_default_folder_is_the_environment_s_else_platformdirs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SLIDESTREAM_CACHE_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path
    assert resolve_cache_dir(ss.StreamingPipeline.__init__.__kwdefaults__["cache_dir"]) == tmp_path
    monkeypatch.setenv("SLIDESTREAM_NO_CACHE", "1")
    assert ss.StreamingPipeline(script_provider="test-script").cache_dir is None
    assert ss.StreamingPipeline(script_provider="test-script", cache_dir=tmp_path).cache_dir
    monkeypatch.delenv("SLIDESTREAM_CACHE_DIR")
    assert default_cache_dir().name == "slidestream"
    assert resolve_cache_dir(None) is None
    assert resolve_cache_dir(tmp_path / "x") == tmp_path / "x"


def test_sizes_read_and_print_in_binary_units() -> None:
    assert parse_size("500M") == 500 * 1024**2
    assert parse_size("1.5GB") == int(1.5 * 1024**3)
    assert parse_size("4096") == 4096 and parse_size(7) == 7
    assert format_size(1536) == "1.5 KB" and format_size(10) == "10 B"
    with pytest.raises(ss.InvalidInputError, match="not a size"):
        parse_size("lots")


def test_a_pipeline_refuses_an_empty_cache_folder() -> None:
    with pytest.raises(ss.InvalidInputError, match="cache_dir is empty"):
        ss.StreamingPipeline(script_provider="test-script", cache_dir=" ")


# -- provider identities --------------------------------------------------------------------------


def test_only_providers_that_name_their_settings_are_cached() -> None:
    def tts(**options: object) -> FakeTTSProvider:
        return FakeTTSProvider(cacheable=True, **options)  # type: ignore[arg-type]

    fake = provider_identity(tts(words_per_second=3.0))
    assert fake is not None
    assert fake["provider"] == "test-tts" and fake["settings"]["words_per_second"] == 3.0
    assert fake["version"].startswith(__version__ + "+")
    assert provider_identity(tts(latency=1.0)) == provider_identity(tts())
    assert provider_identity(tts(tone=True)) != provider_identity(tts())
    assert provider_identity(FakeTTSProvider()) is None

    def speak(text: str, **options: object) -> ss.SpeechClip:
        raise AssertionError

    assert provider_identity(FunctionTTSProvider(speak)) is None
    assert provider_identity(FunctionTTSProvider(speak, cache_identity={"v": 1})) is not None

    class Plugin:
        async def synthesize(self, text: str, *, voice: str | None, language: str) -> None: ...

    assert provider_identity(Plugin()) is None
    chain = provider_identity(FallbackTTS([tts(), tts(tone=True)]))
    assert chain is not None and len(chain["chain"]) == 2
    assert provider_identity(FallbackTTS([tts(), FunctionTTSProvider(speak)])) is None
