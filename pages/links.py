"""Payment links: create one in seconds, share it (WhatsApp, QR, SMS, e-mail, copy), follow it until paid.

Following without reloading: **one** fragment (``_watch``) ticks every 3 s. It asks the gateway about the links
shown as awaiting payment (rate-limited in services.links) and compares a cheap fingerprint of what the page
shows (the list's ids and statuses, an open link's status and timeline length) with what it read again; only when
something changed does it rerun the page. The list table itself is never re-rendered on a timer, so a click on a
row is never lost to a refresh, and each full run reads a link's detail once.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import streamlit as st

from dashboard import state, tables
from dashboard.customer_link import customer_page_link
from dashboard.errors import explain_md, said_md, show_error
from dashboard.formatting import ago, kuwait_time, money, number
from dashboard.i18n import N_, _, ngettext, translate
from dashboard.paging import page_count
from dashboard.receipt import receipt_url
from dashboard.safe import filename, md, md_iso, plain
from services import links
from services.models import FINAL_STATUSES, PaymentStatus
from services.money import EXPONENTS, format_amount
from services.permissions import Action
from services.sentence import say

PAGE_SIZE = 25
EXPIRY_CHOICES = (30, 60, 180, 360, 720, 1440)  # minutes
DELIVERY_LABELS = {
    "link": N_("I share it myself (WhatsApp, QR, SMS from my phone)"),
    "sms": N_("The gateway sends an SMS"),
    "email": N_("The gateway sends an e-mail"),
    "all": N_("The gateway sends an SMS and an e-mail"),
}
#: The list's statuses (services.links.LINK_STATUSES) in words.
LINK_STATUS_LABELS = {
    "awaiting": N_("Awaiting payment"), "paid": N_("Paid"), "failed": N_("Failed"), "cancelled": N_("Cancelled"),
    "expired": N_("Expired"), "uncertain": N_("Uncertain — check again"), "rejected": N_("Not created"),
}
#: Columns of the items editor: code → label (the codes are what ``_items`` reads back).
ITEM_COLUMNS = {"item": N_("Item"), "qty": N_("Qty"), "unit_price": N_("Unit price")}

actor = state.actor()
engine = state.engine()
settings = state.settings()
can_create = actor.can(Action.CREATE_LINK)
can_share = actor.can(Action.SHARE_LINK)
can_check = actor.can(Action.SYNC)

# This full run's number: a fragment compares it with the last one it saw to tell its part in a full run (the
# page just read everything) from its own timed rerun.
_run = st.session_state["links_run"] = st.session_state.get("links_run", 0) + 1
#: Link details read in this full run (one read per link per run).
_details: dict[int, links.LinkDetail] = {}
#: What this run shows, by part: how to read its fingerprint again, the fingerprint shown, awaiting links in it.
_shown: dict[str, tuple[Callable[[], Hashable], Hashable, frozenset[int]]] = {}


def _in_full_run(name: str) -> bool:
    """True when fragment ``name`` runs as part of a full run of the page, False on its own (timed) rerun."""
    key = f"links_seen_{name}"
    first = st.session_state.get(key) != _run
    st.session_state[key] = _run
    return first


def _said(message: str) -> str:
    """A service's sentence (a field error, an outcome, a check result) in the person's language, as Markdown."""
    return explain_md(ValueError(message))


def _status_word(row: links.LinkRow) -> str:
    return _(LINK_STATUS_LABELS.get(row.status, row.status_label))


def _expiry_label(minutes: int) -> str:
    if minutes < 60:
        return ngettext("{n} minute", "{n} minutes", minutes).format(n=number(minutes))
    hours = minutes // 60
    return ngettext("{n} hour", "{n} hours", hours).format(n=number(hours))


def _fresh_form() -> None:
    """Start a new intent: new widgets and a new idempotency key (a rerun keeps the old ones)."""
    st.session_state["nl_gen"] = st.session_state.get("nl_gen", 0) + 1
    st.session_state["nl_key"] = links.new_idempotency_key()
    st.session_state.pop("nl_errors", None)


if "nl_key" not in st.session_state:
    _fresh_form()


def _field_error(name: str) -> None:
    message = st.session_state.get("nl_errors", {}).get(name)
    if message:
        st.error(_said(message), icon=":material/error:")


def _items(raw: Any) -> tuple[links.LineItem, ...]:
    rows = raw.to_dict("records") if hasattr(raw, "to_dict") else list(raw or [])
    return tuple(links.LineItem(name=str(r.get("item") or ""), quantity=str(r.get("qty") or ""),
                                unit_price=str(r.get("unit_price") or ""))
                 for r in rows if any(str(v or "").strip() for v in r.values()))


def _new_link_form() -> None:
    gen = st.session_state["nl_gen"]
    default_expiry = settings.link_expiry_minutes if settings.link_expiry_minutes in EXPIRY_CHOICES else 1440
    with st.form(f"new_link_{gen}", border=True):
        st.subheader(_("New payment link"))
        left, right = st.columns(2)
        with left:
            amount = st.text_input(_("Amount"), key=f"nl_amount_{gen}", placeholder="12.500",
                                   help=_("KWD has 3 decimals: 12.5 is 12.500 KWD. Leave empty to use the items' "
                                          "total."))
            _field_error("amount")
        with right:
            phone = st.text_input(_("Customer mobile (WhatsApp)"), key=f"nl_phone_{gen}", placeholder="5512 3456",
                                  help=_("Any format: {local}, {international}, {prefixed}, Arabic digits.").format(
                                      local=md_iso("5512 3456"), international=md_iso("+965 5512 3456"),
                                      prefixed=md_iso("00965…")))
            _field_error("customer_phone")
        description = st.text_input(_("What is it for?"), key=f"nl_desc_{gen}",
                                    placeholder=_("Blue abaya, size M"), max_chars=500)
        _field_error("description")
        left, mid, right = st.columns(3)
        with left:
            name = st.text_input(_("Customer name"), key=f"nl_name_{gen}")
            _field_error("customer_name")
        with mid:
            language = st.radio(_("Payment page language"), ["en", "ar"], horizontal=True, key=f"nl_lang_{gen}",
                                format_func=lambda v: "English" if v == "en" else "العربية")
        with right:
            choices: list[int] = list(EXPIRY_CHOICES)
            expiry = st.selectbox(_("Valid for"), choices, key=f"nl_expiry_{gen}",
                                  index=choices.index(default_expiry), format_func=_expiry_label)
            _field_error("expiry_minutes")
        with st.expander(_("More options: currency, e-mail, gateway delivery, items")):
            left, right = st.columns(2)
            with left:
                currency = st.selectbox(_("Currency"), list(EXPONENTS), key=f"nl_currency_{gen}")
                _field_error("currency")
            with right:
                email = st.text_input(_("Customer e-mail"), key=f"nl_email_{gen}")
                _field_error("customer_email")
            delivery = st.radio(_("Delivery"), list(DELIVERY_LABELS), key=f"nl_delivery_{gen}",
                                format_func=lambda d: _(DELIVERY_LABELS[d]),
                                help=_("The gateway sends SMS and e-mail only in production, never in test mode."))
            _field_error("delivery")
            items = st.data_editor([{"item": "", "qty": "1", "unit_price": ""}], key=f"nl_items_{gen}",
                                   num_rows="dynamic", width="stretch",
                                   column_config={code: st.column_config.TextColumn(_(label))
                                                  for code, label in ITEM_COLUMNS.items()})
            _field_error("items")
        _field_error("form")
        submitted = st.form_submit_button(_("Create link"), type="primary", icon=":material/add_link:")
    if not submitted:
        return
    request = links.LinkRequest(
        idempotency_key=st.session_state["nl_key"], amount=amount, currency=currency or "KWD",
        description=description, items=_items(items), customer_name=name, customer_phone=phone,
        customer_email=email, language=language or "en", expiry_minutes=expiry, delivery=delivery or "link",
    )
    errors = links.validate_link_request(request, settings)
    if errors:
        st.session_state["nl_errors"] = errors
        st.rerun()
    try:
        with st.spinner(_("Creating the link with the gateway…")):
            outcome = links.create_link(engine, state.gateway(), actor, request=request, settings_like=settings)
    except links.InvalidLinkRequest as exc:
        st.session_state["nl_errors"] = exc.errors
        st.rerun()
    except Exception as exc:
        show_error(exc)
        return
    st.session_state["nl_last"] = outcome
    _fresh_form()
    st.rerun()


def _record(payment_pk: int, channel: str, reminder: bool = False, receipt: bool = False) -> None:
    try:
        links.record_share(engine, state.actor_at_click(Action.SHARE_LINK), payment_pk=payment_pk, channel=channel,
                           reminder=reminder, receipt=receipt)
    except Exception as exc:
        st.session_state["links_error"] = exc


#: Link statuses that end without payment: the person may send the customer a new link instead.
ENDED = ("expired", "failed", "cancelled", "rejected")


def _again(row: links.LinkRow) -> None:
    """"Send a new link": the new-link form, filled from this link, as a NEW intent (a new idempotency key)."""
    st.session_state.pop("nl_last", None)
    _fresh_form()
    gen = st.session_state["nl_gen"]
    st.session_state.update({
        f"nl_amount_{gen}": format_amount(row.amount_fils, row.currency), f"nl_desc_{gen}": row.description or "",
        f"nl_name_{gen}": row.customer_name or "", f"nl_phone_{gen}": row.customer_phone or "",
        f"nl_email_{gen}": row.customer_email or "", f"nl_lang_{gen}": "ar" if row.language == "ar" else "en",
        f"nl_currency_{gen}": row.currency,
        "links_notice": say("The form below is filled from link {order}; check it and press “Create link”.",
                            order=row.order_id),
    })


def _receipt_panel(row: links.LinkRow, prefix: str) -> None:
    """A paid link: the customer's receipt to open, or to send on WhatsApp (recorded)."""
    url = receipt_url(settings.public_url, row.order_id)
    st.caption(_("Paid — the customer's receipt"))
    with st.container(horizontal=True):
        st.link_button(_("Open the receipt"), url, key=f"{prefix}_receipt", icon=":material/receipt_long:")
        if can_share:
            targets = links.receipt_links(row, receipt_url=url, shop_name=settings.shop_name,
                                          shop_name_ar=settings.shop_name_ar, phone_e164=row.customer_phone)
            st.link_button(_("Send receipt on WhatsApp"), targets.whatsapp, type="primary",
                           key=f"{prefix}_receipt_wa", on_click=_record, args=(row.pk, "whatsapp", False, True),
                           icon=":material/chat:")


