"""Saved cards in the sandbox (contract §8, §18 F9/F10): unique tokens, list, remove, auto-deduct, and charges that
carry ``tokens``/``isSaveCard``; the customer-facing pages are in :mod:`sandbox.cards_page`. This module is the
facade: the state is :mod:`sandbox.card_vault`, the gateway endpoints :mod:`sandbox.card_api`, charges with tokens
:mod:`sandbox.card_tokens`, the test-only doors :mod:`sandbox.card_admin`.

Test cards for the "my cards" page (any future expiry, any CVV):

====================  ==========  =============================================
number                brand       auto-deduct
====================  ==========  =============================================
5123450000000008      MASTERCARD  CAPTURED
4111111111111111      VISA        CAPTURED
4000000000000002      VISA        NOT CAPTURED (the designated declined card)
====================  ==========  =============================================

Only the masked number (``512345xxxxxx0008``), brand and scheme are stored — never the full number. KNET saved
cards (KFAST) are kept by KNET and are not offered here, as in UPayments' own sandbox (§18).
"""


from __future__ import annotations

from starlette.routing import Route

from .card_admin import admin_auto_deducts, admin_save
from .card_api import INVALID_TOKEN, add_card, auto_deduct, create_token, remove_card, retrieve_cards, vault_of
from .card_tokens import charge_tokens
from .card_vault import DECLINED_TEST_CARD, TEST_CARDS, Vault, masked

__all__ = ["DECLINED_TEST_CARD", "INVALID_TOKEN", "ROUTES", "TEST_CARDS", "Vault", "charge_tokens", "masked",
           "vault_of"]

ROUTES = [
    Route("/api/v1/create-customer-unique-token", create_token, methods=["POST"]),
    Route("/api/v1/add-card", add_card, methods=["POST"]),
    Route("/api/v1/retrieve-customer-cards", retrieve_cards, methods=["POST"]),
    Route("/api/v1/remove-card", remove_card, methods=["POST"]),
    Route("/api/v1/auto-deduct", auto_deduct, methods=["POST"]),
    Route("/__sandbox/auto-deducts", admin_auto_deducts, methods=["GET"]),
    Route("/__sandbox/cards", admin_save, methods=["POST"]),
]
