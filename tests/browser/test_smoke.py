from tests.browser.conftest import screenshot


def test_index(page, xor_job):
    page.goto("/")
    page.get_by_role("link", name=xor_job["name"]).first.wait_for()
    screenshot(page, "index")