def _whatsapp_label(phone: str | None) -> str:
    if phone:
        return _("Send on WhatsApp to {phone}").format(phone=md_iso(phone))
    return _("Send on WhatsApp (pick a chat)")


def _share_panel(row: links.LinkRow, prefix: str) -> None:
    """What a link offers in its state: sharing while it can be paid, the receipt once paid, a new link once it
    ended unpaid. Copy, QR, WhatsApp, SMS and e-mail are each recorded."""
    if row.status == PaymentStatus.PAID:
        _receipt_panel(row, prefix)
        return
    if row.status in ENDED:
        if can_create:
            st.button(_("Send a new link"), key=f"{prefix}_again", on_click=_again, args=(row,),
                      icon=":material/redo:",
                      help=_("Opens the new-link form filled with this link's amount, description and customer."))
        return
    if not row.link_url or row.status != "awaiting":
        return
    st.caption(_("Payment link — point at it and click the copy icon at its right, or select the text"))
    st.code(plain(row.link_url), language=None, wrap_lines=True)
    if not can_share:
        return
    ctx = links.context_for(row, shop_name=settings.shop_name, shop_name_ar=settings.shop_name_ar)
    targets = links.share_links(ctx, phone_e164=row.customer_phone, email=row.customer_email)
    qr = links.qr_png(row.link_url, scale=6)
    left, right = st.columns([1, 2])
    with left:
        st.image(qr, width=180, caption=_("Scan to pay"))
        st.download_button(_("Download QR"), qr, file_name=filename(row.order_id, ".png"), mime="image/png",
                           key=f"{prefix}_qr", on_click=_record, args=(row.pk, "qr"), icon=":material/qr_code:")
    with right:
        st.link_button(_whatsapp_label(row.customer_phone), targets.whatsapp, type="primary", key=f"{prefix}_wa",
                       on_click=_record, args=(row.pk, "whatsapp"), icon=":material/chat:")
        st.link_button(_("Send as SMS"), targets.sms, key=f"{prefix}_sms", on_click=_record, args=(row.pk, "sms"),
                       icon=":material/sms:")
        st.link_button(_("Send by e-mail"), targets.email, key=f"{prefix}_mail", on_click=_record,
                       args=(row.pk, "email"), icon=":material/mail:")
        with st.expander(_("Message text")):
            st.text(plain(targets.text))


