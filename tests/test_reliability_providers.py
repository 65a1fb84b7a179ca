"""Hostile provider output: it is checked, never trusted.

Audio in unknown formats or that does not decode, durations that lie, images that are
decompression bombs, garbage, empty or in odd modes, the wrong types, and text full of
control characters and terminal escapes: each becomes that slide's error (or is cleaned),
never a failed run, a file outside the output folder or a raw escape on the terminal.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from PIL import Image, ImageStat
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE

import slidestream as ss
from slidestream import cli, providers
from slidestream.providers._common.audio import mono_wav
from slidestream.render._frames import render_frame
from slidestream.render._layout import builtin_geometry
from slidestream.render._look import BuiltinLook
from slidestream.render._pptx import PptxDeckBuilder
from slidestream.testing import (
    FakeScriptProvider,
    FakeTTSProvider,
    FunctionImageProvider,
    FunctionScriptProvider,
    FunctionTTSProvider,
    _wav,
)

from ._render_data import context, slide
from .media import FFMPEG

pytestmark = pytest.mark.anyio

P = "{http://schemas.openxmlformats.org/presentationml/2006/main}"
EVIL = "\x1b[2J\x1b[31mred\x1b[0m \x1b]0;pwned\x07bell\x07 \x9b31m c1 \x00nul"


def pipeline(tmp_path: Path, **providers_and_options: Any) -> ss.StreamingPipeline:
    options: dict[str, Any] = {
        "script_provider": FakeScriptProvider(slides=2),
        "output_dir": tmp_path,
        "render_options": ss.RenderOptions(video=False),
    }
    options.update(providers_and_options)
    return ss.StreamingPipeline(**options)


def encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def asset(data: bytes, mime: str = "image/png", size: tuple[int, int] = (10, 10)) -> ss.ImageAsset:
    return ss.ImageAsset(data=data, mime_type=mime, width=size[0], height=size[1])


def bomb_png(side: int) -> bytes:
    """A real, complete PNG of ``side`` x ``side`` black pixels: a few hundred kB on disk."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body).to_bytes(4, "big")
        return len(body).to_bytes(4, "big") + kind + body + crc

    header = side.to_bytes(4, "big") * 2 + bytes([1, 0, 0, 0, 0])  # 1-bit greyscale
    compressor = zlib.compressobj(9)
    row = bytes(1 + (side + 7) // 8)
    parts = [compressor.compress(row * 1000) for _ in range(side // 1000)]
    parts += [compressor.compress(row * (side % 1000)), compressor.flush()]
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", b"".join(parts))
        + chunk(b"IEND", b"")
    )


def images_for(answer: Callable[[int], list[ss.ImageAsset]]) -> FunctionImageProvider:
    return FunctionImageProvider(lambda request, slide, *, limit: answer(slide.index))


def good_png(colour: tuple[int, int, int] = (200, 40, 30)) -> bytes:
    return encode(Image.new("RGB", (64, 48), colour), "PNG")


# -- audio -------------------------------------------------------------------------------------


async def test_a_clip_format_naming_a_path_never_names_a_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    audio = _wav(1.0, 16000, None)
    tts = FunctionTTSProvider(
        lambda text, **_: ss.SpeechClip(
            audio=audio,
            format="/../../../elsewhere/x" if ss.current_slide_index() == 0 else "wav",
            duration_s=1,
        )
    )
    deck = await pipeline(out, tts_provider=tts).run("T")
    first, second = deck.slides
    assert first.audio_path is None and "unknown audio format" in first.errors[0].message
    assert second.audio_path is not None and second.audio_path.name == "slide-02.wav"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert not any("elsewhere" in str(path) for path in tmp_path.rglob("*"))


async def test_the_measured_duration_is_used_everywhere_not_the_claimed_one(
    tmp_path: Path,
) -> None:
    # The provider claims 0.2 s for 1.5 s of audio, with word timings past the end.
    words = [ss.WordTiming("Hello", 0.0, 0.5), ss.WordTiming("there.", 0.6, 9.0)]
    clip = ss.SpeechClip(audio=_wav(1.5, 16000, 300.0), format="wav", duration_s=0.2, words=words)
    tts = FunctionTTSProvider(lambda text, **_: clip)
    events = []
    async with pipeline(tmp_path, tts_provider=tts).stream("Timing", project="t") as stream:
        async for event in stream:
            events.append(event)
    audio = [e for e in events if isinstance(e, ss.AudioReady)]
    assert audio and all(e.duration_s == pytest.approx(1.5, abs=0.01) for e in audio)
    deck = stream.deck
    assert deck is not None
    assert all(s.duration_s == pytest.approx(1.5, abs=0.01) for s in deck.slides)
    assert all(max(w.end_s for w in s.words) <= s.duration_s for s in deck.slides)
    prs = Presentation(str(deck.pptx_path))
    advances = [
        int(t.get("advTm"))
        for page in list(prs.slides)[1:3]
        if (t := page.element.find(f"{P}transition")) is not None
    ]
    # Each slide advances once its clip has played: 1.5 s of narration after the lead (under
    # 0.2 s of the pause before it) that its cut from the MP3 track starts with.
    assert len(advances) == 2
    assert all(1500 <= advance <= 1700 for advance in advances)


def first_slide_gets(answer: object) -> FunctionTTSProvider:
    """A TTS double that answers ``answer`` for slide 1 and a real clip for the others."""
    good = ss.SpeechClip(audio=_wav(1.0, 16000, None), format="wav", duration_s=1.0)
    return FunctionTTSProvider(
        lambda text, **_: answer if ss.current_slide_index() == 0 else good  # type: ignore[arg-type,return-value]
    )


async def test_undecodable_audio_is_the_slides_error_and_the_chain_tries_the_next_voice(
    tmp_path: Path,
) -> None:
    junk = ss.SpeechClip(audio=b"RIFF....WAVEjunk" * 50, format="wav", duration_s=1)
    doubles = {"broken-tts": lambda: first_slide_gets(junk), "good-tts": FakeTTSProvider}
    with providers.override(doubles):
        deck = await pipeline(tmp_path, tts_provider="broken-tts,good-tts").run("Chain")
        alone = await pipeline(tmp_path / "alone", tts_provider="broken-tts").run("Alone")
    assert all(s.audio_path is not None and not s.errors for s in deck.slides)
    assert deck.slides[0].providers["tts"] == "test-tts"
    first, second = alone.slides
    assert "cannot be decoded" in first.errors[0].message and first.audio_path is None
    assert second.audio_path is not None and not second.errors
    assert alone.pptx_path is not None and alone.pptx_path.is_file()


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (None, "returned NoneType, not a SpeechClip"),
        ("audio.mp3", "returned str, not a SpeechClip"),
        (ss.SpeechClip(audio=b"", format="mp3", duration_s=3), "returned no audio"),
    ],
)
async def test_a_tts_answer_that_is_not_a_clip_is_the_slides_error(
    tmp_path: Path, answer: object, message: str
) -> None:
    deck = await pipeline(tmp_path, tts_provider=first_slide_gets(answer)).run("Bad clip")
    first, second = deck.slides
    assert message in first.errors[0].message and first.audio_path is None
    assert second.audio_path is not None and not second.errors


