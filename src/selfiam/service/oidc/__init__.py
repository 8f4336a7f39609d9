"""OpenID Connect: an issuer's published keys (discovery, JWKS) and the verification of
its tokens. Used by STS AssumeRoleWithWebIdentity (``operations/web_identity.py``)."""
