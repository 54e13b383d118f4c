"""Run a private Postfix 3.7 instance (SMTP submission) on 127.0.0.1 for tests.

The instance has its own main.cf, master.cf, queue, data folder and log below one
temporary folder. It offers submission with STARTTLS and with implicit TLS, checks
logins through a Dovecot instance's auth socket, delivers mail for DOMAIN to that
Dovecot over LMTP and discards mail for every other domain, so that nothing is
ever relayed.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from . import (
    HOST,
    SERVER_NAME,
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
from .dovecot import DovecotServer

POSTFIX = "/usr/sbin/postfix"
BINARIES = (POSTFIX, "/usr/sbin/postconf", "/usr/lib/postfix/sbin/master")

# Every recipient outside DOMAIN goes here, and no smtp service exists in
# master.cf, so even a wrong setting cannot send mail off this machine.
DISCARD_REASON = "the sandbox delivers no mail outside its own domain"

MAIN_CF_TEMPLATE = """\
# Private Postfix test instance, written by tests/realservers/postfix.py.
compatibility_level = 3.6
queue_directory = {queue_dir}
data_directory = {data_dir}
mail_owner = postfix
setgid_group = postdrop
maillog_file = {log_file}
# Postfix accepts a log file only below one of these prefixes (default /var, /dev/stdout).
maillog_file_prefixes = {folder}

myhostname = {server_name}
mydomain = {domain}
myorigin = $mydomain
mydestination =
inet_interfaces = {host}
inet_protocols = ipv4
mynetworks = {host}/32
smtpd_banner = $myhostname ESMTP sandbox
# Skip the reverse lookup of each client address.
smtpd_peername_lookup = no
biff = no
alias_maps =
alias_database =

# Mail for the sandbox domain goes to Dovecot. Unknown users are rejected at RCPT.
virtual_mailbox_domains = {domain}
virtual_mailbox_maps = inline:{{ {mailbox_entries} }}
virtual_transport = lmtp:unix:{lmtp_socket}
default_transport = discard:{discard_reason}
relay_transport = discard:{discard_reason}
local_transport = discard:{discard_reason}

# Submission: TLS before anything else, and AUTH only inside TLS.
smtpd_tls_security_level = encrypt
smtpd_tls_auth_only = yes
smtpd_tls_cert_file = {cert_file}
smtpd_tls_key_file = {key_file}
smtpd_tls_mandatory_protocols = >=TLSv1.2
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = {auth_socket}
smtpd_client_restrictions = permit_sasl_authenticated, reject
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_recipient_restrictions = permit_sasl_authenticated, reject
"""

# No service runs chrooted (column 5 is "n"), so the absolute socket paths in
# main.cf work and the queue folder needs no copies of /etc files.
MASTER_CF_TEMPLATE = """\
# service type private unpriv chroot wakeup maxproc command
{host}:{starttls_port} inet n - n - - smtpd
  -o syslog_name=postfix/submission
{host}:{tls_port} inet n - n - - smtpd
  -o syslog_name=postfix/submissions
  -o smtpd_tls_wrappermode=yes
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
tlsmgr unix - - n 1000? 1 tlsmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
proxywrite unix - - n - 1 proxymap
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
lmtp unix - - n - - lmtp
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
"""


@dataclass(frozen=True)
class PostfixServer:
    """Connection details of a running private Postfix instance."""

    host: str
    """Address that both submission ports listen on."""
    smtp_tls_port: int
    """Submission port with implicit TLS, like port 465."""
    smtp_starttls_port: int
    """Submission port where clients upgrade with STARTTLS, like port 587."""
    ca_file: Path
    """PEM file of the authority that signed the server certificate."""
    users: Mapping[str, str] = field(repr=False)
    """Login name (the full address) mapped to its password; the Dovecot users."""
    domain: str
    """Domain whose mail is delivered to Dovecot; mail to other domains is discarded."""
    server_name: str
    """Host name in the banner and in EHLO replies."""
    config_dir: Path
    """Folder with main.cf and master.cf, for `postfix -c` and `postconf -c`."""
    queue_dir: Path
    """Postfix queue of this instance."""
    log_file: Path
    """Postfix's log, with every SMTP session and delivery."""
    pid: int
    """Process id of the Postfix master process."""
    start_seconds: float
    """Wall-clock time from `postfix start` to ready ports."""


