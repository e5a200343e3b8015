using Google.Rpc;
using Grpc.Core;
using Grpc.Net.Client;
using ProtoBuf.Grpc.Client;
using PyAirtable.Contracts.Auth;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using static PyAirtable.IntegrationTests.Identity.AuthenticationTests;

namespace PyAirtable.IntegrationTests.Adversarial;

/// <summary>
/// Brute-force protection with the limits as shipped (no overrides), attacked from other client addresses
/// (127.0.0.0/8): an attacker cannot lock the owner out, while guessing is still stopped. Guesses sent in parallel
/// cannot outrun the limit either (that test lowers it, on a host of its own).
/// </summary>
public sealed class LoginLockoutTests : DatabasePerTest
{
    private TestHost? _host;

    private TestHost Host => _host!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _host = await TestHost.StartAsync(Database.ConnectionString);
    }

    public override async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }

        await base.DisposeAsync();
    }

    [Fact]
    public async Task AttackerOnAnotherClient_LocksOnlyThemselvesOut_TheOwnerStillLogsIn()
    {
        var victim = await Host.RegisterAsync(); // registered and logged in from 127.0.0.1
        using var attacker = Adversary.ChannelFrom(Host, "127.0.0.2");
        var statuses = new List<StatusCode>();
        for (var i = 0; i < 8; i++)
        {
            statuses.Add(await TryLoginAsync(attacker, victim.Email, "guess-" + i));
        }

        // Five guesses from that client, then it is refused — even with the right password.
        Assert.Equal(Enumerable.Repeat(StatusCode.Unauthenticated, 5).Concat(Enumerable.Repeat(StatusCode.ResourceExhausted, 3)), statuses);
        var refused = await Assert.ThrowsAsync<RpcException>(async () =>
            await attacker.CreateGrpcService<IAuthService>().LoginAsync(new LoginRequest { Email = victim.Email, Password = victim.Password }));
        var info = AssertStatus(refused, StatusCode.ResourceExhausted);
        Assert.Equal("account_client", info.Metadata["limit"]);
        Assert.NotNull(refused.GetRpcStatus()!.GetDetail<RetryInfo>());

        // The owner, from their own client and from a new one, is not affected.
        Assert.Equal(victim.UserId, (await Host.Auth().LoginAsync(new LoginRequest { Email = victim.Email, Password = victim.Password })).UserId);
        using var newDevice = Adversary.ChannelFrom(Host, "127.0.0.3");
        Assert.Equal(victim.UserId, (await newDevice.CreateGrpcService<IAuthService>().LoginAsync(
            new LoginRequest { Email = victim.Email, Password = victim.Password })).UserId);
    }

    [Fact]
    public async Task DistributedGuessing_ClosesTheAccountToNewClients_NotToKnownOnes()
    {
        var victim = await Host.RegisterAsync();
        // 4 clients x 5 wrong passwords = 20 failures: the account-wide limit.
        await Task.WhenAll(Enumerable.Range(10, 4).Select(async octet =>
        {
            using var attacker = Adversary.ChannelFrom(Host, $"127.0.0.{octet}");
            for (var i = 0; i < 5; i++)
            {
                Assert.Equal(StatusCode.Unauthenticated, await TryLoginAsync(attacker, victim.Email, "guess-" + i));
            }
        }));

        using var stranger = Adversary.ChannelFrom(Host, "127.0.0.40");
        var refused = await Assert.ThrowsAsync<RpcException>(async () =>
            await stranger.CreateGrpcService<IAuthService>().LoginAsync(new LoginRequest { Email = victim.Email, Password = victim.Password }));
        Assert.Equal("account", AssertStatus(refused, StatusCode.ResourceExhausted).Metadata["limit"]);

        // The client the owner used before still gets in.
        Assert.Equal(victim.UserId, (await Host.Auth().LoginAsync(new LoginRequest { Email = victim.Email, Password = victim.Password })).UserId);
    }

    [Fact]
    public async Task PasswordSpray_FromOneClient_IsRefusedAfterFiftyFailures()
    {
        using var sprayer = Adversary.ChannelFrom(Host, "127.0.0.50");
        var gate = new SemaphoreSlim(4);
        var statuses = await Task.WhenAll(Enumerable.Range(0, 50).Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                return await TryLoginAsync(sprayer, Identities.NewEmail(), "Summer2026!");
            }
            finally
            {
                gate.Release();
            }
        }));
        Assert.All(statuses, s => Assert.Equal(StatusCode.Unauthenticated, s));

        var refused = await Assert.ThrowsAsync<RpcException>(async () =>
            await sprayer.CreateGrpcService<IAuthService>().LoginAsync(new LoginRequest { Email = Identities.NewEmail(), Password = "Summer2026!" }));
        Assert.Equal("client", AssertStatus(refused, StatusCode.ResourceExhausted).Metadata["limit"]);

        // Other clients are not refused for it.
        var bystander = await Host.RegisterAsync();
        Assert.Equal(bystander.UserId, (await Host.Auth().LoginAsync(new LoginRequest { Email = bystander.Email, Password = bystander.Password })).UserId);
    }

    [Fact]
    public async Task ParallelWrongPasswords_CannotOutrunTheLockout()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Settings["Auth:Lockout:MaxFailuresPerPair"] = "3";
            o.Settings["Auth:Lockout:MaxFailuresPerClient"] = "100000";
        });
        var user = await host.RegisterAsync();

        var attempts = await Task.WhenAll(Enumerable.Range(0, 24).Select(async i =>
        {
            try
            {
                await host.Auth().LoginAsync(new LoginRequest { Email = user.Email, Password = "guess-number-" + i });
                return StatusCode.OK;
            }
            catch (RpcException ex)
            {
                return ex.StatusCode;
            }
        }));

        // Only as many guesses as the limit may reach the password check; the rest are refused unseen.
        Assert.True(attempts.Count(s => s == StatusCode.Unauthenticated) <= 3, string.Join(",", attempts));
        Assert.Equal(24 - attempts.Count(s => s == StatusCode.Unauthenticated), attempts.Count(s => s == StatusCode.ResourceExhausted));
    }

    private static async Task<StatusCode> TryLoginAsync(GrpcChannel channel, string email, string password)
    {
        try
        {
            await channel.CreateGrpcService<IAuthService>().LoginAsync(new LoginRequest { Email = email, Password = password });
            return StatusCode.OK;
        }
        catch (RpcException ex)
        {
            return ex.StatusCode;
        }
    }
}
