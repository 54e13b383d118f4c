"""Exercises on the storage folder and on the From address that customers see on replies.

The folder exercises change only the storage folder of an ordinary entry. The
From-address exercises add a tenant file (`Scenario.tenant_text`) with one
queue whose SMTP entry is the entry of the exercise.
"""

from __future__ import annotations

from toolkit.sandbox import Sandbox, Tenant
from toolkit.workshop.model import (
    Choice,
    Difficulty,
    ExerciseInfo,
    ExerciseSpec,
    Scenario,
    Solution,
)
from toolkit.workshop.scenarios import (
    BOB,
    CHRIS,
    DANA,
    ERIN,
    GABE,
    GINA,
    entries,
    renamed,
    tenant_of,
    tenant_text,
    user,
)

STORAGE_FOLDER = "storage folder"
FROM_ADDRESS = "From address"
OBSERVER = "dana-dovecot-imap"
_FOLDER_HINT = (
    "Run the folder check: it lists the account's folders and checks the storage folder "
    "against them, name by name."
)
_NESTED_WARNING = (
    "That warning comes from the check without a connection, which does not know the server's "
    "delimiter and namespace. Which finding does the folder check on the server show?"
)


def _folder_entry(sandbox: Sandbox, name: str, folder: str) -> Scenario:
    entry = renamed(entries(sandbox)[name], "support-inbox", storage_folder=folder)
    return Scenario(entry, fixes=({"storage_folder": _right_folder(name)},))


def _right_folder(entry_name: str) -> str:
    return "INBOX.Support" if entry_name.startswith("chris-") else "Support"


def _dana_tenant() -> Tenant:
    return tenant_of(user(DANA, "dovecot"))


def _chris_tenant() -> Tenant:
    return tenant_of(user(CHRIS, "courier"))


def _gina_tenant() -> Tenant:
    return tenant_of(user(GINA, "gmail"))


def _gmail_pair_tenant() -> Tenant:
    return tenant_of(user(GINA, "gmail"), user(GABE, "gmail"), user(DANA, "dovecot"))


def _m365_delegate_tenant() -> Tenant:
    return tenant_of(user(ERIN, "microsoft365"),
                     user(BOB, "microsoft365", send_on_behalf=[ERIN]),
                     user(DANA, "dovecot"))


def _gmail_rewritten(sandbox: Sandbox) -> Scenario:
    text = tenant_text(
        sandbox,
        servers=("gabe-gmail-imap", "gina-gmail-smtp", "gabe-gmail-smtp", OBSERVER),
        queue={"name": "shop-support", "imap": ["gabe-gmail-imap"], "smtp": "gina-gmail-smtp"},
        permissions={},
        observer=OBSERVER,
    )
    return Scenario(entries(sandbox)["gina-gmail-smtp"], fixes=({"smtp": "gabe-gmail-smtp"},),
                    tenant_text=text)


def _m365_on_behalf(sandbox: Sandbox) -> Scenario:
    text = tenant_text(
        sandbox,
        servers=("erin-m365-imap", "bob-m365-smtp", "erin-m365-smtp", OBSERVER),
        queue={"name": "sales", "imap": ["erin-m365-imap"], "smtp": "bob-m365-smtp"},
        permissions={"send_on_behalf": [{"user": BOB, "mailboxes": [ERIN]}]},
        observer=OBSERVER,
    )
    entry = entries(sandbox)["bob-m365-smtp"].with_secrets(token=sandbox.access_token(BOB))
    return Scenario(entry, fixes=({"smtp": "erin-m365-smtp"},), tenant_text=text)


