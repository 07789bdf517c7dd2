"""Animated GIFs within the budget and time-stamped pictures (pure Pillow functions)."""

from __future__ import annotations

from datetime import UTC, datetime
import io
from typing import Any

from PIL import Image, ImageChops, ImageDraw, ImageFont
import pytest

from custom_components.serwersms.mms import gif, overlay
from custom_components.serwersms.mms.fitting import Animation, Picture, digest, fit_all
from custom_components.serwersms.mms.gif import Label, fit_animated_gif, fit_burst
from custom_components.serwersms.mms.images import ImageTooLargeError, NotAnImageError
from custom_components.serwersms.mms.overlay import BOX_COLOR, TEXT_COLOR, draw_label
from tests.pictures import burst, frames_of, gif_blocks, jpeg, mean_difference, scene

KB = 1024
WHEN = datetime(2026, 11, 14, 14, 3, 27, tzinfo=UTC)


def test_a_burst_becomes_one_looping_gif_within_budget_with_nothing_but_pictures() -> None:
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    exif[0x8825] = {1: "N", 2: (52.0, 13.0, 0.0)}
    frames = [jpeg(scene(1280, 960, step, noise=12), exif=exif, comment=b"secret place") for step in range(5)]
    fitted = fit_burst(frames, "camera_front_door", 300 * KB, 1500)
    assert (fitted.content_type, fitted.filename) == ("image/gif", "camera_front_door.gif")
    assert len(fitted.content) <= 300 * KB
    shown = frames_of(fitted.content)
    assert [duration for _, duration in shown] == [1500] * 5
    assert Image.open(io.BytesIO(fitted.content)).info["loop"] == 0  # loops forever
    blocks = gif_blocks(fitted.content)
    assert blocks.count("image") == 5
    assert set(blocks) == {"image", "gce", "app:NETSCAPE2.0"}
    # (the blocks above say it already; these are the source's own words, long enough not to occur
    # by chance in compressed pixels)
    for marker in (b"secret place", b"TestCam"):
        assert marker not in fitted.content
    # scaled down keeping the aspect, but not to a thumbnail: most of the budget is used
    assert fitted.width * 3 == pytest.approx(fitted.height * 4, abs=3)
    assert fitted.width >= 480
    assert len(fitted.content) >= 0.75 * 300 * KB


def test_each_frame_shows_its_own_moment() -> None:
    fitted = fit_burst(burst(3, 640, 480, noise=0), "cam", 300 * KB, 1000)
    shown = [frame for frame, _ in frames_of(fitted.content)]
    assert (fitted.width, fitted.height) == (640, 480)  # small enough to go at full size
    scenes = [scene(640, 480, step) for step in range(3)]
    for step, frame in enumerate(shown):
        # palette colours are close, not exact; the walking figure is where it was in that frame
        distances = [mean_difference(frame, expected) for expected in scenes]
        assert distances[step] < 2
        assert min(distances) == distances[step]


def test_a_smaller_budget_gives_a_smaller_gif_and_an_impossible_one_is_refused() -> None:
    frames = burst(4)
    small = fit_burst(frames, "cam", 40 * KB, 1000)
    large = fit_burst(frames, "cam", 200 * KB, 1000)
    assert len(small.content) <= 40 * KB
    assert small.width < large.width
    assert len(frames_of(small.content)) == 4
    with pytest.raises(ImageTooLargeError):
        fit_burst(frames, "cam", 2 * KB, 1000)


def test_frames_of_another_size_are_brought_to_the_first_frames_size() -> None:
    frames = [jpeg(scene(640, 480, 0)), jpeg(scene(320, 240, 1)), jpeg(scene(640, 480, 2))]
    fitted = fit_burst(frames, "cam", 300 * KB, 1000)
    assert [frame.size for frame, _ in frames_of(fitted.content)] == [(640, 480)] * 3


def test_a_burst_too_big_to_hold_is_refused_after_its_first_frame() -> None:
    # 20 frames of 1600x1600 would take 51 MP (150 MB) decoded: more than one picture may
    big = jpeg(scene(1600, 1600, 0))
    with pytest.raises(ImageTooLargeError):
        fit_burst([big] + [b"never decoded"] * 19, "cam", 300 * KB, 1000)


def test_broken_frames_are_refused() -> None:
    with pytest.raises(NotAnImageError):
        fit_burst([jpeg(scene(64, 48, 0)), b"<html>oops</html>"], "cam", 300 * KB, 1000)


