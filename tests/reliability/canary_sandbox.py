"""A sandbox tenant whose passwords are canaries, shared by the canary tests."""

from __future__ import annotations

from typing import Any

DANA_PASSWORD = "Canary-Pa55-dana-41d7"
CHRIS_PASSWORD = "Canary-Pa55-chris-9e02"
GINA_ACCOUNT_PASSWORD = "Canary-Acct-gina-5a3c"
# Gmail app passwords are 16 lower-case letters.
GINA_APP_PASSWORD = "canaryappqzxkwvm"
ALICE_PASSWORD = "Canary-Pa55-alice-77b1"
REFRESH_TOKEN = "Canary-Refresh-0.AXkAbc-d2f6"
PASSWORDS = (DANA_PASSWORD, CHRIS_PASSWORD, GINA_ACCOUNT_PASSWORD, GINA_APP_PASSWORD,
             ALICE_PASSWORD, REFRESH_TOKEN)
ALICE = "alice@m365.sandbox.test"

TENANT: dict[str, Any] = {
    "name": "Canary tenant",
    "domain": "m365.sandbox.test",
    "users": [
        {"address": "dana@dovecot.sandbox.test", "personality": "dovecot",
         "password": DANA_PASSWORD},
        {"address": "chris@courier.sandbox.test", "personality": "courier",
         "password": CHRIS_PASSWORD},
        {"address": "gina@gmail.sandbox.test", "personality": "gmail",
         "password": GINA_ACCOUNT_PASSWORD, "app_password": GINA_APP_PASSWORD},
        {"address": ALICE, "personality": "microsoft365", "password": ALICE_PASSWORD},
    ],
}
