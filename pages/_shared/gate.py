"""The access gate: a password when one is set, and a warning when the server is open to the network."""

from __future__ import annotations

import hmac

import streamlit as st

from analytics.settings import settings

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def password() -> str | None:
    """The app's password: $STRATLAB_PASSWORD, else `password` in .streamlit/secrets.toml, else None."""
    given = settings().password
    if given:
        return given
    try:
        return st.secrets.get("password")  # type: ignore[no-any-return]
    except (FileNotFoundError, KeyError, AttributeError, Exception):  # no secrets.toml is normal
        return None


def exposed() -> bool:
    """True when the server listens beyond this computer (any address but loopback)."""
    address = st.get_option("server.address")
    return not address or str(address) not in LOOPBACK


def require_password() -> None:
    """Ask for the password if one is set; stop the page until it is given."""
    secret = password()
    if not secret or st.session_state.get("_authenticated"):
        return
    st.title("Strategy Lab")
    with st.form("login"):
        given = st.text_input("Password", type="password", help="Set by STRATLAB_PASSWORD or secrets.toml")
        if st.form_submit_button("Enter", type="primary"):
            if hmac.compare_digest(given.encode(), secret.encode()):
                st.session_state["_authenticated"] = True
                st.rerun()
            st.error("Wrong password.")
    st.stop()


def warn_if_open() -> None:
    """A warning on every page while the server is reachable from the network without a password."""
    if exposed() and not password():
        st.warning(
            "This server listens beyond this computer and has no password: anyone on the network can "
            "open it. Set STRATLAB_PASSWORD (or `password` in .streamlit/secrets.toml) and restart.",
            icon=":material/lock_open:",
        )
