"""XOAUTH2 for the mailbox: the same sign-in SMTP uses, when ``smtp_auth`` is xoauth2.

The token comes from the sign-in's token source (``smtp_oauth_token_command``, or
the refresh token ``protest login`` stored for the SMTP account), fetched only when
the session logs in. A mailbox password of its own (``PROTEST_IMAP_PASSWORD``,
``imap_password_command``) still wins. The provider must have granted IMAP in the
sign-in's scope (Google's ``https://mail.google.com/`` does; for Microsoft add
``https://outlook.office.com/IMAP.AccessAsUser.All`` to ``oauth_scope``).
"""

from __future__ import annotations

import dataclasses

from pydantic import SecretStr

from protest_dispatch.settings.config import Config
from protest_dispatch.settings.imap import Credentials, ImapSettings, own_password
from protest_dispatch.vocabulary import AuthMode


def with_sign_in(settings: ImapSettings, config: Config) -> ImapSettings:
    """``settings`` logging in with an OAuth2 access token when the config says so."""
    if config.settings.smtp_auth is not AuthMode.XOAUTH2 or own_password(config):
        return settings
    account = config.settings.smtp_username or settings.username
    host = config.settings.smtp_host or settings.host

    def credentials() -> Credentials:
        from protest_dispatch.oauth.source import token_source

        token = token_source(config, username=account, host=host).current()
        return Credentials(
            username=settings.username, secret=SecretStr(token), mechanism=AuthMode.XOAUTH2
        )

    return dataclasses.replace(settings, credentials=credentials)