def _check(payment_pk: int) -> None:
    try:
        st.session_state["links_notice"] = links.check_link(engine, state.gateway(),
                                                            state.actor_at_click(Action.SYNC), payment_pk=payment_pk)
    except Exception as exc:
        st.session_state["links_error"] = exc


def _status_line(row: links.LinkRow) -> None:
    amount = md_iso(money(row.amount_fils, row.currency))
    order = md_iso(row.order_id)
    text = _("**{status}** · {amount} · order {order}").format(status=md(_status_word(row)), amount=amount,
                                                                order=order)
    if row.status == PaymentStatus.PAID:
        st.success(_("**Paid** {ago} · {amount} · order {order}").format(ago=md(ago(row.paid_at)), amount=amount,
                                                                          order=order),
                   icon=":material/check_circle:")
    elif row.status in (*FINAL_STATUSES, "rejected"):  # paid was answered above; rejected: a link state
        st.error(text, icon=":material/cancel:")
    elif row.status == "uncertain":
        st.warning(text, icon=":material/help:")
    elif row.expires_at:
        until = md_iso(kuwait_time(row.expires_at))
        st.info(_("{line} · valid until {time} Kuwait time").format(line=text, time=until), icon=":material/schedule:")
    else:
        st.info(text, icon=":material/schedule:")


