"""Exercises on logins: Basic with Gmail and Microsoft 365, and OAuth2 tokens that IMAP rejects.

The OAuth2 exercises mint their token with the sandbox authority's
`issue_token`, with the audience, scopes and user that the ticket needs, and
put it into the entry as a `Secret`.
"""

from __future__ import annotations

import dataclasses

from toolkit.sandbox import Sandbox, Tenant
from toolkit.sandbox.authority import (
    EXCHANGE_ONLINE,
    EXCHANGE_ONLINE_365,
    IMAP_SCOPE,
    MICROSOFT_GRAPH,
    SMTP_SCOPE,
)
from toolkit.sandbox.server import SandboxError
from toolkit.secret import Secret
from toolkit.settings import AuthType, ServerSettings
from toolkit.workshop.model import (
    Choice,
    Difficulty,
    ExerciseInfo,
    ExerciseSpec,
    Scenario,
    Solution,
)
from toolkit.workshop.scenarios import (
    ALICE,
    BOB,
    GINA,
    account_password,
    entries,
    renamed,
    tenant_of,
    user,
)

BASIC_LOGIN = "Basic login"
OAUTH2_LOGIN = "OAuth2 login"
OAUTH_SCOPE_AUDIENCE = "OAuth scope and audience"
_CLAIMS_HINT = (
    "Exchange Online answers every rejected token with the same 'AUTHENTICATE failed.'. Read "
    "the token's claims: the login test decodes them, and so does diagnose_token."
)


def _gina_tenant() -> Tenant:
    return tenant_of(user(GINA, "gmail", password=account_password()))


def _alice_tenant() -> Tenant:
    return tenant_of(user(ALICE, "microsoft365"))


def _alice_and_bob_tenant() -> Tenant:
    return tenant_of(user(ALICE, "microsoft365"), user(BOB, "microsoft365"))


def _token(sandbox: Sandbox, address: str, *, audience: str = EXCHANGE_ONLINE,
           scopes: list[str] | None = None) -> Secret:
    """Mint a delegated access token for `address` with the sandbox's authority."""
    authority = sandbox.authority
    if authority is None:
        raise SandboxError("this exercise needs the sandbox's OAuth2 authority")
    return Secret(authority.issue_token(user=address, audience=audience, scopes=scopes))


def _with_scopes(entry: ServerSettings, *scopes: str) -> ServerSettings:
    if entry.oauth is None:
        raise SandboxError("the sandbox entry has no OAuth2 settings: start the sandbox with "
                           "its authority")
    return dataclasses.replace(entry, oauth=dataclasses.replace(entry.oauth, scopes=scopes))


def _gmail_account_password(sandbox: Sandbox) -> Scenario:
    gina = sandbox.user(GINA)
    # The admin typed the password into the product's form, so no variable names it.
    entry = renamed(entries(sandbox)["gina-gmail-smtp"], "gmail-replies", password_env=None,
                    password=gina.password)
    return Scenario(entry)


def _m365_basic(sandbox: Sandbox) -> Scenario:
    alice = sandbox.user(ALICE)
    entry = renamed(entries(sandbox)["alice-m365-imap"], "m365-inbox", auth=AuthType.BASIC,
                    password=alice.password, password_env=None, token_env=None, oauth=None,
                    token=None)
    return Scenario(entry, fixes=({"auth": "oauth2"},))


def _token_for_other_user(sandbox: Sandbox) -> Scenario:
    entry = renamed(entries(sandbox)["bob-m365-imap"], "bob-inbox")
    entry = entry.with_secrets(token=_token(sandbox, ALICE))
    return Scenario(entry)


def _graph_token(sandbox: Sandbox) -> Scenario:
    # A request for the bare scope name makes Entra issue a Microsoft Graph token.
    entry = _with_scopes(renamed(entries(sandbox)["alice-m365-imap"], "alice-inbox"),
                         "IMAP.AccessAsUser.All")
    entry = entry.with_secrets(token=_token(sandbox, ALICE, audience=MICROSOFT_GRAPH))
    return Scenario(entry, fixes=(
        {"oauth.scopes": IMAP_SCOPE},
        {"oauth.scopes": f"{EXCHANGE_ONLINE_365}/IMAP.AccessAsUser.All"},
    ))


