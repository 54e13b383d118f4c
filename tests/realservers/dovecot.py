"""Run a private Dovecot 2.3 instance (IMAP and LMTP) on 127.0.0.1 for tests.

The instance has its own dovecot.conf, run folder, log and Maildirs below one
temporary folder. It serves IMAP with implicit TLS and with STARTTLS. Two unix
sockets serve a Postfix instance: LMTP, to deliver mail for DOMAIN, and the
authentication service, to check SMTP logins against the same users.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import pwd
import secrets
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType, TracebackType

from . import (
    DOMAIN,
    HOST,
    REMOTE_LOOKING_HOST,
    START_TIMEOUT_SECONDS,
    ServerStartError,
    TlsFiles,
    descendants,
    log_tail,
    pick_free_ports,
    run_daemon_command,
    wait_for_exit,
    wait_for_pid_file,
    wait_for_port,
)

DOVECOT = "/usr/sbin/dovecot"
DOVEADM = "/usr/bin/doveadm"
# The IMAP and LMTP services come from dovecot-imapd and dovecot-lmtpd, not dovecot-core.
BINARIES = (DOVECOT, DOVEADM, "/usr/lib/dovecot/imap-login", "/usr/lib/dovecot/lmtp")

# Mail files belong to Debian's "mail" account, because Dovecot refuses to
# run mail processes as root.
MAIL_ACCOUNT = "mail"
# Account of Postfix's daemons, which connect to the LMTP and auth sockets.
POSTFIX_ACCOUNT = "postfix"

DELIMITER = "/"
# Every user gets these, with RFC 6154 special-use attributes.
SPECIAL_FOLDERS = {"Sent": "\\Sent", "Trash": "\\Trash"}
# Only the folder user gets these, so a test can compare a full and an empty account.
DEFAULT_EXTRA_FOLDERS = ("Support", "Support/Contact")

CONFIG_TEMPLATE = """\
# Private Dovecot test instance, written by tests/realservers/dovecot.py.
base_dir = {run_dir}
state_dir = {state_dir}
instance_name = {instance_name}
protocols = imap lmtp
listen = {host}, {remote_looking_host}
log_path = {log_file}
auth_verbose = yes

# Clients must use TLS before a plain-text login: LOGINDISABLED shows on the
# STARTTLS port until STARTTLS.
# NOTE: Dovecot treats a connection whose client address equals the server
# address as secured. From 127.0.0.1 to 127.0.0.1 it therefore allows LOGIN
# before STARTTLS and does not send LOGINDISABLED; connect from another
# loopback address such as 127.0.0.2 to see the STARTTLS requirement.
ssl = required
disable_plaintext_auth = yes
ssl_cert = <{cert_file}
ssl_key = <{key_file}
ssl_min_protocol = TLSv1.2

auth_mechanisms = plain login
# By default Dovecot delays the reply to a failed login by 2 s. With 0 the
# reply still waits for the next pass over the failure queue, which took
# about 0.5 s in tests with Dovecot 2.3.19.
auth_failure_delay = {auth_failure_delay}
auth_cache_size = 0
# Without this, anvil adds a penalty of 2 s and more to every further failed
# login from the same address, and most tests connect from 127.0.0.1. Mode 0
# disables the listener, which turns the penalty off.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}

first_valid_uid = {mail_uid}
last_valid_uid = {mail_uid}
first_valid_gid = {mail_gid}
last_valid_gid = {mail_gid}
mail_location = maildir:~/Maildir

passdb {{
  driver = passwd-file
  args = scheme=SSHA512 username_format=%Lu {passwd_file}
}}
userdb {{
  driver = passwd-file
  args = username_format=%Lu {passwd_file}
  default_fields = uid={mail_uid} gid={mail_gid} home={mail_root}/%Ld/%Ln
}}

namespace inbox {{
  inbox = yes
  separator = {delimiter}
  prefix =
{special_folders}}}
{public_namespace}
service imap-login {{
  # The listener names "imap" and "imaps" replace Dovecot's built-in listeners on
  # ports 143 and 993.
  inet_listener imap {{
    address = {host}, {remote_looking_host}
    port = {starttls_port}
  }}
  inet_listener imaps {{
    address = {host}, {remote_looking_host}
    port = {tls_port}
    ssl = yes
  }}
}}

service lmtp {{
  unix_listener {lmtp_socket_name} {{
    mode = 0600
    user = {postfix_account}
    group = {postfix_account}
  }}
}}

service auth {{
  unix_listener {auth_socket_name} {{
    mode = 0600
    user = {postfix_account}
    group = {postfix_account}
  }}
}}

protocol lmtp {{
  postmaster_address = postmaster@{domain}
}}
"""

SPECIAL_FOLDER_TEMPLATE = """\
  mailbox {name} {{
    special_use = {attribute}
    auto = subscribe
  }}
