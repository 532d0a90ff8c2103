"""Mail to people (invitations, password resets) over SMTP; without an SMTP server the
message is only logged, link included, so an operator on one laptop can still use it."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from crosspost.config import Settings
from crosspost.hosts import is_loopback

log = logging.getLogger("crosspost.mail")
_TIMEOUT = 15.0


def send(settings: Settings, *, to: str, subject: str, text: str) -> bool:
    """Send a plain-text message; False when no SMTP server is configured (then the
    message is logged instead). SMTP errors raise `smtplib.SMTPException` / `OSError`."""
    if not settings.smtp_host:
        log.warning("no CROSSPOST_SMTP_HOST: not sent to %s: %s\n%s", to, subject, text)
        return False
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=_TIMEOUT) as smtp:
        if settings.smtp_starttls and not is_loopback(settings.smtp_host):
            smtp.starttls()
        if settings.smtp_username and settings.smtp_password:
            smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
        smtp.send_message(message)
    return True
