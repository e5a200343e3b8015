// Calls the running PyAirtable host from Node with @grpc/grpc-js, loading nothing but protos/
// (plus the standard gRPC health/reflection and google.rpc protos) at run time: no generated code.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { createPublicKey, randomUUID, verify } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');
const descriptor = require('protobufjs/ext/descriptor');

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const protos = path.join(root, 'protos');
const extraProtos = path.resolve(here, '../protos');
const address = process.env.PYAIRTABLE_GRPC_ADDRESS ?? '127.0.0.1:50051';
// The Maildir of the SMTP server the host mails through (test.sh starts python3-aiosmtpd for it).
const maildir = process.env.PYAIRTABLE_MAILDIR ?? '';
const deadline = () => new Date(Date.now() + 10_000); // every call has one: a hang fails, it does not block

const definition = protoLoader.loadSync(
  [
    'pyairtable/health/v1/health.proto',
    'pyairtable/auth/v1/auth.proto',
    'pyairtable/users/v1/users.proto',
    'pyairtable/users/v2/users.proto',
    'pyairtable/workspaces/v1/workspaces.proto',
    'pyairtable/permissions/v1/permissions.proto',
    'pyairtable/analytics/v1/analytics.proto',
    'pyairtable/files/v1/files.proto',
    'pyairtable/notifications/v1/notifications.proto',
    'grpc_std/health/v1/health.proto',
    'grpc_std/reflection/v1/reflection.proto',
    'grpc_std/reflection/v1alpha/reflection.proto',
  ],
  { includeDirs: [protos, extraProtos], keepCase: true, enums: String, longs: Number, defaults: true, oneofs: true },
);
const loaded = grpc.loadPackageDefinition(definition);
const credentials = grpc.credentials.createInsecure();
const healthService = new loaded.pyairtable.health.v1.HealthService(address, credentials);
const standardHealth = new loaded.grpc.health.v1.Health(address, credentials);
const reflectionV1 = new loaded.grpc.reflection.v1.ServerReflection(address, credentials);
const reflectionV1Alpha = new loaded.grpc.reflection.v1alpha.ServerReflection(address, credentials);
const authService = new loaded.pyairtable.auth.v1.AuthService(address, credentials);
const userService = new loaded.pyairtable.users.v1.UserService(address, credentials);
const userServiceV2 = new loaded.pyairtable.users.v2.UserService(address, credentials);
const workspaceService = new loaded.pyairtable.workspaces.v1.WorkspaceService(address, credentials);
const permissionService = new loaded.pyairtable.permissions.v1.PermissionService(address, credentials);
const analyticsService = new loaded.pyairtable.analytics.v1.AnalyticsService(address, credentials);
const fileService = new loaded.pyairtable.files.v1.FileService(address, credentials);
const notificationService = new loaded.pyairtable.notifications.v1.NotificationService(address, credentials);

const rpcTypes = new protobuf.Root().loadSync([
  path.join(extraProtos, 'google/rpc/status.proto'),
  path.join(extraProtos, 'google/rpc/error_details.proto'),
], { keepCase: true });
const Status = rpcTypes.lookupType('google.rpc.Status');

after(() => [healthService, standardHealth, reflectionV1, reflectionV1Alpha, authService, userService, userServiceV2, workspaceService,
  permissionService, analyticsService, fileService, notificationService].forEach((c) => c.close()));

const unary = (client, method, request, metadata = new grpc.Metadata()) =>
  new Promise((resolve, reject) => {
    let headers;
    const call = client[method](request, metadata, { deadline: deadline() }, (error, response) =>
      error ? reject(error) : resolve({ response, headers }));
    call.on('metadata', (m) => { headers = m; });
  });

const firstOf = (call) =>
  new Promise((resolve, reject) => {
    call.once('data', (message) => { resolve(message); call.cancel(); });
    call.once('error', (error) => { if (error.code !== grpc.status.CANCELLED) reject(error); });
  });

/** The google.rpc.Status of an error, with its details unpacked by type. */
function statusOf(error) {
  const [bytes] = error.metadata.get('grpc-status-details-bin');
  assert.ok(bytes, 'no grpc-status-details-bin trailer');
  const status = Status.decode(bytes);
  const details = {};
  for (const any of status.details) {
    const type = rpcTypes.lookupType(any.type_url.slice(any.type_url.lastIndexOf('/') + 1));
    details[type.name] = type.toObject(type.decode(any.value), { defaults: true });
  }
  return { code: status.code, details };
}

