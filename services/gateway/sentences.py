"""The one sentence staff see when a gateway call fails: what failed, whether money moved, what to do.

Links, refunds and the app's error display all use :func:`staff_sentence`, so a failure reads the same on every
page; the technical detail (method, path, ids) is in the error's ``str()`` and goes to the log.
"""

from __future__ import annotations

from services.gateway import errors as gw


def staff_sentence(exc: gw.GatewayError, *, refused: str = "the request", kept: str = "nothing was sent") -> str:
    """One sentence for ``exc``: ``refused`` names what the gateway turned down ("the refund"), ``kept`` says what
    did not happen ("nothing was refunded")."""
    if isinstance(exc, gw.GatewayTimeout):  # the call may have arrived: settled by asking, never by resending
        return "The payment gateway did not answer in time; nothing was sent twice — try again in a minute."
    if isinstance(exc, gw.GatewayConnectionError):
        return "The payment gateway could not be reached, so nothing was sent; check the connection and try again."
    if isinstance(exc, gw.RateLimited):
        return f"The payment gateway asked us to slow down, so {kept}; try again in a minute."
    if isinstance(exc, gw.AuthenticationError):
        return f"The payment gateway refused our API key, so {kept}; an admin must check the gateway token."
    if isinstance(exc, gw.BusinessRefusal):
        text = exc.message.rstrip(".")
        if "balance" in text.lower():
            return (f"UPayments refused {refused}: {text}. Top up your UPayments balance (top-ups are used for "
                    f"refunds) and try again; {kept}.")
        return f"UPayments refused {refused}: {text}; {kept}."
    return f"The payment gateway refused {refused} ({str(exc).rstrip('.')}); {kept}."
