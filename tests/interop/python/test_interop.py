"""Calls the running PyAirtable host with nothing but stubs generated from protos/."""
import base64
import hashlib
import json
import mailbox
import os
import re
import sys
import time
import unittest
import uuid

import hmac
import http.server
import threading

import grpc
import jwt
from google.protobuf import descriptor_pb2

from google.rpc import error_details_pb2, status_pb2
from grpc_std.health.v1 import health_pb2 as std_health_pb2, health_pb2_grpc as std_health_grpc
from grpc_std.reflection.v1 import reflection_pb2 as refl_v1, reflection_pb2_grpc as refl_v1_grpc
from grpc_std.reflection.v1alpha import reflection_pb2 as refl_v1alpha, reflection_pb2_grpc as refl_v1alpha_grpc
from pyairtable.analytics.v1 import analytics_pb2, analytics_pb2_grpc
from pyairtable.auth.v1 import auth_pb2, auth_pb2_grpc
from pyairtable.common.v1 import common_pb2
from pyairtable.events.v1 import events_pb2
from pyairtable.files.v1 import files_pb2, files_pb2_grpc
from pyairtable.health.v1 import health_pb2, health_pb2_grpc
from pyairtable.notifications.v1 import notifications_pb2, notifications_pb2_grpc
from pyairtable.permissions.v1 import permissions_pb2, permissions_pb2_grpc
from pyairtable.users.v1 import users_pb2, users_pb2_grpc
from pyairtable.users.v2 import users_pb2 as users_v2_pb2, users_pb2_grpc as users_v2_grpc
from pyairtable.webhooks.v1 import webhooks_pb2, webhooks_pb2_grpc
from pyairtable.workspaces.v1 import workspaces_pb2, workspaces_pb2_grpc

ADDRESS = os.environ.get("PYAIRTABLE_GRPC_ADDRESS", "127.0.0.1:50051")
# The Maildir of the SMTP server the host mails through (test.sh starts python3-aiosmtpd for it).
MAILDIR = os.environ.get("PYAIRTABLE_MAILDIR", "")
# The Redis the host streams its events to (host:port), and the host's key prefix (Redis:InstanceName).
REDIS = os.environ.get("PYAIRTABLE_REDIS", "")
REDIS_PREFIX = os.environ.get("PYAIRTABLE_REDIS_PREFIX", "pyairtable:")
TIMEOUT = 10  # seconds: every call has a deadline, so a hang fails instead of blocking
EXPECTED_SERVICES = {"pyairtable.health.v1.HealthService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"}


def status_details(error):
    """The google.rpc.Status the platform sends in grpc-status-details-bin."""
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            return status_pb2.Status.FromString(value)
    raise AssertionError("no grpc-status-details-bin trailer")


def detail(status, message_type):
    for any_detail in status.details:
        if any_detail.Is(message_type.DESCRIPTOR):
            value = message_type()
            any_detail.Unpack(value)
            return value
    raise AssertionError(f"no {message_type.DESCRIPTOR.full_name} detail")


