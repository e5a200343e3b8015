using System.Globalization;
using Dapper;
using Grpc.Core;
using Npgsql;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Events;
using PyAirtable.IntegrationTests.Infrastructure;
using static PyAirtable.IntegrationTests.Identity.AuthenticationTests;

namespace PyAirtable.IntegrationTests.Identity;

/// <summary>
/// The rules of API keys over gRPC, field by field: what CreateApiKey refuses and why, what a key may mint, what a created
/// key and its event carry, how ListApiKeys pages, and what RevokeApiKey tells of the keys that went with one.
/// </summary>
public sealed class ApiKeyRulesTests(IdentityFixture fixture) : IClassFixture<IdentityFixture>, IDisposable
{
    private TestHost Host => fixture.Host;

    public void Dispose() => fixture.AssertNoUnexpectedErrors();

    [Fact]
    public async Task CreateApiKey_NamesEveryRefusedField_ScopesCountedOnceEach_AndAtMostTen()
    {
        var user = await Host.RegisterAsync();
        string[] unknown = ["a.b", "c.d", "e.f", "g.h"];
        var granted = Scopes.Grantable.Count; // 7: ten distinct scopes need unknown ones

        Assert.Equal(["scopes"], await RefusedFieldsAsync(user, new CreateApiKeyRequest { Name = "k", Scopes = [] }));
        Assert.Equal([.. Enumerable.Range(granted, 3).Select(i => $"scopes[{i}]")],
            await RefusedFieldsAsync(user, new CreateApiKeyRequest { Name = "k", Scopes = [.. Scopes.Grantable, .. unknown[..3]] }));
        Assert.Equal(["scopes", .. Enumerable.Range(granted, 4).Select(i => $"scopes[{i}]")],
            await RefusedFieldsAsync(user, new CreateApiKeyRequest { Name = "k", Scopes = [.. Scopes.Grantable, .. unknown] }));
        Assert.Equal(["expires_at"], await RefusedFieldsAsync(user,
            new CreateApiKeyRequest { Name = "k", Scopes = [Scopes.UsersRead], ExpiresAt = DateTime.UtcNow.AddSeconds(-1) }));
        Assert.Equal(["name"], await RefusedFieldsAsync(user, new CreateApiKeyRequest { Name = " ", Scopes = [Scopes.UsersRead] }));

        // An unknown scope is answered with the scopes there are.
        var unknownScope = Assert.Single(await ViolationsAsync(user.Bearer, new CreateApiKeyRequest { Name = "k", Scopes = ["a.b"] }));
        Assert.Equal("scopes[0]", unknownScope.Field);
        Assert.Contains(string.Join(", ", Scopes.Grantable), unknownScope.Description, StringComparison.Ordinal);

        // Eleven entries naming one scope are one scope.
        var key = await Host.Auth().CreateApiKeyAsync(
            new CreateApiKeyRequest { Name = "k", Scopes = [.. Enumerable.Repeat(Scopes.UsersRead, 11)] }, user.Bearer);
        Assert.Equal([Scopes.UsersRead], key.ApiKey!.Scopes);
    }

    [Fact]
    public async Task AKey_MintsOnlyScopesItHolds_EachOtherOneNamed()
    {
        var user = await Host.RegisterAsync();
        var parent = await Host.Auth().CreateApiKeyAsync(
            new CreateApiKeyRequest { Name = "p", Scopes = [Scopes.ApiKeysManage, Scopes.UsersRead] }, user.Bearer);

        var refused = await RefusedFieldsAsync(Identities.WithApiKey(parent.Secret),
            new CreateApiKeyRequest { Name = "c", Scopes = [Scopes.UsersRead, Scopes.UsersWrite, Scopes.WorkspacesRead] });
        Assert.Equal(["scopes[1]", "scopes[2]"], refused);
    }

    [Fact]
    public async Task ACreatedKey_CarriesItsTrimmedName_PrefixScopesExpiryAndCreation_AndSoDoesItsEvent()
    {
        var user = await Host.RegisterAsync();
        var expires = DateTime.UtcNow.AddDays(1);
        var before = DateTime.UtcNow;

        var created = await Host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest
        {
            Name = "  reporting  ", Scopes = [Scopes.UsersRead, Scopes.WorkspacesRead], ExpiresAt = expires,
        }, user.Bearer);

