"""Small image files of each kind the artifact browser shows in place, made
here (no image library needed)."""

from __future__ import annotations

import base64
import struct
import zlib

WIDTH, HEIGHT = 4, 3


def png(width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """A solid blue RGB PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x07\x57\xc5" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


# One white pixel.
GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")

# An SVG that would mark the page (and open a dialog) if its script ever ran.
SVG_WITH_SCRIPT = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10">'
    '<rect width="20" height="10" fill="#1a7f37"/>'
    "<script>try { window.top.svgScriptRan = true; } catch (e) {} alert('svg script')</script>"
    "</svg>"
)
