"""A provider at a distance: the stand-ins behind TLS, kept-alive connections and a delay.

On loopback a provider answers at once, over plain HTTP, and the stand-ins'
werkzeug server closes every connection after its answer. No real provider
does any of that: every one speaks only HTTPS, keeps a connection open for
the next request, and is some milliseconds away. What a site does about it
(ours keeps its connections to the provider, the quickstart opens one per
token request: authlib makes a new requests session for each) costs nothing
measurable on loopback and a handshake per sign-in anywhere else. So the
bench also signs in through this:

    client --TCP--> Delay --TCP--> TlsFront --HTTP--> stand-ins

- :class:`Delay` passes every byte on, each way, ``one_way`` seconds after it
  came: the TLS handshake, each request and each answer pay the round trip as
  they would over a network (a new connection's TCP handshake does not: the
  kernel completes it at once, so this errs in the new connection's favour);
- :class:`TlsFront` ends TLS 1.2 or 1.3, as the client offers (Python's clients
  offer 1.3: a handshake of one round trip), with a certificate for 127.0.0.1
  from a throwaway certificate authority (:func:`issue_certificate`), keeps each
  connection open for the next request (HTTP/1.1), and passes each request on
  to the stand-ins.

Both sites of a comparison and the client meet the same front and delay; only
what each site does with its connections differs.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import http.client
import ipaddress
import socket
import ssl
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

#: Headers of one hop only (RFC 9110 section 7.6.1), and those the front writes itself.
NOT_PASSED_ON = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length",
                           "host", "te", "upgrade", "proxy-connection"})
#: Seconds the front waits for the stand-ins.
UPSTREAM_TIMEOUT = 30


# -- the certificate -----------------------------------------------------------------


@dataclass(frozen=True)
class Certificate:
    """Files of a throwaway authority and the server certificate it signed."""

    #: The authority's certificate: what a client trusts (``REQUESTS_CA_BUNDLE``).
    authority: Path
    #: The server's certificate and its key, PEM.
    chain: Path
    key: Path


def issue_certificate(folder: Path) -> Certificate:
    """A certificate authority made for this run, and a certificate it signs for
    ``127.0.0.1`` and ``localhost``; ECDSA P-256, as most providers' edges serve."""
    now = datetime.datetime.now(datetime.UTC)
    authority_key = ec.generate_private_key(ec.SECP256R1())
    authority_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                   "Federation Lab bench authority")])
    authority = (x509.CertificateBuilder()
                 .subject_name(authority_name).issuer_name(authority_name)
                 .public_key(authority_key.public_key())
                 .serial_number(x509.random_serial_number())
                 .not_valid_before(now - datetime.timedelta(minutes=5))
                 .not_valid_after(now + datetime.timedelta(days=1))
                 .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                 .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                              crl_sign=True, content_commitment=False,
                                              key_encipherment=False, data_encipherment=False,
                                              key_agreement=False, encipher_only=False,
                                              decipher_only=False), critical=True)
                 .sign(authority_key, hashes.SHA256()))
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (x509.CertificateBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
              .issuer_name(authority_name)
              .public_key(server_key.public_key())
              .serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(minutes=5))
              .not_valid_after(now + datetime.timedelta(days=1))
              .add_extension(x509.SubjectAlternativeName([
                  x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                  x509.DNSName("localhost")]), critical=False)
              .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                             critical=False)
              .sign(authority_key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    files = Certificate(folder / "authority.pem", folder / "server.pem", folder / "server.key")
    files.authority.write_bytes(authority.public_bytes(serialization.Encoding.PEM))
    files.chain.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(server_key.private_bytes(serialization.Encoding.PEM,
                                                   serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
    return files


# -- TLS and keep-alive before the stand-ins -----------------------------------------


class TlsFront(ThreadingHTTPServer):
    """HTTPS with keep-alive before ``upstream`` (the stand-ins' plain-HTTP URL),
    with no idle timeout unless :meth:`close_idle_after` sets one.

    Counts the connections it accepted and the requests it answered, so a
    run can say how many handshakes each site made, and notes every failure
    that is not a client hanging up (:attr:`failures`): a run whose front
    failed measured nothing."""

    daemon_threads = True

    def __init__(self, upstream: str, certificate: Certificate) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(certificate.chain, certificate.key)
        #: Seconds a connection may wait for its next request (None: for ever);
        #: set by :meth:`close_idle_after`.
        self.idle_timeout: float | None = None
        self._open: set[ssl.SSLSocket] = set()
        self.connections = 0
        self.requests = 0
        self.failures: list[str] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), PassOn)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def close_idle_after(self, seconds: float) -> None:
        """From now on, end a connection that waits ``seconds`` for its next
        request, as a provider's edge does (an AWS load balancer after 60 s by
        default); every connection open now is ended at once, as if it had."""
        self.idle_timeout = seconds
        with self.lock:
            open_now = list(self._open)
        for connection in open_now:
            # The plain socket's shutdown: the connection's own thread, reading,
            # sees the end of the stream (SSLSocket.shutdown would pull its TLS
            # state away under it).
            with contextlib.suppress(OSError):
                socket.socket.shutdown(connection, socket.SHUT_RDWR)

    def forget(self, connection: ssl.SSLSocket) -> None:
        with self.lock:
            self._open.discard(connection)

    def get_request(self):
        connection, address = super().get_request()
        # As a provider's edge does: no wait for more to send (Nagle's algorithm).
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # The handshake runs in the connection's own thread (PassOn.setup), not
        # here, where it would hold up every other connection's accept.
        wrapped = self.context.wrap_socket(connection, server_side=True,
                                           do_handshake_on_connect=False)
        with self.lock:
            self.connections += 1
            self._open.add(wrapped)
        return wrapped, address

    def shutdown_request(self, request) -> None:
        self.forget(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address) -> None:
        """A client that hangs up, or refuses the certificate, is not news; anything
        else is noted."""
        error = sys.exc_info()[1]
        if not isinstance(error, ConnectionError | ssl.SSLError):
            self.failed(f"{type(error).__name__}: {error}")

    def failed(self, what: str) -> None:
        with self.lock:
            self.failures.append(what)


class PassOn(BaseHTTPRequestHandler):
    """One connection: its TLS handshake, then each request passed on to the
    stand-ins and answered, until the client closes it."""

    protocol_version = "HTTP/1.1"
    #: An answer's head and body leave in one write, flushed once the request
    #: is done (so the client sees it only after :attr:`TlsFront.requests` counts it).
    wbufsize = -1
    server: TlsFront

    def setup(self) -> None:
        self.request.do_handshake()
        self.timeout = self.server.idle_timeout  # the wait for each next request
        super().setup()

    def do_GET(self) -> None:
        self.pass_on()

    def do_POST(self) -> None:
        self.pass_on()

    def pass_on(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in NOT_PASSED_ON}
        upstream = http.client.HTTPConnection(*self.server.upstream, timeout=UPSTREAM_TIMEOUT)
        try:
            upstream.request(self.command, self.path, body=body or None, headers=headers)
            answer = upstream.getresponse()
            content = answer.read()
            self.send_response_only(answer.status, answer.reason)
            for name, value in answer.getheaders():  # each Set-Cookie on its own line
                if name.lower() not in NOT_PASSED_ON:
                    self.send_header(name, value)
        except OSError as error:  # the stand-ins down or slow: a gateway's answer
            self.server.failed(f"{self.command} {self.path.split('?')[0]}: {error}")
            content = b"the stand-ins did not answer"
            self.send_response_only(502)
        finally:
            upstream.close()
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)
        with self.server.lock:
            self.server.requests += 1

    def log_message(self, *args: object) -> None:
        """Quiet: the stand-ins keep their own request log."""


