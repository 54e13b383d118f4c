"""Settings discovery: propose IMAP and SMTP entries for an email address.

- `ispdb`: the provider files in ``data/autoconfig/`` (Thunderbird's ISPDB format);
- `dnsquery`: MX and SRV lookups through an injected dnspython resolver;
- `proposals`: proposals from a provider file or SRV records, checked with `check_server`;
- `run`: `discover`, the order of sources and the findings for what could not be proposed;
- `table`: pandas tables of proposals and lookups, for notebooks;
- `testdns`: a local DNS server for workshops and tests.
"""

from toolkit.discovery.dnsquery import (
    DEFAULT_DNS_TIMEOUT,
    DnsLookup,
    DnsOutcome,
    MxRecord,
    SrvRecord,
    make_resolver,
)
from toolkit.discovery.ispdb import IspdbProvider, IspdbServer, ispdb_providers
from toolkit.discovery.proposals import Confidence, Proposal
from toolkit.discovery.run import (
    DISCOVERY_FINDING_IDS,
    SRV_LABELS,
    Discovery,
    discover,
    parse_address,
)

__all__ = [
    "DEFAULT_DNS_TIMEOUT",
    "DISCOVERY_FINDING_IDS",
    "SRV_LABELS",
    "Confidence",
    "Discovery",
    "DnsLookup",
    "DnsOutcome",
    "IspdbProvider",
    "IspdbServer",
    "MxRecord",
    "Proposal",
    "SrvRecord",
    "discover",
    "ispdb_providers",
    "make_resolver",
    "parse_address",
]
