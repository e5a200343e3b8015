// gRPC-Web against the running host with an independent client: Connect-ES (@connectrpc/connect-node's gRPC-Web
// transport over HTTP/1.1) and code that @bufbuild/protoc-gen-es generated from protos/ (run.sh generates it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createClient, ConnectError, Code } from '@connectrpc/connect';
import { createGrpcWebTransport } from '@connectrpc/connect-node';

const here = path.dirname(fileURLToPath(import.meta.url));
const generated = process.env.PYAIRTABLE_ES_GEN ?? path.resolve(here, '../../../.local/interop-gen/es');
const load = (file) => import(pathToFileURL(path.join(generated, file)).href);
const { AuthService } = await load('pyairtable/auth/v1/auth_pb.js');
const { UserService } = await load('pyairtable/users/v1/users_pb.js');
const { HealthService } = await load('pyairtable/health/v1/health_pb.js');
const { HealthStatus } = await load('pyairtable/common/v1/common_pb.js');

const baseUrl = `http://${process.env.PYAIRTABLE_HTTP_ADDRESS ?? '127.0.0.1:50053'}`;
const transport = createGrpcWebTransport({ baseUrl, httpVersion: '1.1' });
const timeoutMs = 10_000;

test('grpc-web: register, login and GetUser (unary) with a bearer token', async () => {
  const auth = createClient(AuthService, transport);
  const email = `grpcweb.${randomUUID()}@example.com`;
  const password = 'grpc-web-password-1A';
  const registered = await auth.register({ email, password, displayName: 'Web Client' }, { timeoutMs });
  const login = await auth.login({ email, password }, { timeoutMs });
  assert.equal(login.userId, registered.userId);

  const users = createClient(UserService, transport);
  const headers = { authorization: `Bearer ${login.tokens.accessToken}` };
  const got = await users.getUser({ userId: login.userId }, { headers, timeoutMs });
  assert.equal(got.user.displayName, 'Web Client');
  assert.equal(got.user.email, email);
  assert.ok(got.user.etag.length > 0);
});

test('grpc-web: errors keep their gRPC code (UNAUTHENTICATED without credentials)', async () => {
  const users = createClient(UserService, transport);
  await assert.rejects(users.getUser({ userId: randomUUID() }, { timeoutMs }), (error) => {
    assert.ok(error instanceof ConnectError);
    assert.equal(error.code, Code.Unauthenticated);
    return true;
  });
});

test('grpc-web: server streaming (HealthService.Watch) delivers its first message', async () => {
  const health = createClient(HealthService, transport);
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    for await (const change of health.watch({ service: '' }, { signal: abort.signal })) {
      assert.equal(change.health.status, HealthStatus.SERVING);
      break; // the stream stays open until the host stops; the first message is the current status
    }
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
});