"""

PUBLIC_NAMESPACE_TEMPLATE = """
namespace public {{
  type = public
  separator = {delimiter}
  prefix = {prefix}{delimiter}
  location = maildir:{public_root}:INDEXPVT=~/public-index
  subscriptions = no
  list = children
}}
"""


@dataclass(frozen=True)
class DovecotServer:
    """Connection details of a running private Dovecot instance."""

    host: str
    """Address that both IMAP ports listen on."""
    imap_tls_port: int
    """IMAP port with implicit TLS, like port 993."""
    imap_starttls_port: int
    """IMAP port where clients upgrade with STARTTLS, like port 143."""
    ca_file: Path
    """PEM file of the authority that signed the server certificate."""
    users: Mapping[str, str] = field(repr=False)
    """Login name (the full address) mapped to its password."""
    domain: str
    """Mail domain of every user, delivered over LMTP."""
    delimiter: str
    """Hierarchy delimiter of the personal namespace."""
    folder_user: str
    """User who also has `extra_folders`."""
    extra_folders: tuple[str, ...]
    """Folders created for `folder_user` only, besides INBOX, Sent and Trash."""
    public_prefix: str | None
    """Prefix of the public namespace without delimiter, or None when there is none."""
    lmtp_socket: Path
    """Unix socket for LMTP delivery, owned by the postfix user."""
    auth_socket: Path
    """Unix socket of Dovecot's authentication service for Postfix SASL."""
    config_file: Path
    """dovecot.conf of this instance, for `doveadm -c`."""
    log_file: Path
    """Dovecot's log, with failed logins and deliveries."""
    mail_root: Path
    """Folder that contains each user's home at DOMAIN/NAME with a Maildir inside."""
    pid: int
    """Process id of the Dovecot master process."""
    start_seconds: float
    """Wall-clock time from starting the master to ready ports and folders."""


