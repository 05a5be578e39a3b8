"""SMTP email: plain SMTP, STARTTLS or SSL; multipart text+HTML rendered by Jinja2, the HTML part with
autoescape so hostile post text arrives inert, the text part as written (a text part has no markup to
escape, and `&lt;` there is noise). Every header is built from cleaned text (see headers.py)."""
from __future__ import annotations

import base64
import smtplib
import socket
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from functools import lru_cache
from typing import Literal, Optional

from pydantic import Field, SecretStr

from alerts.notify.base import Alert, Delivered, Failed, Notifier, Outcome, Retryable
from alerts.notify.headers import clean_header
from alerts.notify.render import deadline
from storage.deadline import DeadlinePassed, call_within
from storage.types import Strict
from storage.vocabulary import SEVERITY_ZH


@lru_cache(maxsize=1)
def _env():
    """The templates' environment, made when the first e-mail is rendered: this module is imported wherever a
    config is parsed (its SmtpSettings), and jinja2 is a few MiB a collection process never uses (issue 18)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(loader=PackageLoader("alerts", "templates"),
                       autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=True),
                       trim_blocks=True, lstrip_blocks=True)


class SmtpSettings(Strict):
    host: str
    port: int = Field(default=25, gt=0, lt=65536)
    security: Literal["none", "starttls", "ssl"] = "none"
    username: Optional[str] = None
    password: Optional[SecretStr] = None
    timeout: float = Field(default=20, gt=0, description="seconds per SMTP operation")
    deadline: float = Field(default=30, gt=0, le=600, description="seconds for the whole conversation: a server "
                            "that answers a byte at a time never trips `timeout`, but cannot hold a run past this")


class EmailOptions(Strict):
    smtp: SmtpSettings
    sender: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    subject_prefix: str = "[repwatch]"


def smtp_send(settings: SmtpSettings, message: EmailMessage) -> Outcome:
    """The one SMTP conversation (alerts and digests both come through EmailNotifier). 4xx replies and network trouble are retryable; 5xx is not.

    The conversation runs in a worker thread and gets `deadline` seconds in all. Past it the socket is
    closed and the send is Retryable; should the server have taken the message anyway, the retry carries
    the same Message-ID (the dispatcher's delivery id), which mail systems collapse."""
    opened: list[smtplib.SMTP] = []

    def cut_off() -> None:
        for server in opened:
            try:   # shutdown, not close: close would wait for the worker's read to finish
                if server.sock is not None:
                    server.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    try:
        return call_within(settings.deadline, lambda cancel: _converse(settings, message, opened),
                           on_give_up=cut_off)
    except DeadlinePassed:
        return Retryable(f"{settings.host}:{settings.port}: no complete SMTP conversation within the "
                         f"{settings.deadline:g}s deadline (smtp.deadline); the server is too slow")


def _converse(settings: SmtpSettings, message: EmailMessage, opened: list) -> Outcome:
    try:
        server: smtplib.SMTP
        if settings.security == "ssl":
            server = smtplib.SMTP_SSL(timeout=settings.timeout, context=ssl.create_default_context())
        else:
            server = smtplib.SMTP(timeout=settings.timeout)
        opened.append(server)
        server.connect(settings.host, settings.port)
        with server:
            if settings.security == "starttls":
                server.starttls(context=ssl.create_default_context())
            if settings.username:
                server.login(settings.username, settings.password.get_secret_value() if settings.password else "")
            refused = server.send_message(message)
        if refused:
            return Failed(f"refused recipients: {', '.join(refused)}")
        return Delivered(f"accepted by {settings.host}:{settings.port}")
    except smtplib.SMTPAuthenticationError as exc:
        return Failed(f"SMTP login refused ({exc.smtp_code}); check smtp.username and smtp.password")
    except smtplib.SMTPResponseException as exc:
        err = f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
        return Retryable(err) if 400 <= exc.smtp_code < 500 else Failed(err)
    except (smtplib.SMTPException, OSError, socket.timeout) as exc:
        return Retryable(f"{settings.host}:{settings.port}: {type(exc).__name__}: {exc}")


def render_alert(alert: Alert) -> tuple[str, str]:
    ctx = {"alert": alert, "severity_zh": SEVERITY_ZH.get(alert.severity, alert.severity), "deadline": deadline(alert)}
    return _env().get_template("alert.txt.j2").render(ctx), _env().get_template("alert.html.j2").render(ctx)


def _document(msg: EmailMessage, document: dict) -> None:
    """multipart/alternative: the text part, and the HTML part with its images inline (multipart/related,
    each referenced from the HTML by `cid:`)."""
    msg.set_content(document["text"])
    msg.add_alternative(document["html"], subtype="html")
    html_part = list(msg.iter_parts())[1]
    for image in document.get("images") or []:
        html_part.add_related(base64.b64decode(image["data"]), maintype="image", subtype=image.get("subtype", "png"),
                              cid=f"<{image['cid']}>", disposition="inline", filename=image.get("filename"))


class EmailNotifier(Notifier[EmailOptions]):
    kind = "email"
    Options = EmailOptions

    def build(self, alert: Alert) -> EmailMessage:
        msg = EmailMessage()
        if alert.document:
            # a digest: rendered in full by its builder (alerts/digest), subject and all
            msg["Subject"] = clean_header(alert.document["subject"])
        else:
            sev = SEVERITY_ZH.get(alert.severity, alert.severity)
            # A subject is read in an inbox list: the post's opening words, the rest is in the body.
            title = clean_header(alert.title, 60)
            msg["Subject"] = clean_header(f"{self.options.subject_prefix} [{sev}] {title}")
        msg["From"] = clean_header(self.options.sender)
        msg["To"] = clean_header(", ".join(alert.to or self.options.to))
        msg["Date"] = formatdate(localtime=False)
        domain = Address(addr_spec=msg["From"]).domain or "repwatch"
        # a resend of the same delivery carries the same Message-ID, which mail systems collapse
        delivery = clean_header(alert.delivery).replace(" ", "") if alert.delivery else None
        msg["Message-ID"] = f"<{delivery}.repwatch@{domain}>" if delivery else make_msgid(domain=domain)
        msg["X-Repwatch-Key"] = clean_header(alert.key)
        if alert.document:
            _document(msg, alert.document)
            return msg
        text, html = render_alert(alert)
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
        return msg

    def send(self, alert: Alert) -> Outcome:
        return smtp_send(self.options.smtp, self.build(alert))
