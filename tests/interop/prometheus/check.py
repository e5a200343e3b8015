#!/usr/bin/env python3
"""Asks a Prometheus server (Debian's, started by test.sh) what it scraped from the interop host's /metrics.

Usage: check.py PROMETHEUS_URL. The interop suites have just called the host: their RPCs must be counted by method and
status code, through Prometheus' own query API (so the exposition format is one a real scraper accepts).
Prints "prometheus: N passed, M failed".
"""
import json
import sys
import time
import urllib.parse
import urllib.request

base = sys.argv[1].rstrip("/")
passed = failed = 0


def query(expr):
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.load(response)
    if body.get("status") != "success":
        raise RuntimeError(f"{expr}: {body}")
    return body["data"]["result"]


def check(name, condition, detail=""):
    global passed, failed
    if condition:
        passed += 1
        print(f"ok - {name}")
    else:
        failed += 1
        print(f"not ok - {name} {detail}")


def eventually(expr, accept, seconds=30):
    """The scrape runs every second; a fresh series can take a couple of rounds to be queryable."""
    deadline = time.monotonic() + seconds
    result = []
    while time.monotonic() < deadline:
        try:
            result = query(expr)
            if accept(result):
                return result
        except OSError:
            pass  # Prometheus still starting
        time.sleep(0.5)
    return result


up = eventually('up{job="pyairtable"}', lambda r: any(s["value"][1] == "1" for s in r))
check("the host's /metrics is scraped (up == 1)", any(s["value"][1] == "1" for s in up), up)

by_method = eventually('sum by (rpc_method) (rpc_server_call_duration_seconds_count{rpc_service="pyairtable.auth.v1.AuthService"})',
                       lambda r: {"Register", "Login"} <= {s["metric"].get("rpc_method") for s in r})
methods = {s["metric"].get("rpc_method"): float(s["value"][1]) for s in by_method}
for method in ("Register", "Login"):
    check(f"AuthService/{method} calls are counted", methods.get(method, 0) >= 1, methods)

users = eventually('sum(rpc_server_call_duration_seconds_count{rpc_service="pyairtable.users.v1.UserService",rpc_method="GetUser"})',
                   lambda r: r and float(r[0]["value"][1]) >= 1)
check("UserService/GetUser calls are counted", bool(users) and float(users[0]["value"][1]) >= 1, users)

# The suites provoke refusals on purpose (bad credentials, missing resources): errors are counted by their status code.
errors = eventually('sum by (rpc_grpc_status_code) (rpc_server_call_duration_seconds_count{rpc_grpc_status_code!="0"})', bool)
check("failed calls are counted by gRPC status code", len(errors) >= 1, errors)

latency = eventually('histogram_quantile(0.99, sum by (le) (rpc_server_call_duration_seconds_bucket))',
                     lambda r: r and r[0]["value"][1] not in ("NaN", "+Inf"))
check("the duration histogram answers a p99", bool(latency) and latency[0]["value"][1] not in ("NaN", "+Inf"), latency)

print(f"prometheus: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