/** Every message of a server stream, once it has ended. */
const allOf = (call) =>
  new Promise((resolve, reject) => {
    const messages = [];
    call.on('data', (message) => messages.push(message));
    call.on('error', reject);
    call.on('end', () => resolve(messages));
  });

async function reflect(client, request) {
  const call = client.ServerReflectionInfo({ deadline: deadline() });
  const response = firstOf(call);
  call.write(request);
  call.end();
  return response;
}

test('unary: HealthService.Check reports every dependency', async () => {
  const { response } = await unary(healthService, 'Check', { service: '' });
  assert.equal(response.status, 'HEALTH_STATUS_SERVING');
  assert.deepEqual(response.dependencies.map((d) => d.name), ['postgres', 'redis', 'redis-eviction', 'shutdown']);
  assert.ok(response.dependencies.every((d) => d.status === 'HEALTH_STATUS_SERVING'));
  assert.ok(Number(response.checked_at.seconds) > 1_700_000_000);
});

test('server stream: HealthService.Watch sends the current status first', async () => {
  const first = await firstOf(healthService.Watch({ service: '' }, { deadline: deadline() }));
  assert.equal(first.health.status, 'HEALTH_STATUS_SERVING');
});

test('error: INVALID_ARGUMENT carries ErrorInfo and BadRequest', async () => {
  const error = await unary(healthService, 'Check', { service: 'not a service name' }).then(
    () => assert.fail('expected an error'), (e) => e);
  assert.equal(error.code, grpc.status.INVALID_ARGUMENT);
  const status = statusOf(error);
  assert.equal(status.code, grpc.status.INVALID_ARGUMENT);
  assert.equal(status.details.ErrorInfo.reason, 'ERROR_CODE_INVALID_ARGUMENT');
  assert.equal(status.details.ErrorInfo.domain, 'pyairtable.dev');
  assert.ok(status.details.ErrorInfo.metadata.request_id);
  assert.deepEqual(status.details.BadRequest.field_violations.map((v) => v.field), ['service']);
});

test('error: NOT_FOUND carries ErrorInfo', async () => {
  const error = await unary(healthService, 'Check', { service: 'pyairtable.nope.v1.NopeService' }).then(
    () => assert.fail('expected an error'), (e) => e);
  assert.equal(error.code, grpc.status.NOT_FOUND);
  assert.equal(statusOf(error).details.ErrorInfo.reason, 'ERROR_CODE_NOT_FOUND');
});

test('request id round-trips in the response headers', async () => {
  const requestId = `interop-${randomUUID()}`;
  const metadata = new grpc.Metadata();
  metadata.set('x-request-id', requestId);
  const { headers } = await unary(healthService, 'Check', { service: '' }, metadata);
  assert.deepEqual(headers.get('x-request-id'), [requestId]);
});

test('standard grpc.health.v1: Check and Watch', async () => {
  const { response } = await unary(standardHealth, 'Check', { service: '' });
  assert.equal(response.status, 'SERVING');
  for (const service of ['', 'pyairtable.health.v1.HealthService']) {
    const first = await firstOf(standardHealth.Watch({ service }, { deadline: deadline() }));
    assert.equal(first.status, 'SERVING', `Watch(${JSON.stringify(service)})`);
  }
});

const expectedServices = ['pyairtable.health.v1.HealthService', 'grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection'];

test('reflection v1: list services and describe one', async () => {
  const listed = await reflect(reflectionV1, { list_services: '' });
  const names = listed.list_services_response.service.map((s) => s.name);
  for (const name of expectedServices) assert.ok(names.includes(name), `${name} is not listed`);

  const described = await reflect(reflectionV1, { file_containing_symbol: 'pyairtable.health.v1.HealthService' });
  const files = described.file_descriptor_response.file_descriptor_proto.map((b) => descriptor.FileDescriptorProto.decode(b));
  const health = files.find((f) => f.package === 'pyairtable.health.v1');
  assert.ok(health, `no pyairtable.health.v1 file among ${files.map((f) => f.name)}`);
  const service = health.service.find((s) => s.name === 'HealthService');
  assert.ok(service, 'HealthService is not described');
  assert.deepEqual(service.method.map((m) => m.name), ['Check', 'ListCircuitBreakers', 'Watch']);
  assert.equal(service.method.find((m) => m.name === 'Watch').serverStreaming, true);
});