def b64url_decode(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class InteropTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.channel = grpc.insecure_channel(ADDRESS)
        cls.health = health_pb2_grpc.HealthServiceStub(cls.channel)
        cls.auth = auth_pb2_grpc.AuthServiceStub(cls.channel)
        cls.users = users_pb2_grpc.UserServiceStub(cls.channel)
        cls.users_v2 = users_v2_grpc.UserServiceStub(cls.channel)
        cls.workspaces = workspaces_pb2_grpc.WorkspaceServiceStub(cls.channel)
        cls.permissions = permissions_pb2_grpc.PermissionServiceStub(cls.channel)
        cls.analytics = analytics_pb2_grpc.AnalyticsServiceStub(cls.channel)
        cls.files = files_pb2_grpc.FileServiceStub(cls.channel)
        cls.webhooks = webhooks_pb2_grpc.WebhookServiceStub(cls.channel)
        cls.notifications = notifications_pb2_grpc.NotificationServiceStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()

    def test_unary_check_reports_every_dependency(self):
        response = self.health.Check(health_pb2.CheckRequest(service=""), timeout=TIMEOUT)
        self.assertEqual(response.status, common_pb2.HEALTH_STATUS_SERVING)
        self.assertEqual([d.name for d in response.dependencies], ["postgres", "redis", "redis-eviction", "shutdown"])
        self.assertTrue(all(d.status == common_pb2.HEALTH_STATUS_SERVING for d in response.dependencies))
        self.assertTrue(response.HasField("checked_at"))
        self.assertGreater(response.checked_at.seconds, 1_700_000_000)

    def test_server_stream_watch_sends_current_status_first(self):
        call = self.health.Watch(health_pb2.WatchRequest(service=""), timeout=TIMEOUT)
        first = next(call)
        call.cancel()
        self.assertEqual(first.health.status, common_pb2.HEALTH_STATUS_SERVING)

    def test_invalid_argument_carries_error_info_and_bad_request(self):
        with self.assertRaises(grpc.RpcError) as caught:
            self.health.Check(health_pb2.CheckRequest(service="not a service name"), timeout=TIMEOUT)
        error = caught.exception
        self.assertEqual(error.code(), grpc.StatusCode.INVALID_ARGUMENT)
        status = status_details(error)
        self.assertEqual(status.code, grpc.StatusCode.INVALID_ARGUMENT.value[0])
        info = detail(status, error_details_pb2.ErrorInfo)
        self.assertEqual(info.reason, "ERROR_CODE_INVALID_ARGUMENT")
        self.assertEqual(common_pb2.ErrorCode.Value(info.reason), common_pb2.ERROR_CODE_INVALID_ARGUMENT)
        self.assertEqual(info.domain, "pyairtable.dev")
        self.assertTrue(info.metadata["request_id"])
        bad_request = detail(status, error_details_pb2.BadRequest)
        self.assertEqual([v.field for v in bad_request.field_violations], ["service"])

    def test_not_found_carries_error_info(self):
        with self.assertRaises(grpc.RpcError) as caught:
            self.health.Check(health_pb2.CheckRequest(service="pyairtable.nope.v1.NopeService"), timeout=TIMEOUT)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.assertEqual(detail(status_details(caught.exception), error_details_pb2.ErrorInfo).reason, "ERROR_CODE_NOT_FOUND")

    def test_request_id_round_trips(self):
        request_id = "interop-" + uuid.uuid4().hex
        _, call = self.health.Check.with_call(
            health_pb2.CheckRequest(), metadata=(("x-request-id", request_id),), timeout=TIMEOUT)
        self.assertIn(("x-request-id", request_id), list(call.initial_metadata()))

    def test_standard_health_check_and_watch(self):
        standard = std_health_grpc.HealthStub(self.channel)
        check = standard.Check(std_health_pb2.HealthCheckRequest(service=""), timeout=TIMEOUT)
        self.assertEqual(check.status, std_health_pb2.HealthCheckResponse.SERVING)
        for service in ("", "pyairtable.health.v1.HealthService"):
            watch = standard.Watch(std_health_pb2.HealthCheckRequest(service=service), timeout=TIMEOUT)
            first = next(watch)
            watch.cancel()
            self.assertEqual(first.status, std_health_pb2.HealthCheckResponse.SERVING, f"Watch({service!r})")

    def reflect(self, module, grpc_module, request):
        stub = grpc_module.ServerReflectionStub(self.channel)
        responses = stub.ServerReflectionInfo(iter([request]), timeout=TIMEOUT)
        return next(responses)

    def test_reflection_v1_lists_and_describes_services(self):
        listed = self.reflect(refl_v1, refl_v1_grpc, refl_v1.ServerReflectionRequest(list_services=""))
        self.assertLessEqual(EXPECTED_SERVICES, {s.name for s in listed.list_services_response.service})

        described = self.reflect(refl_v1, refl_v1_grpc,
                                 refl_v1.ServerReflectionRequest(file_containing_symbol="pyairtable.health.v1.HealthService"))
        files = [descriptor_pb2.FileDescriptorProto.FromString(b)
                 for b in described.file_descriptor_response.file_descriptor_proto]
        health = next((f for f in files if f.package == "pyairtable.health.v1"), None)
        self.assertIsNotNone(health, f"no pyairtable.health.v1 file among {[f.name for f in files]}")
        service = next((s for s in health.service if s.name == "HealthService"), None)
        self.assertIsNotNone(service, "HealthService is not described")
        self.assertEqual([m.name for m in service.method], ["Check", "ListCircuitBreakers", "Watch"])
        self.assertTrue(next(m for m in service.method if m.name == "Watch").server_streaming)

    def test_reflection_v1alpha_lists_services(self):
        listed = self.reflect(refl_v1alpha, refl_v1alpha_grpc, refl_v1alpha.ServerReflectionRequest(list_services=""))
        self.assertLessEqual(EXPECTED_SERVICES, {s.name for s in listed.list_services_response.service})

    def test_client_stream_ingest_metrics_then_query_own_workspace(self):
        _, _, _, owner = self.register_and_login()
        as_owner = (("authorization", f"Bearer {owner.tokens.access_token}"),)
        workspace = self.workspaces.CreateWorkspace(workspaces_pb2.CreateWorkspaceRequest(name="Python metrics"),
                                                    metadata=as_owner, timeout=TIMEOUT).workspace
        endpoint = "/python/" + uuid.uuid4().hex

        def metric(ms, status):
            m = analytics_pb2.ApiMetrics(endpoint=endpoint, method=analytics_pb2.HTTP_METHOD_GET,
                                         protocol=analytics_pb2.CALL_PROTOCOL_HTTP, status_code=status,
                                         response_time_ms=ms, workspace_id=workspace.id)
            m.timestamp.GetCurrentTime()
            return m

        def messages():
            yield analytics_pb2.IngestMetricsRequest(metrics=[metric(ms, 200) for ms in range(1, 10)])
            yield analytics_pb2.IngestMetricsRequest(metrics=[metric(10, 500), metric(5, 999)])

        ingested = self.analytics.IngestMetrics(messages(), metadata=as_owner, timeout=TIMEOUT)
        self.assertEqual((ingested.accepted, ingested.rejected), (10, 1))
        self.assertEqual((ingested.rejections[0].index, ingested.rejections[0].field), (10, "status_code"))

        query = analytics_pb2.QueryMetricsRequest(workspace_id=workspace.id, endpoint=endpoint)
        query.start_time.FromSeconds(int(time.time()) - 600)
        query.end_time.FromSeconds(int(time.time()) + 60)
        total = self.analytics.QueryMetrics(query, metadata=as_owner, timeout=TIMEOUT).total
        self.assertEqual((total.count, total.error_count), (10, 1))
        self.assertAlmostEqual(total.error_rate, 0.1)
        self.assertTrue(4.5 <= total.p50.ToMilliseconds() <= 5.5)

    def register_and_login(self):
        """A fresh account: its e-mail, display name, password and LoginResponse."""
        email = f"interop-{uuid.uuid4().hex}@example.com"
        display_name = "Python Interop " + uuid.uuid4().hex[:8]
        password = "pw-" + uuid.uuid4().hex  # well over the 10-character minimum
        registered = self.auth.Register(
            auth_pb2.RegisterRequest(email=email, password=password, display_name=display_name), timeout=TIMEOUT)
        self.assertTrue(registered.user_id)
        self.assertEqual(registered.email, email)
        login = self.auth.Login(auth_pb2.LoginRequest(email=email, password=password), timeout=TIMEOUT)
        self.assertEqual(login.user_id, registered.user_id)
        self.assertEqual(login.tokens.token_type, "Bearer")
        self.assertTrue(login.tokens.access_token)
        self.assertTrue(login.tokens.refresh_token)
        return email, display_name, password, login

    def test_register_login_verify_jwt_against_jwks_and_get_own_user(self):
        email, display_name, _, login = self.register_and_login()
        token = login.tokens.access_token

        jwks = self.auth.GetJwks(auth_pb2.GetJwksRequest(), timeout=TIMEOUT)
        self.assertTrue(jwks.issuer)
        self.assertTrue(jwks.audience)
        self.assertTrue(jwks.keys)
        header = jwt.get_unverified_header(token)
        # ES256 for keys made since it became the default; RS256 for older keys (or Auth:SigningAlgorithm=RS256) until rotated.
        alg = header["alg"]
        self.assertIn(alg, ("ES256", "RS256"))
        kid = header["kid"]
        # The JSON document and the typed keys describe the same key set.
        key_set = jwt.PyJWKSet.from_json(jwks.jwks_json)
        self.assertEqual([k.key_id for k in key_set.keys], [k.kid for k in jwks.keys])
        typed = next((k for k in jwks.keys if k.kid == kid), None)
        self.assertIsNotNone(typed, f"the token's kid {kid!r} is not in the JWKS {[k.kid for k in jwks.keys]}")
        public_key = key_set[kid].key
        if alg == "ES256":
            self.assertEqual((typed.kty, typed.use, typed.alg, typed.crv), ("EC", "sig", "ES256", "P-256"))
            from_typed = jwt.algorithms.ECAlgorithm.from_jwk(
                json.dumps({"kty": typed.kty, "kid": typed.kid, "crv": typed.crv, "x": typed.x, "y": typed.y}))
        else:
            self.assertEqual((typed.kty, typed.use, typed.alg), ("RSA", "sig", "RS256"))
            from_typed = jwt.algorithms.RSAAlgorithm.from_jwk(
                json.dumps({"kty": typed.kty, "kid": typed.kid, "n": typed.n, "e": typed.e}))
        self.assertEqual(from_typed.public_numbers(), public_key.public_numbers())

        claims = jwt.decode(token, public_key, algorithms=[alg], audience=jwks.audience, issuer=jwks.issuer,
                            options={"require": ["exp", "iat", "iss", "aud", "sub"]})
        self.assertEqual(claims["sub"], login.user_id)
        self.assertEqual(claims["iss"], jwks.issuer)
        self.assertEqual(claims["aud"], jwks.audience)
        self.assertGreater(claims["exp"], time.time())
        self.assertLessEqual(claims["iat"], time.time() + 60)
        self.assertEqual(claims["exp"], login.tokens.access_token_expires_at.seconds)

        # A token whose payload was altered no longer verifies with the same key.
        head, payload, signature = token.split(".")
        forged_claims = dict(json.loads(b64url_decode(payload)), sub=str(uuid.uuid4()))
        forged_payload = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=").decode()
        with self.assertRaises(jwt.InvalidSignatureError):
            jwt.decode(f"{head}.{forged_payload}.{signature}", public_key, algorithms=[alg],
                       audience=jwks.audience, issuer=jwks.issuer)

        bearer = (("authorization", f"Bearer {token}"),)
        response = self.users.GetUser(users_pb2.GetUserRequest(user_id=login.user_id), metadata=bearer, timeout=TIMEOUT)
        self.assertFalse(response.not_modified)
        self.assertEqual(response.user.id, login.user_id)
        self.assertEqual(response.user.email, email)
        self.assertEqual(response.user.display_name, display_name)
        self.assertEqual(response.user.status, users_pb2.USER_STATUS_ACTIVE)
        self.assertTrue(response.user.etag)
        self.assertEqual(response.cache.etag, response.user.etag)
        again = self.users.GetUser(users_pb2.GetUserRequest(user_id=login.user_id, if_none_match=response.user.etag),
                                   metadata=bearer, timeout=TIMEOUT)
        self.assertTrue(again.not_modified)
        self.assertFalse(again.HasField("user"))

    def test_users_v2_reads_the_same_profile_as_v1_and_pages_with_page_tokens(self):
        # v1 is marked deprecated in the protos, so generated code can warn; v2 is not.
        self.assertTrue(users_pb2.DESCRIPTOR.services_by_name["UserService"].GetOptions().deprecated)
        self.assertFalse(users_v2_pb2.DESCRIPTOR.services_by_name["UserService"].GetOptions().deprecated)
        _, display_name, _, login = self.register_and_login()
        bearer = (("authorization", f"Bearer {login.tokens.access_token}"),)

        v1 = self.users.GetUser(users_pb2.GetUserRequest(user_id=login.user_id), metadata=bearer, timeout=TIMEOUT)
        v2 = self.users_v2.GetUser(users_v2_pb2.GetUserRequest(user_id=login.user_id), metadata=bearer, timeout=TIMEOUT)
        self.assertEqual((v2.user.id, v2.user.display_name, v2.user.etag), (login.user_id, display_name, v1.user.etag))
        self.assertEqual(v2.user.status, users_pb2.USER_STATUS_ACTIVE)

        # AIP-158: a plain user lists themself, one page, no next token.
        page = self.users_v2.ListUsers(users_v2_pb2.ListUsersRequest(page_size=1), metadata=bearer, timeout=TIMEOUT)
        self.assertEqual([u.id for u in page.users], [login.user_id])
        self.assertEqual((page.next_page_token, page.total_size), ("", 1))
        with self.assertRaises(grpc.RpcError) as caught:
            self.users_v2.ListUsers(users_v2_pb2.ListUsersRequest(page_token="not-a-token"), metadata=bearer, timeout=TIMEOUT)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        violations = detail(status_details(caught.exception), error_details_pb2.BadRequest).field_violations
        self.assertEqual([v.field for v in violations], ["page_token"])

    def test_get_user_without_credentials_is_unauthenticated(self):
        with self.assertRaises(grpc.RpcError) as caught:
            self.users.GetUser(users_pb2.GetUserRequest(user_id=str(uuid.uuid4())), timeout=TIMEOUT)
        error = caught.exception
        self.assertEqual(error.code(), grpc.StatusCode.UNAUTHENTICATED)
        status = status_details(error)
        self.assertEqual(status.code, 16)
        info = detail(status, error_details_pb2.ErrorInfo)
        self.assertEqual(info.domain, "pyairtable.dev")
        self.assertEqual(info.reason, "ERROR_CODE_UNAUTHENTICATED")
        self.assertEqual(info.metadata["cause"], "missing_credentials")

    def test_refresh_rotates_and_reusing_a_spent_refresh_token_is_refused(self):
        _, _, _, login = self.register_and_login()
        old = login.tokens.refresh_token
        refreshed = self.auth.Refresh(auth_pb2.RefreshRequest(refresh_token=old), timeout=TIMEOUT)
        self.assertTrue(refreshed.tokens.refresh_token)
        self.assertNotEqual(refreshed.tokens.refresh_token, old)
        self.assertTrue(refreshed.tokens.access_token)
        with self.assertRaises(grpc.RpcError) as caught:
            self.auth.Refresh(auth_pb2.RefreshRequest(refresh_token=old), timeout=TIMEOUT)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        info = detail(status_details(caught.exception), error_details_pb2.ErrorInfo)
        self.assertEqual(info.reason, "ERROR_CODE_UNAUTHENTICATED")
        self.assertEqual(info.metadata["cause"], "refresh_token_reused")
        # The reuse ended the session: the refresh token issued after the spent one is refused too.
        with self.assertRaises(grpc.RpcError) as caught:
            self.auth.Refresh(auth_pb2.RefreshRequest(refresh_token=refreshed.tokens.refresh_token), timeout=TIMEOUT)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAUTHENTICATED)

    def test_register_with_invalid_email_is_invalid_argument(self):
        with self.assertRaises(grpc.RpcError) as caught:
            self.auth.Register(auth_pb2.RegisterRequest(
                email="x' OR 1=1 --", password="pw-" + uuid.uuid4().hex, display_name="Interop"), timeout=TIMEOUT)
        error = caught.exception
        self.assertEqual(error.code(), grpc.StatusCode.INVALID_ARGUMENT)
        status = status_details(error)
        self.assertEqual(detail(status, error_details_pb2.ErrorInfo).reason, "ERROR_CODE_INVALID_ARGUMENT")
        bad_request = detail(status, error_details_pb2.BadRequest)
        self.assertIn("email", [v.field for v in bad_request.field_violations])

    def test_event_read_from_the_stream_decodes_with_stubs_from_protos(self):
        self.assertTrue(REDIS, "set PYAIRTABLE_REDIS to the host's Redis (host:port); test.sh does")
        import redis
        from google.protobuf import descriptor_pool, symbol_database

        _, display_name, _, login = self.register_and_login()
        host, port = REDIS.rsplit(":", 1)
        client = redis.Redis(host=host, port=int(port), socket_timeout=TIMEOUT)
        found = None
        deadline = time.time() + 15
        while found is None and time.time() < deadline:
            for part in range(8):  # platform.event_partitions: eight partition streams
                for entry_id, fields in client.xrange(f"{REDIS_PREFIX}events:{part}"):
                    envelope = events_pb2.EventEnvelope.FromString(fields[b"e"])
                    # Decode by the CloudEvents type alone, as a generic consumer would: it names the message.
                    # A type these stubs do not know (a newer writer) is skipped, not an error.
                    try:
                        message_class = symbol_database.Default().GetSymbol(envelope.type)
                    except KeyError:
                        continue
                    data = message_class.FromString(envelope.data)
                    if envelope.type == "pyairtable.events.v1.UserRegistered" and data.user_id == login.user_id:
                        found = (entry_id, fields, envelope, data)
            if found is None:
                time.sleep(0.2)
        self.assertIsNotNone(found, "the UserRegistered event reached the stream")
        entry_id, fields, envelope, data = found
        self.assertIsInstance(data, events_pb2.UserRegistered)
        self.assertEqual(data.display_name, display_name)
        self.assertEqual((envelope.spec_version, envelope.data_content_type), ("1.0", "application/protobuf"))
        self.assertEqual((envelope.subject, envelope.aggregate_type), (login.user_id, "user"))
        self.assertEqual(envelope.source, "/pyairtable.users.v1.UserService")
        self.assertEqual(envelope.sequence, int(entry_id.split(b"-")[0]))  # the entry id is the stream position
        self.assertGreater(int(fields[b"p"]), 0)
        self.assertGreater(envelope.time.seconds, time.time() - 300)
        uuid.UUID(envelope.id)
        self.assertIsNotNone(descriptor_pool.Default().FindMessageTypeByName(envelope.type))

    def test_undecodable_bytes_to_anonymous_login_are_invalid_argument(self):
        # What an attacker sends without stubs: raw bytes that are no LoginRequest (a truncated length-delimited field).
        login = self.channel.unary_unary("/pyairtable.auth.v1.AuthService/Login",
                                         request_serializer=lambda b: b, response_deserializer=lambda b: b)
        for payload in (b"\x0a\xff\xff\xff\x0f", b"\x0a\x05ab", b"\x12\x03\xff\xfe\xfd"):
            with self.assertRaises(grpc.RpcError) as caught:
                login(payload, timeout=TIMEOUT)
            error = caught.exception
            self.assertEqual(error.code(), grpc.StatusCode.INVALID_ARGUMENT, payload)
            info = detail(status_details(error), error_details_pb2.ErrorInfo)
            self.assertEqual(info.reason, "ERROR_CODE_INVALID_ARGUMENT")
            self.assertTrue(info.metadata["request_id"])


    def shared_workspace(self):
        """An owner's workspace with one base, shared with a second user at read: both logins, the workspace and the base."""
        _, _, _, owner = self.register_and_login()
        as_owner = (("authorization", f"Bearer {owner.tokens.access_token}"),)
        created = self.workspaces.CreateWorkspace(
            workspaces_pb2.CreateWorkspaceRequest(name="Interop " + uuid.uuid4().hex[:8], description="from Python"),
            metadata=as_owner, timeout=TIMEOUT)
        workspace = created.workspace
        self.assertTrue(workspace.id)
        self.assertEqual(workspace.created_by, owner.user_id)
        self.assertEqual(workspace.my_level, permissions_pb2.PERMISSION_LEVEL_OWNER)
        base = self.workspaces.CreateBase(workspaces_pb2.CreateBaseRequest(workspace_id=workspace.id, name="Interop base"),
                                          metadata=as_owner, timeout=TIMEOUT).base
        self.assertTrue(base.id)
        self.assertEqual(base.workspace_id, workspace.id)
        self.assertEqual(base.name, "Interop base")

        reader_email, _, _, reader = self.register_and_login()
        # AddMember invites: the reader joins only by accepting, from a verified e-mail address.
        added = self.workspaces.AddMember(workspaces_pb2.AddMemberRequest(
            workspace_id=workspace.id, user_id=reader.user_id, level=permissions_pb2.PERMISSION_LEVEL_READ),
            metadata=as_owner, timeout=TIMEOUT)
        self.assertTrue(added.pending)
        self.assertFalse(added.HasField("member"))
        self.assertEqual(added.invitation.user_id, reader.user_id)
        self.verify_email(reader_email, reader)
        as_reader = (("authorization", f"Bearer {reader.tokens.access_token}"),)
        pending = self.permissions.ListMyInvitations(permissions_pb2.ListMyInvitationsRequest(), metadata=as_reader, timeout=TIMEOUT)
        self.assertEqual([i.id for i in pending.invitations], [added.invitation_id])
        accepted = self.workspaces.AcceptInvite(workspaces_pb2.AcceptInviteRequest(invitation_id=added.invitation_id),
                                                metadata=as_reader, timeout=TIMEOUT)
        self.assertEqual(accepted.member.user_id, reader.user_id)
        self.assertEqual(accepted.member.level, permissions_pb2.PERMISSION_LEVEL_READ)
        self.assertTrue(accepted.consistency_token)
        return owner, reader, workspace, base

    def test_webhook_created_then_delivery_verified_with_python_hmac(self):
        """A webhook to a receiver in this process (the interop host allows 127.0.0.1): its signature checked with hmac."""
        received = []

        class Receiver(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            _, _, _, owner = self.register_and_login()
            as_owner = (("authorization", f"Bearer {owner.tokens.access_token}"),)
            workspace = self.workspaces.CreateWorkspace(workspaces_pb2.CreateWorkspaceRequest(name="Hooked"),
                                                        metadata=as_owner, timeout=TIMEOUT).workspace
            with self.assertRaises(grpc.RpcError) as caught:
                self.webhooks.CreateWebhook(webhooks_pb2.CreateWebhookRequest(workspace_id=workspace.id, url="http://10.0.0.1/"),
                                            metadata=as_owner, timeout=TIMEOUT)
            self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
            violations = detail(status_details(caught.exception), error_details_pb2.BadRequest).field_violations
            self.assertEqual([v.field for v in violations], ["url"])

            created = self.webhooks.CreateWebhook(webhooks_pb2.CreateWebhookRequest(
                workspace_id=workspace.id, url=f"http://127.0.0.1:{server.server_address[1]}/hook",
                event_types=["pyairtable.events.v1.WorkspaceUpdated"]), metadata=as_owner, timeout=TIMEOUT)
            self.assertTrue(created.secret.startswith("whsec_"))
            listed = self.webhooks.ListWebhooks(webhooks_pb2.ListWebhooksRequest(workspace_id=workspace.id),
                                                metadata=as_owner, timeout=TIMEOUT)
            self.assertEqual([w.id for w in listed.webhooks], [created.webhook.id])
            self.workspaces.UpdateWorkspace(workspaces_pb2.UpdateWorkspaceRequest(workspace_id=workspace.id, description="hook me"),
                                            metadata=as_owner, timeout=TIMEOUT)
            for _ in range(400):
                if received:
                    break
                time.sleep(0.05)
            self.assertTrue(received, "no delivery reached the receiver")
            headers, body = received[0]
            headers = {k.lower(): v for k, v in headers.items()}
            key = base64.b64decode(created.secret[len("whsec_"):])
            signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
            expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
            self.assertIn(expected, headers["webhook-signature"].split(" "))
            self.assertLess(abs(time.time() - int(headers["webhook-timestamp"])), 300)
            event = json.loads(body)
            self.assertEqual(event["specversion"], "1.0")
            self.assertEqual(event["type"], "pyairtable.events.v1.WorkspaceUpdated")
            self.assertEqual(event["data"]["description"], "hook me")
            self.assertEqual(event["workspaceid"], workspace.id)
        finally:
            server.shutdown()

    def test_stream_notifications_then_resume_from_the_last_offset(self):
        owner, reader, workspace, _ = self.shared_workspace()
        as_owner = (("authorization", f"Bearer {owner.tokens.access_token}"),)
        as_reader = (("authorization", f"Bearer {reader.tokens.access_token}"),)
        live = self.notifications.StreamNotifications(notifications_pb2.StreamNotificationsRequest(), metadata=as_reader, timeout=TIMEOUT)
        start = next(live)
        self.assertTrue(start.epoch)
        self.assertFalse(start.not_recovered)
        live.cancel()

        for i in range(3):
            self.workspaces.UpdateWorkspace(workspaces_pb2.UpdateWorkspaceRequest(workspace_id=workspace.id, description=f"py {i}"),
                                            metadata=as_owner, timeout=TIMEOUT)

        resumed = self.notifications.StreamNotifications(
            notifications_pb2.StreamNotificationsRequest(epoch=start.epoch, after_offset=start.offset), metadata=as_reader, timeout=TIMEOUT)
        got = []
        for message in resumed:
            self.assertEqual(message.epoch, start.epoch)
            self.assertFalse(message.not_recovered)
            if message.HasField("notification"):
                got.append(message.notification)
            if len(got) == 3:
                break
        resumed.cancel()
        self.assertEqual([n.offset for n in got], [start.offset + 1, start.offset + 2, start.offset + 3])
        self.assertTrue(all(n.event_type == "pyairtable.events.v1.WorkspaceUpdated" for n in got))
        self.assertEqual([events_pb2.WorkspaceUpdated.FromString(n.data).description for n in got], ["py 0", "py 1", "py 2"])

    def verify_email(self, email, login):
        """SendVerificationEmail, the code from the mail the SMTP server stored, VerifyEmail; swaps in the verified token."""
        self.assertTrue(MAILDIR, "PYAIRTABLE_MAILDIR is not set (test.sh starts the SMTP sink)")
        as_user = (("authorization", f"Bearer {login.tokens.access_token}"),)
        self.auth.SendVerificationEmail(auth_pb2.SendVerificationEmailRequest(), metadata=as_user, timeout=TIMEOUT)
        code = None
        for _ in range(200):
            for message in mailbox.Maildir(MAILDIR, create=False):
                if message.get("X-RcptTo", "").lower() == email:
                    found = re.search(r"verification code: ([0-9]{8})", message.get("Subject", ""))
                    code = found and found.group(1)
            if code:
                break
            time.sleep(0.05)
        self.assertTrue(code, f"no verification mail for {email} in {MAILDIR}")
        verified = self.auth.VerifyEmail(auth_pb2.VerifyEmailRequest(code=code), metadata=as_user, timeout=TIMEOUT)
        self.assertEqual(verified.email, email)
        login.tokens.access_token = verified.access_token

    def test_workspace_shared_at_read_is_readable_not_editable_and_invisible_to_others(self):
        _, reader, workspace, base = self.shared_workspace()
        as_reader = (("authorization", f"Bearer {reader.tokens.access_token}"),)

        got = self.workspaces.GetWorkspace(workspaces_pb2.GetWorkspaceRequest(workspace_id=workspace.id),
                                           metadata=as_reader, timeout=TIMEOUT).workspace
        self.assertEqual(got.id, workspace.id)
        self.assertEqual(got.name, workspace.name)
        self.assertEqual(got.my_level, permissions_pb2.PERMISSION_LEVEL_READ)
        listed = self.workspaces.ListBases(workspaces_pb2.ListBasesRequest(workspace_id=workspace.id),
                                           metadata=as_reader, timeout=TIMEOUT)
        self.assertEqual([(b.id, b.name) for b in listed.bases], [(base.id, base.name)])

        with self.assertRaises(grpc.RpcError) as caught:
            self.workspaces.RenameBase(workspaces_pb2.RenameBaseRequest(base_id=base.id, name="Renamed by a reader"),
                                       metadata=as_reader, timeout=TIMEOUT)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
        status = status_details(caught.exception)
        self.assertEqual(status.code, 7)
        info = detail(status, error_details_pb2.ErrorInfo)
        self.assertEqual(info.domain, "pyairtable.dev")
        self.assertEqual(info.reason, "ERROR_CODE_PERMISSION_DENIED")

        _, _, _, stranger = self.register_and_login()
        with self.assertRaises(grpc.RpcError) as caught:
            self.workspaces.GetWorkspace(workspaces_pb2.GetWorkspaceRequest(workspace_id=workspace.id),
                                         metadata=(("authorization", f"Bearer {stranger.tokens.access_token}"),),
                                         timeout=TIMEOUT)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.NOT_FOUND)
        status = status_details(caught.exception)
        self.assertEqual(status.code, 5)
        info = detail(status, error_details_pb2.ErrorInfo)
        self.assertEqual(info.domain, "pyairtable.dev")
        self.assertEqual(info.reason, "ERROR_CODE_NOT_FOUND")

    def test_check_permission_revoke_with_consistency_token_and_lookup_resources(self):
        owner, reader, workspace, base = self.shared_workspace()
        as_owner = (("authorization", f"Bearer {owner.tokens.access_token}"),)
        as_reader = (("authorization", f"Bearer {reader.tokens.access_token}"),)
        base_ref = permissions_pb2.ResourceRef(type=permissions_pb2.RESOURCE_TYPE_BASE, id=base.id)

        check = self.permissions.CheckPermission(permissions_pb2.CheckPermissionRequest(
            resource=base_ref, level=permissions_pb2.PERMISSION_LEVEL_EDIT), metadata=as_reader, timeout=TIMEOUT)
        self.assertFalse(check.allowed)
        self.assertEqual(check.effective_level, permissions_pb2.PERMISSION_LEVEL_READ)
        self.assertTrue(check.consistency_token.startswith("r"), check.consistency_token)

        revoked = self.permissions.Revoke(permissions_pb2.RevokeRequest(
            resource=permissions_pb2.ResourceRef(type=permissions_pb2.RESOURCE_TYPE_WORKSPACE, id=workspace.id),
            user_id=reader.user_id), metadata=as_owner, timeout=TIMEOUT)
        self.assertTrue(revoked.consistency_token.startswith("r"), revoked.consistency_token)
        after_revoke = self.permissions.CheckPermission(permissions_pb2.CheckPermissionRequest(
            resource=base_ref, level=permissions_pb2.PERMISSION_LEVEL_READ, consistency_token=revoked.consistency_token),
            metadata=as_reader, timeout=TIMEOUT)
        self.assertFalse(after_revoke.allowed)

        found = list(self.permissions.LookupResources(permissions_pb2.LookupResourcesRequest(
            type=permissions_pb2.RESOURCE_TYPE_BASE, level=permissions_pb2.PERMISSION_LEVEL_READ,
            consistency_token=revoked.consistency_token), metadata=as_owner, timeout=TIMEOUT))
        self.assertEqual([(f.resource.type, f.resource.id) for f in found], [(permissions_pb2.RESOURCE_TYPE_BASE, base.id)])
        self.assertEqual(found[0].level, permissions_pb2.PERMISSION_LEVEL_OWNER)

    def test_files_batch_upload_client_stream_then_ranged_download(self):
        """The first client-streaming RPC: two files in one stream (one with a wrong sha256), then a range read back."""
        owner, _, _, base = self.shared_workspace()
        as_owner = (("authorization", f"Bearer {owner.tokens.access_token}"),)
        data = os.urandom(300_000)
        sha = hashlib.sha256(data).hexdigest()

        def frames():
            yield files_pb2.BatchUploadRequest(header=files_pb2.FileHeader(
                name="../from-python.bin", base_id=base.id, size_bytes=len(data), sha256=sha))
            for at in range(0, len(data), 64 * 1024):
                yield files_pb2.BatchUploadRequest(data=data[at:at + 64 * 1024])
            yield files_pb2.BatchUploadRequest(header=files_pb2.FileHeader(name="bad.bin", base_id=base.id, sha256="0" * 64))
            yield files_pb2.BatchUploadRequest(data=b"not that")

        response = self.files.BatchUpload(frames(), metadata=as_owner, timeout=TIMEOUT)
        self.assertEqual([r.index for r in response.results], [0, 1])
        stored = response.results[0].file
        self.assertEqual((stored.name, stored.size_bytes, stored.sha256), ("from-python.bin", len(data), sha))
        self.assertEqual(response.results[1].error.code, "ERROR_CODE_INVALID_ARGUMENT")
        self.assertEqual(response.results[1].error.metadata["field"], "header.sha256")

        chunks = list(self.files.Download(files_pb2.DownloadRequest(file_id=stored.id, offset=1000, length=200_000),
                                          metadata=as_owner, timeout=TIMEOUT))
        self.assertEqual(chunks[0].file.id, stored.id)
        self.assertEqual(b"".join(c.data for c in chunks), data[1000:201_000])

    def test_files_resumable_upload_refuses_a_wrong_offset_with_the_committed_one(self):
        owner, _, _, base = self.shared_workspace()
        as_owner = (("authorization", f"Bearer {owner.tokens.access_token}"),)
        data = os.urandom(100_000)
        upload = self.files.CreateUpload(files_pb2.CreateUploadRequest(header=files_pb2.FileHeader(
            name="resumable.bin", base_id=base.id, size_bytes=len(data))), metadata=as_owner, timeout=TIMEOUT).upload
        first = self.files.AppendUpload(iter([files_pb2.AppendUploadRequest(upload_id=upload.id, offset=0, data=data[:60_000])]),
                                        metadata=as_owner, timeout=TIMEOUT)
        self.assertEqual(first.committed_offset, 60_000)
        with self.assertRaises(grpc.RpcError) as refused:
            self.files.AppendUpload(iter([files_pb2.AppendUploadRequest(upload_id=upload.id, offset=0, data=data[:10])]),
                                    metadata=as_owner, timeout=TIMEOUT)
        self.assertEqual(refused.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)
        info = detail(status_details(refused.exception), error_details_pb2.ErrorInfo)
        self.assertEqual(info.metadata["committed_offset"], "60000")
        self.files.AppendUpload(iter([files_pb2.AppendUploadRequest(upload_id=upload.id, offset=60_000, data=data[60_000:])]),
                                metadata=as_owner, timeout=TIMEOUT)
        done = self.files.CompleteUpload(files_pb2.CompleteUploadRequest(upload_id=upload.id, sha256=hashlib.sha256(data).hexdigest()),
                                         metadata=as_owner, timeout=TIMEOUT).file
        got = b"".join(c.data for c in self.files.Download(files_pb2.DownloadRequest(file_id=done.id), metadata=as_owner, timeout=TIMEOUT))
        self.assertEqual(got, data)

if __name__ == "__main__":
    result = unittest.TextTestRunner(verbosity=2).run(unittest.defaultTestLoader.loadTestsFromTestCase(InteropTest))
    failed = len(result.failures) + len(result.errors)
    print(f"python interop: {result.testsRun - failed} passed, {failed} failed")
    sys.exit(0 if result.wasSuccessful() else 1)