def test_labels_are_drawn_on_every_frame() -> None:
    frames = burst(3, 640, 480, noise=0)
    labels = [Label("Front door", datetime(2026, 11, 14, 14, 3, 27 + k, tzinfo=UTC)) for k in range(3)]
    plain = fit_burst(frames, "cam", 300 * KB, 1000)
    stamped = fit_burst(frames, "cam", 300 * KB, 1000, labels)
    assert (stamped.width, stamped.height) == (plain.width, plain.height) == (640, 480)
    for with_label, without in zip(frames_of(stamped.content), frames_of(plain.content), strict=True):
        box = ink_box(with_label[0], without[0])
        assert box is not None
        assert box[0] < 640 * 0.05
        assert box[3] > 480 * 0.95
        assert text_height(with_label[0], box) >= 0.03 * 480


def test_labels_are_drawn_at_the_size_sent() -> None:
    """Text drawn before scaling would shrink with the picture; it keeps its share of the height."""
    labels = [Label("Front door", datetime(2026, 11, 14, 14, 3, 27 + k, tzinfo=UTC)) for k in range(3)]
    stamped = fit_burst(burst(3), "cam", 60 * KB, 1000, labels)
    assert stamped.height < 480
    for frame, _ in frames_of(stamped.content):
        # the scene has nothing near black: the dark area is the label's box
        box = frame.convert("L").point(lambda value: 255 if value < 30 else 0).getbbox()
        assert box is not None
        assert box[0] < stamped.width * 0.05
        assert box[3] > stamped.height * 0.95
        assert text_height(frame, box) >= 0.03 * stamped.height


def animated(count: int, size: tuple[int, int], *, durations: list[int], loop: int | None) -> bytes:
    pictures = [scene(*size, step, noise=30).quantize(200) for step in range(count)]
    out = io.BytesIO()
    options: dict[str, object] = {"duration": durations, "comment": b"made at home"}
    if loop is not None:
        options["loop"] = loop
    pictures[0].save(out, "GIF", save_all=True, append_images=pictures[1:], **options)
    return out.getvalue()


@pytest.mark.parametrize("loop", [0, 3, None])
def test_an_animated_gif_too_big_keeps_its_animation_timing_and_loop(loop: int | None) -> None:
    data = animated(4, (900, 700), durations=[100, 200, 300, 400], loop=loop)
    assert len(data) > 250 * KB
    fitted = fit_animated_gif(Image.open(io.BytesIO(data)), "dance.gif", 150 * KB)
    assert fitted.content_type == "image/gif"
    assert fitted.filename == "dance.gif"
    assert len(fitted.content) <= 150 * KB
    assert [duration for _, duration in frames_of(fitted.content)] == [100, 200, 300, 400]
    assert Image.open(io.BytesIO(fitted.content)).info.get("loop") == loop
    assert b"made at home" not in fitted.content


def test_an_animation_with_too_many_pixels_is_not_decoded() -> None:
    # 14 frames on a 4000x4000 screen, each a single pixel: tiny to store, 224 MP to decode.
    out = io.BytesIO()
    Image.new("P", (1, 1), 0).save(out, "GIF")
    dot = out.getvalue()
    header, image_block = dot[:13], dot[13 + 3 * (2 << (dot[10] & 7)) : -1]
    table = dot[13 : 13 + 3 * (2 << (dot[10] & 7))]
    screen = header[:6] + (4000).to_bytes(2, "little") * 2 + header[10:]
    huge = Image.open(io.BytesIO(screen + table + image_block * 14 + b";"))
    assert (huge.size, huge.n_frames) == ((4000, 4000), 14)
    with pytest.raises(ImageTooLargeError):
        fit_animated_gif(huge, "huge.gif", 300 * KB)


# --- overlay -------------------------------------------------------------------------------------


def ink_box(stamped: Image.Image, original: Image.Image) -> tuple[int, int, int, int] | None:
    """Bounding box of the pixels the overlay changed (beyond compression noise)."""
    difference = ImageChops.difference(stamped.convert("RGB"), original.convert("RGB")).convert("L")
    return difference.point(lambda value: 255 if value > 48 else 0).getbbox()


def text_height(stamped: Image.Image, box: tuple[int, int, int, int]) -> int:
    """Height of the bright text inside the dark label box."""
    text = stamped.crop(box).convert("L").point(lambda value: 255 if value > 160 else 0).getbbox()
    assert text is not None
    return text[3] - text[1]


