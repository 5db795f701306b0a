"""Customers: the list and search box, one customer's page (purchases, refunds, lifetime figures) and their
saved cards — ask to save one, charge it for a repeat order (with consent and approval), remove it."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Any

import streamlit as st

from dashboard import state, tables
from dashboard.errors import said_md, said_plain, show_error
from dashboard.formatting import REFUND_STATE_LABELS, kuwait_time, method_label, money, number, status_label
from dashboard.i18n import N_, _, ngettext
from dashboard.refund_dialog import reason_label
from dashboard.safe import md, md_iso, plain, plain_iso
from services import customers as svc
from services.links import LinkRequest
from services.permissions import Action
from services.timeutil import KUWAIT

PAGE_SIZE = 25
#: How a payment came about (``Payment.source``), in words.
SOURCES = {"link": N_("Payment link"), "gateway": N_("Gateway"), "demo": N_("Demo"), "saved_card": N_("Saved card")}

actor = state.actor()
engine = state.engine()
settings = state.settings()


def _open(key: str) -> None:
    """Show one customer: the URL carries the key only for roles that see full numbers."""
    st.session_state["cust_key"] = key
    if svc.may_reveal(actor):
        st.query_params["c"] = key
    else:
        st.query_params.pop("c", None)


def _close() -> None:
    st.session_state.pop("cust_key", None)
    st.session_state.pop("cust_ask_lang", None)  # the next customer's message starts in their own language
    st.query_params.pop("c", None)
    st.query_params.pop("payment", None)


def _selected() -> str | None:
    payment = st.query_params.get("payment")
    if payment and payment.isdigit():
        found = svc.key_of_payment(engine, actor, payment_pk=int(payment))
        if found:
            st.session_state["cust_key"] = found
        st.query_params.pop("payment", None)
    if st.query_params.get("c"):
        st.session_state["cust_key"] = st.query_params["c"]
    key = st.session_state.get("cust_key")
    return key if isinstance(key, str) else None


def _label(labels: dict[str, str], code: str | None) -> str:
    """A service's fixed label for ``code`` in the person's language; an unknown code as it is."""
    known = labels.get(code or "")
    return _(known) if known else (code or "—")


def _list_view() -> None:
    st.title(_("Customers"))
    st.caption(_("A customer is their mobile number (or e-mail when there is none). Search in any format: {examples}, "
                 "a name or an e-mail.").format(examples=", ".join(md_iso(e) for e in (
                     "+965 5000 1234", "50001234", "٥٠٠٠١٢٣٤"))))
    query = st.text_input(_("Find a customer"), key="cust_query", placeholder=_("phone, name or e-mail"))
    if query:
        try:
            found = svc.find_customers(engine, actor, query=query)
        except Exception as exc:
            show_error(exc)
            return
        if not found:
            st.info(_("No customer matches."))
        for n, row in enumerate(found):  # widget keys show in the page's HTML: never the customer's number
            st.button(md(row.label), key=f"cust_hit_{n}", on_click=_open, args=(row.key,))
        return
    _waiting_banner()
    sort = st.segmented_control(_("Sort by"), list(svc.SORTS), default="last_purchase", key="cust_sort",
                                format_func=lambda s: md(_label(svc.SORTS, s))) or "last_purchase"
    page = int(st.session_state.get("cust_page", 1))
    result = svc.list_customers(engine, actor, sort=sort, page=page, page_size=PAGE_SIZE)
    pages = max(1, -(-result.total // PAGE_SIZE))
    st.caption(_("{customers} · page {page} of {pages}").format(
        customers=ngettext("{n} customer", "{n} customers", result.total).format(n=number(result.total)),
        page=number(page), pages=number(pages)))
    header = st.columns([4, 2, 2, 2, 1])
    for col, text in zip(header, [_("Customer"), _("Last purchase"), _("Lifetime (net)"), _("Purchases"), ""],
                         strict=True):
        if text:
            col.markdown(f"**{md(text)}**")
    for n, row in enumerate(result.rows):
        line = st.columns([4, 2, 2, 2, 1])
        line[0].text(plain(row.label))
        line[1].text(kuwait_time(row.last_paid_at) if row.last_paid_at else "—")
        line[2].text(money(row.net_fils))
        line[3].text(number(row.n_paid))
        line[4].button(_("Open"), key=f"cust_open_{n}", on_click=_open, args=(row.key,))
    left, _gap, right = st.columns([1, 3, 1])
    if left.button(_("Previous"), icon=":material/chevron_left:", disabled=page <= 1, key="cust_prev"):
        st.session_state["cust_page"] = page - 1
        st.rerun()
    if right.button(_("Next"), icon=":material/chevron_right:", icon_position="right", disabled=page >= pages,
                    key="cust_next"):
        st.session_state["cust_page"] = page + 1
        st.rerun()


def _figures(profile: svc.CustomerProfile) -> None:
    top = st.columns(4)
    top[0].metric(_("Purchases"), number(profile.n_paid), border=True)
    top[1].metric(_("Captured"), money(profile.captured_fils), border=True)
    top[2].metric(_("Refunded"), money(profile.refunded_fils), border=True)
    top[3].metric(_("Net"), money(profile.net_fils), border=True)
    st.caption(_("First purchase {first} · last purchase {last} · usual method {method}").format(
        first=md_iso(kuwait_time(profile.first_paid_at)), last=md_iso(kuwait_time(profile.last_paid_at)),
        method=md(method_label(profile.usual_method))))


def _customer_language(profile: svc.CustomerProfile) -> str:
    """The language of the customer's latest payment link (their payment page's), English when none."""
    return next((p.language for p in profile.payments if p.source == "link" and p.language in ("en", "ar")), "en")


def _ask_to_save(key: str, language: str) -> None:
    if not actor.can(Action.ASK_SAVE_CARD):
        return
    message_language = st.radio(_("Message language"), ["en", "ar"], index=["en", "ar"].index(language),
                                horizontal=True, key="cust_ask_lang",
                                format_func=lambda v: "English" if v == "en" else "العربية")
    if st.button(_("Ask to save a card"), icon=":material/add_card:", key="cust_ask"):
        try:
            invite = svc.ask_to_save_card(engine, state.gateway(), state.actor_at_click(Action.ASK_SAVE_CARD),
                                          key=key, return_url=settings.public_url.rstrip("/") + "/cards/saved",
                                          shop_name=settings.shop_name, shop_name_ar=settings.shop_name_ar,
                                          language=message_language or language)
        except Exception as exc:
            show_error(exc)
        else:
            st.session_state["cust_invite"] = invite
    shown = st.session_state.get("cust_invite")
    if isinstance(shown, svc.AddCardInvite):
        st.success(_("Send this link to the customer: they save a card on UPayments' secure page."))
        st.code(plain(shown.link), language=None)
        row = st.columns(3)
        row[0].link_button(_("WhatsApp"), shown.whatsapp, icon=":material/chat:")
        row[1].link_button(_("SMS"), shown.sms, icon=":material/sms:")
        with row[2].popover(_("QR code")):
            st.image(shown.qr_png, width=220)


def _cards(key: str) -> list[svc.CardView]:
    if not actor.can(Action.VIEW_CARDS):
        return []
    st.subheader(_("Saved cards"))
    st.caption(md(_(svc.KFAST_NOTE)))
    try:
        cards = svc.list_cards(engine, state.gateway(), actor, key=key)
    except Exception as exc:
        show_error(exc)
        return []
    if not cards:
        st.info(_("No saved card yet."))
    for n, card in enumerate(cards):
        line = st.columns([4, 2, 1])
        scheme = f" · {card.scheme}" if card.scheme and card.scheme.casefold() != (card.brand or "").casefold() else ""
        line[0].text(plain_iso(f"{card.brand} {card.number}{scheme}"))  # "MASTERCARD … · MASTERCARD" said twice
        line[1].text(_("Consent on record") if card.consented else _("No consent yet"))
        if actor.can(Action.REMOVE_CARD) and line[2].button(_("Remove"), key=f"cust_rm_{n}"):
            try:
                svc.remove_card(engine, state.gateway(), state.actor_at_click(Action.REMOVE_CARD), key=key,
                                card_token=card.token)
            except Exception as exc:
                show_error(exc)
            else:
                st.toast(_("Removed {card}.").format(card=md_iso(card.label)))
                st.rerun()
    return cards


def _consent_form(key: str, cards: list[svc.CardView], name: str | None) -> None:
    waiting = [c for c in cards if not c.consented]
    if not waiting or not actor.can(Action.CHARGE_CARD):
        return
    with st.expander(_("Record the customer's agreement to be charged without being present")), \
            st.form("cust_consent"):
        card = st.selectbox(_("Card"), waiting, format_func=lambda c: plain_iso(c.label))
        who = st.text_input(_("Who agreed"), value=name or "")
        day = st.date_input(_("When (date)"))
        at = st.time_input(_("When (time, Kuwait)"), value=time(9, 0))
        how = st.selectbox(_("How"), list(svc.CONSENT_CHANNELS),
                           format_func=lambda c: plain(_label(svc.CONSENT_CHANNELS, c)))
        note = st.text_input(_("Note (what they agreed to)"))
        if st.form_submit_button(_("Record agreement")) and card is not None:
            try:
                svc.record_consent(engine, state.actor_at_click(Action.CHARGE_CARD), key=key, card_token=card.token,
                                   agreed_by=who, agreed_at=datetime.combine(day, at, tzinfo=KUWAIT), channel=how,
                                   note=note)
            except Exception as exc:
                show_error(exc)
            else:
                st.rerun()


def _charge_form(key: str, cards: list[svc.CardView], profile: svc.CustomerProfile) -> None:
    ready = [c for c in cards if c.consented]
    if not ready or not actor.can(Action.CHARGE_CARD):
        return
    st.markdown(_("**Charge a saved card for a repeat order** (customer not present)"))
    idem = st.session_state.setdefault("cust_charge_key", uuid.uuid4().hex[:24])
    with st.form("cust_charge"):
        card = st.selectbox(_("Card"), ready, format_func=lambda c: plain_iso(c.label))
        amount = st.text_input(_("Amount (KWD)"), placeholder="12.500")
        what = st.text_input(_("For"), placeholder=_("Repeat order: …"))
        if st.form_submit_button(_("Charge card"), type="primary") and card is not None:
            try:
                charge = svc.charge_saved_card(engine, state.gateway(), state.actor_at_click(Action.CHARGE_CARD),
                                               key=key, card_token=card.token, amount=amount, description=what,
                                               idempotency_key=idem, settings_like=settings)
            except Exception as exc:
                show_error(exc)
            else:
                st.session_state.pop("cust_charge_key", None)
                st.session_state["cust_charged"] = charge.id
                st.rerun()  # the charges list below is read again, with this charge (uncertain ones need a person)
    done = next((svc.view(c) for c in profile.charges if c.id == st.session_state.get("cust_charged")), None)
    if done is not None:  # as it is now (an uncertain charge may have been settled since)
        st.info(_("{order} · {amount} · {card}: {outcome}").format(
            order=md_iso(done.order_id), amount=md_iso(done.amount), card=md_iso(done.card),
            outcome=said_md(done.message)))


def _charges(profile: svc.CustomerProfile) -> None:
    if not profile.charges:
        return
    st.markdown("**{}**".format(_("Saved-card charges")))
    for charge in profile.charges:
        view = svc.view(charge)
        line = st.columns([5, 1, 1])
        card = [plain_iso(view.card)] if actor.can(Action.VIEW_CARDS) else []  # cards are for finance and admin
        outcome = _("{outcome} (asked by {who})").format(outcome=said_plain(view.message),
                                                         who=plain_iso(view.requested_by))
        line[0].text(" · ".join([plain_iso(view.order_id), plain_iso(view.amount), *card, outcome]))
        if view.state == "pending_approval" and actor.can(Action.APPROVE_CARD_CHARGE):
            if line[1].button(_("Approve"), key=f"cust_ok_{view.id}"):
                _act(lambda cid=view.id: svc.approve_charge(
                    engine, state.gateway(), state.actor_at_click(Action.APPROVE_CARD_CHARGE), charge_id=cid))
            if line[2].button(_("Reject"), key=f"cust_no_{view.id}"):
                _act(lambda cid=view.id: svc.reject_charge(
                    engine, state.actor_at_click(Action.APPROVE_CARD_CHARGE), charge_id=cid))
        if view.needs_settling:
            _settle_form(view)


def _settle_form(view: svc.ChargeView) -> None:
    """An uncertain charge: what happened, what to do, and (for finance/admin) the two ways to settle it."""
    st.error(_("**Uncertain — check with UPayments:** {order} · {amount}. {what}").format(
        order=md_iso(view.order_id), amount=md_iso(view.amount), what=said_md(view.message)), icon=":material/help:")
    if not actor.can(Action.SETTLE_CARD_CHARGE):
        st.caption(_("A finance or admin person settles it."))
        return
    with st.form(f"cust_settle_{view.id}"):
        track = st.text_input(_("Track id (from the payment in the UPayments portal)"), key=f"cust_track_{view.id}")
        if st.form_submit_button(_("Check with UPayments"), type="primary"):
            _act(lambda: svc.settle_charge(engine, state.gateway(), state.actor_at_click(Action.SETTLE_CARD_CHARGE),
                                           charge_id=view.id, track_id=track))
    with st.expander(_("The UPayments portal has no payment for this order")), st.form(f"cust_none_{view.id}"):
        checked = st.checkbox(_("I searched the UPayments portal for order {order} and found no payment").format(
            order=md_iso(view.order_id)))
        why = st.text_input(_("Why you are sure (what the portal showed)"), key=f"cust_why_{view.id}")
        if st.form_submit_button(_("Mark not charged")):
            _act(lambda: svc.mark_not_charged(engine, state.actor_at_click(Action.SETTLE_CARD_CHARGE),
                                              charge_id=view.id, reason=why, checked_portal=checked))


def _waiting_banner() -> None:
    """Every uncertain charge, on top of the customers list: a person must settle each."""
    waiting = svc.uncertain_charges(engine, actor)
    if not waiting:
        return
    st.error(_("**{n} saved-card charge(s) uncertain — check with UPayments.** Their answer was lost; they are never "
               "sent again. Open the customer, find the order in the UPayments portal, and enter its track id (or "
               "mark it not charged).").format(n=number(len(waiting))), icon=":material/help:")
    for n, item in enumerate(waiting):
        line = st.columns([5, 1])
        line[0].text(_("{order} · {amount} · {customer} · asked by {who} on {when}").format(
            order=plain_iso(item.order_id), amount=money(item.amount_fils, item.currency),
            customer=plain_iso(item.customer), who=plain_iso(item.requested_by), when=plain_iso(item.since)))
        line[1].button(_("Open"), key=f"cust_uncertain_{n}", on_click=_open, args=(item.customer_key,))


def _act(call: Any) -> None:
    try:
        call()
    except Exception as exc:
        show_error(exc)
    else:
        st.rerun()


def _present_link(key: str, cards: list[svc.CardView]) -> None:
    if not cards or not (actor.can(Action.CHARGE_CARD) and actor.can(Action.CREATE_LINK)):
        return
    with st.expander(_("Payment link offering the saved cards (customer present)")), st.form("cust_present"):
        amount = st.text_input(_("Amount (KWD)"), key="cust_present_amount")
        what = st.text_input(_("For"), key="cust_present_for")
        if st.form_submit_button(_("Create link")):
            request = LinkRequest(idempotency_key=st.session_state.setdefault("cust_link_key", uuid.uuid4().hex[:16]),
                                  amount=amount, description=what)
            try:
                outcome = svc.link_with_saved_cards(engine, state.gateway(), state.actor_at_click(Action.CHARGE_CARD),
                                                    key=key, request=request, settings_like=settings)
            except Exception as exc:
                show_error(exc)
            else:
                st.session_state.pop("cust_link_key", None)
                st.success(_("Link {order}: {outcome}").format(order=md_iso(outcome.order_id),
                                                               outcome=said_md(outcome.message)))
                if outcome.link_url:
                    st.code(plain(outcome.link_url), language=None)


def _history(profile: svc.CustomerProfile) -> None:
    st.subheader(_("Payments and links"))
    uncertain = {c.payment_pk for c in profile.charges if c.state == "uncertain"}
    tables.dataframe([{_("Created (Kuwait)"): kuwait_time(p.created_at), _("Order"): p.order_id,
                      _("Amount"): money(p.amount_fils, p.currency),
                      _("Status"): _("Uncertain — check with UPayments") if p.id in uncertain
                      else status_label(p.status),
                      _("Method"): method_label(p.method), _("Kind"): _label(SOURCES, p.source),
                      _("Refunded"): money(p.refunded_fils), _("For"): p.description or ""}
                      for p in profile.payments], width="stretch", key="cust_payments")
    if profile.refunds:
        st.subheader(_("Refunds"))
        tables.dataframe([{_("Requested (Kuwait)"): kuwait_time(r.created_at), _("Amount"): money(r.amount_fils),
                          _("State"): _label(REFUND_STATE_LABELS, r.state), _("Reason"): reason_label(r.reason)}
                          for r in profile.refunds], width="stretch", key="cust_refunds")


def _customer_view(key: str) -> None:
    st.button(_("All customers"), icon=":material/arrow_back:", on_click=_close, key="cust_back")
    try:
        profile = svc.customer_profile(engine, actor, key=key)
    except Exception as exc:
        show_error(exc)
        return
    st.title(md(profile.name) if profile.name else _("Customer"))
    st.caption(md(" · ".join(v for v in (profile.phone, profile.email) if v)))
    _figures(profile)
    _ask_to_save(key, _customer_language(profile))
    cards = _cards(key)
    _consent_form(key, cards, profile.name)
    _charge_form(key, cards, profile)
    _charges(profile)
    _present_link(key, cards)
    _history(profile)


selected = _selected()
if selected:
    _customer_view(selected)
else:
    _list_view()