def _token_without_imap_scope(sandbox: Sandbox) -> Scenario:
    # The OAuth2 table was copied from the SMTP entry, so the token carries SMTP.Send only.
    entry = _with_scopes(renamed(entries(sandbox)["alice-m365-imap"], "alice-inbox"), SMTP_SCOPE)
    entry = entry.with_secrets(token=_token(sandbox, ALICE, scopes=["SMTP.Send"]))
    return Scenario(entry, fixes=({"oauth.scopes": IMAP_SCOPE},))


GMAIL_ACCOUNT_PASSWORD = ExerciseSpec(
    info=ExerciseInfo(6, "gmail-account-password",
                      "A Gmail account password where an app password is needed", BASIC_LOGIN,
                      Difficulty.EASY, 10),
    ticket=(
        "We connected our Gmail address gina@gmail.sandbox.test for sending replies. Our admin "
        "typed in the password Gina uses to sign in to Gmail, and the product's test answers "
        "'534-5.7.9'. Gina signs in on the web with that very password, so it must be right."
    ),
    question="Why does Gmail refuse a password that works on the web, and what must go into the "
             "password field?",
    choices=(
        Choice("a", "The user must be the name before the @, without the domain."),
        Choice("b", "Gmail accepts only OAuth2 from mail programs: switch the entry to auth = "
                    "oauth2."),
        Choice("c", "2-Step Verification is on, so Gmail wants a 16-letter app password, not the "
                    "account password."),
        Choice("d", "The TLS tick is wrong for the port, so Gmail refuses the login."),
    ),
    hints=(
        "Run the settings check and the login test, and read the explanation of the server's "
        "reply.",
        "What does Gmail's reply code 534 5.7.9 ask for, and what does the settings check say "
        "about the password's shape?",
    ),
    solution=Solution(
        choice="c",
        finding_ids=("gmail-app-password-required", "app-password-format"),
        fix="Create an app password in Gina's Google account (Security, 2-Step Verification, App "
            "passwords) and enter its 16 letters in the password field.",
        explanation="With 2-Step Verification on, Google refuses the account password from "
                    "mail programs and asks for an application-specific password: "
                    "'534-5.7.9 Application-specific password required'.",
        feedback={
            "a": "Gmail logs in with the full address. The login test shows the user is accepted "
                 "and the password refused.",
            "b": "Gmail does support OAuth2, but the product does not support it for Gmail at "
                 "present: the settings check warns about it. What else does Gmail accept?",
            "auth=oauth2": "Gmail does support OAuth2, but the product does not support it for "
                           "Gmail at present: the settings check warns about it.",
            "d": "The login test gets through TLS and reaches the login, so the TLS tick is right.",
            "login-rejected": "That only says the server refused the login. Which finding "
                              "explains the reply?",
        },
        setting_feedback="The fix goes into the password field, and a password is never written "
                         "into an answer. Answer with the option letter or the finding id.",
    ),
    tenant=_gina_tenant,
    build=_gmail_account_password,
)

M365_BASIC_RETIRED = ExerciseSpec(
    info=ExerciseInfo(7, "m365-basic-retired", "Microsoft 365 with Basic after its retirement",
                      BASIC_LOGIN, Difficulty.EASY, 10),
    ticket=(
        "Our inbox alice@m365.sandbox.test on Microsoft 365 has stopped fetching. The product "
        "says 'LOGIN failed.'. We reset Alice's password twice, and she signs in to Outlook on "
        "the web with it, so the password is right."
    ),
    question="Why does Microsoft 365 refuse a correct password, and what must change in the "
             "entry?",
    choices=(
        Choice("a", "Microsoft 365 has retired Basic authentication: switch the entry to OAuth2."),
        Choice("b", "Alice's password has expired: reset it once more and wait an hour."),
        Choice("c", "IMAP is turned off for Alice's mailbox: turn it on in the admin center."),
        Choice("d", "The TLS tick is wrong for the port, so the server refuses the login."),
    ),
    hints=(
        "Start with the settings check, which needs no connection: what does it say about the "
        "authentication type?",
        "Then run the login test and read the explanation of 'LOGIN failed.'.",
    ),
    solution=Solution(
        choice="a",
        finding_ids=("auth-not-supported-by-provider", "m365-login-failed"),
        fix="Set auth to oauth2 and add the OAuth2 settings (authority, client id, scopes). Then "
            "sign in once to get a token.",
        explanation="Exchange Online has retired Basic authentication, so it answers every "
                    "password, right or wrong, with 'LOGIN failed.'. Only an OAuth2 token logs in.",
        feedback={
            "b": "Microsoft 365 answers 'LOGIN failed.' to every password once Basic "
                 "authentication is retired. Which finding says so before any connection?",
            "c": "That can cause a failure too, but the checks name another cause before any "
                 "connection: look at the settings check.",
            "d": "The login test gets through TLS and reaches the login, so the TLS tick is right.",
            "login-rejected": "That only says the server refused the login. Which finding "
                              "explains why?",
        },
    ),
    tenant=_alice_tenant,
    build=_m365_basic,
    authority=True,
)