@pytest.mark.parametrize(
    ("size", "name"),
    [
        ((1280, 960), "Front door"),
        ((320, 240), "Front door"),
        ((960, 1280), "Garden gate by the old apple tree"),
    ],
)
def test_the_label_is_in_the_corner_and_nowhere_else(size: tuple[int, int], name: str) -> None:
    picture = scene(*size, 2, noise=20)
    stamped = draw_label(picture, name, WHEN)
    assert stamped.size == picture.size
    box = ink_box(stamped, picture)
    assert box is not None
    left, top, right, bottom = box
    # bottom-left corner, inside the picture
    assert left <= size[1] * 0.02
    assert bottom >= size[1] * 0.97
    assert right <= size[0]
    # everything outside the label is untouched, pixel for pixel
    outside = ImageChops.difference(stamped, picture)
    outside.paste((0, 0, 0), box)
    assert outside.getbbox() is None
    # white text on a black box, tall enough to read on a phone
    assert stamped.getpixel((left + 1, top + 1)) == BOX_COLOR
    assert TEXT_COLOR in {color for _, color in stamped.crop(box).getcolors(1 << 20) or []}
    assert text_height(stamped, box) >= 0.03 * size[1]
    if name == "Front door":  # room enough: the usual 4 %, not the floor
        assert text_height(stamped, box) >= 0.036 * size[1]


def test_a_long_name_is_shortened_so_the_time_stays_readable() -> None:
    picture = scene(320, 240, 0)
    stamped = draw_label(picture, "A very long camera name that would never fit on this picture", WHEN)
    box = ink_box(stamped, picture)
    assert box is not None
    assert box[2] < 318  # ends inside the picture, short of its right edge: nothing is cut off
    # the time is all there: a label of the time alone is no wider than what was drawn
    time_only = draw_label(picture, "", WHEN)
    time_box = ink_box(time_only, picture)
    assert time_box is not None
    assert time_box[2] - time_box[0] <= box[2] - box[0]


def test_a_200_character_name_is_cut_with_a_few_measurements_and_drawn_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ten cameras of ten stamped frames with such names took minutes when each cut was drawn."""
    drawn: list[str] = []
    measured: list[str] = []
    draw_text = ImageDraw.ImageDraw.text
    measure = ImageFont.FreeTypeFont.getbbox

    def text(self: ImageDraw.ImageDraw, xy: Any, text: str, *args: Any, **kwargs: Any) -> None:
        drawn.append(text)
        draw_text(self, xy, text, *args, **kwargs)

    def getbbox(self: ImageFont.FreeTypeFont, text: str, *args: Any, **kwargs: Any) -> Any:
        measured.append(text)
        return measure(self, text, *args, **kwargs)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", text)
    monkeypatch.setattr(ImageFont.FreeTypeFont, "getbbox", getbbox)
    picture = scene(320, 240, 0)
    name = ("Garden gate by the old apple tree, " * 6)[:200]
    stamped = draw_label(picture, name, WHEN)
    assert len(drawn) == 1  # the label that fits, and nothing else
    assert len(measured) <= 20  # about twice log2(200)
    assert max(len(text) for text in measured) < 80  # never the whole 200 characters
    (label,) = drawn
    assert label.startswith("Garden gate")
    assert label.endswith("…  2026-11-14 14:03:27")
    # as much of the name as there is room for: the box reaches nearly across the picture
    box = ink_box(stamped, picture)
    assert box is not None
    assert 0.8 * 320 < box[2] < 318


def test_the_label_keeps_its_size_without_freetype(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pillow built without FreeType only has a small bitmap font: it is scaled up, not left tiny."""
    monkeypatch.setattr(ImageFont, "load_default", lambda size=None: ImageFont.load_default_imagefont())
    overlay._font.cache_clear()
    overlay._cap_ratio.cache_clear()
    try:
        picture = scene(1280, 960, 0)
        stamped = draw_label(picture, "Front door", WHEN)
        box = ink_box(stamped, picture)
        assert box is not None
        assert text_height(stamped, box) >= 0.03 * 960
    finally:
        overlay._font.cache_clear()
        overlay._cap_ratio.cache_clear()


# --- the whole MMS ---------------------------------------------------------------------------------


