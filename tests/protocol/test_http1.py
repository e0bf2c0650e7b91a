"""The sans-IO HTTP/1.1 request parser: framing, limits, and the refusals that keep two
parsers from disagreeing about where a request ends (request smuggling)."""

from __future__ import annotations

import pytest

from jupyter_sio.protocol.http1 import (
    END,
    NEED_DATA,
    Data,
    Event,
    Malformed,
    RequestHead,
    RequestParser,
    parse_query,
    split_target,
)

GET = b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: h\r\nUser-Agent: t\r\n\r\n"
POST = b"POST /socket.io/?sid=x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
CHUNKED = (
    b"POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3\r\nabc\r\n10;ext=1\r\n0123456789abcdef\r\n0\r\nTrailer: x\r\n\r\n"
)


def events(parser: RequestParser) -> list[Event]:
    """Every event the parser has for what it was fed, up to NEED_DATA or a refusal."""
    out: list[Event] = []
    while True:
        event = parser.next_event()
        if event is NEED_DATA:
            return out
        out.append(event)
        if isinstance(event, Malformed):
            return out


def parse(data: bytes, step: int | None = None, **limits: int) -> list[Event]:
    """``data`` fed whole, or ``step`` bytes at a time; Data events joined per request."""
    parser = RequestParser(**limits)
    out: list[Event] = []
    step = step or len(data) or 1
    for i in range(0, len(data), step):
        parser.feed(data[i : i + step])
        out += events(parser)
    return _joined(out)


def _joined(got: list[Event]) -> list[Event]:
    """Adjacent Data events as one (how a body is split depends on the reads)."""
    out: list[Event] = []
    for event in got:
        if isinstance(event, Data) and out and isinstance(out[-1], Data):
            out[-1] = Data(out[-1].data + event.data)
        else:
            out.append(event)
    return out


def refusal(data: bytes, **limits: int) -> Malformed:
    got = parse(data, **limits)
    assert got and isinstance(got[-1], Malformed), got
    return got[-1]


# -- requests ----------------------------------------------------------------------------------
def test_get_head() -> None:
    head, end = parse(GET)
    assert isinstance(head, RequestHead) and end is END
    assert head.method == "GET" and head.target == "/socket.io/?EIO=4&transport=polling"
    assert head.http11 and head.keep_alive and not head.has_body
    assert head.headers == {"host": "h", "user-agent": "t"}
    assert head.fields == (("Host", "h"), ("User-Agent", "t"))


@pytest.mark.parametrize("data", [GET, POST, CHUNKED, GET + POST + CHUNKED + GET])
def test_split_at_every_byte_boundary(data: bytes) -> None:
    whole = parse(data)
    for step in (1, 2, 3, 7):
        assert parse(data, step) == whole
    for cut in range(1, len(data)):
        parser = RequestParser()
        parser.feed(data[:cut])
        got = events(parser)
        parser.feed(data[cut:])
        got += events(parser)
        assert _joined(got) == whole, cut


def test_content_length_body() -> None:
    head, data, end = parse(POST)
    assert isinstance(head, RequestHead) and head.content_length == 5
    assert data == Data(b"hello") and end is END


def test_chunked_body_with_extension_and_trailers() -> None:
    head, data, end = parse(CHUNKED)
    assert isinstance(head, RequestHead) and head.chunked and head.content_length is None
    assert data == Data(b"abc0123456789abcdef") and end is END


def test_pipelined_requests_come_in_order() -> None:
    got = parse(GET + POST + GET)
    kinds = [type(e).__name__ if e is not END else "END" for e in got]
    assert kinds == ["RequestHead", "END", "RequestHead", "Data", "END", "RequestHead", "END"]


def test_empty_lines_before_a_request_are_ignored() -> None:
    head, end = parse(b"\r\n\r\n" + GET)
    assert isinstance(head, RequestHead) and end is END


def test_repeated_fields_are_joined() -> None:
    head, _ = parse(b"GET / HTTP/1.1\r\nHost: h\r\nAccept: a\r\naccept: b\r\n\r\n")
    assert isinstance(head, RequestHead) and head.headers["accept"] == "a, b"


