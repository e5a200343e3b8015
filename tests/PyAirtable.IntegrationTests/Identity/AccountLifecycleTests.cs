using Google.Rpc;
using Grpc.Core;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Users;
using PyAirtable.IntegrationTests.Infrastructure;
using PyAirtable.Services.Auth;
using static PyAirtable.IntegrationTests.Identity.AuthenticationTests;

namespace PyAirtable.IntegrationTests.Identity;

/// <summary>
/// DeactivateUser and CreateUser through real gRPC calls: who may end an account, what ending one twice or an unknown one
/// answers, and the profile only the Auth service's own credential (users:provision) may create.
/// </summary>
public sealed class AccountLifecycleTests(IdentityFixture fixture) : IClassFixture<IdentityFixture>, IDisposable
{
    private TestHost Host => fixture.Host;

    public void Dispose() => fixture.AssertNoUnexpectedErrors();

    [Fact]
    public async Task AUser_CannotDeactivateAnotherUsersAccount()
    {
        var victim = await Host.RegisterAsync("Victim");
        var attacker = await Host.RegisterAsync("Attacker");

        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Users().DeactivateUserAsync(new DeactivateUserRequest { UserId = victim.UserId }, attacker.Bearer));

        AssertStatus(ex, StatusCode.PermissionDenied);
        var still = await Host.Users().GetUserAsync(new GetUserRequest { UserId = victim.UserId }, victim.Bearer);
        Assert.Equal(UserStatus.Active, still.User!.Status);
    }

    [Fact]
    public async Task DeactivateUser_NamesABadId_AndAnUnknownIdIsNotFound_ToAnOperator()
    {
        var admin = await Host.RegisterAdminAsync(fixture.Database.ConnectionString);

        var bad = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Users().DeactivateUserAsync(new DeactivateUserRequest { UserId = "not-an-id" }, admin.Bearer));
        Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
        Assert.Equal("user_id", Assert.Single(bad.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations).Field);
        var unknown = await Assert.ThrowsAsync<RpcException>(async () => await Host.Users().DeactivateUserAsync(
            new DeactivateUserRequest { UserId = Guid.NewGuid().ToString() }, admin.Bearer));
        AssertStatus(unknown, StatusCode.NotFound);
    }

    [Fact]
    public async Task DeactivatingAnAccountTwice_AnswersTheDeactivatedProfileAgain()
    {
        // A retried call (its first answer lost) must not turn into NOT_FOUND: the account exists, already ended.
        var admin = await Host.RegisterAdminAsync(fixture.Database.ConnectionString);
        var user = await Host.RegisterAsync("Twice");
        var request = new DeactivateUserRequest { UserId = user.UserId };

        var first = await Host.Users().DeactivateUserAsync(request, admin.Bearer);
        var second = await Host.Users().DeactivateUserAsync(request, admin.Bearer);

        Assert.Equal((UserStatus.Deactivated, "Twice"), (second.User!.Status, second.User.DisplayName));
        Assert.Equal(first.User, second.User);
    }

    [Fact]
    public async Task CreateUser_IsTheAuthServicesAlone_AndARetryAnswersTheSameProfile()
    {
        var (time, _, tokens) = TokenHandlingTests.Create(Host);
        var issuer = new ServiceTokenIssuer(tokens, time);
        var provisioning = Authorization(await issuer.AuthorizationAsync("auth", [Scopes.UsersProvision], default));
        var otherScope = Authorization(await issuer.AuthorizationAsync("auth", [Scopes.UsersWrite], default));
        var user = await Host.RegisterAsync();
        var request = new CreateUserRequest
        {
            UserId = Guid.NewGuid().ToString(), Email = $"new-{Guid.NewGuid():N}@example.com", DisplayName = "New",
        };

        // A user, or a service without users:provision, is refused; nothing is created.
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await Host.Users().CreateUserAsync(request, user.Bearer)),
            StatusCode.PermissionDenied);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await Host.Users().CreateUserAsync(request, otherScope)),
            StatusCode.PermissionDenied);

        var created = await Host.Users().CreateUserAsync(request, provisioning);
        Assert.Equal((request.UserId, request.Email, "New", UserStatus.Active),
            (created.User!.Id, created.User.Email, created.User.DisplayName, created.User.Status));
        var retried = await Host.Users().CreateUserAsync(request, provisioning);
        Assert.Equal(created.User, retried.User);
    }

    [Fact]
    public async Task CreateUser_NamesEachInvalidField()
    {
        var (time, _, tokens) = TokenHandlingTests.Create(Host);
        var provisioning = Authorization(
            await new ServiceTokenIssuer(tokens, time).AuthorizationAsync("auth", [Scopes.UsersProvision], default));

        var ex = await Assert.ThrowsAsync<RpcException>(async () => await Host.Users().CreateUserAsync(
            new CreateUserRequest { UserId = Guid.NewGuid().ToString(), Email = "not-an-email", DisplayName = " " }, provisioning));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Equal(["display_name", "email"],
            ex.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Select(v => v.Field).Order(StringComparer.Ordinal));
    }

    private static ProtoBuf.Grpc.CallContext Authorization(string header) =>
        new(new CallOptions(new Metadata { { "authorization", header } }));
}
