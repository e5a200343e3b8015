"""The JSON/HTTP API from Python with nothing but `requests` (Debian's python3-requests): a user walks
register -> login -> workspace -> base over REST only, and errors arrive as google.rpc.Status JSON.
Prints `rest interop: N passed, M failed`; exits non-zero on a failure."""
import email.utils
import json
import os
import sys
import traceback
import uuid

import requests

BASE = "http://" + os.environ.get("PYAIRTABLE_HTTP_ADDRESS", "127.0.0.1:50053")
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
TIMEOUT = 10
state = {}


def call(method, path, body=None, token=None, **kwargs):
    headers = {"authorization": "Bearer " + token} if token else {}
    return requests.request(method, BASE + path, json=body, headers=headers, timeout=TIMEOUT, **kwargs)


def test_register_and_login():
    email = f"rest.{uuid.uuid4().hex}@example.com"
    registered = call("POST", "/v1/auth:register", {"email": email, "password": "rest-walk-password-1A", "displayName": "Rest Walker"})
    assert registered.status_code == 200, registered.text
    assert registered.headers["content-type"].startswith("application/json")
    login = call("POST", "/v1/auth:login", {"email": email, "password": "rest-walk-password-1A"})
    assert login.status_code == 200, login.text
    body = login.json()
    assert body["userId"] == registered.json()["userId"]
    state["token"], state["user_id"] = body["tokens"]["accessToken"], body["userId"]
    me = call("GET", f"/v1/users/{state['user_id']}", token=state["token"]).json()
    assert me["user"]["displayName"] == "Rest Walker" and me["user"]["status"] == "USER_STATUS_ACTIVE", me


def test_v1_announces_its_deprecation_as_rfc_9745_and_8594_say_and_v2_does_not():
    v1 = call("GET", f"/v1/users/{state['user_id']}", token=state["token"])
    v2 = call("GET", f"/v2/users/{state['user_id']}", token=state["token"])
    assert v1.status_code == v2.status_code == 200, (v1.text, v2.text)
    # Deprecation is a structured-field date (RFC 9745: "@" and Unix seconds); Sunset an HTTP date (RFC 8594).
    deprecation = v1.headers["deprecation"]
    assert deprecation.startswith("@") and deprecation[1:].isdigit(), deprecation
    sunset = email.utils.parsedate_to_datetime(v1.headers["sunset"])
    assert int(deprecation[1:]) < sunset.timestamp(), (deprecation, sunset)
    assert "deprecation" not in v2.headers and "sunset" not in v2.headers, v2.headers
    assert v1.json()["user"] == v2.json()["user"]


def test_workspace_and_base():
    created = call("POST", "/v1/workspaces", {"name": "Walk workspace", "description": "made over REST"}, token=state["token"])
    assert created.status_code == 200, created.text
    workspace = created.json()["workspace"]
    base = call("POST", f"/v1/workspaces/{workspace['id']}/bases", {"name": "Walk base"}, token=state["token"])
    assert base.status_code == 200, base.text
    base_id = base.json()["base"]["id"]
    got = call("GET", f"/v1/bases/{base_id}", token=state["token"]).json()
    assert got["base"]["name"] == "Walk base" and got["base"]["workspaceId"] == workspace["id"], got
    listed = call("GET", f"/v1/workspaces/{workspace['id']}/bases", params={"pagination.page_size": "10"}, token=state["token"]).json()
    assert [b["id"] for b in listed["bases"]] == [base_id], listed


def test_errors_are_google_rpc_status():
    bad = call("POST", "/v1/workspaces", {"name": "x", "colour": "red"}, token=state["token"])
    assert bad.status_code == 400, bad.text
    status = bad.json()
    assert status["code"] == 3
    violations = [v for d in status["details"] if d["@type"].endswith("google.rpc.BadRequest") for v in d["fieldViolations"]]
    assert violations[0]["field"] == "colour", status
    info = next(d for d in status["details"] if d["@type"].endswith("google.rpc.ErrorInfo"))
    assert info["metadata"]["request_id"] == bad.headers["x-request-id"]
    missing = call("GET", f"/v1/bases/{uuid.uuid4()}", token=state["token"])
    assert missing.status_code in (403, 404), missing.text
    assert call("GET", f"/v1/users/{state['user_id']}").status_code == 401


def test_openapi_served_is_the_committed_document():
    served = requests.get(BASE + "/openapi.json", timeout=TIMEOUT)
    assert served.status_code == 200
    with open(os.path.join(ROOT, "openapi", "pyairtable.openapi.json"), encoding="utf-8") as committed:
        assert served.json() == json.load(committed)


passed = failed = 0
for name, test in [(n, f) for n, f in list(globals().items()) if n.startswith("test_") and callable(f)]:
    try:
        test()
        passed += 1
        print(f"ok   {name}")
    except Exception:  # noqa: BLE001 - report every failure, then go on
        failed += 1
        print(f"FAIL {name}\n{traceback.format_exc()}")
print(f"rest interop: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