FOLDER_LETTER_CASE = ExerciseSpec(
    info=ExerciseInfo(11, "folder-letter-case", "SENT instead of Sent", STORAGE_FOLDER,
                      Difficulty.MEDIUM, 15),
    ticket=(
        "We moved our inbox dana@dovecot.sandbox.test to the product and set the storage folder "
        "to SENT, where our old helpdesk tool kept processed mail. Since then nothing is fetched, "
        "and the product says the folder does not exist. But it does: we see Sent in "
        "Thunderbird every day!"
    ),
    question="Why does the product not find SENT, and what should the storage folder be?",
    choices=(
        Choice("a", "The product must create the folder first, with the Create button."),
        Choice("b", "Thunderbird shows a local folder that is not on the server."),
        Choice("c", "The folder must be written with its parent: INBOX/SENT."),
        Choice("d", "Folder names are case-sensitive, so SENT is not Sent. And Sent is the sent "
                    "folder, so use a folder of its own, such as Support."),
    ),
    hints=(_FOLDER_HINT,
           "Compare SENT with the names in the folder tree letter by letter, and read what the "
           "finding says about the folder it found."),
    solution=Solution(
        choice="d",
        finding_ids=("storage-folder-case-mismatch",),
        fix="Set the storage folder to a top-level folder of its own that exists with exactly "
            "that name: Support.",
        explanation="Only INBOX is compared without letter case (RFC 9051 section 5.1), so SENT "
                    "and Sent are different names. Sent itself is marked \\Sent (RFC 6154): mail "
                    "clients file sent mail there, so it must not be the storage folder either.",
        feedback={
            "storage_folder=Sent": "Right letter case, but Sent is the server's sent folder "
                                   "(\\Sent): the folder check reports storage-folder-special-use "
                                   "for it, because mail clients file sent mail there. Choose a "
                                   "folder of its own.",
            "storage-folder-special-use": "That is what the check says about Sent, the folder it "
                                          "found. Which finding names the fault of SENT, the "
                                          "name in the entry?",
            "a": "Creating SENT would add a second folder beside Sent that differs only in "
                 "letter case, which confuses people and mail clients. What does the check say "
                 "about the name?",
            "b": "The folder tree comes from the server (IMAP LIST), and it does list a Sent "
                 "folder.",
            "c": "Sent is a top-level folder on this server, not a sub-folder of INBOX: the "
                 "tree shows it.",
        },
    ),
    tenant=_dana_tenant,
    build=lambda sandbox: _folder_entry(sandbox, "dana-dovecot-imap", "SENT"),
)

FOLDER_DELIMITER = ExerciseSpec(
    info=ExerciseInfo(12, "folder-delimiter", "A '/' path on a '.' server", STORAGE_FOLDER,
                      Difficulty.MEDIUM, 15),
    ticket=(
        "Our admin set the storage folder of chris@courier.sandbox.test to INBOX/Support, the "
        "way our webmail shows it: Support under Inbox. The product says the folder does not "
        "exist, but we can open it in the webmail."
    ),
    question="Why is INBOX/Support not found, and what is the right name?",
    choices=(
        Choice("a", "Support is a sub-folder of INBOX, so it can never be the storage folder."),
        Choice("b", "The server separates levels with '.', not '/': the folder is INBOX.Support."),
        Choice("c", "The letter case is wrong: the folder is inbox/support."),
        Choice("d", "The folder exists only in the webmail: create it on the IMAP server first."),
    ),
    hints=(_FOLDER_HINT,
           "Look at the delimiter and the personal namespace the folder listing reports, and "
           "at how the tree writes Support's full name."),
    solution=Solution(
        choice="b",
        finding_ids=("storage-folder-wrong-delimiter",),
        fix="Set the storage folder to INBOX.Support, exactly as the server lists it.",
        explanation="Courier-IMAP separates levels with '.' and keeps every folder under the "
                    "personal namespace prefix 'INBOX.'. The webmail draws the levels, but the "
                    "product needs the name as IMAP LIST gives it.",
        feedback={
            "a": "On this Courier-like server every folder is under the personal namespace "
                 "'INBOX.', so a folder directly under it, such as INBOX.Support, counts as "
                 "top-level.",
            "c": "Only the delimiter differs. The letters are right.",
            "d": "The folder exists: the tree shows it.",
            "storage-folder-nested": _NESTED_WARNING,
            "storage_folder=Support": "There is no folder called Support on this server: every "
                                      "folder is under the prefix 'INBOX.'.",
        },
    ),
    tenant=_chris_tenant,
    build=lambda sandbox: _folder_entry(sandbox, "chris-courier-imap", "INBOX/Support"),
)

