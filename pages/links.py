"""Payment links: create one in seconds, share it (WhatsApp, QR, SMS, e-mail, copy), follow it until paid."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import state
from dashboard.customer_link import customer_page_link
from dashboard.errors import show_error
from dashboard.formatting import ago, kuwait_time, money
from dashboard.paging import page_count
from dashboard.receipt import receipt_url
from dashboard.safe import cells, filename, md, plain
from services import links
from services.models import FINAL_STATUSES, PaymentStatus
from services.money import EXPONENTS, format_amount
from services.permissions import Action

PAGE_SIZE = 25
EXPIRY_CHOICES = {30: "30 minutes", 60: "1 hour", 180: "3 hours", 360: "6 hours", 720: "12 hours", 1440: "24 hours"}
DELIVERY_LABELS = {
    "link": "I share it myself (WhatsApp, QR, SMS from my phone)",
    "sms": "The gateway sends an SMS",
    "email": "The gateway sends an e-mail",
    "all": "The gateway sends an SMS and an e-mail",
}
FIELD_LABELS = {"amount": "Amount", "description": "What is it for?", "customer_phone": "Customer mobile",
                "customer_name": "Customer name", "customer_email": "Customer e-mail", "currency": "Currency",
                "language": "Payment page language", "expiry_minutes": "Valid for", "delivery": "Delivery",
                "items": "Items", "form": "Form"}

actor = state.actor()
engine = state.engine()
settings = state.settings()
can_create = actor.can(Action.CREATE_LINK)
can_share = actor.can(Action.SHARE_LINK)
can_check = actor.can(Action.SYNC)


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
        st.error(md(message), icon=":material/error:")


def _items(raw: Any) -> tuple[links.LineItem, ...]:
    rows = raw.to_dict("records") if hasattr(raw, "to_dict") else list(raw or [])
    return tuple(links.LineItem(name=str(r.get("Item") or ""), quantity=str(r.get("Qty") or ""),
                                unit_price=str(r.get("Unit price") or ""))
                 for r in rows if any(str(v or "").strip() for v in r.values()))


def _new_link_form() -> None:
    gen = st.session_state["nl_gen"]
    default_expiry = settings.link_expiry_minutes if settings.link_expiry_minutes in EXPIRY_CHOICES else 1440
    with st.form(f"new_link_{gen}", border=True):
        st.subheader("New payment link")
        left, right = st.columns(2)
        with left:
            amount = st.text_input("Amount", key=f"nl_amount_{gen}", placeholder="12.500",
                                   help="KWD has 3 decimals: 12.5 is 12.500 KWD. Leave empty to use the items' total.")
            _field_error("amount")
        with right:
            phone = st.text_input("Customer mobile (WhatsApp)", key=f"nl_phone_{gen}", placeholder="5512 3456",
                                  help="Any format: 5512 3456, +965 5512 3456, 00965…, Arabic digits.")
            _field_error("customer_phone")
        description = st.text_input("What is it for?", key=f"nl_desc_{gen}", placeholder="Blue abaya, size M",
                                    max_chars=500)
        _field_error("description")
        left, mid, right = st.columns(3)
        with left:
            name = st.text_input("Customer name", key=f"nl_name_{gen}")
            _field_error("customer_name")
        with mid:
            language = st.radio("Payment page language", ["en", "ar"], horizontal=True, key=f"nl_lang_{gen}",
                                format_func=lambda v: "English" if v == "en" else "العربية")
        with right:
            choices: list[int] = list(EXPIRY_CHOICES)
            expiry = st.selectbox("Valid for", choices, key=f"nl_expiry_{gen}", index=choices.index(default_expiry),
                                  format_func=lambda m: EXPIRY_CHOICES[m])
            _field_error("expiry_minutes")
        with st.expander("More options: currency, e-mail, gateway delivery, items"):
            left, right = st.columns(2)
            with left:
                currency = st.selectbox("Currency", list(EXPONENTS), key=f"nl_currency_{gen}")
                _field_error("currency")
            with right:
                email = st.text_input("Customer e-mail", key=f"nl_email_{gen}")
                _field_error("customer_email")
            delivery = st.radio("Delivery", list(DELIVERY_LABELS), key=f"nl_delivery_{gen}",
                                format_func=lambda d: DELIVERY_LABELS[d],
                                help="The gateway sends SMS and e-mail only in production, never in test mode.")
            _field_error("delivery")
            items = st.data_editor([{"Item": "", "Qty": "1", "Unit price": ""}], key=f"nl_items_{gen}",
                                   num_rows="dynamic", width="stretch")
            _field_error("items")
        _field_error("form")
        submitted = st.form_submit_button("Create link", type="primary", icon=":material/add_link:")
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
        with st.spinner("Creating the link with the gateway…"):
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
        f"nl_currency_{gen}": row.currency, "links_notice": f"The form below is filled from link {row.order_id}; "
        "check it and press “Create link”.",
    })


def _receipt_panel(row: links.LinkRow, prefix: str) -> None:
    """A paid link: the customer's receipt to open, or to send on WhatsApp (recorded)."""
    url = receipt_url(settings.public_url, row.order_id)
    st.caption("Paid — the customer's receipt")
    with st.container(horizontal=True):
        st.link_button("Open the receipt", url, key=f"{prefix}_receipt", icon=":material/receipt_long:")
        if can_share:
            targets = links.receipt_links(row, receipt_url=url, shop_name=settings.shop_name,
                                          shop_name_ar=settings.shop_name_ar, phone_e164=row.customer_phone)
            st.link_button("Send receipt on WhatsApp", targets.whatsapp, type="primary", key=f"{prefix}_receipt_wa",
                           on_click=_record, args=(row.pk, "whatsapp", False, True), icon=":material/chat:")


