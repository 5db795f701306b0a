"""Staff & roles (admin): who may use the dashboard and with which role."""

from __future__ import annotations

import streamlit as st

from dashboard import state
from dashboard.errors import show_error
from dashboard.formatting import kuwait_time
from dashboard.safe import cells, md, plain
from services import staff
from services.permissions import Role

actor = state.actor()
engine = state.engine()
st.title("Staff & roles")
st.caption("People log in with their company account; only e-mails on this list get in, with the role shown.")

ROLES = [role.value for role in Role]

try:
    people = staff.list_staff(engine, actor)
except Exception as exc:
    show_error(exc)
    st.stop()

st.dataframe(
    cells([{"E-mail": p.email, "Name": p.name or "", "Role": p.role, "Added by": p.added_by or "",
      "Since": kuwait_time(p.created_at)} for p in people]),
    hide_index=True, width="stretch",
)

left, right = st.columns(2)
with left, st.form("add_staff", clear_on_submit=True):
    st.subheader("Add a person")
    email = st.text_input("E-mail", key="add_email")
    name = st.text_input("Name (optional)", key="add_name")
    role = st.selectbox("Role", ROLES, index=ROLES.index("viewer"), key="add_role")
    if st.form_submit_button("Add"):
        try:
            staff.add_staff(engine, actor, email=email, role=role, name=name or None)
            st.success(f"{md(email)} can now log in as {md(role)}.")
            st.rerun()
        except Exception as exc:
            show_error(exc)

with right, st.form("change_staff"):
    st.subheader("Change or remove")
    who = st.selectbox("Person", [p.email for p in people], key="change_who", format_func=plain)
    new_role = st.selectbox("New role", ROLES, key="change_role")
    change, remove = st.columns(2)
    do_change = change.form_submit_button("Change role")
    do_remove = remove.form_submit_button("Remove access")
    if do_change or do_remove:
        try:
            if do_change:
                staff.change_role(engine, actor, email=who, role=new_role)
                st.success(f"{md(who)} is now {md(new_role)}.")
            else:
                staff.remove_staff(engine, actor, email=who)
                st.success(f"{md(who)} no longer has access.")
            st.rerun()
        except Exception as exc:
            show_error(exc)
