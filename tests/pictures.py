"""Pictures for the motion tests: a porch scene with a walking figure, and ways to look into GIFs."""

from __future__ import annotations

import io

from PIL import Image, ImageChops, ImageDraw, ImageSequence


def scene(width: int, height: int, step: int, *, noise: int = 0) -> Image.Image:
    """A porch: wall, door, and a figure that walks `step` places to the right."""
    image = Image.new("RGB", (width, height), (222, 205, 170))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, height // 4), fill=(160, 200, 235))
    draw.rectangle((width * 2 // 5, height // 3, width * 3 // 5, height * 9 // 10), fill=(35, 80, 130))
    x = width // 10 + step * width // 8
    draw.ellipse((x, height // 3, x + width // 10, height // 3 + width // 10), fill=(230, 180, 150))
    draw.rectangle((x, height // 2, x + width // 10, height * 9 // 10), fill=(150, 40, 40))
    if noise:
        grain = Image.effect_noise((width, height), noise).convert("RGB")
        image = ImageChops.add(image, grain, scale=1.0, offset=-128)
    return image


def jpeg(image: Image.Image, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, **options)
    return out.getvalue()


def burst(count: int, width: int = 1280, height: int = 960, noise: int = 12) -> list[bytes]:
    return [jpeg(scene(width, height, step, noise=noise)) for step in range(count)]


def gif_blocks(data: bytes) -> list[str]:
    """The blocks of a GIF file in order: 'image', 'gce', 'app:<identifier>', 'comment', 'ext:<label>'."""
    assert data[:6] == b"GIF89a"
    pos = 13
    flags = data[10]
    if flags & 0x80:
        pos += 3 * (2 << (flags & 7))
    blocks: list[str] = []

    def skip_sub_blocks(at: int) -> int:
        while data[at]:
            at += data[at] + 1
        return at + 1

    while data[pos] != 0x3B:
        if data[pos] == 0x2C:
            blocks.append("image")
            local = data[pos + 9]
            pos += 10 + (3 * (2 << (local & 7)) if local & 0x80 else 0)
            pos = skip_sub_blocks(pos + 1)  # LZW minimum code size, then the data
        else:
            assert data[pos] == 0x21
            label = data[pos + 1]
            if label == 0xF9:
                blocks.append("gce")
            elif label == 0xFF:
                blocks.append("app:" + data[pos + 3 : pos + 3 + 11].decode("latin-1"))
            elif label == 0xFE:
                blocks.append("comment")
            else:
                blocks.append(f"ext:{label:#x}")
            pos = skip_sub_blocks(pos + 2)
    return blocks


def mean_difference(one: Image.Image, other: Image.Image) -> float:
    """Mean difference of the pixels (0-255), `other` brought to `one`'s size first."""
    if other.size != one.size:
        other = other.resize(one.size, Image.Resampling.BILINEAR)
    histogram = ImageChops.difference(one, other).convert("L").histogram()
    return sum(value * count for value, count in enumerate(histogram)) / sum(histogram)


def frames_of(data: bytes) -> list[tuple[Image.Image, int]]:
    animation = Image.open(io.BytesIO(data))
    return [(frame.convert("RGB"), frame.info["duration"]) for frame in ImageSequence.Iterator(animation)]