test('reflection v1alpha: list services', async () => {
  const listed = await reflect(reflectionV1Alpha, { list_services: '' });
  const names = listed.list_services_response.service.map((s) => s.name);
  for (const name of expectedServices) assert.ok(names.includes(name), `${name} is not listed`);
});

test('client stream: IngestMetrics, then QueryMetrics of the own workspace', async () => {
  const { login } = await registerAndLogin();
  const metadata = bearer(login.tokens.access_token);
  const { response: created } = await unary(workspaceService, 'CreateWorkspace', { name: 'Node metrics' }, metadata);
  const workspaceId = created.workspace.id;
  const endpoint = `/node/${randomUUID()}`;
  const now = () => ({ seconds: Math.floor(Date.now() / 1000), nanos: 0 });
  const metric = (ms, status) => ({
    endpoint, method: 'HTTP_METHOD_POST', protocol: 'CALL_PROTOCOL_GRPC', status_code: status,
    response_time: { seconds: 0, nanos: ms * 1_000_000 }, timestamp: now(), workspace_id: workspaceId,
  });

  const ingested = await new Promise((resolve, reject) => {
    const call = analyticsService.IngestMetrics(metadata, { deadline: deadline() }, (error, response) =>
      error ? reject(error) : resolve(response));
    call.write({ metrics: [metric(3, 0), metric(4, 0)] });
    call.write({ metrics: [metric(5, 14), { ...metric(6, 0), endpoint: '' }] });
    call.end();
  });
  assert.equal(ingested.accepted, 3);
  assert.equal(ingested.rejected, 1);
  assert.deepEqual(ingested.rejections.map((r) => [r.index, r.field]), [[3, 'endpoint']]);

  const seconds = Math.floor(Date.now() / 1000);
  const { response: result } = await unary(analyticsService, 'QueryMetrics', {
    workspace_id: workspaceId, endpoint, start_time: { seconds: seconds - 600, nanos: 0 }, end_time: { seconds: seconds + 60, nanos: 0 },
  }, metadata);
  assert.equal(result.total.count, 3);
  assert.equal(result.total.error_count, 1);
  assert.equal(result.resolution, 'METRICS_RESOLUTION_RAW');
});

/** A fresh account: its e-mail, display name and LoginResponse. */
async function registerAndLogin() {
  const email = `interop-${randomUUID()}@example.com`;
  const displayName = `Node Interop ${randomUUID().slice(0, 8)}`;
  const password = `pw-${randomUUID()}`; // well over the 10-character minimum
  const { response: registered } = await unary(authService, 'Register', { email, password, display_name: displayName });
  assert.ok(registered.user_id);
  assert.equal(registered.email, email);
  const { response: login } = await unary(authService, 'Login', { email, password });
  assert.equal(login.user_id, registered.user_id);
  assert.equal(login.tokens.token_type, 'Bearer');
  assert.ok(login.tokens.access_token);
  assert.ok(login.tokens.refresh_token);
  return { email, displayName, login };
}

const bearer = (token) => {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  return metadata;
};