def _detail_of(pk: int) -> links.LinkDetail:
    """A link's detail, read once in this full run however many panels show it."""
    if pk not in _details:
        _details[pk] = links.link_detail(engine, actor, payment_pk=pk)
    return _details[pk]


def _detail_print(detail: links.LinkDetail) -> Hashable:
    return detail.row.status, detail.row.paid_at, len(detail.timeline)


def _watch_detail(pk: int, detail: links.LinkDetail) -> None:
    """The watcher follows this open link: rerun the page when its status or timeline changes."""
    _shown[f"link{pk}"] = (lambda: _detail_print(links.link_detail(engine, actor, payment_pk=pk)),
                           _detail_print(detail), frozenset({pk}) if detail.row.status == "awaiting" else frozenset())


def _outcome_panel() -> None:
    outcome: links.LinkOutcome | None = st.session_state.get("nl_last")
    if outcome is None:
        return
    try:
        detail = _detail_of(outcome.payment_pk)
    except Exception as exc:
        show_error(exc)
        return
    _watch_detail(outcome.payment_pk, detail)
    with st.container(border=True, key="link_outcome"):
        st.subheader(_("Your link"))
        if not outcome.created:
            st.info(_("This form was already sent; here is the link it created (nothing was created twice)."))
        if outcome.duplicate_of:
            st.warning(_("Note: the same mobile number got a link for the same amount in the last 10 minutes "
                         "(order {order}). Make sure the customer is not asked to pay twice.").format(
                order=md_iso(outcome.duplicate_of)))
        if outcome.state == "rejected":
            st.error(_said(outcome.message))
        elif outcome.state in ("uncertain", "creating"):
            st.warning(_said(outcome.message))
            st.button(_("Check again"), key="nl_check", on_click=_check, args=(outcome.payment_pk,),
                      disabled=not can_check)
        elif detail.row.status == "awaiting":
            st.success(_said(outcome.message))
        _status_line(detail.row)
        _share_panel(detail.row, "nl")
        if st.button(_("Create another link"), key="nl_done", icon=":material/add:"):
            st.session_state.pop("nl_last", None)
            st.rerun()


def _table(rows: list[links.LinkRow]) -> list[dict[str, Any]]:
    # Order first: at 1,400 px the last column was cut off, and the order id is what people quote. Right to left,
    # "first" is the right edge (dashboard.tables mirrors the columns).
    return [{
        _("Order"): r.order_id, _("Created"): kuwait_time(r.created_at), _("Status"): _status_word(r),
        _("Amount"): money(r.amount_fils, r.currency), _("Customer"): r.customer_name or "",
        _("Mobile"): r.customer_phone or "", _("For"): r.description or "", _("Created by"): r.created_by or "",
        _("Age"): ago(r.created_at),
    } for r in rows]


def _table_columns() -> dict[str, Any]:
    """Widths that let every column show at 1,400 px (the free text "For" gives way)."""
    return {_("Order"): st.column_config.TextColumn(width="medium"),
            _("For"): st.column_config.TextColumn(width="small")}


def _list_print(page: links.LinkPage) -> Hashable:
    return page.total, tuple((r.pk, r.status) for r in page.rows)


