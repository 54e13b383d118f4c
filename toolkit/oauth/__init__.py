"""OAuth2 for IMAP and SMTP logins: tokens through msal, and reading a token's claims locally.

- `msal_client`: the device code flow and client credentials, talking only to the
  configured authority (`http.AuthoritySession`), with a private token cache (`cache`);
- `claims`: decoding a JWT access token without the network, and the checks of its
  audience, permissions, user, tenant and lifetime.
"""
