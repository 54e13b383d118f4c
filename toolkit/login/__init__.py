"""Login tests for IMAP and SMTP with a password (Basic) or an OAuth2 token.

- `session.attempt_login`: the network part. It returns a `results.LoginResult`
  with the stage, the mechanism, the server's words, a named reason and a
  transcript that `transcript.Transcript` redacted;
- `sasl`: the client responses of LOGIN, PLAIN, XOAUTH2 and OAUTHBEARER;
- `diagnosis.login_findings`: findings from a result, with the explanation of the
  server's reply and the diagnosis of the token;
- `check.check_login`: both steps in one call.
"""
