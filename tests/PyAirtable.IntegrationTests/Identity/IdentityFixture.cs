using Bogus;
using Dapper;
using Grpc.Core;
using Npgsql;
using ProtoBuf.Grpc;
using ProtoBuf.Grpc.Client;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Users;
using PyAirtable.IntegrationTests.Infrastructure;

namespace PyAirtable.IntegrationTests.Identity;

/// <summary>A host with small brute-force limits so lockout and recovery fit in a test.</summary>
public sealed class IdentityFixture : HostFixture
{
    public const int MaxFailures = 3;
    /// <summary>
    /// Three failed logins (each a full password hash, several times slower on a busy box), the locked login and the same on
    /// a second host must all fall inside it; the lockout test then waits out what is left of it.
    /// </summary>
    public static readonly TimeSpan LockoutWindow = TimeSpan.FromSeconds(10);

    protected override void Configure(TestHostOptions options)
    {
        options.Settings["Auth:Lockout:MaxFailuresPerPair"] = MaxFailures.ToString(System.Globalization.CultureInfo.InvariantCulture);
        options.Settings["Auth:Lockout:MaxFailuresPerClient"] = "100000"; // every test calls from 127.0.0.1
        options.Settings["Auth:Lockout:Window"] = LockoutWindow.ToString();
        options.Settings["Auth:Lockout:SlowAfter"] = "2";
        options.Settings["Auth:Lockout:SlowDelay"] = "00:00:00.050";
    }
}

/// <summary>A registered, logged-in user.</summary>
public sealed record TestUser(string UserId, string Email, string Password, TokenSet Tokens)
{
    public CallContext Bearer => Identities.WithBearer(Tokens.AccessToken);
}

public static class Identities
{
    private static readonly Faker Faker = new();

    public static IAuthService Auth(this TestHost host) => host.Channel.CreateGrpcService<IAuthService>();

    public static IUserService Users(this TestHost host) => host.Channel.CreateGrpcService<IUserService>();

    public static CallContext WithBearer(string token) =>
        new(new CallOptions(new Metadata { { "authorization", "Bearer " + token } }));

    public static CallContext WithApiKey(string key) =>
        new(new CallOptions(new Metadata { { "x-api-key", key } }));

    public static string NewEmail() => $"{Faker.Internet.UserName().Replace("'", "", StringComparison.Ordinal)}.{Guid.NewGuid():N}@example.com".ToLowerInvariant();

    public static async Task<TestUser> RegisterAsync(this TestHost host, string? displayName = null)
    {
        var email = NewEmail();
        var password = Faker.Internet.Password(16) + "1aA";
        var registered = await host.Auth().RegisterAsync(new RegisterRequest { Email = email, Password = password, DisplayName = displayName ?? Faker.Name.FullName() });
        var login = await host.Auth().LoginAsync(new LoginRequest { Email = email, Password = password });
        Assert.Equal(registered.UserId, login.UserId);
        return new TestUser(registered.UserId, email, password, login.Tokens!);
    }

    /// <summary>Grants the platform admin role (operators do it in the database) and logs in again.</summary>
    public static async Task<TestUser> RegisterAdminAsync(this TestHost host, string connectionString)
    {
        var user = await host.RegisterAsync();
        await using (var connection = new NpgsqlConnection(connectionString))
        {
            await connection.ExecuteAsync("UPDATE auth.credentials SET roles = '{admin}' WHERE user_id = @id", new { id = Guid.Parse(user.UserId) });
        }

        var login = await host.Auth().LoginAsync(new LoginRequest { Email = user.Email, Password = user.Password });
        return user with { Tokens = login.Tokens! };
    }
}