OAUTH_TOKEN_OTHER_USER = ExerciseSpec(
    info=ExerciseInfo(8, "oauth-token-other-user", "An OAuth2 token for another user",
                      OAUTH2_LOGIN, Difficulty.MEDIUM, 15),
    ticket=(
        "On Monday our admin Alice re-authorised the email channel. Since then the inbox "
        "bob@m365.sandbox.test fails with 'AUTHENTICATE failed.', while Alice's own inbox still "
        "works. The token is brand new, so it cannot have expired."
    ),
    question="Why does Exchange Online reject the new token on Bob's inbox?",
    choices=(
        Choice("a", "The token has expired: sign in again to get a fresh one."),
        Choice("b", "The token lacks the IMAP permission IMAP.AccessAsUser.All."),
        Choice("c", "IMAP is turned off for Bob's mailbox: turn it on in the admin center."),
        Choice("d", "The token belongs to Alice, who signed in, not to Bob: get a token signed in "
                    "as Bob."),
    ),
    hints=(_CLAIMS_HINT,
           "Whose name is in the token's upn claim, and who is the entry's user?"),
    solution=Solution(
        choice="d",
        finding_ids=("token-wrong-user",),
        fix="Sign in as bob@m365.sandbox.test to get the token for Bob's inbox, and keep Bob as "
            "the entry's user.",
        explanation="A delegated token opens only the mailbox of the user who signed in (or a "
                    "shared mailbox that user has Full Access to). Alice signed in, so the token "
                    "is hers, and Exchange Online refuses it for Bob's login.",
        feedback={
            "a": "Read the token's exp claim: it is valid for another hour.",
            "b": "The token's scp claim contains IMAP.AccessAsUser.All.",
            "c": "The checks name another cause: read the token's claims.",
            "user=alice@m365.sandbox.test": "Then the login matches the token, but the entry "
                                            "would fetch Alice's mailbox instead of Bob's. Keep "
                                            "Bob as the user and get Bob's token.",
            "m365-authenticate-failed": "That is Exchange Online's reply to every rejected token, "
                                        "with several possible causes. Which finding names the "
                                        "one that applies?",
            "login-rejected": "That only says the server refused the login. Which finding "
                              "explains why?",
        },
        setting_feedback="No field of the entry is wrong: the fix is a new token, signed in as "
                         "Bob.",
    ),
    tenant=_alice_and_bob_tenant,
    build=_token_for_other_user,
    authority=True,
)

