"""Reading and checking MNIST-format IDX files (LeCun's format: a magic number, sizes, then the values).

Used when a folder of IDX files is imported, so that a file that is not what its name says is refused
at import, with its name, rather than failing later inside torchvision.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

_UBYTE = 0x08
IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10


class IDXError(ValueError):
    """A file that is not a valid IDX file of the expected kind. The message is one line."""


MAX_SAMPLES = 1_000_000
"""Most samples an imported IDX file may hold (MNIST and Fashion-MNIST hold 60,000): a header that
promises more is refused before its data are read, so a small compressed file cannot fill the memory."""


def read_idx_bytes(path: Path, *, images: bool) -> bytes:
    """The raw bytes of an IDX file, decompressed where it ends in .gz, read as a stream that stops at
    the size its header promises (a file longer than that is refused without reading the rest)."""
    ndim = 3 if images else 1
    header_size = 4 + 4 * ndim
    name = repr(str(path))
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as handle:
            header = handle.read(header_size)
            if len(header) < header_size or header[:2] != b"\0\0" or header[2] != _UBYTE or header[3] != ndim:
                return header  # check_idx names what is wrong with it
            count = struct.unpack(">I", header[4:8])[0]
            if count > MAX_SAMPLES:
                raise IDXError(f"{name} promises {count:,} samples, above the limit of {MAX_SAMPLES:,}")
            sample = int.from_bytes(header[8:12], "big") * int.from_bytes(header[12:16], "big") if images else 1
            if images and sample != IMAGE_SHAPE[0] * IMAGE_SHAPE[1]:
                return header
            body = handle.read(count * sample + 1)
    except (OSError, EOFError) as err:
        raise IDXError(f"cannot read {name} ({err}); is the file complete?") from None
    if len(body) > count * sample:
        raise IDXError(f"{name} holds more data than its header promises ({count * sample + header_size} bytes); "
                       "is it an IDX file?")
    return header + body


def check_idx(data: bytes, name: str, *, images: bool) -> int:
    """Check an unsigned-byte IDX file of images (N x 28 x 28) or labels (N, values 0..9); returns N."""
    ndim = 3 if images else 1
    header = 4 + 4 * ndim
    if len(data) < header or data[:2] != b"\0\0" or data[2] != _UBYTE or data[3] != ndim:
        raise IDXError(f"{name} is not an IDX file of {'images' if images else 'labels'} (magic number "
                       f"{data[:4].hex() or 'missing'}, expected 0000080{ndim})")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    if images and tuple(dims[1:]) != IMAGE_SHAPE:
        raise IDXError(f"{name} holds images of {dims[1]}x{dims[2]}, expected 28x28")
    expected = header + int(dims[0]) * (IMAGE_SHAPE[0] * IMAGE_SHAPE[1] if images else 1)
    if len(data) != expected:
        raise IDXError(f"{name} has {len(data)} bytes where its header promises {expected}; is it complete?")
    if not images and dims[0] and max(data[header:]) >= NUM_CLASSES:
        raise IDXError(f"{name} holds label {max(data[header:])}, outside 0..{NUM_CLASSES - 1}")
    if dims[0] == 0:
        raise IDXError(f"{name} holds no samples")
    if not images and len(set(data[header:])) < 2:
        raise IDXError(f"{name} holds only label {data[header]}; a classification dataset needs two classes or more")
    return int(dims[0])