def hash_password(password: str) -> str:
    """Hash `password` in Dovecot's {SSHA512} scheme: base64(SHA-512(password + salt) + salt)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.sha512(password.encode() + salt).digest()
    return "{SSHA512}" + base64.b64encode(digest + salt).decode("ascii")


class DovecotInstance:
    """Configure, start and stop one private Dovecot instance in `folder`.

    Use it as a context manager, or call start() and stop(). Starting needs root
    and the binaries in BINARIES.
    """

    def __init__(
        self,
        folder: Path,
        tls: TlsFiles,
        users: Mapping[str, str],
        *,
        folder_user: str | None = None,
        extra_folders: Sequence[str] = DEFAULT_EXTRA_FOLDERS,
        public_prefix: str | None = None,
        public_folders: Sequence[str] = (),
        auth_failure_delay_seconds: int = 0,
    ) -> None:
        """Prepare an instance that stores everything below `folder`.

        `users` maps login names, each a full address at DOMAIN, to passwords.
        `extra_folders` are created for `folder_user`, the first user by default.
        A `public_prefix` such as "Shared" adds a public namespace with
        `public_folders` that every user sees below that prefix.
        `auth_failure_delay_seconds` sets Dovecot's auth_failure_delay.
        """
        if not users:
            raise ValueError("users is empty: give at least one login name and password")
        for name in users:
            if not name.lower().endswith("@" + DOMAIN):
                raise ValueError(
                    f"user {name!r} is invalid: every login name must end in @{DOMAIN}"
                )
        self.folder = folder
        self.tls = tls
        self.users = MappingProxyType(dict(users))
        self.folder_user = folder_user or next(iter(users))
        if self.folder_user not in users:
            raise ValueError(f"folder_user {self.folder_user!r} is not one of the users")
        self.extra_folders = tuple(extra_folders)
        self.public_prefix = public_prefix
        self.public_folders = tuple(public_folders)
        self.auth_failure_delay_seconds = auth_failure_delay_seconds

        self.config_file = folder / "dovecot.conf"
        self.passwd_file = folder / "users.passwd"
        self.run_dir = folder / "run"
        self.state_dir = folder / "state"
        self.log_file = folder / "dovecot.log"
        self.mail_root = folder / "mail"
        self.public_root = folder / "public"
        self.lmtp_socket = self.run_dir / "lmtp-postfix"
        self.auth_socket = self.run_dir / "auth-postfix"
        self.server: DovecotServer | None = None

    def __enter__(self) -> DovecotServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> DovecotServer:
        """Write the configuration, start Dovecot, create the folders and wait for the ports.

        Raises ServerStartError with the end of Dovecot's log when any step fails.
        """
        started = time.monotonic()
        tls_port, starttls_port = pick_free_ports(2)
        self._write_files(tls_port, starttls_port)

        status, output = run_daemon_command(
            [DOVECOT, "-c", str(self.config_file)], self.folder / "start.out"
        )
        if status != 0:
            raise ServerStartError(
                f"dovecot -c {self.config_file} exited with {status}: "
                f"{output}\n{log_tail(self.log_file)}"
            )
        try:
            pid = wait_for_pid_file(self.run_dir / "master.pid", started + START_TIMEOUT_SECONDS)
        except ServerStartError as error:
            raise ServerStartError(f"{error}\n{log_tail(self.log_file)}") from error

        # From here on stop() must run if anything fails, or the master keeps running.
        self.server = DovecotServer(
            host=HOST,
            imap_tls_port=tls_port,
            imap_starttls_port=starttls_port,
            ca_file=self.tls.ca_file,
            users=self.users,
            domain=DOMAIN,
            delimiter=DELIMITER,
            folder_user=self.folder_user,
            extra_folders=self.extra_folders,
            public_prefix=self.public_prefix,
            lmtp_socket=self.lmtp_socket,
            auth_socket=self.auth_socket,
            config_file=self.config_file,
            log_file=self.log_file,
            mail_root=self.mail_root,
            pid=pid,
            start_seconds=0.0,
        )
        try:
            deadline = started + START_TIMEOUT_SECONDS
            wait_for_port(HOST, tls_port, deadline)
            wait_for_port(HOST, starttls_port, deadline)
            self._create_folders()
        except (ServerStartError, subprocess.SubprocessError) as error:
            self.stop()
            raise ServerStartError(f"{error}\n{log_tail(self.log_file)}") from error

        self.server = dataclasses.replace(self.server, start_seconds=time.monotonic() - started)
        return self.server

    def stop(self) -> None:
        """Stop the master process and its children, and wait until they have exited.

        Does nothing when the instance is not running.
        """
        if self.server is None:
            return
        pid = self.server.pid
        self.server = None
        processes = [pid, *descendants(pid)]
        # SIGTERM to the master is what `doveadm stop` sends, but doveadm then
        # polls for the exit in steps that added 2 s per stop (Dovecot 2.3.19).
        _signal(pid, signal.SIGTERM)
        left = wait_for_exit(processes)
        if left:
            # The master did not end its children in time: end this instance's own processes.
            for process in left:
                _signal(process, signal.SIGKILL)
            wait_for_exit(left)

    def doveadm(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        """Run `doveadm -c CONFIG ARGUMENTS` against this instance and return the result."""
        return subprocess.run(
            [DOVEADM, "-c", str(self.config_file), *arguments],
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_SECONDS,
            check=False,
        )

    def _write_files(self, tls_port: int, starttls_port: int) -> None:
        mail_account = pwd.getpwnam(MAIL_ACCOUNT)
        self.folder.mkdir(mode=0o755, parents=True, exist_ok=True)
        for mail_folder in (self.mail_root, self.public_root):
            mail_folder.mkdir(mode=0o700, exist_ok=True)
            os.chown(mail_folder, mail_account.pw_uid, mail_account.pw_gid)

        # Dovecot's auth process reads this file as the dovecot user. It contains hashes only.
        lines = [
            f"{name.lower()}:{hash_password(password)}::::::"
            for name, password in self.users.items()
        ]
        self.passwd_file.write_text("\n".join(lines) + "\n")
        self.passwd_file.chmod(0o644)

        special_folders = "".join(
            SPECIAL_FOLDER_TEMPLATE.format(name=name, attribute=attribute)
            for name, attribute in SPECIAL_FOLDERS.items()
        )
        public_namespace = ""
        if self.public_prefix is not None:
            public_namespace = PUBLIC_NAMESPACE_TEMPLATE.format(
                delimiter=DELIMITER, prefix=self.public_prefix, public_root=self.public_root
            )
        self.config_file.write_text(
            CONFIG_TEMPLATE.format(
                run_dir=self.run_dir,
                state_dir=self.state_dir,
                instance_name=f"maildiag-{starttls_port}",
                host=HOST,
                remote_looking_host=REMOTE_LOOKING_HOST,
                log_file=self.log_file,
                cert_file=self.tls.cert_file,
                key_file=self.tls.key_file,
                auth_failure_delay=self.auth_failure_delay_seconds,
                mail_uid=mail_account.pw_uid,
                mail_gid=mail_account.pw_gid,
                passwd_file=self.passwd_file,
                mail_root=self.mail_root,
                delimiter=DELIMITER,
                special_folders=special_folders,
                public_namespace=public_namespace,
                starttls_port=starttls_port,
                tls_port=tls_port,
                lmtp_socket_name=self.lmtp_socket.name,
                auth_socket_name=self.auth_socket.name,
                postfix_account=POSTFIX_ACCOUNT,
                domain=DOMAIN,
            )
        )

    def _create_folders(self) -> None:
        commands = []
        if self.extra_folders:
            commands.append(
                ["mailbox", "create", "-u", self.folder_user, "-s", *self.extra_folders]
            )
        if self.public_prefix is not None and self.public_folders:
            prefixed = [f"{self.public_prefix}{DELIMITER}{name}" for name in self.public_folders]
            commands.append(["mailbox", "create", "-u", self.folder_user, *prefixed])
        for command in commands:
            result = self.doveadm(*command)
            if result.returncode != 0:
                raise ServerStartError(
                    f"doveadm {' '.join(command)} exited with {result.returncode}: "
                    f"{result.stderr.strip()}"
                )


def _signal(pid: int, signal_number: signal.Signals) -> None:
    try:
        os.kill(pid, signal_number)
    except ProcessLookupError:
        pass