def test_a_gif_and_a_picture_share_the_budget_by_what_they_carry() -> None:
    still = jpeg(scene(1280, 960, 0, noise=12))
    items = [
        Picture(still, "camera_porch"),
        Animation(tuple(burst(6)), "camera_front_door", 1000),
    ]
    picture, animation = fit_all(items, 300 * KB)
    assert len(picture.content) + len(animation.content) <= 300 * KB
    assert (picture.content_type, animation.content_type) == ("image/jpeg", "image/gif")
    assert (picture.filename, animation.filename) == ("camera_porch.jpg", "camera_front_door.gif")
    # six frames take more room than one picture, and nothing much is left unused
    assert len(animation.content) > 2 * len(picture.content)
    assert len(picture.content) + len(animation.content) > 0.8 * 300 * KB


def test_a_burst_too_big_for_its_budget_keeps_fewer_frames_spread_over_the_whole_burst() -> None:
    frames = burst(10, 640, 480)
    fitted = fit_burst(frames, "cam", 10 * KB, 1000)
    assert len(fitted.content) <= 10 * KB
    shown = frames_of(fitted.content)
    assert 2 <= fitted.frames == len(shown) < 10
    assert min(fitted.width, fitted.height) >= 96  # not a thumbnail: fewer frames instead
    # each shown until the next one's moment: ten seconds of burst still play in ten seconds
    assert sum(duration for _, duration in shown) == 10_000
    # the first frame is the first moment, the last the last (the figure has walked off by then)
    scenes = [scene(640, 480, step) for step in range(10)]
    first = [mean_difference(shown[0][0], expected) for expected in scenes]
    assert min(first) == first[0]
    last = [mean_difference(shown[-1][0], expected) for expected in scenes]
    assert min(last) == last[9]


def test_a_camera_whose_share_cannot_carry_two_frames_goes_as_a_stamped_still() -> None:
    labels = tuple(Label("Porch", datetime(2026, 11, 14, 14, 3, 27 + k, tzinfo=UTC)) for k in range(10))
    frames = tuple(burst(10))
    (fitted,) = fit_all([Animation(frames, "camera_porch", 1000, labels)], 4 * KB)
    assert (fitted.content_type, fitted.filename, fitted.frames) == ("image/jpeg", "camera_porch.jpg", 1)
    assert len(fitted.content) <= 4 * KB
    still = Image.open(io.BytesIO(fitted.content)).convert("RGB")
    dark = still.convert("L").point(lambda value: 255 if value < 30 else 0).getbbox()
    assert dark is not None  # the label's box, bottom left
    assert dark[0] < still.width * 0.05
    assert dark[3] > still.height * 0.95


def test_a_picture_next_to_a_big_animation_keeps_a_legible_size() -> None:
    """Shared by weight alone, the picture would get 2.6 KB of 17: a 215-pixel smudge."""
    still = jpeg(scene(1280, 960, 0, noise=12))
    picture, animation = fit_all(
        [Picture(still, "camera_porch"), Animation(tuple(burst(10)), "cam", 1000)], 17 * KB
    )
    assert len(picture.content) + len(animation.content) <= 17 * KB
    assert picture.content_type == "image/jpeg"
    assert picture.width >= 400
    assert animation.frames >= 2  # and the animation still moves


def test_a_stamped_picture_is_stamped_even_when_it_would_fit_as_it_is() -> None:
    small = jpeg(scene(320, 240, 0))
    (plain,) = fit_all([Picture(small, "cam")], 300 * KB)
    (stamped,) = fit_all([Picture(small, "cam", Label("Porch", WHEN))], 300 * KB)
    assert plain.content == small  # sent as it came
    picture = Image.open(io.BytesIO(stamped.content)).convert("RGB")
    box = ink_box(picture, Image.open(io.BytesIO(small)))
    assert box is not None
    assert box[0] < 16
    assert box[3] > 230


def test_an_animated_gif_that_cannot_move_within_the_budget_goes_as_a_still_picture() -> None:
    pictures = [Image.effect_noise((300, 200), 100 + step).convert("P") for step in range(30)]
    out = io.BytesIO()
    pictures[0].save(out, "GIF", save_all=True, append_images=pictures[1:], duration=100, loop=0)
    (fitted,) = fit_all([Picture(out.getvalue(), "noise.gif")], 12 * KB)
    assert fitted.content_type == "image/jpeg"
    assert len(fitted.content) <= 12 * KB


def test_an_animated_gif_that_fits_is_sent_as_it_is() -> None:
    data = animated(3, (200, 150), durations=[100, 100, 100], loop=0)
    (fitted,) = fit_all([Picture(data, "small.gif")], 300 * KB)
    assert fitted.content_type == "image/gif"
    assert [duration for _, duration in frames_of(fitted.content)] == [100, 100, 100]
    assert b"made at home" not in fitted.content  # its comment went, nothing else changed


