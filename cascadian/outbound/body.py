"""Reading a response body with its decoded size capped while it streams, by a deadline.

httpx's own decoders inflate each compressed chunk whole, so a few hundred KiB of
gzip can become hundreds of MB before any size check sees it. Here the raw bytes are
inflated in steps of at most `STEP` bytes through each `Content-Encoding` in turn
(gzip and deflate, as many as the server chained), so memory stays near the cap
whatever the compression ratio. Other encodings are refused: we only ask for these.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Iterator

import httpx

from cascadian.errors import OutboundError
from cascadian.outbound.retry import describe_error

ACCEPT_ENCODING = "gzip, deflate"
STEP = 64 * 1024
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class BodyTooLarge(OutboundError):
    pass


class _Inflater:
    """One Content-Encoding step; `deflate` may come with or without its zlib header."""

    def __init__(self, encoding: str) -> None:
        self._encoding = encoding
        self._inflate = zlib.decompressobj(_WBITS[encoding])
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        while True:
            try:
                out = self._inflate.decompress(data, STEP)
            except zlib.error:
                if self._encoding != "deflate" or self._started:
                    raise
                self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate
                out = self._inflate.decompress(data, STEP)
            self._started = True
            if out:
                yield out
            data = self._inflate.unconsumed_tail
            # A full step may leave output pending inside zlib with no input left.
            if not data and len(out) < STEP:
                return


def _encodings(response: httpx.Response) -> list[str]:
    header = response.headers.get("content-encoding", "")
    names = [n.strip().lower() for n in header.split(",") if n.strip()]
    names = [n for n in names if n != "identity"]
    unknown = [n for n in names if n not in _WBITS]
    if unknown:
        raise OutboundError(
            f"the response is encoded as {unknown[0][:40]!r}, which cannot be decoded "
            f"(requests ask for {ACCEPT_ENCODING})"
        )
    return names


def _decode(inflaters: list[_Inflater], data: bytes) -> Iterator[bytes]:
    """`data` through every step; the server applied them first to last."""
    if not inflaters:
        yield data
        return
    first, rest = inflaters[-1], inflaters[:-1]
    for piece in first.feed(data):
        yield from _decode(rest, piece)


async def read_capped(
    response: httpx.Response, cap: int, label: str, deadline: float | None = None
) -> bytes:
    """The decoded body, or an OutboundError once it passes `cap` bytes, the loop time
    `deadline` passes, or it cannot be read or decoded."""
    too_large = BodyTooLarge(
        f"The response from {label} is larger than the {cap}-byte limit "
        "(CASCADIAN_HTTP_MAX_RESPONSE_BYTES); the download was stopped."
    )
    if response.request.method == "HEAD" or response.status_code in (204, 304):
        return b""  # no body, whatever Content-Length says of the resource
    try:  # a response built in-process (a transport's own answer) is already read
        content = response.content
    except httpx.ResponseNotRead:
        pass
    else:
        if len(content) > cap:
            raise too_large
        return content
    inflaters = [_Inflater(name) for name in _encodings(response)]
    declared = response.headers.get("content-length", "")
    if not inflaters and declared.isdigit() and int(declared) > cap:
        raise too_large
    body = bytearray()
    try:
        async with asyncio.timeout_at(deadline):
            async for raw in response.aiter_raw(STEP):
                for piece in _decode(inflaters, raw):
                    body += piece
                    if len(body) > cap:
                        raise too_large
    except TimeoutError:
        raise OutboundError(
            f"Reading the response from {label} did not finish before the run's deadline."
        ) from None
    except zlib.error as exc:
        raise OutboundError(f"The response from {label} could not be decoded: {exc}") from None
    except httpx.HTTPError as exc:
        raise OutboundError(
            f"Reading the response from {label} failed: {describe_error(exc)}"
        ) from exc
    return bytes(body)