@st.fragment
def _links_list() -> None:
    """The list: filters and paging rerun only this part; the watcher reruns the page when the list changed."""
    left, mid, right = st.columns([2, 2, 3])
    with left:
        status = st.selectbox(_("Status"), ["", *links.LINK_STATUSES], key="links_status",
                              format_func=lambda s: _(LINK_STATUS_LABELS[s]) if s else _("All"))
    with mid:
        mine = st.toggle(_("Only my links"), value=actor.role == "sales", key="links_mine")
    creator = None
    page_no = st.session_state.get("links_page", 1)
    try:
        with right:
            if not mine and actor.can(Action.VIEW_ALL_LINKS):
                creator = st.selectbox(_("Created by"), ["", *links.link_creators(engine, actor)],
                                       key="links_creator", format_func=lambda e: plain(e) or _("Anyone")) or None

        def read() -> links.LinkPage:
            return links.list_links(engine, actor, status=status or None, created_by=creator, mine_only=mine,
                                    page=page_no, page_size=PAGE_SIZE)

        result = read()
    except Exception as exc:
        show_error(exc)
        return
    _shown["list"] = (lambda: _list_print(read()), _list_print(result),
                      frozenset(r.pk for r in result.rows if r.status == "awaiting"))
    if not result.rows:
        st.info(_("No payment links match.") if status or creator else _("No payment links yet."))
        return
    event = tables.dataframe(_table(result.rows), key="links_table", on_select="rerun",
                             selection_mode="single-row", width="stretch", column_config=_table_columns())
    pages = page_count(result.total, PAGE_SIZE)
    st.caption(ngettext("{n} link · changes show within seconds", "{n} links · changes show within seconds",
                        result.total).format(n=number(result.total)))
    if pages > 1:
        st.pagination(pages, key="links_page")
    chosen = event.selection.rows if hasattr(event, "selection") else []
    picked = result.rows[chosen[0]].pk if chosen and chosen[0] < len(result.rows) else None
    if picked is not None and picked != st.session_state.get("links_selected"):
        st.session_state["links_selected"] = picked
        st.rerun()


def _detail() -> None:
    pk = st.session_state.get("links_selected")
    if pk is None:
        st.caption(_("Select a link in the table to see its timeline, share it again or send a reminder."))
        return
    try:
        detail = _detail_of(pk)
    except Exception as exc:
        show_error(exc)
        return
    _watch_detail(pk, detail)
    row = detail.row
    with st.container(border=True, key="link_detail"):
        st.subheader(_("Link {order}").format(order=md_iso(row.order_id)))
        _status_line(row)
        tables.dataframe(({_("When (Kuwait)"): kuwait_time(e.at, seconds=True), _("What"): translate(e.label, plain),
                           _("Who"): e.actor or ""} for e in detail.timeline), width="stretch", key="link_timeline")
        if detail.reason:
            st.error(_("Why it was not created: {reason}").format(reason=said_md(detail.reason)))
        st.caption(_("For: {description} · customer: {name} {phone} · created by {creator} {ago}").format(
            description=md_iso(row.description or "—"), name=md_iso(row.customer_name or "—"),
            phone=md_iso(row.customer_phone or ""), creator=md_iso(row.created_by or "—"), ago=md(ago(row.created_at))))
        customer_page_link(actor, pk, has_contact=bool(row.customer_phone or row.customer_email))
        _share_panel(row, f"d{pk}")
        if can_share and row.status == "awaiting" and row.link_url:
            ctx = links.context_for(row, shop_name=settings.shop_name, shop_name_ar=settings.shop_name_ar)
            reminder = links.share_links(ctx, phone_e164=row.customer_phone, email=row.customer_email,
                                         reminder=True)
            st.link_button(_("Send a reminder on WhatsApp"), reminder.whatsapp, key=f"d{pk}_remind",
                           on_click=_record, args=(pk, "whatsapp", True), icon=":material/notifications:")
        if can_check and row.status in ("awaiting", "uncertain"):
            st.button(_("Check again with the gateway"), key=f"d{pk}_check", on_click=_check, args=(pk,),
                      icon=":material/sync:")
        with st.expander(_("Gateway details")):
            tables.dataframe(({_("Field"): k, _("Value"): "" if v is None else str(v)}
                              for k, v in detail.gateway.items()), width="stretch")


@st.fragment(run_every="3s")
def _watch() -> None:
    """The page's one refresher: verified look-ups of the awaiting links shown, then a page rerun only if what the
    page shows changed (a link paid, expired, shared; a new link in the list)."""
    if _in_full_run("watch"):
        return  # the page has just read everything
    try:
        awaiting = sorted(set().union(*(part[2] for part in _shown.values())))
        if awaiting:
            links.refresh_awaiting(engine, state.gateway(), actor, payment_pks=awaiting)
        changed = any(read() != seen for read, seen, _awaiting in _shown.values())
    except Exception as exc:  # a fragment's rerun keeps the page's actor: the services refuse one removed since
        show_error(exc)
        return
    if changed:
        st.rerun(scope="app")


st.title(_("Payment links"))
if "links_error" in st.session_state:
    show_error(st.session_state.pop("links_error"))
if "links_notice" in st.session_state:
    st.info(_said(st.session_state.pop("links_notice")))
if can_create:
    if st.session_state.get("nl_last") is not None:
        _outcome_panel()
    else:
        _new_link_form()
st.header(_("Links"), divider="gray")
_links_list()
_detail()
_watch()
