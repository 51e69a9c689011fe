"""Several people on one workbench server (a class in a lab): who may stop which run.

Each browser session keeps its own form settings (Streamlit's session state; a new session starts
from the last saved ones, and on a shared server a refresh finds its own again by the session id
in its address). Runs and the queue are the server's: everyone sees them, one job runs at a time.
The queue records which session queued each run; on a shared server a session may stop or remove
only its own runs, so one student cannot stop another's.

The mode is the environment variable ``THREEPHASE_USERS``: ``single`` (the default) or
``shared``. A workbench started on a laptop is one person's: there every run is the user's own,
whichever tab or earlier session queued it, and a refresh (a new session) must still be able to
stop the run it started. A lecturer who serves the workbench to a class starts it with
``THREEPHASE_USERS=shared``. The session id is a convenience against accidents, not a security
boundary: anyone who can reach the server can read the runs folder and could send another id.
"""

from __future__ import annotations

import os
import re
import secrets

USERS_ENV = "THREEPHASE_USERS"
MODES = ("single", "shared")
_SESSION_ID = re.compile(r"[0-9a-f]{8}")


def users_mode(environ=None) -> str:
    """'single' or 'shared' from ``THREEPHASE_USERS`` (unset or empty: single). ValueError names the
    variable and the values it takes when it holds anything else."""
    value = (environ if environ is not None else os.environ).get(USERS_ENV, "").strip().lower() or "single"
    if value not in MODES:
        raise ValueError(f"{USERS_ENV}={value!r} is not a mode; use 'single' (one person) or 'shared' (a class)")
    return value


def shared_server(environ=None) -> bool:
    return users_mode(environ) == "shared"


def new_session_id() -> str:
    """A short random id for a browser session (8 hex digits)."""
    return secrets.token_hex(4)


def valid_session_id(text) -> bool:
    """Whether `text` looks like an id `new_session_id` made (a hand-edited address is ignored)."""
    return isinstance(text, str) and bool(_SESSION_ID.fullmatch(text))


def may_stop(owner: str | None, session: str, shared: bool) -> bool:
    """Whether `session` may stop (or remove from the queue) a run `owner` queued: always on a
    single-user server; on a shared one, its own runs and runs nobody owns."""
    return not shared or owner is None or owner == session


def owner_text(owner: str | None, session: str) -> str:
    """Who queued a run, as the queue shows it: 'you', 'session 1a2b3c4d' or '–' (nobody's)."""
    if owner is None:
        return "–"
    return "you" if owner == session else f"session {owner}"


def refusal(owner: str | None) -> str:
    """Why a session may not stop this run (see `may_stop`)."""
    return (
        f"This run was queued by session {owner}; on a shared server only that session can stop it "
        f"(a single-user server, {USERS_ENV}=single, lets anyone stop any run)."
    )
