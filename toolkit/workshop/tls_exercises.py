"""Exercises on the TLS tick and on certificates: the session fails before any login.

All five use one Dovecot-like user with an ordinary password, so that nothing
but the TLS setting or the certificate can be wrong.
"""

from __future__ import annotations

from toolkit.sandbox import Sandbox, Tenant
from toolkit.sandbox.ca import OTHER_HOST_NAME
from toolkit.workshop.model import (
    Choice,
    Difficulty,
    ExerciseInfo,
    ExerciseSpec,
    Scenario,
    Solution,
)
from toolkit.workshop.scenarios import DANA, entries, port_of, renamed, tenant_of, user

TLS_TICK = "TLS tick"
CERTIFICATES = "certificates"
_NON_STANDARD_PORT = (
    "That is only information: the sandbox's port numbers are not the standard ones, so the "
    "check without a connection cannot tell the mode from the number. Which check connects?"
)


def _dana_tenant() -> Tenant:
    return tenant_of(user(DANA, "dovecot"))


def _implicit_on_starttls_port(sandbox: Sandbox) -> Scenario:
    entry = renamed(entries(sandbox)["dana-dovecot-smtp"], "support-replies", tls=True)
    return Scenario(entry, fixes=({"tls": False}, {"port": port_of(sandbox, "smtp-tls")}))


def _starttls_on_implicit_port(sandbox: Sandbox) -> Scenario:
    entry = renamed(entries(sandbox)["dana-dovecot-imap"], "support-inbox", tls=False)
    return Scenario(entry, fixes=({"tls": True}, {"port": port_of(sandbox, "imap-starttls")}))


def _expired_certificate(sandbox: Sandbox) -> Scenario:
    return Scenario(renamed(entries(sandbox)["imap-expired-certificate"], "support-inbox"))


def _other_host_certificate(sandbox: Sandbox) -> Scenario:
    entry = renamed(entries(sandbox)["imap-wrong-host-certificate"], "support-inbox")
    return Scenario(entry, fixes=({"host": OTHER_HOST_NAME},))


def _private_ca_without_file(sandbox: Sandbox) -> Scenario:
    entry = renamed(entries(sandbox)["dana-dovecot-imap"], "support-inbox", ca_file=None)
    return Scenario(entry, fixes=({"ca_file": sandbox.ca_file},))


TLS_TICK_ON_STARTTLS_PORT = ExerciseSpec(
    info=ExerciseInfo(1, "tls-tick-on-starttls-port", "TLS ticked on a STARTTLS port", TLS_TICK,
                      Difficulty.EASY, 10),
    ticket=(
        "Replies from our support queue stopped going out after our admin re-entered the SMTP "
        "settings of dana@dovecot.sandbox.test (port 587, TLS ticked). The product's connection "
        "test fails after a moment with 'wrong version number'. The password is right: Dana "
        "sends mail with it from her mail client every day."
    ),
    question="Why does the SMTP entry fail to connect, and what must change in it?",
    choices=(
        Choice("a", "The password is wrong, so the server closes the session."),
        Choice("b", "TLS is ticked, but the port speaks STARTTLS: untick TLS."),
        Choice("c", "The server's certificate has expired, so the TLS handshake fails: its "
                    "administrator must renew it."),
        Choice("d", "Nothing listens on the port: the port number is wrong."),
    ),
    hints=(
        "The check without a connection cannot tell the mode of a sandbox port. Run the TLS "
        "check: it connects once per mode and says which mode works.",
        "Compare the mode that works with the entry's TLS tick: tls=True means implicit TLS, "
        "tls=False means STARTTLS.",
    ),
    solution=Solution(
        choice="b",
        finding_ids=("tls-tick-wrong-for-port", "tls-on-plain-port", "tls-tick-port-mismatch"),
        fix="Untick TLS (STARTTLS) on this port, or keep TLS ticked and use the implicit-TLS "
            "port (465 for SMTP, or the smtp-tls endpoint on the sandbox).",
        explanation="The port greets in plain text and upgrades with STARTTLS. With TLS ticked "
                    "the product starts with a TLS handshake instead, and reads the server's "
                    "plain-text greeting as a broken TLS record: 'wrong version number'.",
        feedback={
            "a": "The TLS check sends no password at all, and the ticked mode still fails: the "
                 "session ends before any login.",
            "c": "A certificate is only sent during a TLS handshake, and here the handshake never "
                 "gets that far: the server greets in plain text.",
            "d": "The STARTTLS probe connects and gets a greeting, so a server listens there.",
            "non-standard-port": _NON_STANDARD_PORT,
        },
    ),
    tenant=_dana_tenant,
    build=_implicit_on_starttls_port,
)