        var key = created.ApiKey!;
        Assert.Equal("reporting", key.Name);
        Assert.Equal(created.Secret[..12], key.Prefix);
        Assert.Equal([Scopes.UsersRead, Scopes.WorkspacesRead], key.Scopes);
        Assert.Equal(expires, key.ExpiresAt!.Value, TimeSpan.FromMilliseconds(1));
        Assert.Equal(before, key.CreatedAt!.Value, TimeSpan.FromSeconds(10));
        var listed = Assert.Single((await Host.Auth().ListApiKeysAsync(new ListApiKeysRequest(), user.Bearer)).ApiKeys);
        // The times the creation told are those the platform keeps, to the tick (PostgreSQL keeps microseconds).
        Assert.Equal((key.CreatedAt!.Value.Ticks, key.ExpiresAt!.Value.Ticks), (listed.CreatedAt!.Value.Ticks, listed.ExpiresAt!.Value.Ticks));
        List<string> scopes = [.. key.Scopes];
        Assert.Equal(key with { Scopes = scopes }, listed with { Scopes = scopes }); // the list tells what the creation told
        Assert.Equal(key.Scopes, listed.Scopes);

        var happened = Assert.Single(await OutboxEvents.OfAsync<ApiKeyCreated>(fixture.Database.ConnectionString, key.Id));
        Assert.Equal((key.Id, user.UserId, "reporting", key.Prefix), (happened.KeyId, happened.UserId, happened.Name, happened.Prefix));
        Assert.Equal(key.Scopes, happened.Scopes);
        Assert.Equal(expires, happened.ExpiresAt!.Value, TimeSpan.FromMilliseconds(1));
    }

    [Fact]
    public async Task ListApiKeys_PagesThroughTheCallersKeysOnly_NewestFirst_WithTheDefaultAndMaximumPageSize()
    {
        var user = await Host.RegisterAsync();
        var stranger = await Host.RegisterAsync();
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add((await Host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = $"k{i}", Scopes = [Scopes.UsersRead] }, user.Bearer)).ApiKey!.Id);
        }

        await Host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "theirs", Scopes = [Scopes.UsersRead] }, stranger.Bearer);

        var first = await Host.Auth().ListApiKeysAsync(new ListApiKeysRequest { Pagination = new PaginationRequest { PageSize = 2 } }, user.Bearer);
        Assert.Equal((2, 3L), (first.Pagination!.PageSize, first.Pagination.TotalCount));
        Assert.NotNull(first.Pagination.NextCursor);
        var second = await Host.Auth().ListApiKeysAsync(
            new ListApiKeysRequest { Pagination = new PaginationRequest { PageSize = 2, Cursor = first.Pagination.NextCursor } }, user.Bearer);
        Assert.Null(second.Pagination!.NextCursor);
        Assert.Equal(Enumerable.Reverse(ids), first.ApiKeys.Concat(second.ApiKeys).Select(k => k.Id));

        // A cursor is the caller's own: another user's list does not continue from it.
        var foreign = await Assert.ThrowsAsync<RpcException>(async () => await Host.Auth().ListApiKeysAsync(
            new ListApiKeysRequest { Pagination = new PaginationRequest { PageSize = 2, Cursor = first.Pagination.NextCursor } }, stranger.Bearer));
        AssertStatus(foreign, StatusCode.InvalidArgument);

        Assert.Equal(50, (await Host.Auth().ListApiKeysAsync(new ListApiKeysRequest(), user.Bearer)).Pagination!.PageSize);
        Assert.Equal(200, (await Host.Auth().ListApiKeysAsync(
            new ListApiKeysRequest { Pagination = new PaginationRequest { PageSize = 1000 } }, user.Bearer)).Pagination!.PageSize);
    }

    [Fact]
    public async Task RevokeApiKey_TellsWhichKeysWentWithIt_AndRefusesWhatIsNotAnId()
    {
        var user = await Host.RegisterAsync();
        var parent = await Host.Auth().CreateApiKeyAsync(
            new CreateApiKeyRequest { Name = "p", Scopes = [Scopes.ApiKeysManage, Scopes.UsersRead] }, user.Bearer);
        var child = await Host.Auth().CreateApiKeyAsync(
            new CreateApiKeyRequest { Name = "c", Scopes = [Scopes.UsersRead] }, Identities.WithApiKey(parent.Secret));

        var revoked = await Host.Auth().RevokeApiKeyAsync(new RevokeApiKeyRequest { Id = parent.ApiKey!.Id }, user.Bearer);
        Assert.Equal(parent.ApiKey.Id, revoked.ApiKey!.Id);
        var happened = Assert.Single(await OutboxEvents.OfAsync<ApiKeyRevoked>(fixture.Database.ConnectionString, parent.ApiKey.Id));
        Assert.Equal((parent.ApiKey.Id, user.UserId), (happened.KeyId, happened.UserId));
        Assert.Equal([child.ApiKey!.Id], happened.DescendantKeyIds);

        var notAnId = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Auth().RevokeApiKeyAsync(new RevokeApiKeyRequest { Id = "not-an-id" }, user.Bearer));
        AssertStatus(notAnId, StatusCode.InvalidArgument);
        Assert.Equal("id", notAnId.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations.Single().Field);
        var missing = Guid.NewGuid().ToString();
        var unknown = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Auth().RevokeApiKeyAsync(new RevokeApiKeyRequest { Id = missing }, user.Bearer));
        var info = AssertStatus(unknown, StatusCode.NotFound);
        Assert.Equal(("api_key", missing), (info.Metadata["resource_type"], info.Metadata["resource_id"]));
    }

    [Fact]
    public async Task AKey_MintsKeysExpiringUpToItsOwnExpiry_NotAMicrosecondLater()
    {
        var user = await Host.RegisterAsync();
        var parent = await Host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest
        {
            Name = "p", Scopes = [Scopes.ApiKeysManage, Scopes.UsersRead], ExpiresAt = DateTime.UtcNow.AddHours(1),
        }, user.Bearer);
        var limit = parent.ApiKey!.ExpiresAt!.Value; // as the platform keeps it, to the microsecond
        var withParent = Identities.WithApiKey(parent.Secret);

        var later = Assert.Single(await ViolationsAsync(withParent,
            new CreateApiKeyRequest { Name = "c", Scopes = [Scopes.UsersRead], ExpiresAt = limit.AddTicks(TimeSpan.TicksPerMicrosecond) }));
        Assert.Equal("expires_at", later.Field);
        // The refusal tells the latest expiry the key may have.
        var latest = limit.ToString("yyyy-MM-ddTHH:mm:ss.ffffff", CultureInfo.InvariantCulture);
        Assert.Contains(latest, later.Description, StringComparison.Ordinal);
        var child = await Host.Auth().CreateApiKeyAsync(
            new CreateApiKeyRequest { Name = "c", Scopes = [Scopes.UsersRead], ExpiresAt = limit }, withParent);
        Assert.Equal(limit, child.ApiKey!.ExpiresAt);
    }

    [Fact]
    public async Task AKey_CannotMint_OnceAKeyAboveItIsRevoked()
    {
        var user = await Host.RegisterAsync();
        var parent = await Host.Auth().CreateApiKeyAsync(
            new CreateApiKeyRequest { Name = "p", Scopes = [Scopes.ApiKeysManage, Scopes.UsersRead] }, user.Bearer);
        var child = await Host.Auth().CreateApiKeyAsync(
            new CreateApiKeyRequest { Name = "c", Scopes = [Scopes.ApiKeysManage, Scopes.UsersRead] },
            Identities.WithApiKey(parent.Secret));

        // The parent's revocation commits while the child's call is on its way: its row says so, nothing else does yet.
        await using (var connection = new NpgsqlConnection(fixture.Database.ConnectionString))
        {
            await connection.ExecuteAsync(
                "UPDATE auth.api_keys SET revoked_at = now() WHERE id = @id", new { id = Guid.Parse(parent.ApiKey!.Id) });
        }

        var refused = await Assert.ThrowsAsync<RpcException>(async () => await Host.Auth().CreateApiKeyAsync(
            new CreateApiKeyRequest { Name = "g", Scopes = [Scopes.UsersRead] }, Identities.WithApiKey(child.Secret)));
        AssertStatus(refused, StatusCode.Unauthenticated, "revoked");
        var keys = (await Host.Auth().ListApiKeysAsync(new ListApiKeysRequest(), user.Bearer)).ApiKeys;
        Assert.Equal(["c", "p"], keys.Select(k => k.Name)); // no grandchild
    }

    private Task<List<string>> RefusedFieldsAsync(TestUser user, CreateApiKeyRequest request) => RefusedFieldsAsync(user.Bearer, request);

    private async Task<List<string>> RefusedFieldsAsync(ProtoBuf.Grpc.CallContext caller, CreateApiKeyRequest request) =>
        [.. (await ViolationsAsync(caller, request)).Select(v => v.Field)];

    private async Task<List<Google.Rpc.BadRequest.Types.FieldViolation>> ViolationsAsync(
        ProtoBuf.Grpc.CallContext caller, CreateApiKeyRequest request)
    {
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await Host.Auth().CreateApiKeyAsync(request, caller));
        AssertStatus(ex, StatusCode.InvalidArgument);
        return [.. ex.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations];
    }
}
