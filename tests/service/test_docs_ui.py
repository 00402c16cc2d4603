"""/docs: Swagger UI from the service itself, behind the login, on a complete schema."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

from tests.service.conftest import PASSWORD, Service, csrf_in
from tests.service.live import LiveServer
from tests.service.test_browser import ARGS, CHROMIUM, browser_server  # noqa: F401 (a fixture)

#: The attributes through which a page loads something.
REFERENCE = re.compile(r'\b(?:src|href)="([^"]*)"')


def _logged_in_at_docs(service: Service) -> tuple[TestClient, str]:
    """A browser that opened /docs, logged in, and was sent back: (it, the page)."""
    service.add_user("dora", "reviewer")
    browser = TestClient(service.client.app)
    sent = browser.get("/docs", follow_redirects=False)
    form = browser.get(sent.headers["location"])
    answer = browser.post(
        "/ui/login",
        data={
            "name": "dora",
            "password": PASSWORD,
            "csrf_token": csrf_in(form.text),
            "next": re.search(r'name="next" value="([^"]*)"', form.text).group(1),  # type: ignore[union-attr]
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/docs"
    page = browser.get("/docs")
    assert page.status_code == 200
    return browser, page.text


def test_docs_without_a_session_goes_to_the_login_page(service: Service) -> None:
    answer = service.client.get("/docs", headers={"accept": "text/html"}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/login?next=%2Fdocs"


def test_a_wrong_key_on_docs_is_still_an_error(service: Service) -> None:
    answer = service.client.get(
        "/docs", headers={"Authorization": "Bearer bst_wrong"}, follow_redirects=False
    )
    assert answer.status_code == 401


def test_login_returns_to_docs_and_the_page_is_swagger_ui(service: Service) -> None:
    _, page = _logged_in_at_docs(service)
    assert "swagger-ui-bundle.js" in page
    assert 'data-openapi="/openapi.json"' in page


def test_the_page_and_every_asset_it_references_come_from_the_server(service: Service) -> None:
    browser, page = _logged_in_at_docs(service)
    assert not re.search(r"https?://", page), "the page names another host"
    references = [ref for ref in REFERENCE.findall(page) if not ref.startswith("data:")]
    assert len(references) >= 3  # style sheet, Swagger UI, the script starting it
    for reference in references:
        assert not urlsplit(reference).netloc, reference
        assert browser.get(reference).status_code == 200, reference
    script = browser.get("/static/docs.js").text
    assert "validatorUrl: null" in script  # the validator badge would call validator.swagger.io


def test_a_key_can_be_entered_in_the_page(service: Service) -> None:
    """Swagger UI's Authorize button offers the schemes the schema declares."""
    schema = service.client.get("/openapi.json", headers=service.auth("client")).json()
    schemes = schema["components"]["securitySchemes"]
    assert {"type": "apiKey", "in": "header", "name": "X-API-Key"}.items() <= schemes[
        "apiKey"
    ].items()
    assert schemes["bearer"]["scheme"] == "bearer"
    assert {name for option in schema["security"] for name in option} == set(schemes)
    assert schema["paths"]["/v1/health"]["get"]["security"] == []


def test_login_never_sends_a_browser_to_another_host(service: Service) -> None:
    service.add_user("olga", "reviewer")
    browser = TestClient(service.client.app)
    outside = ["https://elsewhere.example", "//elsewhere.example", "/\\elsewhere.example"]
    for target in [*outside, "/\t/elsewhere.example", "/ui/\nLocation: //elsewhere.example"]:
        form = browser.get("/ui/login", params={"next": target})
        answer = browser.post(
            "/ui/login",
            data={
                "name": "olga",
                "password": PASSWORD,
                "csrf_token": csrf_in(form.text),
                "next": target,
            },
            follow_redirects=False,
        )
        assert answer.headers["location"] == "/ui/", target


def _problems(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    where = f"{method.upper()} {path}"
    problems = []
    if operation.get("summary") in (None, "", _default_summary(path, method, operation)):
        problems.append(f"{where}: no summary (only FastAPI's, made from the function's name)")
    success = [
        spec for status, spec in operation.get("responses", {}).items() if status.startswith("2")
    ]
    if not any(
        media.get("schema") for spec in success for media in spec.get("content", {}).values()
    ):
        problems.append(f"{where}: no response schema for success")
    for media in operation.get("requestBody", {}).get("content", {}).values():
        schema = media.get("schema", {})
        if not (media.get("example") or media.get("examples") or _has_example(schema)):
            problems.append(f"{where}: no example for its request body")
    return problems


SCHEMAS: dict[str, Any] = {}


def _default_summary(path: str, method: str, operation: dict[str, Any]) -> str:
    """What FastAPI calls an operation it was given no summary for: its function's
    name, title-cased (the operation id is that name, the path and the method)."""
    suffix = re.sub(r"\W", "_", path) + f"_{method}"
    name = operation["operationId"].removesuffix(suffix)
    return name.replace("_", " ").title()


def _has_example(schema: dict[str, Any]) -> bool:
    ref = schema.get("$ref")
    if ref:
        schema = SCHEMAS[ref.rsplit("/", 1)[-1]]
    return bool(schema.get("examples") or schema.get("example"))


def test_every_v1_operation_has_a_summary_a_response_schema_and_an_example(
    service: Service,
) -> None:
    schema = service.client.get("/openapi.json", headers=service.auth("client")).json()
    SCHEMAS.update(schema["components"]["schemas"])
    operations = [
        (path, method, operation)
        for path, methods in schema["paths"].items()
        if path.startswith("/v1/")
        for method, operation in methods.items()
    ]
    assert len(operations) >= 30
    problems = [found for args in operations for found in _problems(*args)]
    assert not problems, "\n".join(problems)


def test_swagger_ui_runs_under_the_pages_policy_in_a_browser(
    browser_server: LiveServer,  # noqa: F811 (the fixture imported above)
) -> None:
    """Log in from /docs and land back on it, with the operations and the Authorize
    button shown: the CSP blocks nothing and no request leaves the server."""
    from playwright.sync_api import expect, sync_playwright

    browser_server.state.accounts.add_user("dora", "admin", PASSWORD, actor="test")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        elsewhere: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on(
            "request",
            lambda r: (
                None if r.url.startswith((browser_server.url, "data:")) else elsewhere.append(r.url)
            ),
        )
        page.goto(f"{browser_server.url}/docs")
        page.get_by_label("User name").fill("dora")
        page.get_by_label("Password").fill(PASSWORD)
        page.keyboard.press("Enter")
        expect(page).to_have_url(f"{browser_server.url}/docs")
        # The schema is built on its first request: seconds on a busy machine.
        expect(page.locator(".opblock").first).to_be_visible(timeout=60_000)
        expect(page.get_by_role("button", name="Authorize")).to_be_visible()
        browser.close()
    assert not errors, errors
    assert not elsewhere, elsewhere


def test_every_body_example_is_a_valid_request() -> None:
    """An example a reader copies from /docs is accepted by the model it illustrates."""
    from pydantic import BaseModel

    from bastion.service.v1 import admin, banks, hashing, review, signals

    models = [
        value
        for module in (admin, banks, hashing, review, signals)
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, BaseModel) and value is not BaseModel
    ]
    examples = [
        (model, example)
        for model in models
        for example in model.model_json_schema().get("examples", [])
    ]
    assert len(examples) >= 9
    for model, example in examples:
        model.model_validate(example)
