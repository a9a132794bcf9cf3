"""E-mail deliveries: one plain-text message per recipient, sent over SMTP (smtplib).

The server comes from the settings (NORTHSTAR_SMTP_HOST, _PORT, _USERNAME, _PASSWORD, _FROM,
_STARTTLS). With STARTTLS the server's certificate is verified; credentials are only sent
after it. Each message names one recipient, so nobody learns who else was told.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

from ingest.notify.webhook import Outcome
from models.settings import Settings

SUBJECT_PREFIX = "[Northstar]"
MAX_SUBJECT = 200
MAX_ERROR = 500
_FACT_LIMIT = 20


def _one_line(text: str) -> str:
    """Header text on one line (a newline in a title must not become a new header)."""
    return " ".join(text.split())


def build_message(
    settings: Settings, recipient: str, kind: str, payload: dict[str, Any], link: str
) -> EmailMessage:
    """The message to ``recipient``: subject ``[Northstar] <severity>: <title>``, the notice's
    text, the link to open it, and its facts.

    Raises:
        ValueError: ``recipient`` is not a plain e-mail address.
    """
    severity = str(payload.get("severity", "info"))
    title = _one_line(str(payload.get("title", "")))
    _check_address(recipient)
    message = EmailMessage()
    message["Subject"] = f"{SUBJECT_PREFIX} {severity.capitalize()}: {title}"[:MAX_SUBJECT]
    message["From"] = settings.smtp_from
    message["To"] = recipient
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = parseaddr(settings.smtp_from)[1].rpartition("@")[2] or None
    message["Message-ID"] = make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Northstar-Event"] = _one_line(kind)
    message.set_content(_text(kind, payload, link))
    return message


def _check_address(address: str) -> None:
    """Raise ValueError unless ``address`` is one plain ``local@domain`` address."""
    local, at, domain = address.rpartition("@")
    plain = address.isascii() and address.isprintable() and " " not in address
    if not (at and local and domain and plain and parseaddr(address)[1] == address):
        raise ValueError(f"{address!r} is not an e-mail address")


def _text(kind: str, payload: dict[str, Any], link: str) -> str:
    lines = [str(payload.get("title", "")), "", str(payload.get("text", ""))]
    if link:
        lines += ["", f"Open in Northstar: {link}"]
    data = payload.get("data")
    if isinstance(data, dict) and data:
        lines += ["", "Details:"]
        lines += [f"  {key}: {value}" for key, value in list(data.items())[:_FACT_LIMIT]]
    lines += ["", f"-- Northstar ({kind}). You receive this because of your alert settings."]
    return "\n".join(lines) + "\n"


def send(settings: Settings, message: EmailMessage, recipient: str) -> Outcome:
    """Send ``message`` to ``recipient`` only (the envelope names nobody else).

    A 5xx answer (the address or the message refused) is final; timeouts, connection
    errors and 4xx answers may pass later.
    """
    if not settings.smtp_host:
        reason = "e-mail is not configured (NORTHSTAR_SMTP_HOST is not set)"
        return Outcome(False, reason, refused=True)
    sender = parseaddr(settings.smtp_from)[1] or settings.smtp_from
    try:
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=settings.notify_timeout_s
        ) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                secret = settings.smtp_password
                smtp.login(settings.smtp_username, secret.get_secret_value() if secret else "")
            smtp.send_message(message, from_addr=sender, to_addrs=[recipient])
    except smtplib.SMTPRecipientsRefused as exc:
        code, answer = next(iter(exc.recipients.values()))
        return _refused(code, answer, retry=400 <= code < 500)
    except smtplib.SMTPResponseException as exc:
        return _refused(exc.smtp_code, exc.smtp_error, retry=not 500 <= exc.smtp_code < 600)
    except (smtplib.SMTPException, OSError) as exc:
        failed = f"could not send through {settings.smtp_host}: {type(exc).__name__}: {exc}"
        return Outcome(False, failed[:MAX_ERROR], retry=True)
    return Outcome(True)


def _refused(code: int, reason: bytes | str, *, retry: bool) -> Outcome:
    text = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
    return Outcome(False, f"SMTP {code}: {_one_line(text)}"[:MAX_ERROR], retry=retry)
