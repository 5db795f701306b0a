"""Staff & roles (admin): who may use the dashboard and with which role."""

from __future__ import annotations

import streamlit as st

from dashboard import state, tables
from dashboard.errors import show_error
from dashboard.formatting import kuwait_time
from dashboard.header import ROLE_LABELS
from dashboard.i18n import _
from dashboard.safe import md_iso, plain
from services import staff
from services.permissions import Role

actor = state.actor()
engine = state.engine()
st.title(_("Staff & roles"))
st.caption(_("People log in with their company account; only e-mails on this list get in, with the role shown."))

ROLES = [role.value for role in Role]

try:
    people = staff.list_staff(engine, actor)
except Exception as exc:
    show_error(exc)
    st.stop()

tables.dataframe(
    [{_("E-mail"): p.email, _("Name"): p.name or "", _("Role"): _(ROLE_LABELS.get(p.role, p.role)),
            _("Added by"): p.added_by or "", _("Since"): kuwait_time(p.created_at)} for p in people],
    width="stretch",
)

left, right = st.columns(2)
with left, st.form("add_staff", clear_on_submit=True):
    st.subheader(_("Add a person"))
    email = st.text_input(_("E-mail"), key="add_email")
    name = st.text_input(_("Name (optional)"), key="add_name")
    role = st.selectbox(_("Role"), ROLES, index=ROLES.index("viewer"), key="add_role",
                        format_func=lambda r: _(ROLE_LABELS[r]))
    if st.form_submit_button(_("Add")):
        try:
            staff.add_staff(engine, actor, email=email, role=role, name=name or None)
            st.success(_("{email} can now log in as {role}.").format(email=md_iso(email),
                                                                      role=_(ROLE_LABELS[role])))
            st.rerun()
        except Exception as exc:
            show_error(exc)

with right, st.form("change_staff"):
    st.subheader(_("Change or remove"))
    who = st.selectbox(_("Person"), [p.email for p in people], key="change_who", format_func=plain)
    new_role = st.selectbox(_("New role"), ROLES, key="change_role", format_func=lambda r: _(ROLE_LABELS[r]))
    change, remove = st.columns(2)
    do_change = change.form_submit_button(_("Change role"))
    do_remove = remove.form_submit_button(_("Remove access"))
    if do_change or do_remove:
        try:
            if do_change:
                staff.change_role(engine, actor, email=who, role=new_role)
                st.success(_("{email} is now {role}.").format(email=md_iso(who), role=_(ROLE_LABELS[new_role])))
            else:
                staff.remove_staff(engine, actor, email=who)
                st.success(_("{email} no longer has access.").format(email=md_iso(who)))
            st.rerun()
        except Exception as exc:
            show_error(exc)