class PostfixInstance:
    """Configure, start and stop one private Postfix instance in `folder`.

    Use it as a context manager, or call start() and stop(). Starting needs root,
    the binaries in BINARIES and a running Dovecot instance for logins and delivery.
    """

    def __init__(self, folder: Path, tls: TlsFiles, dovecot: DovecotServer) -> None:
        """Prepare an instance that stores everything below `folder`."""
        self.folder = folder
        self.tls = tls
        self.dovecot = dovecot
        self.config_dir = folder / "config"
        # Postfix requires a queue folder owned by root. On start, post-install
        # creates the subfolders and gives them to the postfix user.
        self.queue_dir = folder / "queue"
        self.data_dir = folder / "data"
        self.log_file = folder / "postfix.log"
        self.server: PostfixServer | None = None

    def __enter__(self) -> PostfixServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> PostfixServer:
        """Write the configuration, run `postfix start` and wait for both ports.

        Raises ServerStartError with the end of Postfix's log when any step fails.
        """
        started = time.monotonic()
        tls_port, starttls_port = pick_free_ports(2)
        self._write_files(tls_port, starttls_port)

        status, output = run_daemon_command(
            self.postfix_command("start"), self.folder / "start.out"
        )
        if status != 0:
            raise ServerStartError(
                f"postfix -c {self.config_dir} start exited with {status}: "
                f"{output}\n{log_tail(self.log_file)}"
            )
        pid_file = self.queue_dir / "pid" / "master.pid"
        try:
            pid = wait_for_pid_file(pid_file, started + START_TIMEOUT_SECONDS)
        except ServerStartError as error:
            raise ServerStartError(f"{error}\n{log_tail(self.log_file)}") from error

        # From here on stop() must run if anything fails, or the master keeps running.
        self.server = PostfixServer(
            host=HOST,
            smtp_tls_port=tls_port,
            smtp_starttls_port=starttls_port,
            ca_file=self.tls.ca_file,
            users=self.dovecot.users,
            domain=self.dovecot.domain,
            server_name=SERVER_NAME,
            config_dir=self.config_dir,
            queue_dir=self.queue_dir,
            log_file=self.log_file,
            pid=pid,
            start_seconds=0.0,
        )
        try:
            deadline = started + START_TIMEOUT_SECONDS
            wait_for_port(HOST, tls_port, deadline)
            wait_for_port(HOST, starttls_port, deadline)
        except ServerStartError as error:
            self.stop()
            raise ServerStartError(f"{error}\n{log_tail(self.log_file)}") from error

        self.server = dataclasses.replace(self.server, start_seconds=time.monotonic() - started)
        return self.server

    def stop(self) -> None:
        """Run `postfix stop` and wait until the master and its children have exited.

        Does nothing when the instance is not running.
        """
        if self.server is None:
            return
        pid = self.server.pid
        self.server = None
        processes = [pid, *descendants(pid)]
        subprocess.run(
            self.postfix_command("stop"),
            capture_output=True,
            timeout=START_TIMEOUT_SECONDS,
            check=False,
        )
        left = wait_for_exit(processes)
        if left:
            # postfix stop failed or took too long: end this instance's own processes.
            for process in left:
                try:
                    os.kill(process, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            wait_for_exit(left)

    def postfix_command(self, *arguments: str) -> list[str]:
        """Return the `postfix -c CONFIG_DIR ARGUMENTS` command line for this instance."""
        return [POSTFIX, "-c", str(self.config_dir), *arguments]

    def check(self) -> subprocess.CompletedProcess[str]:
        """Run `postfix -c CONFIG_DIR check`, which reports bad settings and ownership."""
        return subprocess.run(
            self.postfix_command("check"),
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_SECONDS,
            check=False,
        )

    def _write_files(self, tls_port: int, starttls_port: int) -> None:
        self.folder.mkdir(mode=0o755, parents=True, exist_ok=True)
        self.config_dir.mkdir(mode=0o755, exist_ok=True)
        self.queue_dir.mkdir(mode=0o755, exist_ok=True)

        mailbox_entries = ", ".join(f"{name.lower()}=ok" for name in self.dovecot.users)
        (self.config_dir / "main.cf").write_text(
            MAIN_CF_TEMPLATE.format(
                folder=self.folder,
                queue_dir=self.queue_dir,
                data_dir=self.data_dir,
                log_file=self.log_file,
                server_name=SERVER_NAME,
                domain=self.dovecot.domain,
                host=HOST,
                mailbox_entries=mailbox_entries,
                lmtp_socket=self.dovecot.lmtp_socket,
                discard_reason=DISCARD_REASON,
                cert_file=self.tls.cert_file,
                key_file=self.tls.key_file,
                auth_socket=self.dovecot.auth_socket,
            )
        )
        (self.config_dir / "master.cf").write_text(
            MASTER_CF_TEMPLATE.format(host=HOST, starttls_port=starttls_port, tls_port=tls_port)
        )
        # Postfix 3.7 rereads a freshly written main.cf every 0.3 s until the file
        # is about 2 s old, in case it is still being written. Backdating the new
        # files removed that 2 s wait from each start.
        backdated = time.time() - 10
        for name in ("main.cf", "master.cf"):
            os.utime(self.config_dir / name, (backdated, backdated))