def test_the_fit_digest_tells_apart_what_fits_differently() -> None:
    frames = (b"one", b"two")
    base = digest([Animation(frames, "cam", 1000)])
    assert base == digest([Animation(frames, "cam", 1000)])
    assert base != digest([Animation(frames, "cam", 500)])
    assert base != digest([Animation(frames, "cam", 1000, (Label("A", WHEN), None))])
    assert base != digest([Picture(b"one", "cam"), Picture(b"two", "cam")])
    assert digest([Picture(b"x", "cam", Label("A", WHEN))]) != digest([Picture(b"x", "cam")])


def test_a_tall_narrow_picture_gets_a_smaller_label_but_never_below_3_percent() -> None:
    picture = scene(500, 1000, 0)
    stamped = draw_label(picture, "Garden", WHEN)
    box = ink_box(stamped, picture)
    assert box is not None
    assert box[2] < 498  # it fits: the time at the usual 4 % would not
    assert 30 <= text_height(stamped, box) < 38


def test_a_picture_too_narrow_for_the_time_still_gets_it_cut_at_the_edge() -> None:
    picture = scene(200, 1000, 0)
    stamped = draw_label(picture, "Garden", WHEN)
    box = ink_box(stamped, picture)
    assert box is not None
    assert box[2] == 200
    assert text_height(stamped, box) >= 30


def test_a_frame_too_big_or_a_bomb_is_refused() -> None:
    out = io.BytesIO()
    Image.new("1", (8000, 8000)).save(out, "PNG")  # 64 MP: more than a camera frame can be
    with pytest.raises(ImageTooLargeError):
        fit_burst([out.getvalue(), jpeg(scene(64, 48, 0))], "cam", 300 * KB, 1000)
    bomb = io.BytesIO()
    Image.new("1", (20000, 20000)).save(bomb, "PNG")
    with pytest.raises(ImageTooLargeError):
        fit_burst([bomb.getvalue(), jpeg(scene(64, 48, 0))], "cam", 300 * KB, 1000)


def test_transparent_frames_are_shown_on_white() -> None:
    frames = []
    for step in range(3):
        picture = scene(200, 150, step).convert("RGBA")
        picture.putalpha(Image.new("L", picture.size, 255).crop((0, 0, 200, 150)))
        picture.paste((0, 0, 0, 0), (0, 0, 200, 20))  # a clear band along the top
        out = io.BytesIO()
        picture.save(out, "PNG")
        frames.append(out.getvalue())
    fitted = fit_burst(frames, "cam", 300 * KB, 1000)
    first, _ = frames_of(fitted.content)[0]
    assert first.getpixel((100, 10)) == (255, 255, 255)


def test_a_broken_animated_gif_is_refused() -> None:
    data = animated(4, (300, 200), durations=[100] * 4, loop=0)
    with pytest.raises(NotAnImageError):
        fit_animated_gif(Image.open(io.BytesIO(data[: len(data) * 2 // 3])), "cut.gif", 10 * KB)


def test_a_still_gif_too_big_becomes_a_jpeg_and_broken_gif_bytes_are_refused() -> None:
    out = io.BytesIO()
    Image.effect_noise((600, 400), 100).convert("P").save(out, "GIF")
    (fitted,) = fit_all([Picture(out.getvalue(), "still.gif")], 30 * KB)
    assert fitted.content_type == "image/jpeg"
    with pytest.raises(NotAnImageError):
        fit_all([Picture(b"GIF89a but nothing more", "broken.gif")], 30 * KB)


def test_the_size_search_keeps_the_largest_gif_that_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sizes do not grow smoothly into bytes; a later, smaller fit never replaces a larger one."""
    tried: list[tuple[tuple[int, int], int]] = []

    def encode(source: object, size: tuple[int, int], palette: object) -> tuple[bytes, Image.Image]:
        # a step: up to 500 kpx two thirds of the budget (too little to stop), beyond it too much
        length = int(300 * KB * (0.7 if size[0] * size[1] <= 500_000 else 1.3))
        tried.append((size, length))
        return b"x" * length, Image.new("P", (1, 1))

    monkeypatch.setattr(gif, "_encode", encode)
    fitted = fit_burst(burst(2, noise=0), "cam", 300 * KB, 1000)
    fitting_sizes = [size for size, length in tried if length <= 300 * KB]
    assert len(fitting_sizes) >= 2  # the search came back below its first fit
    assert (fitted.width, fitted.height) == max(fitting_sizes)
