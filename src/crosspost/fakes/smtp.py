"""A local SMTP sink: accepts every message (RFC 5321 via aiosmtpd) and keeps it, for tests
and the sandbox, where nothing must reach a real mailbox."""

from __future__ import annotations

import email
import email.policy
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session


@dataclass(frozen=True)
class Received:
    """One message as delivered: envelope sender and recipients, and the parsed message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage

    @property
    def subject(self) -> str:
        """The Subject header."""
        return str(self.message["Subject"] or "")

    @property
    def text(self) -> str:
        """The plain-text body."""
        part = self.message.get_body(("plain",))
        return "" if part is None else str(part.get_content())


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        data = raw if isinstance(raw, bytes) else raw.encode()
        parsed = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self._sink.deliver(Received(str(envelope.mail_from), tuple(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class SmtpSink:
    """An SMTP server on loopback that keeps what it receives (`messages`, `wait_for`);
    `on_message` sees each one as it arrives (the sandbox prints the links)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        on_message: Callable[[Received], Any] | None = None,
    ) -> None:
        # aiosmtpd checks its server by connecting to the port it was given: give it one.
        self._controller = Controller(_Handler(self), hostname=host, port=port or _free_port(host))
        self._messages: list[Received] = []
        self._arrived = threading.Condition()
        self._on_message = on_message

    @property
    def host(self) -> str:
        """The address it listens on."""
        return str(self._controller.hostname)

    @property
    def port(self) -> int:
        """The port it listens on (chosen by the system when 0 was asked)."""
        return int(self._controller.port)

    @property
    def messages(self) -> list[Received]:
        """Every message received so far, oldest first."""
        with self._arrived:
            return list(self._messages)

    def deliver(self, received: Received) -> None:
        """Keep a message (called by the SMTP handler)."""
        with self._arrived:
            self._messages.append(received)
            self._arrived.notify_all()
        if self._on_message is not None:
            self._on_message(received)

    def wait_for(self, match: Callable[[Received], bool], timeout: float = 10.0) -> Received:
        """The first message `match` accepts, waiting up to `timeout` seconds for it."""
        with self._arrived:
            found: list[Received] = []

            def ready() -> bool:
                found[:] = [m for m in self._messages if match(m)][:1]
                return bool(found)

            if not self._arrived.wait_for(ready, timeout):
                raise TimeoutError(f"no matching message within {timeout} s")
            return found[0]

    def start(self) -> SmtpSink:
        """Listen; returns the sink."""
        # aiosmtpd logs every connection at INFO (its own start-up probe too): not news.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        self._controller.stop()
