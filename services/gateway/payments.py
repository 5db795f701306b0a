"""``GET get-payment-status``: the one source of truth about a payment (contract §6)."""

from __future__ import annotations

from urllib.parse import quote

from .limiter import Lane
from .models import Transaction
from .resource import Resource
from .wire import data_object, parse_model


class PaymentsResource(Resource):
    """``client.payments``."""

    def status(
        self,
        *,
        track_id: str | None = None,
        invoice_id: str | None = None,
        session_id: str | None = None,
        limiter_timeout: float | None = None,
        lane: Lane | None = None,
    ) -> Transaction:
        """Status by exactly one of track id, invoice id or session id; kept under the 30/min limit (§1.6).

        Blocks up to ``limiter_timeout`` seconds (client default when None) for a free slot, else RateLimited;
        ``lane`` says how urgent the look-up is (:class:`~services.gateway.limiter.Lane`).
        """
        given = {k: v for k, v in (("track_id", track_id), ("invoice_id", invoice_id),
                                    ("session_id", session_id)) if v}
        if len(given) != 1:
            raise ValueError("Give exactly one of track_id, invoice_id or session_id.")
        if track_id:
            path, params = f"get-payment-status/{quote(track_id, safe='')}", None
        else:
            path, params = "get-payment-status", given
        envelope = self._client._request(
            "GET", path, params=params, retry=True, limited=True, limiter_timeout=limiter_timeout, ids=given,
            lane=lane,
        )
        tx = data_object(envelope, "transaction", "GET", path, given)
        return parse_model(Transaction, tx, "GET", path, given)

