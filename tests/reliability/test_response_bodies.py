"""A hostile reply cannot blow up a run's memory or hold it past its deadline.

Before: httpx inflated each compressed chunk whole, so a 20 MB-decoded gzip body (20 KiB
on the wire) was in memory before the 1 MB cap saw it; a body trickling in was read
past the run's deadline, as long as each byte came within the per-read timeout.
"""

from __future__ import annotations

import asyncio
import gzip
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Sequence
from typing import Any
from uuid import uuid4

import httpx
import pytest
import respx

from cascadian.config import Settings
from cascadian.data import Workflow
from cascadian.workflow.node_api import NodeContext, NodeError, NodeServices
from cascadian.workflow.nodes.http_fetch import HttpRequestConfig
from cascadian.workflow.nodes.http_request import HTTP_REQUEST

API = "93.184.216.34"
URL = "https://api.example.com/data"
CAP = 1_000_000


async def resolver(host: str, port: int) -> Sequence[str]:
    return [API]


def context(deadline: float | None = None) -> NodeContext:
    return NodeContext(
        workflow=Workflow(id=uuid4(), name="strategy", nodes=[], edges=[]),
        node_id="fetch",
        inputs={},
        services=NodeServices(Settings(CASCADIAN_HTTP_MAX_RESPONSE_BYTES=CAP), resolver=resolver),  # type: ignore[call-arg]
        deadline=deadline,
    )


async def fetch(deadline: float | None = None) -> Any:
    config = HttpRequestConfig.model_validate({"url": URL})
    return await HTTP_REQUEST.run(config, context(deadline))


class Wire(httpx.AsyncByteStream):
    """The body as it arrives: the bytes on the wire, in 16 KiB pieces, undecoded."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.body), 16_384):
            yield self.body[start : start + 16_384]


def reply(body: bytes, encoding: str, **headers: str) -> respx.Route:
    headers = {"content-encoding": encoding, **headers}
    response = httpx.Response(200, stream=Wire(body), headers=headers)
    return respx.get(f"https://{API}/data").mock(return_value=response)


def raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


async def refused_with_peak(match: str) -> int:
    """Fetch, expecting a NodeError matching `match`; the peak traced memory meanwhile."""
    tracemalloc.start()
    try:
        with pytest.raises(NodeError, match=match):
            await fetch()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@respx.mock
async def test_a_gzip_bomb_is_stopped_at_the_cap_without_inflating_it_whole() -> None:
    bomb = gzip.compress(bytes(20_000_000))
    reply(bomb, "gzip")
    peak = await refused_with_peak("larger than the 1000000-byte limit")
    assert len(bomb) < 50_000
    assert peak < 4 * CAP, f"peak {peak:,} bytes while reading a body capped at {CAP:,}"


@respx.mock
async def test_a_chain_of_encodings_is_capped_at_every_step() -> None:
    reply(gzip.compress(gzip.compress(bytes(50_000_000))), "gzip, gzip")
    assert await refused_with_peak("larger than") < 4 * CAP


@pytest.mark.parametrize(
    ("encode", "encoding"),
    [
        (gzip.compress, "gzip"),
        (zlib.compress, "deflate"),
        (raw_deflate, "deflate"),
        (lambda b: zlib.compress(gzip.compress(b)), "gzip, deflate"),
        (lambda b: b, "identity"),
    ],
)
@respx.mock
async def test_bodies_in_every_accepted_encoding_decode_exactly(encode: Any, encoding: str) -> None:
    payload = b'{"prices": [' + b",".join(b"%d" % i for i in range(50_000)) + b"]}"
    reply(encode(payload), encoding, **{"content-type": "application/json"})
    out = await fetch()
    assert out["body"]["prices"][-1] == 49_999


@respx.mock
async def test_an_encoding_we_did_not_ask_for_is_refused_clearly() -> None:
    route = reply(b"\x0b\x02\x80hi\x03", "br")
    with pytest.raises(NodeError, match="encoded as 'br', which cannot be decoded"):
        await fetch()
    assert route.calls.last.request.headers["accept-encoding"] == "gzip, deflate"


@respx.mock
async def test_a_corrupt_body_is_a_node_error() -> None:
    reply(b"\x1f\x8b not really gzip", "gzip")
    with pytest.raises(NodeError, match="could not be decoded"):
        await fetch()


class Trickle(httpx.AsyncByteStream):
    """One byte, then nothing more, ever: a server that holds the body open."""

    def __init__(self) -> None:
        self.never = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"{"
        await self.never.wait()
        yield b"}"


@respx.mock
async def test_reading_a_body_stops_at_the_runs_deadline() -> None:
    respx.get(f"https://{API}/data").mock(return_value=httpx.Response(200, stream=Trickle()))
    deadline = asyncio.get_running_loop().time() + 0.2
    async with asyncio.timeout(10):  # today's code would wait for ever: fail, don't hang
        with pytest.raises(NodeError, match="did not finish before the run's deadline"):
            await fetch(deadline)


@respx.mock
async def test_a_head_request_for_a_resource_larger_than_the_cap_has_no_body_to_refuse() -> None:
    respx.head(f"https://{API}/data").mock(
        return_value=httpx.Response(200, headers={"content-length": str(50 * CAP)})
    )
    config = HttpRequestConfig.model_validate({"url": URL, "method": "HEAD"})
    out = await HTTP_REQUEST.run(config, context())
    assert out["status"] == 200 and out["body"] == ""