def _share_panel(row: links.LinkRow, prefix: str) -> None:
    """What a link offers in its state: sharing while it can be paid, the receipt once paid, a new link once it
    ended unpaid. Copy, QR, WhatsApp, SMS and e-mail are each recorded."""
    if row.status == PaymentStatus.PAID:
        _receipt_panel(row, prefix)
        return
    if row.status in ENDED:
        if can_create:
            st.button("Send a new link", key=f"{prefix}_again", on_click=_again, args=(row,), icon=":material/redo:",
                      help="Opens the new-link form filled with this link's amount, description and customer.")
        return
    if not row.link_url or row.status != "awaiting":
        return
    st.caption("Payment link — point at it and click the copy icon at its right, or select the text")
    st.code(plain(row.link_url), language=None, wrap_lines=True)
    if not can_share:
        return
    ctx = links.context_for(row, shop_name=settings.shop_name, shop_name_ar=settings.shop_name_ar)
    targets = links.share_links(ctx, phone_e164=row.customer_phone, email=row.customer_email)
    qr = links.qr_png(row.link_url, scale=6)
    left, right = st.columns([1, 2])
    with left:
        st.image(qr, width=180, caption="Scan to pay")
        st.download_button("Download QR", qr, file_name=filename(row.order_id, ".png"), mime="image/png",
                           key=f"{prefix}_qr", on_click=_record, args=(row.pk, "qr"), icon=":material/qr_code:")
    with right:
        who = row.customer_phone or "a chat you pick"
        st.link_button(f"Send on WhatsApp to {md(who)}", targets.whatsapp, type="primary", key=f"{prefix}_wa",
                       on_click=_record, args=(row.pk, "whatsapp"), icon=":material/chat:")
        st.link_button("Send as SMS", targets.sms, key=f"{prefix}_sms", on_click=_record, args=(row.pk, "sms"),
                       icon=":material/sms:")
        st.link_button("Send by e-mail", targets.email, key=f"{prefix}_mail", on_click=_record,
                       args=(row.pk, "email"), icon=":material/mail:")
        with st.expander("Message text"):
            st.text(plain(targets.text))


def _check(payment_pk: int) -> None:
    try:
        st.session_state["links_notice"] = links.check_link(engine, state.gateway(),
                                                                  state.actor_at_click(Action.SYNC),
                                                                  payment_pk=payment_pk)
    except Exception as exc:
        st.session_state["links_error"] = exc