FOLDER_NAMESPACE = ExerciseSpec(
    info=ExerciseInfo(13, "folder-namespace", "A Courier folder without its INBOX. prefix",
                      STORAGE_FOLDER, Difficulty.MEDIUM, 15),
    ticket=(
        "In the folder picker for chris@courier.sandbox.test we chose Support, exactly as the "
        "picker shows it. Fetching fails with 'folder not found'. The folder is definitely "
        "there: the picker lists it!"
    ),
    question="Why is Support not found, and what is the right name?",
    choices=(
        Choice("a", "Folder names are case-sensitive: the folder is SUPPORT."),
        Choice("b", "The folder is a sub-folder of the inbox: it is INBOX/Support."),
        Choice("c", "Every folder is under the namespace prefix 'INBOX.', which the picker hides: "
                    "the folder is INBOX.Support."),
        Choice("d", "Support is a container that cannot hold mail."),
    ),
    hints=(_FOLDER_HINT,
           "Read the personal namespace the listing reports, and Support's full name in the tree."),
    solution=Solution(
        choice="c",
        finding_ids=("storage-folder-not-found",),
        fix="Set the storage folder to INBOX.Support, with the prefix, exactly as the server "
            "lists it.",
        explanation="The personal namespace of a Courier-like server is 'INBOX.' (RFC 2342): "
                    "every folder's full name starts with it. A picker that shows names without "
                    "the prefix makes the admin type a name that does not exist.",
        feedback={
            "a": "The folder check names no folder called SUPPORT. The letters are right.",
            "b": "This server separates levels with '.', not '/'.",
            "d": "INBOX.Support can hold mail: the tree shows no 'cannot hold mail' mark on it.",
            "storage_folder=INBOX/Support": "Right idea, wrong delimiter: this server separates "
                                            "levels with '.'.",
            "storage-folder-nested": "INBOX.Support is directly under the prefix, so it counts as "
                                     "top-level on this server. What does the check say about "
                                     "Support, the name in the entry?",
        },
    ),
    tenant=_chris_tenant,
    build=lambda sandbox: _folder_entry(sandbox, "chris-courier-imap", "Support"),
)

FOLDER_GMAIL_CONTAINER = ExerciseSpec(
    info=ExerciseInfo(14, "folder-gmail-container", "[Gmail] as the storage folder",
                      STORAGE_FOLDER, Difficulty.EASY, 10),
    ticket=(
        "We connected gina@gmail.sandbox.test and, to keep the inbox tidy, set the storage "
        "folder to [Gmail], the folder that contains all of Gmail's own folders. Now the product "
        "says it cannot store messages there."
    ),
    question="Why can the product not store mail in [Gmail], and what should the storage folder "
             "be?",
    choices=(
        Choice("a", "The brackets must be left out: the folder is Gmail."),
        Choice("b", "[Gmail] is only a container (\\Noselect) that cannot hold mail: choose a "
                    "label of its own, such as Support."),
        Choice("c", "The letter case is wrong: the folder is [GMAIL]."),
        Choice("d", "Use [Gmail]/All Mail, the folder where Gmail keeps every message."),
    ),
    hints=(_FOLDER_HINT,
           "Look at the attributes of [Gmail] in the tree and in the folder table."),
    solution=Solution(
        choice="b",
        finding_ids=("storage-folder-noselect",),
        fix="Set the storage folder to a label of its own that can hold mail: Support.",
        explanation="Gmail lists [Gmail] with \\Noselect (RFC 3501 section 7.2.2): it only "
                    "groups Gmail's system folders and cannot be opened or hold messages.",
        feedback={
            "d": "That is Gmail's All Mail folder (\\All): every message is in it already, so the "
                 "product's mail would mix with all the rest. Choose a label of its own.",
            "storage_folder=[Gmail]/All Mail": "That is Gmail's All Mail folder (\\All): every "
                                               "message is in it already. Choose a label of its "
                                               "own.",
            "a": "There is no folder called Gmail.",
            "c": "The name's letters match. What does the check say the folder cannot do?",
        },
    ),
    tenant=_gina_tenant,
    build=lambda sandbox: _folder_entry(sandbox, "gina-gmail-imap", "[Gmail]"),
)