# -- the delay ------------------------------------------------------------------------


class Delay:
    """A TCP relay to ``port`` that hands every byte on ``one_way`` seconds after
    it came, in each direction, in order; its own event loop in a thread."""

    def __init__(self, port: int, one_way: float) -> None:
        self.target = port
        self.one_way = one_way
        self.loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        #: Every connection being relayed, cancelled by :meth:`close`.
        self._relays: set[asyncio.Task] = set()
        #: Connections the front refused: none while it runs.
        self.refused = 0
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), daemon=True)
        self._thread.start()
        if not started.wait(10) or self._server is None:
            raise RuntimeError("the delay did not start")
        self.port: int = self._server.sockets[0].getsockname()[1]

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self._server = self.loop.run_until_complete(
            asyncio.start_server(self._relay, "127.0.0.1", 0))
        started.set()
        self.loop.run_forever()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        relay = asyncio.current_task()
        assert relay is not None
        self._relays.add(relay)
        up_writer = None
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        except OSError:
            self.refused += up_writer is None
        finally:
            self._relays.discard(relay)
            writer.close()
            if up_writer is not None:
                up_writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read as it comes; write each piece when its time is due; then pass the end on."""
        pieces: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        async def deliver() -> None:
            while True:
                due, data = await pieces.get()
                await asyncio.sleep(max(0.0, due - loop.time()))
                if not data:
                    break
                writer.write(data)
                await writer.drain()

        delivering = asyncio.create_task(deliver())
        try:
            with contextlib.suppress(OSError):
                while data := await reader.read(65536):
                    pieces.put_nowait((loop.time() + self.one_way, data))
            pieces.put_nowait((loop.time() + self.one_way, b""))
            with contextlib.suppress(OSError):
                await delivering
                if writer.can_write_eof():
                    writer.write_eof()
        finally:
            if not delivering.done():  # cancelled (Delay.close), or the read failed
                delivering.cancel()
                with contextlib.suppress(asyncio.CancelledError, OSError):
                    await delivering

    def close(self) -> None:
        """Stop accepting, close every connection still open, and end the loop."""

        async def closing() -> None:
            if self._server is not None:
                self._server.close()
            relays = list(self._relays)
            for relay in relays:
                relay.cancel()
            await asyncio.gather(*relays, return_exceptions=True)
            await asyncio.sleep(0)  # the transports' own close callbacks

        asyncio.run_coroutine_threadsafe(closing(), self.loop).result(timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self.loop.close()


@dataclass
class FarProvider:
    """The stand-ins as a distant HTTPS provider: :attr:`url` is what the apps and
    the client use as the stand-ins' base URL; :attr:`certificate` what they trust."""

    url: str
    certificate: Certificate
    front: TlsFront
    delay: Delay

    def failures(self) -> list[str]:
        """What went wrong on the way (none in a run that measured anything)."""
        refused = [f"the front refused {self.delay.refused} connection(s)"] \
            if self.delay.refused else []
        return [*self.front.failures, *refused]

    def close(self) -> None:
        self.delay.close()
        self.front.shutdown()
        self.front.server_close()


def far_provider(upstream: str, folder: Path, one_way: float) -> FarProvider:
    """TLS, keep-alive and ``one_way`` seconds each way before the stand-ins at ``upstream``."""
    certificate = issue_certificate(folder)
    front = TlsFront(upstream, certificate)
    threading.Thread(target=front.serve_forever, daemon=True).start()
    try:
        delay = Delay(front.port, one_way)
    except BaseException:
        front.shutdown()
        front.server_close()
        raise
    return FarProvider(f"https://127.0.0.1:{delay.port}", certificate, front, delay)