TLS_TICK_OFF_ON_IMPLICIT_PORT = ExerciseSpec(
    info=ExerciseInfo(2, "tls-tick-off-on-implicit-port", "TLS unticked on an implicit-TLS port",
                      TLS_TICK, Difficulty.EASY, 10),
    ticket=(
        "Since we moved our shared inbox dana@dovecot.sandbox.test to the new server, the "
        "product fetches nothing. The connection test waits a few seconds and then says the "
        "server did not answer. Our admin says IMAP runs on port 993 as usual, and we left "
        "the TLS box empty because the old server did not need it."
    ),
    question="Why does the product get no answer from the IMAP server, and what must change "
             "in the entry?",
    choices=(
        Choice("a", "The server is down, or a firewall drops the connection: ask the provider."),
        Choice("b", "The password is wrong, and the server stays silent instead of refusing it."),
        Choice("c", "TLS is unticked, but the port speaks implicit TLS: tick TLS."),
        Choice("d", "The server offers no STARTTLS, so the product refuses to send the password."),
    ),
    hints=(
        "Run the TLS check: it tries the port once with implicit TLS and once with STARTTLS.",
        "In which mode does the server answer at all? Compare it with the entry's TLS tick.",
    ),
    solution=Solution(
        choice="c",
        finding_ids=("tls-tick-wrong-for-port", "tls-tick-port-mismatch"),
        fix="Tick TLS for this port (implicit TLS), or keep TLS unticked and use the STARTTLS "
            "port (143 for IMAP, or the imap-starttls endpoint on the sandbox).",
        explanation="An implicit-TLS port sends nothing until the client starts a TLS "
                    "handshake. With TLS unticked the product connects and waits for a "
                    "plain-text greeting, so both sides wait until the product gives up.",
        feedback={
            "a": "The TLS check completes a TLS handshake in the ticked mode, so the server is up "
                 "and reachable.",
            "b": "The session stops before any password is sent: there was not even a greeting.",
            "d": "The port sends nothing in plain text at all, so STARTTLS never comes into play.",
            "greeting-timeout": "That is the symptom: the product waited for a greeting that "
                                "never came. Which check says why?",
            "non-standard-port": _NON_STANDARD_PORT,
        },
    ),
    tenant=_dana_tenant,
    build=_starttls_on_implicit_port,
)

CERTIFICATE_EXPIRED = ExerciseSpec(
    info=ExerciseInfo(3, "certificate-expired", "An expired server certificate", CERTIFICATES,
                      Difficulty.EASY, 10),
    ticket=(
        "Since Monday our inbox dana@dovecot.sandbox.test is not fetched any more. The error "
        "says 'certificate verify failed'. Nobody changed the settings, and the mail server is "
        "run by a small local hosting company."
    ),
    question="Why is the certificate rejected, and who must fix it?",
    choices=(
        Choice("a", "The entry lacks the CA file of a private certificate authority: add it."),
        Choice("b", "The certificate has expired: the server's administrator must renew it."),
        Choice("c", "The certificate names another host: change the host of the entry."),
        Choice("d", "The TLS tick is wrong for the port, so the handshake fails."),
    ),
    hints=(
        "Run the TLS check or the login test and read the certificate's details: who issued it, "
        "which names it lists, and its dates.",
        "Compare the certificate's 'not after' date with today's date.",
    ),
    solution=Solution(
        choice="b",
        finding_ids=("certificate-expired",),
        fix="Ask the server's administrator (here the hosting company) to renew the certificate. "
            "Nothing in the entry changes.",
        explanation="Clients reject a certificate after its 'not after' date, whatever else is "
                    "right. The session itself works: the TLS check shows the port speaks "
                    "implicit TLS, and only the certificate is refused.",
        feedback={
            "a": "The entry already has the CA file, and the chain verifies against it. Read the "
                 "certificate's dates.",
            "c": "The certificate lists 127.0.0.1, the host of the entry.",
            "d": "The TLS check says the tick is right: the port speaks implicit TLS and TLS is "
                 "ticked.",
        },
        setting_feedback="No setting of the entry can make an expired certificate valid. Turning "
                         "off verification would hide the fault, not fix it.",
    ),
    tenant=_dana_tenant,
    build=_expired_certificate,
)

