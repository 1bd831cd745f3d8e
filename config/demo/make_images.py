"""Writes the demo's images (poster.jpg, poster02.png) beside this file, with the stdlib only."""

from __future__ import annotations

import random
import struct
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
RGB = tuple[int, int, int]

# A baseline JPEG whose 8x8 blocks are each one colour needs only DC coefficients: with every
# quantiser 8, a block of value v has DC coefficient v - 128 and every AC coefficient is 0.
_DC_BITS = (0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0)  # ITU T.81 table K.3
_AC_BITS = (1,) + (0,) * 15  # one symbol, end-of-block, coded as the single bit 0


def png(width: int, height: int, pixel: Callable[[int, int], RGB]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"".join(
        (b"\x89PNG\r\n\x1a\n", chunk(b"IHDR", header), chunk(b"IDAT", zlib.compress(rows, 9))),
    ) + chunk(b"IEND", b"")


def jpeg(columns: int, rows: int, block: Callable[[int, int], RGB]) -> bytes:
    """A JPEG of columns x rows blocks of 8x8 pixels, block(column, row) giving each colour."""
    head = b"\xff\xd8" + _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    head += _segment(0xDB, b"\x00" + bytes([8] * 64))
    frame = (
        struct.pack(">BHHB", 8, rows * 8, columns * 8, 3) + b"\x01\x11\x00\x02\x11\x00\x03\x11\x00"
    )
    head += _segment(0xC0, frame)
    head += _segment(0xC4, b"\x00" + bytes(_DC_BITS) + bytes(range(12)))
    head += _segment(0xC4, b"\x10" + bytes(_AC_BITS) + b"\x00")
    head += _segment(0xDA, b"\x03\x01\x00\x02\x00\x03\x00\x00\x3f\x00")
    return head + _entropy(columns, rows, block) + b"\xff\xd9"


def _segment(marker: int, data: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(data) + 2) + data


def _entropy(columns: int, rows: int, block: Callable[[int, int], RGB]) -> bytes:
    codes = _dc_codes()
    previous = [0, 0, 0]
    bits: list[str] = []
    for row in range(rows):
        for column in range(columns):
            for index, value in enumerate(_ycbcr(block(column, row))):
                diff, previous[index] = value - previous[index], value
                size = abs(diff).bit_length()
                extra = diff if diff >= 0 else diff + (1 << size) - 1
                bits += (codes[size], format(extra, f"0{size}b") if size else "", "0")
    stream = "".join(bits)
    stream += "1" * (-len(stream) % 8)
    data = bytes(int(stream[i : i + 8], 2) for i in range(0, len(stream), 8))
    return data.replace(b"\xff", b"\xff\x00")


def _dc_codes() -> list[str]:
    codes, code, symbol = [""] * 12, 0, 0
    for length, count in enumerate(_DC_BITS, start=1):
        for _ in range(count):
            codes[symbol], code, symbol = format(code, f"0{length}b"), code + 1, symbol + 1
        code <<= 1
    return codes


def _ycbcr(rgb: RGB) -> Iterator[int]:
    r, g, b = rgb
    yield round(0.299 * r + 0.587 * g + 0.114 * b) - 128
    yield round(-0.168736 * r - 0.331264 * g + 0.5 * b)
    yield round(0.5 * r - 0.418688 * g - 0.081312 * b)


def poster_block(column: int, row: int) -> RGB:
    """An orange-to-crimson poster with a cream card carrying dark 'lines of text'."""
    if 4 <= column < 26 and 12 <= row < 30:
        if row in (15, 18, 21, 24) and 7 <= column < (23 if row != 24 else 16):
            return (90, 30, 40)
        return (255, 244, 220)
    t = row / 39
    return (255 - round(75 * t), 150 - round(130 * t), round(60 * t) + (column % 2) * 12)


def qr_pixel(modules: list[list[bool]], scale: int, quiet: int) -> Callable[[int, int], RGB]:
    def pixel(x: int, y: int) -> RGB:
        mx, my = x // scale - quiet, y // scale - quiet
        inside = 0 <= mx < len(modules) and 0 <= my < len(modules)
        return (16, 70, 150) if inside and modules[my][mx] else (250, 250, 240)

    return pixel


def qr_modules(size: int = 25, seed: int = 2026) -> list[list[bool]]:
    """A QR-looking pattern: three finder squares, timing lines, seeded noise (not decodable)."""
    noise = random.Random(seed)
    grid = [[noise.random() < 0.5 for _ in range(size)] for _ in range(size)]
    for i in range(8, size - 8):
        grid[6][i] = grid[i][6] = i % 2 == 0
    for top, left in ((0, 0), (0, size - 7), (size - 7, 0)):
        for dy in range(-1, 8):
            for dx in range(-1, 8):
                y, x = top + dy, left + dx
                if 0 <= y < size and 0 <= x < size:
                    ring = max(abs(dy - 3), abs(dx - 3))
                    grid[y][x] = ring in (0, 1, 3)
    return grid


def main() -> None:
    (HERE / "poster.jpg").write_bytes(jpeg(30, 40, poster_block))
    modules, scale, quiet = qr_modules(), 8, 4
    side = (len(modules) + 2 * quiet) * scale
    (HERE / "poster02.png").write_bytes(png(side, side, qr_pixel(modules, scale, quiet)))


if __name__ == "__main__":
    main()
