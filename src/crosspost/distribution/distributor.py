"""Who a release is delivered to and as whom: the distributor's SFTP drop and the DDEX
parties of a mode. Test mode uses the sandbox's fake distributor, which its HTTP controls
describe (its port and host key change with each sandbox); live mode the configured one."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from crosspost.distribution.ern import Party
from crosspost.distribution.sftp import SftpTarget
from crosspost.domain.enums import ErrorKind
from crosspost.engine.services import Services
from crosspost.errors import InvalidInput
from crosspost.providers.errors import ProviderError


@dataclass(frozen=True)
class Distributor:
    """Where to deliver, and the message's sender and recipient."""

    target: SftpTarget
    sender: Party
    recipient: Party


def check_configured(svc: Services, *, test: bool) -> None:
    """Refuse (422 `distributor_not_configured`, naming the settings) a live distribution
    this server has no distributor for."""
    if test:
        return
    settings = svc.settings
    missing = [
        name
        for name, value in (
            ("CROSSPOST_DDEX_SENDER_DPID", settings.ddex_sender_dpid),
            ("CROSSPOST_DDEX_RECIPIENT_DPID", settings.ddex_recipient_dpid),
            ("CROSSPOST_DISTRIBUTOR_SFTP_HOST", settings.distributor_sftp_host),
            ("CROSSPOST_DISTRIBUTOR_SFTP_USERNAME", settings.distributor_sftp_username),
            ("CROSSPOST_DISTRIBUTOR_SFTP_HOST_KEY", settings.distributor_sftp_host_key),
        )
        if not value
    ]
    if not (settings.distributor_sftp_password or settings.distributor_sftp_private_key):
        missing.append("CROSSPOST_DISTRIBUTOR_SFTP_PASSWORD (or _PRIVATE_KEY)")
    if missing:
        raise InvalidInput(
            "no distributor is configured on this server: set " + ", ".join(missing),
            code="distributor_not_configured",
        )


def distributor_for(svc: Services, *, test: bool) -> Distributor:
    """The distributor of a mode; a ProviderError when it cannot be reached or described."""
    settings = svc.settings
    if test:
        return Distributor(
            _sandbox_target(svc),
            Party(settings.sandbox_ddex_sender_dpid, settings.ddex_sender_name),
            Party(settings.sandbox_ddex_recipient_dpid, "crosspost sandbox distributor"),
        )
    try:
        check_configured(svc, test=False)
    except InvalidInput as exc:
        raise ProviderError(ErrorKind.PERMANENT, exc.code, exc.detail) from None
    password, key = settings.distributor_sftp_password, settings.distributor_sftp_private_key
    target = SftpTarget(
        host=str(settings.distributor_sftp_host),
        port=settings.distributor_sftp_port,
        username=str(settings.distributor_sftp_username),
        password=password.get_secret_value() if password else None,
        private_key=key.get_secret_value() if key else None,
        known_host_key=settings.distributor_sftp_host_key,
        root=settings.distributor_sftp_root,
    )
    return Distributor(
        target,
        Party(str(settings.ddex_sender_dpid), settings.ddex_sender_name),
        Party(str(settings.ddex_recipient_dpid), settings.ddex_recipient_name),
    )


def _sandbox_target(svc: Services) -> SftpTarget:
    url = f"{svc.settings.sandbox_base_url}/distributor/_fake/endpoint"
    try:
        answer = svc.http.get(url)
        answer.raise_for_status()
        where = answer.json()
        return SftpTarget(
            host=str(where["host"]),
            port=int(where["port"]),
            username=str(where["username"]),
            password=str(where["password"]),
            known_host_key=str(where["host_key"]),
        )
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        raise ProviderError(
            ErrorKind.TRANSIENT,
            "sandbox_unreachable",
            f"the sandbox's distributor could not be reached at {url} ({type(exc).__name__})",
        ) from None