CERTIFICATE_OTHER_HOST = ExerciseSpec(
    info=ExerciseInfo(4, "certificate-other-host", "A certificate issued for another host name",
                      CERTIFICATES, Difficulty.MEDIUM, 15),
    ticket=(
        "We set up the inbox dana@dovecot.sandbox.test with the server's IP address, because "
        "the name did not resolve on the day we started. Now the connection test fails with "
        "'certificate verify failed: Hostname mismatch'. The provider says their certificate "
        "is fine and valid for another year."
    ),
    question="Why does the product reject a valid certificate, and what must change in the entry?",
    choices=(
        Choice("a", "The certificate has expired: the provider must renew it."),
        Choice("b", "The entry lacks the CA file of the provider's certificate authority: add it."),
        Choice("c", "The port speaks STARTTLS, so TLS must be unticked."),
        Choice("d", "The certificate lists a host name, not the IP address the entry uses: enter "
                    "that name as the host."),
    ),
    hints=(
        "Read the certificate's details in the TLS check or the login test: which names does "
        "it list?",
        "A client checks that the host it connects to is one of the names in the certificate "
        "(RFC 6125). Which host does the entry use?",
    ),
    solution=Solution(
        choice="d",
        finding_ids=("certificate-hostname-mismatch",),
        fix=f"Enter the host name that the certificate lists ({OTHER_HOST_NAME}) as the host, "
            "once it resolves, instead of the IP address.",
        explanation="The certificate is valid and trusted, but it names only "
                    f"{OTHER_HOST_NAME}. A client that connects to an IP address or another "
                    "name cannot tell it from an impostor's certificate, so it refuses it.",
        feedback={
            "a": "The certificate's dates are fine: it is valid today.",
            "b": "The chain verifies against the CA file. Only the names differ.",
            "c": "The TLS check shows that the port speaks implicit TLS, as the entry's tick says.",
        },
    ),
    tenant=_dana_tenant,
    build=_other_host_certificate,
)

CERTIFICATE_PRIVATE_CA = ExerciseSpec(
    info=ExerciseInfo(5, "certificate-private-ca", "A private CA without the CA file",
                      CERTIFICATES, Difficulty.MEDIUM, 15),
    ticket=(
        "Our IT department runs its own mail server for dana@dovecot.sandbox.test, with "
        "certificates from our company's own certificate authority. Outlook on our laptops "
        "connects fine, but the product's connection test fails with 'unable to get local "
        "issuer certificate'."
    ),
    question="Why does the product reject a certificate that the laptops accept, and what must "
             "change in the entry?",
    choices=(
        Choice("a", "The certificate has expired: the IT department must renew it."),
        Choice("b", "The certificate names another host: change the host of the entry."),
        Choice("c", "The certificate comes from a private CA that the product does not trust: "
                    "add its CA file to the entry."),
        Choice("d", "The server accepts only TLS 1.0, which the product refuses."),
    ),
    hints=(
        "Read the certificate's details in the TLS check: who issued it, and against what was "
        "it verified?",
        "The company laptops trust the company's CA because IT installed it on them. Where does "
        "the product look for trusted authorities?",
    ),
    solution=Solution(
        choice="c",
        finding_ids=("certificate-untrusted",),
        fix="Set ca_file to the PEM file of the company's certificate authority (on the sandbox, "
            "sandbox.ca_file).",
        explanation="The product verifies the chain against the system's public authorities plus "
                    "the entry's CA file. A private CA is in neither until the entry names its "
                    "file, so the chain ends at an unknown issuer.",
        feedback={
            "a": "The certificate's dates are fine: it is valid today.",
            "b": "The certificate lists 127.0.0.1, the host of the entry.",
            "d": "The TLS check completes a handshake with TLS 1.2 or newer.",
        },
    ),
    tenant=_dana_tenant,
    build=_private_ca_without_file,
)

SPECS = (
    TLS_TICK_ON_STARTTLS_PORT,
    TLS_TICK_OFF_ON_IMPLICIT_PORT,
    CERTIFICATE_EXPIRED,
    CERTIFICATE_OTHER_HOST,
    CERTIFICATE_PRIVATE_CA,
)
