"""uvicorn's HTTP/1.1 protocol, answering requests it cannot parse in the kit's dialect.

A request whose head the parser refuses (a 100,000-character URL: llhttp stops at 80 KiB of
head; a malformed request line; a bad header) never reaches the application, so no middleware
can shape the answer: uvicorn writes `400 text/plain` itself. Every service runs uvicorn with
`--http shelter_kit.wire:ProblemHttpToolsProtocol`, which is uvicorn's own httptools protocol
with that one answer replaced by a problem+json body (RFC 9457, the same `type` and `title` as
`problems.problem`, no request id: there was no request). Subclassing keeps uvicorn's parser
and behaviour; only the bytes of the refusal change.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from shelter_kit.problems import PROBLEM_JSON, TYPE_BASE

UVICORN_HTTP = "shelter_kit.wire:ProblemHttpToolsProtocol"


def unparsable_body() -> bytes:
    """The problem+json body sent for a request the HTTP parser refused."""
    return json.dumps(
        {
            "type": TYPE_BASE + "bad-request",
            "title": "Bad request",
            "status": 400,
            "detail": (
                "The request could not be parsed as HTTP/1.1: a malformed request line or "
                "header, or a request head (URL and headers) over 80 KiB."
            ),
        }
    ).encode()


class ProblemHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol; a refused request gets problem+json, not text/plain."""

    def send_400_response(self, msg: str) -> None:
        body = unparsable_body()
        head = [b"HTTP/1.1 400 Bad Request\r\n"]
        for name, value in self.server_state.default_headers:
            head.extend([name, b": ", value, b"\r\n"])
        head.extend(
            [
                b"content-type: " + PROBLEM_JSON.encode() + b"\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
            ]
        )
        self.transport.write(b"".join(head) + body)
        self.transport.close()