def _status_line(row: links.LinkRow) -> None:
    text = f"**{md(row.status_label)}** · {money(row.amount_fils, row.currency)} · order {md(row.order_id)}"
    if row.status == PaymentStatus.PAID:
        st.success(f"**Paid** {ago(row.paid_at)} · {money(row.amount_fils, row.currency)} · order {md(row.order_id)}",
                   icon=":material/check_circle:")
    elif row.status in (*FINAL_STATUSES, "rejected"):  # paid was answered above; rejected: a link state
        st.error(text, icon=":material/cancel:")
    elif row.status == "uncertain":
        st.warning(text, icon=":material/help:")
    else:
        until = f" · valid until {kuwait_time(row.expires_at)} Kuwait time" if row.expires_at else ""
        st.info(text + until, icon=":material/schedule:")


def _outcome_panel() -> None:
    outcome: links.LinkOutcome | None = st.session_state.get("nl_last")
    if outcome is None:
        return

    shown = links.link_detail(engine, actor, payment_pk=outcome.payment_pk).row.status

    @st.fragment(run_every="3s")
    def live() -> None:
        try:  # a fragment's rerun keeps the page's actor: the services refuse one removed since
            links.refresh_awaiting(engine, state.gateway(), actor, payment_pks=[outcome.payment_pk])
            detail = links.link_detail(engine, actor, payment_pk=outcome.payment_pk)
        except Exception as exc:
            show_error(exc)
            return
        if detail.row.status != shown:  # paid or ended: the whole panel changes (no share buttons on a paid link)
            st.rerun(scope="app")
        _status_line(detail.row)

    with st.container(border=True, key="link_outcome"):
        st.subheader("Your link")
        if not outcome.created:
            st.info("This form was already sent; here is the link it created (nothing was created twice).")
        if outcome.duplicate_of:
            st.warning(f"Note: the same mobile number got a link for the same amount in the last 10 minutes "
                       f"(order {md(outcome.duplicate_of)}). Make sure the customer is not asked to pay twice.")
        if outcome.state == "rejected":
            st.error(md(outcome.message))
        elif outcome.state in ("uncertain", "creating"):
            st.warning(md(outcome.message))
            st.button("Check again", key="nl_check", on_click=_check, args=(outcome.payment_pk,),
                      disabled=not can_check)
        elif shown == "awaiting":
            st.success(md(outcome.message))
        live()
        detail = links.link_detail(engine, actor, payment_pk=outcome.payment_pk)
        _share_panel(detail.row, "nl")
        if st.button("Create another link", key="nl_done", icon=":material/add:"):
            st.session_state.pop("nl_last", None)
            st.rerun()


def _table(rows: list[links.LinkRow]) -> list[dict[str, Any]]:
    # Order first: at 1,400 px the last column was cut off, and the order id is what people quote.
    return [{
        "Order": r.order_id, "Created": kuwait_time(r.created_at), "Status": r.status_label,
        "Amount": money(r.amount_fils, r.currency), "Customer": r.customer_name or "",
        "Mobile": r.customer_phone or "", "For": r.description or "", "Created by": r.created_by or "",
        "Age": ago(r.created_at),
    } for r in rows]


#: Widths that let every column show at 1,400 px (the free text "For" gives way).
TABLE_COLUMNS = {"Order": st.column_config.TextColumn(width="medium"),
                 "For": st.column_config.TextColumn(width="small")}