# -- images ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return bomb_png(30_000)


async def test_a_decompression_bomb_is_refused_for_that_slide_only(
    tmp_path: Path, bomb: bytes
) -> None:
    assert len(bomb) < 1_000_000
    images = images_for(lambda index: [asset(bomb if index == 0 else good_png())])
    deck = await pipeline(tmp_path, image_provider=images).run("Bombs")
    first, second = deck.slides
    assert first.images == [] and "too large" in first.errors[0].message
    assert first.errors[0].stage == "images"
    assert second.images and not second.errors
    assert deck.pptx_path is not None and deck.pptx_path.is_file()


def test_odd_images_named_by_an_outline_are_their_slides_errors_in_plain_words(
    tmp_path: Path, bomb: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "page.png").write_bytes(b"<html><body>Not found</body></html>")
    (tmp_path / "bomb.png").write_bytes(bomb)
    (tmp_path / "fine.png").write_bytes(good_png())
    outline = "# Pictures\n" + "".join(
        f"\n## Slide {n}\n- a point\n\n![picture]({name})\n"
        for n, name in enumerate(["empty.png", "page.png", "bomb.png", "fine.png"], start=1)
    )
    (tmp_path / "deck.md").write_text(outline)
    argv = [str(tmp_path / "deck.md"), "--out", str(tmp_path / "out"), "--images", "none"]
    code = cli.main(["make", *argv, "--tts", "test-tts", "--no-video", "--no-cache"])
    out, err = capsys.readouterr()
    assert code == cli.EXIT_OK, err
    assert len([line for line in out.splitlines() if "done with errors" in line]) == 3
    assert "empty.png: the image is empty (0 bytes)" in out
    assert "page.png: not an image" in out
    assert "bomb.png: too large to decode safely (900 megapixels" in out
    assert "BytesIO" not in out and "DOS attack" not in out  # no library's own words


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the image is empty (0 bytes)"),
        (b"<html><body>Not found</body></html>", "not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 30, "damaged or unsupported png image"),
        ("truncated", "damaged"),
    ],
)
async def test_a_broken_image_is_that_slides_error(
    tmp_path: Path, data: bytes | str, message: str
) -> None:
    if data == "truncated":
        whole = encode(Image.effect_noise((300, 300), 60).convert("RGB"), "PNG")
        data = whole[: len(whole) // 2]
    assert isinstance(data, bytes)
    bad = asset(data)
    images = images_for(lambda index: [bad if index == 0 else asset(good_png()), asset(good_png())])
    deck = await pipeline(tmp_path, image_provider=images).run("Broken", images_per_slide=2)
    first, second = deck.slides
    assert len(first.images) == 1  # the good one is kept
    assert first.errors[0].stage == "images"
    assert message in first.errors[0].message
    assert "image 1 from function-images" in first.errors[0].message
    assert len(second.images) == 2 and not second.errors


@pytest.mark.parametrize("answer", [None, "https://example.invalid/x.png", [b"\x89PNG"]])
async def test_an_image_answer_of_the_wrong_type_is_that_slides_error(
    tmp_path: Path, answer: object
) -> None:
    images = images_for(lambda index: answer if index == 0 else [asset(good_png())])  # type: ignore[arg-type,return-value]
    deck = await pipeline(tmp_path, image_provider=images).run("Wrong type")
    first, second = deck.slides
    assert "not a list of ImageAsset" in first.errors[0].message and not first.images
    assert second.images and not second.errors
    assert deck.pptx_path is not None


def _mid_grey_16bit() -> bytes:
    return encode(Image.new("I;16", (64, 48), 32896), "PNG")  # 32896 / 257 = 128


def _cmyk_red() -> bytes:
    return encode(Image.new("CMYK", (64, 48), (0, 255, 255, 0)), "JPEG", quality=95)


def _palette_with_transparency() -> bytes:
    image = Image.new("P", (64, 48), 1)
    image.putpalette([0, 0, 0, 20, 120, 220] + [0] * 762)
    return encode(image, "PNG", transparency=0)


def _grey_alpha() -> bytes:
    return encode(Image.new("LA", (64, 48), (128, 255)), "PNG")


MODES = {
    "16-bit grey": (_mid_grey_16bit, (128, 128, 128)),
    "CMYK": (_cmyk_red, (255, 0, 0)),
    "palette+alpha": (_palette_with_transparency, (20, 120, 220)),
    "grey+alpha": (_grey_alpha, (128, 128, 128)),
}


def _close(found: tuple[float, ...], wanted: tuple[int, int, int]) -> bool:
    return all(abs(f - w) <= 6 for f, w in zip(found[:3], wanted, strict=True))


@pytest.mark.parametrize("mode", list(MODES))
async def test_odd_image_modes_are_saved_as_8bit_with_their_colours(
    tmp_path: Path, mode: str
) -> None:
    make, colour = MODES[mode]
    images = images_for(lambda index: [asset(make())])
    deck = await pipeline(tmp_path, image_provider=images).run("Modes")
    saved = deck.slides[0].images[0]
    assert saved.path is not None
    with Image.open(saved.path) as image:
        assert image.mode in ("RGB", "RGBA", "L")
        assert _close(ImageStat.Stat(image.convert("RGB")).mean, colour)


def _frame_colour(path: Path) -> tuple[float, ...]:
    box = builtin_geometry().image
    with Image.open(path) as frame:
        inner = frame.convert("RGB").crop(
            tuple(round(v * 2) for v in (box.x + 30, box.y + 30, box.right - 30, box.bottom - 30))
        )
        return tuple(ImageStat.Stat(inner).median)


@pytest.mark.parametrize("mode", list(MODES))
def test_odd_image_modes_come_out_right_in_frames_and_the_pptx(tmp_path: Path, mode: str) -> None:
    # The renderer gets the provider's bytes as they are (no run in between).
    make, colour = MODES[mode]
    shown = slide(0, images=[asset(make(), size=(64, 48))])
    look = BuiltinLook(context(tmp_path).title)
    frame = render_frame(shown, look=look, count=1, path=tmp_path / "frame.png")
    assert _close(_frame_colour(frame), colour)
    builder = PptxDeckBuilder(context(tmp_path, slide_count=1))
    builder.add_slide(shown)
    prs = Presentation(str(builder.save(tmp_path / "deck.pptx")))
    pictures = [s for s in list(prs.slides)[1].shapes if s.shape_type == MSO_SHAPE_TYPE.PICTURE]
    with Image.open(io.BytesIO(pictures[0].image.blob)) as embedded:
        assert embedded.mode in ("RGB", "RGBA", "L", "LA", "P")
        rgba = embedded.convert("RGBA")
        opaque = [p for p in rgba.getdata() if p[3] > 0]
        assert _close(tuple(sum(c) / len(opaque) for c in zip(*opaque, strict=True)), colour)


@pytest.mark.slow
async def test_a_16bit_grey_image_is_grey_in_the_video(tmp_path: Path) -> None:
    images = images_for(lambda index: [asset(_mid_grey_16bit(), size=(64, 48))])
    pipe = pipeline(
        tmp_path,
        script_provider=FakeScriptProvider(slides=1, words_per_slide=4),
        image_provider=images,
        tts_provider=FakeTTSProvider(),
        render_options=ss.RenderOptions(video=True),
    )
    deck = await pipe.run("Grey")
    assert deck.video_path is not None
    frame = tmp_path / "frame.png"
    grab = [FFMPEG, "-v", "error", "-ss", "0.5", "-i", str(deck.video_path), "-frames:v", "1"]
    await anyio.run_process([*grab, str(frame)])
    assert _close(_frame_colour(frame), (128, 128, 128))


async def test_huge_images_are_scaled_down_before_they_are_saved_and_embedded(
    tmp_path: Path,
) -> None:
    photo = encode(Image.new("RGB", (6000, 3000), (30, 160, 90)), "JPEG", quality=60)
    images = images_for(lambda index: [asset(photo, "image/jpeg", (6000, 3000))])
    deck = await pipeline(tmp_path, image_provider=images).run("Huge")
    saved = deck.slides[0].images[0]
    assert (saved.width, saved.height) == (3840, 1920)
    prs = Presentation(str(deck.pptx_path))
    picture = next(s for s in list(prs.slides)[1].shapes if s.shape_type == MSO_SHAPE_TYPE.PICTURE)
    assert max(picture.image.size) <= 2400


def test_a_jpeg_over_the_pixel_limit_is_decoded_small_in_bounded_memory(tmp_path: Path) -> None:
    # 8000 x 6000 is over the 40-megapixel limit: decoded at half scale, never whole.
    source = tmp_path / "big.jpg"
    source.write_bytes(encode(Image.new("L", (8000, 6000), 90), "JPEG", quality=50))
    # VmHWM, the peak resident memory of this process image (ru_maxrss would include the
    # parent's peak, which survives fork and exec on Linux).
    probe = (
        "import re, sys\n"
        "from slidestream._images import normalize_image\n"
        "def peak():\n"
        "    status = open('/proc/self/status').read()\n"
        "    return int(re.search(r'VmHWM:\\s+(\\d+)', status).group(1)) // 1024\n"
        "data = open(sys.argv[1], 'rb').read()\n"
        "before = peak()\n"
        "ready = normalize_image(data)\n"
        "print(ready.width, ready.height, peak() - before)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(source)], capture_output=True, text=True, check=True
    )
    width, height, grown_mb = map(int, done.stdout.split())
    assert (width, height) == (3840, 2880)
    # Decoding it whole takes 48 MB, and 144 MB more as RGB; at half scale, a quarter.
    assert grown_mb < 120, f"peak memory grew by {grown_mb} MB"


# -- text --------------------------------------------------------------------------------------


def _evil_script(request: ss.DeckRequest, outline: ss.Outline, index: int) -> ss.SlideScript:
    return ss.SlideScript(
        index=index,
        title=f"Title {EVIL}",
        bullets=[f"Point {EVIL}", "\x1b[0m"],
        narration=f"Narration {EVIL}. Use <b>bold</b> --> and & too. Lone \ud800 surrogate.",
    )


def _evil_outline(request: ss.DeckRequest) -> ss.Outline:
    return ss.Outline(
        title=f"Deck {EVIL}", items=[ss.OutlineItem(f"Item {EVIL}", [EVIL]) for _ in range(2)]
    )


def _raw_controls(text: str) -> list[str]:
    return [c for c in text if (ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F]


async def test_control_characters_from_a_provider_reach_no_file(tmp_path: Path) -> None:
    script = FunctionScriptProvider(outline=_evil_outline, write_slide=_evil_script)
    deck = await pipeline(tmp_path, script_provider=script, tts_provider=FakeTTSProvider()).run(
        "Evil"
    )
    assert deck.title == "Deck red bell c1 nul"
    for result in deck.slides:
        assert not result.errors
        assert result.script.title == "Title red bell c1 nul"
        assert result.script.bullets == ["Point red bell c1 nul"]
    for kind in ("srt", "vtt"):
        text = deck.files[kind].read_text(encoding="utf-8")
        assert _raw_controls(text) == [] and "red bell" in text
    vtt = deck.files["vtt"].read_text(encoding="utf-8")
    assert "&lt;b&gt;bold&lt;/b&gt;" in vtt and "&amp;" in vtt
    cues = [line for line in vtt.splitlines() if "-->" in line]
    assert all(line.count(":") == 4 for line in cues)  # only timing lines hold "-->"
    srt = deck.files["srt"].read_text(encoding="utf-8")
    assert all(line[:2].isdigit() for line in srt.splitlines() if "-->" in line)
    manifest = (deck.project_dir / "slidestream.json").read_text(encoding="utf-8")
    assert "\ufffd" in manifest and _raw_controls(json.loads(manifest)["deck"]["title"]) == []
    prs = Presentation(str(deck.pptx_path))
    assert all(_raw_controls(shape.text_frame.text) == [] for s in prs.slides for shape in
               s.shapes if shape.has_text_frame)  # fmt: skip


async def test_a_slide_without_narration_has_what_is_spoken_in_notes_and_subtitles(
    tmp_path: Path,
) -> None:
    def unnarrated(request: ss.DeckRequest, outline: ss.Outline, index: int) -> ss.SlideScript:
        return ss.SlideScript(index=index, title="Tides", bullets=["The moon pulls"], narration="")

    def speak(text: str, **_: object) -> ss.SpeechClip:  # a voice without word timings
        return ss.SpeechClip(audio=mono_wav(bytes(2 * 16000), 16000), format="wav", duration_s=1)

    script = FunctionScriptProvider(write_slide=unnarrated, slides=1)
    tts = FunctionTTSProvider(speak)
    deck = await pipeline(tmp_path, script_provider=script, tts_provider=tts).run("Tides")
    spoken = tts.calls[0]
    assert deck.slides[0].script.narration == spoken
    notes = Presentation(str(deck.pptx_path)).slides[1].notes_slide.notes_text_frame
    assert notes is not None and notes.text == spoken
    assert "moon pulls" in deck.files["srt"].read_text(encoding="utf-8")


def test_escapes_in_an_input_file_and_provider_errors_print_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deck = tmp_path / "evil.md"
    evil = EVIL.replace("\x00", "")  # a NUL byte makes a file binary, refused as such
    deck.write_text(f"# Evil {evil}\n## Slide {evil}\n- point {evil}\n", encoding="utf-8")

    def fail(text: str, **_: object) -> ss.SpeechClip:
        raise ss.ProviderError(f"service said {EVIL}", provider="evil-tts", stage="tts")

    with providers.override({"evil-tts": lambda: FunctionTTSProvider(fail)}):
        code = cli.main(
            ["make", str(deck), "--out", str(tmp_path / "out"), "--tts", "evil-tts",
             "--images", "none", "--no-video"]
        )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 1  # every slide failed
    assert _raw_controls(out) == [] and _raw_controls(err) == []
    assert "Outline: Evil red bell c1 nul" in out
    assert "service said \\x1b[2J\\x1b[31mred" in out
    assert "Traceback" not in err


async def test_an_outline_of_the_wrong_type_fails_the_run_with_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = FunctionScriptProvider(outline=lambda request: {"title": "x"})  # type: ignore[arg-type,return-value]
    with pytest.raises(ss.PipelineError, match="returned dict, not an Outline"):
        await pipeline(tmp_path, script_provider=script).run("Wrong")
    status = json.loads((tmp_path / "wrong" / "slidestream.json").read_text())["status"]
    assert status == "failed"


async def test_a_slide_of_the_wrong_type_falls_back_to_its_outline_item(tmp_path: Path) -> None:
    script = FunctionScriptProvider(
        write_slide=lambda request, outline, index: (
            None if index == 0 else _evil_script(request, outline, index)
        ),  # type: ignore[arg-type,return-value]
    )
    deck = await pipeline(tmp_path, script_provider=script).run("Wrong slide", slides=2)
    first = deck.slides[0]
    assert "returned NoneType, not a SlideScript" in first.errors[0].message
    assert first.script.title  # the outline item's title


async def test_a_slide_stream_of_garbage_falls_back_to_writing_each_slide(tmp_path: Path) -> None:
    script = FunctionScriptProvider(stream_slides=lambda request, outline: ["not", "slides"])
    deck = await pipeline(tmp_path, script_provider=script).run("Garbage stream", slides=2)
    assert [s.script.index for s in deck.slides] == [0, 1]
    assert all(not s.errors for s in deck.slides)
    assert [c[0] for c in script.calls].count("write_slide") == 2
