"""Talking to an OpenAI-compatible chat endpoint: only loopback or hosts the user allowed.

llama.cpp's server, vLLM and Ollama all serve ``POST {base}/chat/completions``.
Every request has a connect/read timeout, a total deadline and a size cap,
so an endpoint that hangs, or streams forever, ends in a clear message.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import time
from urllib.parse import urlsplit

from .errors import EndpointError

MAX_RESPONSE_BYTES = 2 * 1024 * 1024


def chat_url(url: str) -> str:
    """``url`` as given, or with /chat/completions added to a base such as http://host:port/v1."""
    path = urlsplit(url).path.rstrip("/")
    if path.endswith("/chat/completions"):
        return url
    return url.rstrip("/") + ("/chat/completions" if path.endswith("/v1") else "/v1/chat/completions")


def check_allowed(url: str, allowed_hosts=()) -> tuple[str, str, int]:
    """(scheme, host, port) of ``url`` when it is loopback or explicitly allowed; otherwise a clear refusal.

    Host names are never resolved here: "localhost" counts as loopback, any
    other name must be in ``allowed_hosts`` exactly as typed.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise EndpointError(f"{url}: only http:// and https:// endpoints can be probed")
    host = parts.hostname or ""
    if not host:
        raise EndpointError(f"{url}: no host in the URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise EndpointError(f"{url}: the port is not a number in 0-65535") from None
    allowed = {h.strip().lower().strip("[]") for h in allowed_hosts if h and h.strip()}
    loopback = host == "localhost"
    try:
        loopback = loopback or ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    if not loopback and host.lower() not in allowed:
        raise EndpointError(f"{url}: {host} is not this machine; the workbench contacts only loopback "
                            "addresses and hosts you allow explicitly (allowed_hosts / --allow-host)")
    if not loopback:
        from workbench.api import allow_network_host

        allow_network_host(host)  # the user named it: the process-wide offline guard lets it through
    return parts.scheme, host, port


def _connection(scheme: str, host: str, port: int, timeout: float):
    cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
    return cls(host, port, timeout=timeout)


def post_json(url: str, body: dict, *, api_key: str | None = None, timeout: float = 30.0,
              allowed_hosts=(), max_bytes: int = MAX_RESPONSE_BYTES) -> tuple[dict, float]:
    """POST ``body`` as JSON; returns (decoded JSON answer, seconds). Every failure is an EndpointError."""
    scheme, host, port = check_allowed(url, allowed_hosts)
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    started = time.monotonic()
    deadline = started + timeout
    conn = _connection(scheme, host, port, timeout)
    chunks, size = [], 0
    try:
        try:
            conn.request("POST", target, body=json.dumps(body).encode("utf-8"), headers=headers)
            response = conn.getresponse()
            while True:
                if time.monotonic() > deadline:
                    raise socket.timeout
                if conn.sock is not None:  # each read gets only what is left of the deadline
                    conn.sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = response.read1(65536)
                if not chunk:
                    break
                size += len(chunk)
                if size > max_bytes:
                    raise EndpointError(f"{url}: the answer is larger than {max_bytes // 1024} KiB; stopped "
                                        "reading (an endpoint that streams forever?)")
                chunks.append(chunk)
        except ConnectionRefusedError:
            raise EndpointError(f"{url}: connection refused: is the server running on {host}:{port}?") from None
        except (socket.timeout, TimeoutError):
            # The deadline can pass inside a read as well as between reads: what was received decides the message.
            if size:
                raise EndpointError(f"{url}: no complete answer within {timeout:g} s (the endpoint kept "
                                    f"sending: {size} bytes so far)") from None
            raise EndpointError(f"{url}: no answer within {timeout:g} s") from None
        except (ConnectionError, http.client.HTTPException, OSError) as exc:
            if isinstance(exc, EndpointError):
                raise
            raise EndpointError(f"{url}: {type(exc).__name__}: {exc}") from None
    finally:
        conn.close()
    elapsed = time.monotonic() - started
    raw = b"".join(chunks)
    text = raw.decode("utf-8", "replace")
    if response.status == 401 or response.status == 403:
        raise EndpointError(f"{url}: HTTP {response.status}: the endpoint wants an API key "
                            "(store one in the keyring and pass its name with --key-name)")
    if response.status >= 400:
        raise EndpointError(f"{url}: HTTP {response.status} {response.reason}: {text[:300]}")
    try:
        data = json.loads(text)
    except ValueError:
        kind = response.getheader("Content-Type") or "no content type"
        raise EndpointError(f"{url}: answered with something other than JSON (HTTP {response.status}, {kind}): "
                            f"{text[:200]!r}") from None
    if not isinstance(data, dict):
        raise EndpointError(f"{url}: answered JSON that is not an object: {text[:200]!r}")
    return data, elapsed


def answer_text(url: str, data: dict) -> str:
    """The assistant's text in an OpenAI-style chat completion."""
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise EndpointError(f"{url}: the JSON answer has no choices[0].message.content "
                            f"(is this an OpenAI-compatible chat endpoint?): {json.dumps(data)[:200]}") from None
    return content if isinstance(content, str) else json.dumps(content)
