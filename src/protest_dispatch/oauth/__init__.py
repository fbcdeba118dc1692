"""OAuth2 for SMTP XOAUTH2: sign-in flows, the refresh-token store, access-token sources.

Authlib and httpx are imported inside the functions that use them, so password
users and ``protest --help`` never load them.
"""