def test_take_rest_gives_what_follows_the_head() -> None:
    parser = RequestParser()
    parser.feed(GET + b"\x81\x05hello")
    assert isinstance(parser.next_event(), RequestHead)
    assert parser.take_rest() == b"\x81\x05hello"


# -- keep-alive and 100-continue ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("version", "connection", "keep_alive"),
    [
        ("1.1", None, True),
        ("1.1", "close", False),
        ("1.1", "Keep-Alive, Close", False),
        ("1.0", None, False),
        ("1.0", "keep-alive", True),
    ],
)
def test_keep_alive(version: str, connection: str | None, keep_alive: bool) -> None:
    extra = f"Connection: {connection}\r\n" if connection else ""
    head, _ = parse(f"GET / HTTP/{version}\r\nHost: h\r\n{extra}\r\n".encode())
    assert isinstance(head, RequestHead) and head.keep_alive is keep_alive
    assert head.http11 is (version == "1.1")


def test_http10_needs_no_host() -> None:
    head, _ = parse(b"GET / HTTP/1.0\r\n\r\n")
    assert isinstance(head, RequestHead) and not head.http11


def test_expect_100_continue() -> None:
    head, *_ = parse(
        b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n"
    )
    assert isinstance(head, RequestHead) and head.expect_continue
    head, *_ = parse(b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n")
    assert isinstance(head, RequestHead) and not head.expect_continue  # 1.1 only


# -- smuggling and malformed requests ----------------------------------------------------------
@pytest.mark.parametrize(
    "fields",
    [
        "Content-Length: 5\r\nTransfer-Encoding: chunked",  # both
        "Transfer-Encoding: chunked\r\nContent-Length: 5",
        "Content-Length: 5\r\nContent-Length: 6",  # conflicting
        "Content-Length: 5, 6",
        "Content-Length: -5",
        "Content-Length: +5",
        "Content-Length: 0x5",
        "Content-Length: 5 5",
        "Content-Length: 1234567890123456789",
        "Content-Length : 5",  # whitespace before the colon
        " Content-Length: 5",  # obsolete line folding
        "X: a\r\n  folded",
        "X: a\rb",  # bare CR
        "X: a\nY: b",  # bare LF
        "X: a\x00b",
        "Host: other",  # two Hosts
        "Bad Name: x",
        ": novalue",
    ],
)
def test_ambiguous_framing_is_refused(fields: str) -> None:
    data = f"POST / HTTP/1.1\r\nHost: h\r\n{fields}\r\n\r\nhello".encode()
    assert refusal(data).status == 400


@pytest.mark.parametrize("coding", ["gzip", "chunked, gzip", "gzip, chunked", "chunked, chunked"])
def test_other_transfer_codings_are_refused(coding: str) -> None:
    data = f"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: {coding}\r\n\r\n".encode()
    assert refusal(data).status == 501


def test_transfer_encoding_in_http10_is_refused() -> None:
    assert refusal(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n").status == 400


def test_identical_content_lengths_are_one() -> None:
    head, data, _end = parse(
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"
    )
    assert isinstance(head, RequestHead) and head.content_length == 5 and data == Data(b"hello")


@pytest.mark.parametrize(
    "chunks",
    [
        b"3\r\nabcX\r\n0\r\n\r\n",  # data longer than its size
        b"zz\r\nab\r\n",  # not hex
        b"-1\r\n",
        b"11111111111111111\r\n",  # more than 16 hex digits
        b"3\r\nabc\r\n0\r\nbad trailer\r\n\r\n",
    ],
)
def test_malformed_chunks_are_refused(chunks: bytes) -> None:
    data = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks
    assert refusal(data).status == 400


@pytest.mark.parametrize(
    ("line", "status"),
    [
        (b"GET /\r\n", 400),
        (b"GET  / HTTP/1.1\r\n", 400),
        (b"GET / HTTP/2.0\r\n", 505),
        (b"GET / FTP/1.1\r\n", 400),
        (b"G(T / HTTP/1.1\r\n", 400),
        (b"GET nopath HTTP/1.1\r\n", 400),
    ],
)
def test_malformed_request_lines(line: bytes, status: int) -> None:
    assert refusal(line + b"Host: h\r\n\r\n").status == status


def test_http11_without_host_is_refused() -> None:
    assert refusal(b"GET / HTTP/1.1\r\n\r\n").status == 400


def test_after_a_refusal_the_parser_stays_refusing() -> None:
    parser = RequestParser()
    parser.feed(b"GET / HTTP/9.9\r\n\r\n")
    first = parser.next_event()
    parser.feed(GET)
    assert parser.next_event() == first


# -- limits ------------------------------------------------------------------------------------
def test_long_request_line_is_414_even_before_it_ends() -> None:
    line = b"GET /" + b"a" * 200
    assert refusal(line, max_line=100).status == 414
    assert refusal(line + b" HTTP/1.1\r\nHost: h\r\n\r\n", max_line=100).status == 414


def test_large_header_section_is_431_even_before_it_ends() -> None:
    head = b"GET / HTTP/1.1\r\nHost: h\r\nX: " + b"a" * 2000
    assert refusal(head, max_head=1000).status == 431
    assert refusal(head + b"\r\n\r\n", max_head=1000).status == 431


def test_too_many_fields_is_431() -> None:
    fields = b"".join(b"X-%d: v\r\n" % i for i in range(11))
    assert refusal(b"GET / HTTP/1.1\r\nHost: h\r\n" + fields + b"\r\n", max_fields=11).status == 431
    ten = b"".join(b"X-%d: v\r\n" % i for i in range(10))
    head, _ = parse(b"GET / HTTP/1.1\r\nHost: h\r\n" + ten + b"\r\n", max_fields=11)
    assert isinstance(head, RequestHead)


def test_a_body_can_be_larger_than_any_head_limit() -> None:
    body = b"x" * 100_000
    head, data, end = parse(
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\n" + body, 4096, max_head=1000
    )
    assert isinstance(head, RequestHead) and data == Data(body) and end is END


# -- targets and queries -----------------------------------------------------------------------
def test_split_target() -> None:
    assert split_target("/socket.io/?EIO=4") == ("/socket.io/", "EIO=4")
    assert split_target("/a") == ("/a", "")
    assert split_target("http://host:1/a?b=c") == ("/a", "b=c")
    assert split_target("http://host") == ("/", "")


def test_parse_query() -> None:
    assert parse_query("EIO=4&transport=polling&sid=ab-_c") == {
        "EIO": "4",
        "transport": "polling",
        "sid": "ab-_c",
    }
    assert parse_query("a=1&a=2&&b") == {"a": "2", "b": ""}
    assert parse_query("name=a%20b+c&x%3D=1") == {"name": "a b c", "x=": "1"}
    assert parse_query("") == {}


# -- repeated heads ----------------------------------------------------------------------------
def test_a_repeated_head_frames_its_request_like_the_first() -> None:
    # A polling client repeats its heads byte for byte; the parser remembers a few.
    other = POST.replace(b"Content-Length: 5", b"Content-Length: 3")[:-2]
    got = parse(POST + GET + POST + other + GET + POST)
    heads = [e for e in got if isinstance(e, RequestHead)]
    bodies = [e.data for e in got if isinstance(e, Data)]
    assert [h.method for h in heads] == ["POST", "GET", "POST", "POST", "GET", "POST"]
    assert heads[0] == heads[2] == heads[5] and heads[1] == heads[4]
    assert heads[3].content_length == 3
    assert bodies == [b"hello", b"hello", b"hel", b"hello"]
    assert got.count(END) == 6


def test_a_refused_head_is_refused_again() -> None:
    bad = b"GET / HTTP/1.1\r\nHost: h\r\nHost: i\r\n\r\n"
    for _ in range(2):
        assert refusal(GET + bad).status == 400
