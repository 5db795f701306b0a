"""Staff list, roles and the permission matrix, at the service layer."""

from __future__ import annotations

import pytest

from services.audit import verify
from services.permissions import MATRIX, Action, Actor, PermissionDenied, Role, allowed, require
from services.staff import StaffError, add_staff, bootstrap_admins, change_role, list_staff, remove_staff, resolve_actor
from tests.factories import make_db, make_staff


def test_matrix_is_what_the_product_promises() -> None:
    assert MATRIX[Role.ADMIN] == frozenset(Action)
    assert allowed("finance", Action.REQUEST_REFUND) and allowed("finance", Action.APPROVE_REFUND)
    assert allowed("sales", Action.CREATE_LINK) and not allowed("sales", Action.REQUEST_REFUND)
    assert not allowed("sales", Action.VIEW_ANALYTICS)
    assert not allowed("viewer", Action.CREATE_LINK) and not allowed("viewer", Action.REQUEST_REFUND)
    assert not allowed("viewer", Action.EXPORT_TRANSACTIONS)
    assert not allowed("nobody", Action.VIEW_TRANSACTIONS)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", list(Action))
def test_require_follows_the_matrix_for_every_role_and_action(role: Role, action: Action) -> None:
    actor = Actor(email="x@shop.test", role=role)
    if action in MATRIX[role]:
        assert require(actor, action) is actor
    else:
        with pytest.raises(PermissionDenied, match="Not allowed"):
            require(actor, action)


def test_anonymous_is_refused_everything() -> None:
    for action in Action:
        with pytest.raises(PermissionDenied):
            require(None, action)


def test_unknown_email_has_no_access_and_admins_bootstrap(tmp_path) -> None:
    engine = make_db(tmp_path)
    assert resolve_actor(engine, "stranger@example.com") is None
    assert bootstrap_admins(engine, ["Boss@Shop.test"]) == 1
    assert bootstrap_admins(engine, ["boss@shop.test"]) == 0
    boss = resolve_actor(engine, "BOSS@shop.test")
    assert boss is not None and boss.role == Role.ADMIN


@pytest.mark.parametrize("role", list(Role))
def test_staff_changes_are_admin_only(tmp_path, role: Role) -> None:
    engine = make_db(tmp_path)
    make_staff(engine, Role.ADMIN, "root@shop.test")
    actor = make_staff(engine, role)
    calls = [
        lambda: add_staff(engine, actor, email="new@shop.test", role="viewer"),
        lambda: change_role(engine, actor, email="root@shop.test", role="admin"),
        lambda: list_staff(engine, actor),
    ]
    for call in calls:
        if role == Role.ADMIN:
            call()
        else:
            with pytest.raises(PermissionDenied):
                call()
    if role != Role.ADMIN:
        with pytest.raises(PermissionDenied):
            remove_staff(engine, actor, email="root@shop.test")


def test_add_change_remove_and_last_admin_rule(tmp_path) -> None:
    engine = make_db(tmp_path)
    bootstrap_admins(engine, ["root@shop.test"])
    root = resolve_actor(engine, "root@shop.test")
    assert root is not None
    add_staff(engine, root, email="Sara@Shop.test", role="sales", name="Sara")
    assert resolve_actor(engine, "sara@shop.test") == Actor("sara@shop.test", Role.SALES, "Sara")
    with pytest.raises(StaffError, match="already"):
        add_staff(engine, root, email="sara@shop.test", role="viewer")
    with pytest.raises(StaffError, match="valid e-mail"):
        add_staff(engine, root, email="not-an-email", role="viewer")
    with pytest.raises(StaffError, match="Unknown role"):
        add_staff(engine, root, email="x@shop.test", role="owner")
    with pytest.raises(StaffError, match="last admin"):
        remove_staff(engine, root, email="root@shop.test")
    with pytest.raises(StaffError, match="last admin"):
        change_role(engine, root, email="root@shop.test", role="viewer")
    change_role(engine, root, email="sara@shop.test", role="admin")
    remove_staff(engine, root, email="root@shop.test")  # Sara is admin now, so this is allowed
    assert resolve_actor(engine, "root@shop.test") is None
    emails = {p.email for p in list_staff(engine, resolve_actor(engine, "sara@shop.test"))}  # type: ignore[arg-type]
    assert emails == {"sara@shop.test"}
    result = verify(engine)
    assert result.ok and result.checked == 4
