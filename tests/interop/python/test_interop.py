"""Calls the running PyAirtable host with nothing but stubs generated from protos/."""
import os
import sys
import unittest
import uuid

import grpc
from google.protobuf import descriptor_pb2

from google.rpc import error_details_pb2, status_pb2
from grpc_std.health.v1 import health_pb2 as std_health_pb2, health_pb2_grpc as std_health_grpc
from grpc_std.reflection.v1 import reflection_pb2 as refl_v1, reflection_pb2_grpc as refl_v1_grpc
from grpc_std.reflection.v1alpha import reflection_pb2 as refl_v1alpha, reflection_pb2_grpc as refl_v1alpha_grpc
from pyairtable.common.v1 import common_pb2
from pyairtable.health.v1 import health_pb2, health_pb2_grpc

ADDRESS = os.environ.get("PYAIRTABLE_GRPC_ADDRESS", "127.0.0.1:50051")
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


class InteropTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.channel = grpc.insecure_channel(ADDRESS)
        cls.health = health_pb2_grpc.HealthServiceStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()

    def test_unary_check_reports_every_dependency(self):
        response = self.health.Check(health_pb2.CheckRequest(service=""), timeout=TIMEOUT)
        self.assertEqual(response.status, common_pb2.HEALTH_STATUS_SERVING)
        self.assertEqual([d.name for d in response.dependencies], ["postgres", "redis", "shutdown"])
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
        self.assertEqual([m.name for m in service.method], ["Check", "Watch"])
        self.assertTrue(service.method[1].server_streaming)

    def test_reflection_v1alpha_lists_services(self):
        listed = self.reflect(refl_v1alpha, refl_v1alpha_grpc, refl_v1alpha.ServerReflectionRequest(list_services=""))
        self.assertLessEqual(EXPECTED_SERVICES, {s.name for s in listed.list_services_response.service})

    # No platform RPC streams from the client yet: a client-streaming test lands with the first
    # such RPC (the File service's BatchUpload).


if __name__ == "__main__":
    result = unittest.TextTestRunner(verbosity=2).run(unittest.defaultTestLoader.loadTestsFromTestCase(InteropTest))
    failed = len(result.failures) + len(result.errors)
    print(f"python interop: {result.testsRun - failed} passed, {failed} failed")
    sys.exit(0 if result.wasSuccessful() else 1)
