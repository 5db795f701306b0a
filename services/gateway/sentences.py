"""The one sentence staff see when a gateway call fails: what failed, whether money moved, what to do.

Links, refunds and the app's error display all use :func:`staff_sentence`, so a failure reads the same on every
page; the technical detail (method, path, ids) is in the error's ``str()`` and goes to the log.
"""

from __future__ import annotations

from services.gateway import errors as gw
from services.sentence import N_, Sentence, phrase, say


def staff_sentence(exc: gw.GatewayError, *, refused: str = N_("the request"), kept: str = N_("nothing was sent"),
                   ) -> Sentence:
    """One sentence for ``exc``: ``refused`` names what the gateway turned down (``N_("the refund")``), ``kept``
    says what did not happen (``N_("nothing was refunded")``); both are translated where the sentence is shown.
    The gateway's own words (``reason``, ``detail``) stay as the gateway wrote them."""
    what, left = phrase(refused), phrase(kept)
    if isinstance(exc, gw.GatewayTimeout):  # the call may have arrived: settled by asking, never by resending
        return say("The payment gateway did not answer in time; nothing was sent twice — try again in a minute.")
    if isinstance(exc, gw.GatewayConnectionError):
        return say("The payment gateway could not be reached, so nothing was sent; check the connection and try "
                   "again.")
    if isinstance(exc, gw.RateLimited):
        return say("The payment gateway asked us to slow down, so {kept}; try again in a minute.", kept=left)
    if isinstance(exc, gw.AuthenticationError):
        return say("The payment gateway refused our API key, so {kept}; an admin must check the gateway token.",
                   kept=left)
    if isinstance(exc, gw.BusinessRefusal):
        text = exc.message.rstrip(".")
        if "balance" in text.lower():
            return say("UPayments refused {refused}: {reason}. Top up your UPayments balance (top-ups are used for "
                       "refunds) and try again; {kept}.", refused=what, reason=text, kept=left)
        return say("UPayments refused {refused}: {reason}; {kept}.", refused=what, reason=text, kept=left)
    return say("The payment gateway refused {refused} ({detail}); {kept}.", refused=what,
               detail=str(exc).rstrip("."), kept=left)
