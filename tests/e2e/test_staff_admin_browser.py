"""A new colleague from invitation to deactivation in a real browser (Debian's chromium): an
admin invites them on the staff page, they set a password through the mailed link and work;
the admin deactivates the account and their open session ends at once."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.test_staff_browser import log_in
from tests.factories import make_staff
from tests.responder.test_staff_admin import _mails_to

DESKTOP = {"width": 1280, "height": 900}
LINK = re.compile(r"/invitation/([A-Za-z0-9_-]+)")
NEW_PASSWORD = "a long new password 7"


def test_an_invited_colleague_sets_a_password_works_and_is_deactivated(
    db, demo, running_responder, new_page, screenshot
):
    """The invitation goes out as mail; its link sets the password and logs in; deactivated,
    the colleague's next click lands on the login page."""
    make_staff(db, "boss", "admin")
    admin = new_page(viewport=DESKTOP)
    log_in(admin, running_responder, "boss")
    expect(admin.get_by_role("heading", level=1)).to_have_text("案件")
    admin.goto(running_responder + "/admin/staff/invite")
    admin.locator("#username").fill("wang.li")
    admin.locator("#display_name").fill("王丽")
    admin.locator("#email").fill("wangli@example.cn")
    admin.locator("#role").select_option(value="officer")
    admin.locator("input[name=offices][value=cyber]").check()
    screenshot(admin, "staff-admin-1-invite")
    admin.locator("form.narrow button[type=submit]").click()
    expect(admin.get_by_role("heading", level=1)).to_have_text("王丽")

    mails = _mails_to(db, "wangli@example.cn")
    assert len(mails) == 1
    token = LINK.search(mails[0].body_text).group(1)

    colleague = new_page(viewport=DESKTOP)
    colleague.goto(f"{running_responder}/invitation/{token}")
    colleague.locator("#new_password").fill(NEW_PASSWORD)
    colleague.locator("#confirm_password").fill(NEW_PASSWORD)
    screenshot(colleague, "staff-admin-2-set-password")
    colleague.locator("form.narrow button[type=submit]").click()
    expect(colleague.get_by_role("heading", level=1)).to_have_text("案件")

    # The link worked once: opened again, it no longer does.
    again = new_page(viewport=DESKTOP)
    response = again.goto(f"{running_responder}/invitation/{token}")
    assert response.status == 404

    admin.reload()
    admin.locator("form[action$='/active'] button").click()
    expect(admin.locator(".flash")).to_be_visible()
    screenshot(admin, "staff-admin-3-deactivated")
    colleague.reload()
    expect(colleague).to_have_url(re.compile(r"/login"))
    log_in(colleague, running_responder, "wang.li", NEW_PASSWORD)
    expect(colleague).to_have_url(re.compile(r"/login"))