FROM_GMAIL_REWRITTEN = ExerciseSpec(
    info=ExerciseInfo(15, "from-gmail-rewritten", "A Gmail reply rewritten to the SMTP account",
                      FROM_ADDRESS, Difficulty.MEDIUM, 15),
    ticket=(
        "Customers who write to gabe@gmail.sandbox.test get our replies from "
        "gina@gmail.sandbox.test, and then answer Gina instead of Gabe. Our queue shop-support "
        "fetches Gabe's mailbox and writes every reply with Gabe's address in From. We changed "
        "nothing in Gmail."
    ),
    question="Why do the replies arrive from Gina, and what makes them come from Gabe?",
    choices=(
        Choice("a", "The product writes the SMTP login into From, whatever the queue's address."),
        Choice("b", "Gabe's IMAP entry logs in as Gina, so the replies are Gina's."),
        Choice("c", "The queue sends through Gina's account, and Gmail rewrites From to that "
                    "account unless the address is a verified alias: reply through Gabe's "
                    "SMTP entry."),
        Choice("d", "Gmail rejects the replies, and the bounce comes from Gina."),
    ),
    hints=(
        "Load the tenant file and predict the table: which SMTP entry does the queue use, and "
        "what does each cell say?",
        "Which account logs in to the queue's SMTP entry, and what does Gmail do with a From "
        "address that is not that account's?",
    ),
    solution=Solution(
        choice="c",
        finding_ids=("reply-from-other-account",),
        fix="Set the queue's SMTP entry to gabe-gmail-smtp, or add gabe@gmail.sandbox.test as a "
            "verified 'Send mail as' address in Gina's Gmail settings.",
        explanation="smtp.gmail.com keeps a From address only when it is the account that logs "
                    "in or one of its verified aliases. Gabe's address is neither for Gina's "
                    "account, so Gmail replaces From with gina@gmail.sandbox.test.",
        feedback={
            "a": "The product writes Gabe's address into From (the envelope sender is 'from'). "
                 "the change happens at Gmail.",
            "b": "Gabe's IMAP entry logs in as gabe@gmail.sandbox.test. Look at the queue's SMTP "
                 "entry.",
            "d": "The table predicts no rejection: the replies arrive, with another From.",
        },
        setting_feedback="That change does not make the replies come from Gabe. The table "
                         "shows what each SMTP entry does with Gabe's address.",
    ),
    tenant=_gmail_pair_tenant,
    build=_gmail_rewritten,
)

FROM_M365_ON_BEHALF = ExerciseSpec(
    info=ExerciseInfo(16, "from-m365-on-behalf", "A Microsoft 365 send-on-behalf reply",
                      FROM_ADDRESS, Difficulty.MEDIUM, 15),
    ticket=(
        "Replies from our sales queue reach customers as 'bob@m365.sandbox.test on behalf of "
        "erin@m365.sandbox.test'. The queue fetches Erin's mailbox and sends through Bob's "
        "account, which our Microsoft 365 admin gave a permission on Erin's mailbox. Customers "
        "find the 'on behalf of' confusing: replies should show Erin only."
    ),
    question="Why do customers see 'Bob on behalf of Erin', and what makes the replies show "
             "Erin only?",
    choices=(
        Choice("a", "Exchange Online marks every reply sent by a delegate: nothing can change it."),
        Choice("b", "Bob has Send on Behalf on Erin's mailbox, not Send As: grant Bob Send As "
                    "on it."),
        Choice("c", "The product adds a Sender header with the SMTP login."),
        Choice("d", "Erin's mailbox must be turned into a shared mailbox."),
    ),
    hints=(
        "Load the tenant file and predict the table: what does the cell of Erin's inbox and "
        "Bob's SMTP entry say, and which rule does it name?",
        "Compare the two Microsoft 365 permissions on another mailbox: Send As and Send on "
        "Behalf.",
    ),
    solution=Solution(
        choice="b",
        finding_ids=("reply-on-behalf",),
        fix="Grant bob@m365.sandbox.test Send As on Erin's mailbox (Send As takes precedence "
            "over Send on Behalf), or set the queue's SMTP entry to erin-m365-smtp.",
        explanation="With Send on Behalf only, Exchange Online keeps From: Erin and adds Sender: "
                    "Bob, which mail clients show as 'Bob on behalf of Erin'. With Send As, it "
                    "sends as Erin with no trace of Bob.",
        feedback={
            "a": "With Send As, Exchange Online sends as the mailbox with no sign of the "
                 "delegate.",
            "c": "The product writes only From, and Exchange Online adds the Sender header.",
            "d": "A shared mailbox does not change what Send on Behalf does.",
        },
        setting_feedback="That change does not make the replies show Erin only. The table "
                         "shows what each SMTP entry does with Erin's address.",
    ),
    tenant=_m365_delegate_tenant,
    build=_m365_on_behalf,
    authority=True,
)

SPECS = (
    FOLDER_LETTER_CASE,
    FOLDER_DELIMITER,
    FOLDER_NAMESPACE,
    FOLDER_GMAIL_CONTAINER,
    FROM_GMAIL_REWRITTEN,
    FROM_M365_ON_BEHALF,
)