OAUTH_GRAPH_TOKEN = ExerciseSpec(
    info=ExerciseInfo(9, "oauth-graph-token", "A Microsoft Graph token used for IMAP",
                      OAUTH_SCOPE_AUDIENCE, Difficulty.HARD, 20),
    ticket=(
        "We set up OAuth2 for alice@m365.sandbox.test ourselves. The sign-in works and we get a "
        "token, but IMAP answers 'AUTHENTICATE failed.' every time. The app registration has "
        "IMAP.AccessAsUser.All with admin consent, and we request exactly that scope."
    ),
    question="The token is valid and belongs to Alice. Why does IMAP reject it, and what must "
             "change in the entry's OAuth2 settings?",
    choices=(
        Choice("a", "Admin consent is missing for IMAP.AccessAsUser.All: grant it in Entra."),
        Choice("b", "The token has expired: sign in again to get a fresh one."),
        Choice("c", "The entry requests the bare scope name, so Entra issues a Microsoft Graph "
                    "token: request https://outlook.office.com/IMAP.AccessAsUser.All."),
        Choice("d", "IMAP is turned off for Alice's mailbox: turn it on in the admin center."),
    ),
    hints=(_CLAIMS_HINT,
           "Look at the aud (audience) claim: which API is the token for, and which one does "
           "IMAP need?"),
    solution=Solution(
        choice="c",
        finding_ids=("token-wrong-audience",),
        fix="Set the entry's oauth.scopes to https://outlook.office.com/IMAP.AccessAsUser.All "
            "(the resource URL plus the permission), then sign in again.",
        explanation="Entra reads a scope without a resource URL as a Microsoft Graph scope, so "
                    "the token's audience (aud) is https://graph.microsoft.com. Exchange Online "
                    "accepts only tokens whose audience is Exchange Online.",
        feedback={
            "a": "The token's scp claim lists IMAP.AccessAsUser.All, so consent was given. Look "
                 "at another claim.",
            "b": "Read the token's exp claim: it is valid for another hour.",
            "d": "The checks name another cause: read the token's claims.",
            "token-missing-scope": "The token does carry IMAP.AccessAsUser.All in scp. Which "
                                   "claim is wrong?",
            "m365-authenticate-failed": "That is Exchange Online's reply to every rejected token, "
                                        "with several possible causes. Which finding names the "
                                        "one that applies?",
        },
    ),
    tenant=_alice_tenant,
    build=_graph_token,
    authority=True,
)

OAUTH_MISSING_IMAP_SCOPE = ExerciseSpec(
    info=ExerciseInfo(10, "oauth-missing-imap-scope", "A token without IMAP.AccessAsUser.All",
                      OAUTH_SCOPE_AUDIENCE, Difficulty.MEDIUM, 15),
    ticket=(
        "Sending replies from alice@m365.sandbox.test with OAuth2 works. For fetching, we added "
        "an IMAP entry for Alice and copied the OAuth2 settings of the working SMTP entry into "
        "it, to be safe. Fetching fails with 'AUTHENTICATE failed.'."
    ),
    question="Why does the token work for sending but not for fetching, and what must change?",
    choices=(
        Choice("a", "The token is for Microsoft Graph, not for Exchange Online."),
        Choice("b", "The IMAP entry requests the SMTP scope, so the token carries only SMTP.Send: "
                    "request the IMAP scope."),
        Choice("c", "IMAP needs another user name than SMTP: log in as the mailbox's alias."),
        Choice("d", "The token has expired: sign in again to get a fresh one."),
    ),
    hints=(_CLAIMS_HINT,
           "Look at the scp claim: which permissions does the token carry, and which one does "
           "IMAP need?"),
    solution=Solution(
        choice="b",
        finding_ids=("token-missing-scope",),
        fix="Set the IMAP entry's oauth.scopes to https://outlook.office.com/IMAP.AccessAsUser.All "
            "and sign in again. If the app registration lacks that delegated permission, add it "
            "under Office 365 Exchange Online and grant admin consent first.",
        explanation="Each protocol needs its own permission in the token: IMAP.AccessAsUser.All "
                    "for IMAP, SMTP.Send for SMTP. A token requested with the SMTP scope carries "
                    "SMTP.Send only, so Exchange Online refuses it for IMAP.",
        feedback={
            "a": "The token's audience is Exchange Online (https://outlook.office.com). Look at "
                 "another claim.",
            "c": "Both entries log in as alice@m365.sandbox.test, as the token's upn says.",
            "d": "Read the token's exp claim: it is valid for another hour.",
            "token-wrong-audience": "The token's audience is Exchange Online. Which claim is "
                                    "wrong?",
            "m365-authenticate-failed": "That is Exchange Online's reply to every rejected token, "
                                        "with several possible causes. Which finding names the "
                                        "one that applies?",
        },
    ),
    tenant=_alice_tenant,
    build=_token_without_imap_scope,
    authority=True,
)

SPECS = (
    GMAIL_ACCOUNT_PASSWORD,
    M365_BASIC_RETIRED,
    OAUTH_TOKEN_OTHER_USER,
    OAUTH_GRAPH_TOKEN,
    OAUTH_MISSING_IMAP_SCOPE,
)
