using System.CommandLine;
using System.Diagnostics;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using ProtoBuf.Grpc;
using ProtoBuf.Grpc.Client;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Users;

namespace PyAirtable.Tools;

/// <summary>
/// <c>pyairtable bench</c>: load against a running host over one pooled channel, printing requests per
/// second and latency percentiles per scenario and concurrency. Scenarios: grpc.health.v1 Check without
/// and with a bearer token (the difference is the gateway's authentication cost), GetUser served warm
/// from the cache and cold (<c>cache-control: no-cache</c>, PostgreSQL), and Login (password hashing).
/// </summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var address = HostConnection.AddressOption();
        var requests = new Option<int>("--requests", "-n") { Description = "Calls per scenario and concurrency level.", DefaultValueFactory = _ => 5000 };
        var loginRequests = new Option<int>("--login-requests") { Description = "Calls per concurrency level for Login (it hashes a password: slow on purpose).", DefaultValueFactory = _ => 200 };
        var levels = new Option<string>("--concurrency", "-c") { Description = "Comma-separated concurrency levels.", DefaultValueFactory = _ => "1,16,256" };
        var command = new Command("bench", "Measure a running host: health, GetUser warm/cold, Login at several concurrency levels.") { address, requests, loginRequests, levels };
        command.SetAction(async (parse, ct) =>
        {
            try
            {
                return await RunAsync(parse.GetValue(address)!, parse.GetValue(requests), parse.GetValue(loginRequests), parse.GetValue(levels)!, ct);
            }
            catch (RpcException ex)
            {
                await Console.Error.WriteLineAsync($"bench: the host refused a call: {ex.StatusCode}: {ex.Status.Detail}");
                return 1;
            }
        });
        return command;
    }

    private static async Task<int> RunAsync(string address, int requests, int loginRequests, string levelList, CancellationToken ct)
    {
        var levels = levelList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(int.Parse).ToArray();
        if (requests < 1 || loginRequests < 1 || levels.Length == 0 || levels.Any(l => l is < 1 or > 4096))
        {
            await Console.Error.WriteLineAsync("bench: --requests and --login-requests must be positive and concurrency levels 1 to 4096");
            return 2;
        }

        using var channel = HostConnection.Open(address);
        var auth = channel.CreateGrpcService<IAuthService>();
        var users = channel.CreateGrpcService<IUserService>();
        var health = new Health.HealthClient(channel);
        var email = $"bench-{Guid.NewGuid():N}@example.dev";
        const string password = "bench-password-123";
        var registered = await auth.RegisterAsync(new RegisterRequest { Email = email, Password = password, DisplayName = "Bench" });
        var token = (await auth.LoginAsync(new LoginRequest { Email = email, Password = password })).Tokens!.AccessToken;
        // Login runs over many accounts: one account logging in from 16 or 256 callers at once is what
        // the brute-force limit (attempts counted while in flight) is there to refuse.
        var loginAccounts = new List<string>();
        for (var i = 0; i < Math.Min(64, levels.Max()); i++)
        {
            var other = $"bench-{Guid.NewGuid():N}@example.dev";
            await auth.RegisterAsync(new RegisterRequest { Email = other, Password = password, DisplayName = "Bench" });
            loginAccounts.Add(other);
        }

        var nextAccount = 0;
        var bearer = new Metadata { { "authorization", "Bearer " + token } };
        var noCache = new Metadata { { "authorization", "Bearer " + token }, { "cache-control", "no-cache" } };
        var getUser = new GetUserRequest { UserId = registered.UserId };

        Console.WriteLine($"# pyairtable bench — {address} — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC — {Environment.ProcessorCount} cores (client and host share them when both run here)");
        Console.WriteLine($"{"scenario",-28} {"conc",5} {"calls",7} {"req/s",9} {"p50 ms",8} {"p99 ms",8} {"p99.9 ms",9} {"errors",7}");
        var scenarios = new (string Name, int Count, Func<CancellationToken, Task> Call)[]
        {
            ("health Check (anonymous)", requests, c => health.CheckAsync(new HealthCheckRequest(), cancellationToken: c).ResponseAsync),
            ("health Check (bearer JWT)", requests, c => health.CheckAsync(new HealthCheckRequest(), bearer, cancellationToken: c).ResponseAsync),
            ("GetUser warm (cache)", requests, c => users.GetUserAsync(getUser, new CallContext(new CallOptions(bearer, cancellationToken: c))).AsTask()),
            ("GetUser cold (no-cache)", requests, c => users.GetUserAsync(getUser, new CallContext(new CallOptions(noCache, cancellationToken: c))).AsTask()),
            ($"Login ({loginAccounts.Count} accounts)", loginRequests, c => auth.LoginAsync(
                new LoginRequest { Email = loginAccounts[(int)((uint)Interlocked.Increment(ref nextAccount) % (uint)loginAccounts.Count)], Password = password },
                new CallContext(new CallOptions(cancellationToken: c))).AsTask()),
        };

        foreach (var (name, count, call) in scenarios)
        {
            await call(ct); // warm the path (and the cache for GetUser warm)
            foreach (var level in levels)
            {
                var result = await LoadRun.MeasureAsync(call, count, level, ct);
                Console.WriteLine($"{name,-28} {level,5} {count,7} {result.Rps,9:F0} {result.P50,8:F2} {result.P99,8:F2} {result.P999,9:F2} {result.Errors,7}");
            }
        }

        return 0;
    }
}
