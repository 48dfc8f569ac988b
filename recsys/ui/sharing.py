"""Classroom sharing: who may reset, import or load into a lab that others can reach.

By default the app listens on localhost (`.streamlit/config.toml`), and nobody else reaches it.
A lab is *shared* when Streamlit listens beyond this computer (`--server.address 0.0.0.0`, any
address that is not a loopback one, or none at all, which Streamlit reads as every interface)
or when `RECSYS_SHARE=1` is set. In a shared lab anyone who opens the page can click and rate,
but the actions that replace or erase what the room sees (reset the lab, import, download a
dataset, load or delete a scenario, delete a model version) need the host's token.

The token is `$RECSYS_SHARE_TOKEN` when set, otherwise drawn once per server process with
`secrets.token_urlsafe` and printed only on the terminal that started the server (standard
error): a visitor's browser never receives it. A person who types it in the sidebar unlocks
those actions for their own session. Tokens are compared with `hmac.compare_digest`.
"""

from __future__ import annotations

import hmac
import os
import secrets
import sys

import streamlit as st

LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
TOKEN_BYTES = 12  # 16 URL-safe characters, 96 bits: no guessing through a browser


def shared() -> bool:
    """Whether other computers can reach this lab (or `RECSYS_SHARE` says to act as if)."""
    if os.environ.get("RECSYS_SHARE", "").strip().lower() not in ("", "0", "false", "no"):
        return True
    address = (st.get_option("server.address") or "").strip()
    return address not in LOOPBACK


@st.cache_resource(show_spinner=False)
def host_token() -> str:
    """The token of this server process; drawn (and printed on the host's terminal) once."""
    token = os.environ.get("RECSYS_SHARE_TOKEN", "").strip()
    if not token:
        token = secrets.token_urlsafe(TOKEN_BYTES)
        print(
            "Recsys Learning Lab is shared on the network. To reset, import or load scenarios "
            f"from a browser, type this token in its sidebar: {token}",
            file=sys.stderr,
            flush=True,
        )
    return token


def unlocked() -> bool:
    """Whether this session may take the guarded actions (always, unless the lab is shared)."""
    return not shared() or bool(st.session_state.get("share_unlocked"))


def sidebar_box() -> None:
    """In a shared lab: say so in the sidebar and take the host's token."""
    if not shared():
        return
    token = host_token()  # drawn and printed when the first visitor arrives, not before
    if st.session_state.get("share_unlocked"):
        st.caption(":material/lock_open: Shared lab: this browser holds the host's token.")
        return
    st.caption(
        ":material/lock: Shared lab: resetting, importing and loading scenarios need the "
        "token printed in the host's terminal."
    )
    typed = st.text_input("Host token", type="password", key="share_token_typed")
    if typed:
        if hmac.compare_digest(typed.strip().encode(), token.encode()):
            st.session_state.share_unlocked = True
            st.rerun()
        st.error("That is not the host's token: copy it from the terminal that started the lab.")


def allowed(action: str) -> bool:
    """True when this session may `action` ("reset the lab", "import"...); otherwise show why
    on the page and return False, having changed nothing."""
    if unlocked():
        return True
    st.error(refusal(action))
    return False


def refusal(action: str) -> str:
    """The one message for a guarded action refused in a shared lab."""
    return (
        f"This lab is shared on the network: to {action}, type the host's token under "
        "'Host token' in the sidebar (it is printed in the terminal that started the lab). "
        "Nothing was changed."
    )