@st.fragment(run_every="3s")
def _links_list() -> None:
    """The list, refreshed every 3 s from the cache; awaiting links get a (rate-limited) verified look-up."""
    left, mid, right = st.columns([2, 2, 3])
    with left:
        status = st.selectbox("Status", ["", *links.LINK_STATUSES], key="links_status",
                              format_func=lambda s: links.STATUS_LABELS.get(s, "All"))
    with mid:
        mine = st.toggle("Only my links", value=actor.role == "sales", key="links_mine")
    creator = None
    page_no = st.session_state.get("links_page", 1)
    try:
        with right:
            if not mine and actor.can(Action.VIEW_ALL_LINKS):
                creator = st.selectbox("Created by", ["", *links.link_creators(engine, actor)],
                                       key="links_creator", format_func=lambda e: plain(e) or "Anyone") or None
        result = links.list_links(engine, actor, status=status or None, created_by=creator, mine_only=mine,
                                        page=page_no, page_size=PAGE_SIZE)
        awaiting = [r.pk for r in result.rows if r.status == "awaiting"]
        if awaiting and links.refresh_awaiting(engine, state.gateway(), actor, payment_pks=awaiting):
            result = links.list_links(engine, actor, status=status or None, created_by=creator,
                                            mine_only=mine, page=page_no, page_size=PAGE_SIZE)
    except Exception as exc:
        show_error(exc)
        return
    if not result.rows:
        st.info("No payment links match." if status or creator else "No payment links yet.")
        return
    event = st.dataframe(cells(_table(result.rows)), key="links_table", on_select="rerun", selection_mode="single-row",
                         hide_index=True, width="stretch", column_config=TABLE_COLUMNS)
    pages = page_count(result.total, PAGE_SIZE)
    st.caption(f"{result.total:,} link{'s' if result.total != 1 else ''} · updates every few seconds")
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
        st.caption("Select a link in the table to see its timeline, share it again or send a reminder.")
        return
    try:
        detail = links.link_detail(engine, actor, payment_pk=pk)
    except Exception as exc:
        show_error(exc)
        return
    row = detail.row
    with st.container(border=True, key="link_detail"):
        st.subheader(f"Link {md(row.order_id)}")

        @st.fragment(run_every="3s")
        def live() -> None:
            try:
                fresh = links.link_detail(engine, actor, payment_pk=pk)
            except Exception as exc:
                show_error(exc)
                return
            if fresh.row.status != row.status:  # the share controls follow the state
                st.rerun(scope="app")
            _status_line(fresh.row)
            st.dataframe(cells({"When (Kuwait)": kuwait_time(e.at, seconds=True), "What": e.label, "Who": e.actor or ""}
                               for e in fresh.timeline), hide_index=True, width="stretch", key="link_timeline")

        live()
        if detail.reason:
            st.error(f"Why it was not created: {md(detail.reason)}")
        st.caption(f"For: {md(row.description or '—')} · customer: {md(row.customer_name or '—')} "
                   f"{md(row.customer_phone or '')} · created by {md(row.created_by or '—')} {ago(row.created_at)}")
        customer_page_link(actor, pk, has_contact=bool(row.customer_phone or row.customer_email))
        _share_panel(row, f"d{pk}")
        if can_share and row.status == "awaiting" and row.link_url:
            ctx = links.context_for(row, shop_name=settings.shop_name, shop_name_ar=settings.shop_name_ar)
            reminder = links.share_links(ctx, phone_e164=row.customer_phone, email=row.customer_email,
                                         reminder=True)
            st.link_button("Send a reminder on WhatsApp", reminder.whatsapp, key=f"d{pk}_remind",
                           on_click=_record, args=(pk, "whatsapp", True), icon=":material/notifications:")
        if can_check and row.status in ("awaiting", "uncertain"):
            st.button("Check again with the gateway", key=f"d{pk}_check", on_click=_check, args=(pk,),
                      icon=":material/sync:")
        with st.expander("Gateway details"):
            st.dataframe(cells({"Field": k, "Value": "" if v is None else str(v)} for k, v in detail.gateway.items()),
                         hide_index=True, width="stretch")


st.title("Payment links")
if "links_error" in st.session_state:
    show_error(st.session_state.pop("links_error"))
if "links_notice" in st.session_state:
    st.info(md(st.session_state.pop("links_notice")))
if can_create:
    if st.session_state.get("nl_last") is not None:
        _outcome_panel()
    else:
        _new_link_form()
st.header("Links", divider="gray")
_links_list()
_detail()