const fromBase64Url = (part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

test('auth: register, log in, verify the JWT against the JWKS with node:crypto, GetUser with it', async () => {
  const { email, displayName, login } = await registerAndLogin();
  const token = login.tokens.access_token;
  const { response: jwks } = await unary(authService, 'GetJwks', {});
  assert.ok(jwks.issuer);
  assert.ok(jwks.audience);

  const [encodedHeader, encodedPayload, signature] = token.split('.');
  const header = fromBase64Url(encodedHeader);
  // ES256 for keys made since it became the default; RS256 for older keys (or Auth:SigningAlgorithm=RS256) until rotated.
  assert.ok(['ES256', 'RS256'].includes(header.alg), `unexpected alg ${header.alg}`);
  // The JSON document and the typed keys describe the same key set.
  const documentKeys = JSON.parse(jwks.jwks_json).keys;
  assert.deepEqual(documentKeys.map((k) => k.kid), jwks.keys.map((k) => k.kid));
  const jwk = documentKeys.find((k) => k.kid === header.kid);
  assert.ok(jwk, `the token's kid ${header.kid} is not in the JWKS ${documentKeys.map((k) => k.kid)}`);
  const ec = header.alg === 'ES256';
  assert.deepEqual([jwk.kty, jwk.use, jwk.alg, jwk.crv], ec ? ['EC', 'sig', 'ES256', 'P-256'] : ['RSA', 'sig', 'RS256', undefined]);
  const publicKey = createPublicKey({ key: jwk, format: 'jwk' });
  const typed = jwks.keys.find((k) => k.kid === header.kid);
  const typedJwk = ec ? { kty: typed.kty, crv: typed.crv, x: typed.x, y: typed.y } : { kty: typed.kty, n: typed.n, e: typed.e };
  assert.deepEqual(createPublicKey({ key: typedJwk, format: 'jwk' }).export({ format: 'jwk' }), publicKey.export({ format: 'jwk' }));

  // JWS ES256 signatures are the raw r‖s pair (RFC 7518 §3.4), not DER; RS256 is PKCS #1 v1.5.
  const verifier = ec ? { key: publicKey, dsaEncoding: 'ieee-p1363' } : publicKey;
  const signed = Buffer.from(`${encodedHeader}.${encodedPayload}`);
  assert.equal(verify('sha256', signed, verifier, Buffer.from(signature, 'base64url')), true, 'the signature does not verify');
  const claims = fromBase64Url(encodedPayload);
  assert.equal(claims.iss, jwks.issuer);
  assert.ok([claims.aud].flat().includes(jwks.audience), `aud ${JSON.stringify(claims.aud)} lacks ${jwks.audience}`);
  assert.equal(claims.sub, login.user_id);
  assert.equal(typeof claims.exp, 'number');
  assert.ok(claims.exp > Date.now() / 1000, 'the token has already expired');
  assert.equal(claims.exp, Number(login.tokens.access_token_expires_at.seconds));

  // A payload altered after signing no longer verifies.
  const forged = Buffer.from(JSON.stringify({ ...claims, sub: randomUUID() })).toString('base64url');
  assert.equal(verify('sha256', Buffer.from(`${encodedHeader}.${forged}`), verifier, Buffer.from(signature, 'base64url')), false);

  const { response } = await unary(userService, 'GetUser', { user_id: login.user_id }, bearer(token));
  assert.equal(response.not_modified, false);
  assert.equal(response.user.id, login.user_id);
  assert.equal(response.user.email, email);
  assert.equal(response.user.display_name, displayName);
  assert.equal(response.user.status, 'USER_STATUS_ACTIVE');
  assert.ok(response.user.etag);
  assert.equal(response.cache.etag, response.user.etag);
  const { response: again } = await unary(userService, 'GetUser',
    { user_id: login.user_id, if_none_match: response.user.etag }, bearer(token));
  assert.equal(again.not_modified, true);
  assert.equal(again.user, null);
});

test('users v2: the same profile as v1, and ListUsers pages with page tokens (AIP-158)', async () => {
  const { displayName, login } = await registerAndLogin();
  const token = login.tokens.access_token;
  const { response: v1 } = await unary(userService, 'GetUser', { user_id: login.user_id }, bearer(token));
  const { response: v2 } = await unary(userServiceV2, 'GetUser', { user_id: login.user_id }, bearer(token));
  assert.deepEqual([v2.user.id, v2.user.display_name, v2.user.etag, v2.user.status],
    [login.user_id, displayName, v1.user.etag, 'USER_STATUS_ACTIVE']);

  // A plain user lists themself: one page, no next token.
  const { response: page } = await unary(userServiceV2, 'ListUsers', { page_size: 1 }, bearer(token));
  assert.deepEqual(page.users.map((u) => u.id), [login.user_id]);
  assert.deepEqual([page.next_page_token, Number(page.total_size)], ['', 1]);
  const error = await unary(userServiceV2, 'ListUsers', { page_token: 'not-a-token' }, bearer(token)).then(
    () => assert.fail('expected an error'), (e) => e);
  assert.equal(error.code, grpc.status.INVALID_ARGUMENT);
  assert.deepEqual(statusOf(error).details.BadRequest.field_violations.map((v) => v.field), ['page_token']);
});

test('auth: GetUser without credentials is UNAUTHENTICATED (missing_credentials)', async () => {
  const error = await unary(userService, 'GetUser', { user_id: randomUUID() }).then(
    () => assert.fail('expected an error'), (e) => e);
  assert.equal(error.code, grpc.status.UNAUTHENTICATED);
  const status = statusOf(error);
  assert.equal(status.code, 16);
  assert.equal(status.details.ErrorInfo.domain, 'pyairtable.dev');
  assert.equal(status.details.ErrorInfo.reason, 'ERROR_CODE_UNAUTHENTICATED');
  assert.equal(status.details.ErrorInfo.metadata.cause, 'missing_credentials');
});

test('auth: Refresh rotates the refresh token; reusing the spent one is refused', async () => {
  const { login } = await registerAndLogin();
  const old = login.tokens.refresh_token;
  const { response: refreshed } = await unary(authService, 'Refresh', { refresh_token: old });
  assert.ok(refreshed.tokens.refresh_token);
  assert.notEqual(refreshed.tokens.refresh_token, old);
  assert.ok(refreshed.tokens.access_token);

  const reused = await unary(authService, 'Refresh', { refresh_token: old }).then(
    () => assert.fail('expected an error'), (e) => e);
  assert.equal(reused.code, grpc.status.UNAUTHENTICATED);
  const { ErrorInfo } = statusOf(reused).details;
  assert.equal(ErrorInfo.reason, 'ERROR_CODE_UNAUTHENTICATED');
  assert.equal(ErrorInfo.metadata.cause, 'refresh_token_reused');
  // The reuse ended the session: the refresh token issued after the spent one is refused too.
  const descendant = await unary(authService, 'Refresh', { refresh_token: refreshed.tokens.refresh_token }).then(
    () => assert.fail('expected an error'), (e) => e);
  assert.equal(descendant.code, grpc.status.UNAUTHENTICATED);
});

test('auth: Register with an invalid e-mail is INVALID_ARGUMENT on field email', async () => {
  const error = await unary(authService, 'Register',
    { email: "x' OR 1=1 --", password: `pw-${randomUUID()}`, display_name: 'Interop' }).then(
    () => assert.fail('expected an error'), (e) => e);
  assert.equal(error.code, grpc.status.INVALID_ARGUMENT);
  const status = statusOf(error);
  assert.equal(status.details.ErrorInfo.reason, 'ERROR_CODE_INVALID_ARGUMENT');
  assert.ok(status.details.BadRequest.field_violations.map((v) => v.field).includes('email'));
});

/** An owner's workspace with one base, shared with a second user at read. */
async function sharedWorkspace() {
  const { login: owner } = await registerAndLogin();
  const asOwner = bearer(owner.tokens.access_token);
  const { response: created } = await unary(workspaceService, 'CreateWorkspace',
    { name: `Interop ${randomUUID().slice(0, 8)}`, description: 'from Node' }, asOwner);
  const { workspace } = created;
  assert.ok(workspace.id);
  assert.equal(workspace.created_by, owner.user_id);
  assert.equal(workspace.my_level, 'PERMISSION_LEVEL_OWNER');
  const { response: { base } } = await unary(workspaceService, 'CreateBase',
    { workspace_id: workspace.id, name: 'Interop base' }, asOwner);
  assert.ok(base.id);
  assert.equal(base.workspace_id, workspace.id);
  assert.equal(base.name, 'Interop base');

  // AddMember invites: the reader joins only by accepting, from a verified e-mail address.
  const { email: readerEmail, login: reader } = await registerAndLogin();
  const { response: added } = await unary(workspaceService, 'AddMember',
    { workspace_id: workspace.id, user_id: reader.user_id, level: 'PERMISSION_LEVEL_READ' }, asOwner);
  assert.equal(added.pending, true);
  assert.equal(added.member, null);
  assert.equal(added.invitation.user_id, reader.user_id);
  await verifyEmail(readerEmail, reader);
  const { response: accepted } = await unary(workspaceService, 'AcceptInvite',
    { invitation_id: added.invitation_id }, bearer(reader.tokens.access_token));
  assert.equal(accepted.member.user_id, reader.user_id);
  assert.equal(accepted.member.level, 'PERMISSION_LEVEL_READ');
  assert.ok(accepted.consistency_token);
  return { owner, reader, workspace, base };
}

/** SendVerificationEmail, the code from the mail the SMTP server stored in its Maildir, VerifyEmail; swaps in the verified token. */
async function verifyEmail(email, login) {
  assert.ok(maildir, 'PYAIRTABLE_MAILDIR is not set (test.sh starts the SMTP sink)');
  const asUser = bearer(login.tokens.access_token);
  await unary(authService, 'SendVerificationEmail', {}, asUser);
  let code;
  for (let i = 0; i < 200 && !code; i++) {
    for (const dir of ['new', 'cur'].map((d) => path.join(maildir, d)).filter((d) => fs.existsSync(d))) {
      for (const file of fs.readdirSync(dir)) {
        const text = fs.readFileSync(path.join(dir, file), 'utf8');
        if (text.toLowerCase().includes(`x-rcptto: ${email}`)) code = /verification code: ([0-9]{8})/.exec(text)?.[1] ?? code;
      }
    }
    if (!code) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(code, `no verification mail for ${email} in ${maildir}`);
  const { response: verified } = await unary(authService, 'VerifyEmail', { code }, asUser);
  assert.equal(verified.email, email);
  login.tokens.access_token = verified.access_token;
}

test('workspaces: shared at read, readable but not editable, and invisible to others', async () => {
  const { reader, workspace, base } = await sharedWorkspace();
  const asReader = bearer(reader.tokens.access_token);

  const { response: { workspace: got } } = await unary(workspaceService, 'GetWorkspace', { workspace_id: workspace.id }, asReader);
  assert.equal(got.id, workspace.id);
  assert.equal(got.name, workspace.name);
  assert.equal(got.my_level, 'PERMISSION_LEVEL_READ');
  const { response: listed } = await unary(workspaceService, 'ListBases', { workspace_id: workspace.id }, asReader);
  assert.deepEqual(listed.bases.map((b) => [b.id, b.name]), [[base.id, base.name]]);

  const denied = await unary(workspaceService, 'RenameBase', { base_id: base.id, name: 'Renamed by a reader' }, asReader).then(
    () => assert.fail('expected an error'), (e) => e);
  assert.equal(denied.code, grpc.status.PERMISSION_DENIED);
  const deniedStatus = statusOf(denied);
  assert.equal(deniedStatus.code, 7);
  assert.equal(deniedStatus.details.ErrorInfo.domain, 'pyairtable.dev');
  assert.equal(deniedStatus.details.ErrorInfo.reason, 'ERROR_CODE_PERMISSION_DENIED');

  const { login: stranger } = await registerAndLogin();
  const hidden = await unary(workspaceService, 'GetWorkspace', { workspace_id: workspace.id },
    bearer(stranger.tokens.access_token)).then(() => assert.fail('expected an error'), (e) => e);
  assert.equal(hidden.code, grpc.status.NOT_FOUND);
  const hiddenStatus = statusOf(hidden);
  assert.equal(hiddenStatus.code, 5);
  assert.equal(hiddenStatus.details.ErrorInfo.domain, 'pyairtable.dev');
  assert.equal(hiddenStatus.details.ErrorInfo.reason, 'ERROR_CODE_NOT_FOUND');
});

test('permissions: CheckPermission, Revoke with a consistency token, LookupResources streams the base', async () => {
  const { owner, reader, workspace, base } = await sharedWorkspace();
  const asOwner = bearer(owner.tokens.access_token);
  const asReader = bearer(reader.tokens.access_token);
  const baseRef = { type: 'RESOURCE_TYPE_BASE', id: base.id };

  const { response: check } = await unary(permissionService, 'CheckPermission',
    { resource: baseRef, level: 'PERMISSION_LEVEL_EDIT' }, asReader);
  assert.equal(check.allowed, false);
  assert.equal(check.effective_level, 'PERMISSION_LEVEL_READ');
  assert.ok(check.consistency_token.startsWith('r'), check.consistency_token);

  const { response: revoked } = await unary(permissionService, 'Revoke',
    { resource: { type: 'RESOURCE_TYPE_WORKSPACE', id: workspace.id }, user_id: reader.user_id }, asOwner);
  assert.ok(revoked.consistency_token.startsWith('r'), revoked.consistency_token);
  const { response: afterRevoke } = await unary(permissionService, 'CheckPermission',
    { resource: baseRef, level: 'PERMISSION_LEVEL_READ', consistency_token: revoked.consistency_token }, asReader);
  assert.equal(afterRevoke.allowed, false);

  const found = await allOf(permissionService.LookupResources(
    { type: 'RESOURCE_TYPE_BASE', level: 'PERMISSION_LEVEL_READ', consistency_token: revoked.consistency_token },
    asOwner, { deadline: deadline() }));
  assert.deepEqual(found.map((f) => [f.resource.type, f.resource.id]), [['RESOURCE_TYPE_BASE', base.id]]);
  assert.equal(found[0].level, 'PERMISSION_LEVEL_OWNER');
});

test('files: BatchUpload as a client stream (one good file, one bad), then a ranged Download', async () => {
  const { owner, base } = await sharedWorkspace();
  const asOwner = bearer(owner.tokens.access_token);
  const { randomBytes, createHash } = await import('node:crypto');
  const data = randomBytes(200_000);
  const sha = createHash('sha256').update(data).digest('hex');

  const response = await new Promise((resolve, reject) => {
    const call = fileService.BatchUpload(asOwner, { deadline: deadline() }, (error, r) => (error ? reject(error) : resolve(r)));
    call.write({ header: { name: 'from-node.bin', base_id: base.id, size_bytes: data.length, sha256: sha } });
    for (let at = 0; at < data.length; at += 64 * 1024) call.write({ data: data.subarray(at, at + 64 * 1024) });
    call.write({ header: { name: 'short.bin', base_id: base.id, size_bytes: 10 } });
    call.write({ data: Buffer.from('only 9 b!') });
    call.end();
  });

  assert.deepEqual(response.results.map((r) => r.index), [0, 1]);
  const stored = response.results[0].file;
  assert.equal(stored.name, 'from-node.bin');
  assert.equal(stored.sha256, sha);
  assert.equal(Number(stored.size_bytes), data.length);
  assert.equal(response.results[1].error.code, 'ERROR_CODE_INVALID_ARGUMENT');
  assert.equal(response.results[1].error.metadata.field, 'header.size_bytes');

  const chunks = await allOf(fileService.Download({ file_id: stored.id, offset: 5, length: 150_000 }, asOwner, { deadline: deadline() }));
  assert.equal(chunks[0].file.id, stored.id);
  assert.ok(Buffer.concat(chunks.map((c) => c.data)).equals(data.subarray(5, 150_005)));
});

/** Reads a server stream until `done(messages)` holds, then cancels it; rejects on any error before that. */
function readStream(call, done) {
  const messages = [];
  return new Promise((resolve, reject) => {
    let finished = false;
    call.on('data', (m) => {
      messages.push(m);
      if (!finished && done(messages)) {
        finished = true;
        call.cancel();
        resolve(messages);
      }
    });
    call.on('error', (e) => { if (!finished) { finished = true; reject(e); } });
    call.on('end', () => { if (!finished) { finished = true; reject(new Error('stream ended early')); } });
  });
}

test('notifications: StreamNotifications live, then resumed from the last offset and epoch with exactly the missed ones', async () => {
  const { owner, reader, workspace } = await sharedWorkspace();
  const asOwner = bearer(owner.tokens.access_token);
  const asReader = bearer(reader.tokens.access_token);
  const [start] = await readStream(notificationService.StreamNotifications({}, asReader, { deadline: deadline() }), (m) => m.length >= 1);
  assert.ok(start.epoch);
  assert.equal(start.not_recovered, false);

  for (let i = 0; i < 3; i += 1) {
    await unary(workspaceService, 'UpdateWorkspace', { workspace_id: workspace.id, description: `node ${i}` }, asOwner);
  }

  const resumed = await readStream(
    notificationService.StreamNotifications({ epoch: start.epoch, after_offset: start.offset }, asReader, { deadline: deadline() }),
    (m) => m.filter((x) => x.notification).length >= 3);
  const got = resumed.filter((x) => x.notification).map((x) => x.notification);
  assert.ok(resumed.every((x) => x.epoch === start.epoch && x.not_recovered === false));
  assert.deepEqual(got.map((n) => Number(n.offset)), [1, 2, 3].map((k) => Number(start.offset) + k));
  assert.ok(got.every((n) => n.event_type === 'pyairtable.events.v1.WorkspaceUpdated'));
});
