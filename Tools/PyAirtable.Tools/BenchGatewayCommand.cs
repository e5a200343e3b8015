using System.CommandLine;
using System.Globalization;
using Grpc.Core;
using ProtoBuf;
using ProtoBuf.Grpc.Client;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Users;

namespace PyAirtable.Tools;

/// <summary>
/// <c>pyairtable bench-gateway</c>: what the gateway's protections and observability cost. Starts one real host process per
/// setting (everything off; each of rate limiting, tracing, metrics and analytics recording alone; everything on) on a
/// scratch database, and drives the same authenticated GetUser (bearer token, profile warm in the cache) at each with
/// h2load, in interleaved rounds, so every setting sees the same machine noise. Rate limits are on but out of reach: the
/// buckets are consulted on every call and never refuse.
/// </summary>
public static class BenchGatewayCommand
{
    private static readonly (string Name, string[] On)[] Settings =
    [
        ("all off", []),
        ("rate limiting", ["ratelimits"]),
        ("tracing", ["traces"]),
        ("tracing, 10 % sampled", ["traces", "sampled"]),
        ("metrics", ["metrics"]),
        ("analytics recording", ["analytics"]),
        ("all on", ["ratelimits", "traces", "metrics", "analytics"]),
        ("all on, 10 % sampled", ["ratelimits", "traces", "metrics", "analytics", "sampled"]),
    ];

    public static Command Create()
    {
        var postgres = new Option<string>("--postgres") { Description = "A PostgreSQL connection string whose user may create databases.", Required = true };
        var redis = new Option<string>("--redis") { Description = "Redis (host:port).", Required = true };
        var requests = new Option<int>("--requests", "-n") { DefaultValueFactory = _ => 100_000, Description = "Calls per h2load run." };
        var rounds = new Option<int>("--rounds") { DefaultValueFactory = _ => 3, Description = "Interleaved rounds (each runs every setting once)." };
        var clients = new Option<int>("--clients", "-c") { DefaultValueFactory = _ => 16, Description = "h2load connections." };
        var streams = new Option<int>("--streams", "-m") { DefaultValueFactory = _ => 32, Description = "h2load concurrent streams per connection." };
        var hostDll = new Option<string?>("--host-dll") { Description = "PyAirtable.Host.dll to start (default: the Release build beside this tool's repository)." };
        var command = new Command("bench-gateway", "Measure the cost of rate limiting, tracing, metrics and analytics recording on an authenticated call.")
        {
            postgres, redis, requests, rounds, clients, streams, hostDll,
        };
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(postgres)!, parse.GetValue(redis)!, parse.GetValue(requests), parse.GetValue(rounds),
            parse.GetValue(clients), parse.GetValue(streams), parse.GetValue(hostDll), ct));
        return command;
    }

    private static async Task<int> RunAsync(string postgres, string redis, int requests, int rounds, int clients, int streams, string? hostDll,
        CancellationToken ct)
    {
        hostDll ??= BenchHost.FindHostDll();
        if (hostDll is null || !File.Exists(hostDll))
        {
            await Console.Error.WriteLineAsync("bench-gateway: PyAirtable.Host.dll not found; build the solution (Release) or pass --host-dll");
            return 2;
        }

        if (!H2Load.Installed)
        {
            await Console.Error.WriteLineAsync("bench-gateway: h2load not found; install it with: apt-get install nghttp2-client");
            return 2;
        }

        if (requests < 1 || rounds < 1 || clients < 1 || streams < 1)
        {
            await Console.Error.WriteLineAsync("bench-gateway: --requests, --rounds, --clients and --streams must be positive");
            return 2;
        }

        await using var scratch = await ScratchEnvironment.CreateAsync(postgres, redis, "benchgw", ct);
        var hosts = new List<BenchHost>();
        try
        {
            // The first host migrates the scratch database alone; the others start against a migrated one.
            foreach (var (name, on) in Settings)
            {
                var host = BenchHost.Start(hostDll, name, SettingsFor(on), scratch.ConnectionString(40), redis, scratch.Prefix);
                hosts.Add(host);
                if (hosts.Count == 1)
                {
                    await host.WaitServingAsync(ct);
                }
            }

            foreach (var host in hosts)
            {
                await host.WaitServingAsync(ct);
            }

            // One account, one token (every host shares the database, so its signing keys), a profile warm in the cache.
            using var first = HostConnection.Open(hosts[0].Address);
            var auth = first.CreateGrpcService<IAuthService>();
            var email = $"bench-{Guid.NewGuid():N}@example.dev";
            var registered = await auth.RegisterAsync(new RegisterRequest { Email = email, Password = "bench-password-123", DisplayName = "Bench" });
            var token = (await auth.LoginAsync(new LoginRequest { Email = email, Password = "bench-password-123" })).Tokens!.AccessToken;
            var request = new GetUserRequest { UserId = registered.UserId };
            var headers = new Metadata { { "authorization", "Bearer " + token } };
            // The response's cache timestamps vary in encoded length by a byte or two: take the shortest seen, less a margin.
            var responseFrame = long.MaxValue;
            foreach (var host in hosts)
            {
                using var channel = HostConnection.Open(host.Address);
                var users = channel.CreateGrpcService<IUserService>();
                for (var i = 0; i < 10; i++)
                {
                    var response = await users.GetUserAsync(request, new ProtoBuf.Grpc.CallContext(new CallOptions(headers)));
                    responseFrame = Math.Min(responseFrame, 5 + Measure(response) - 2);
                }
            }

            var body = Path.Combine(Path.GetTempPath(), $"bench-gateway-{Guid.NewGuid():N}.bin");
            await File.WriteAllBytesAsync(body, H2Load.Frame(request), ct);
            try
            {
                Console.WriteLine($"# pyairtable bench-gateway — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC — {Environment.ProcessorCount} cores shared by h2load and " +
                                  $"{hosts.Count} hosts; UserService/GetUser (bearer token, cached profile), h2load -n {requests} -c {clients} -m {streams}, " +
                                  $"{rounds} interleaved rounds");
                var results = hosts.ToDictionary(h => h.Name, _ => new List<Run>());
                // A short warm-up per host (JIT, connection pools, caches), not counted.
                foreach (var host in hosts)
                {
                    await H2LoadAsync(host, body, token, Math.Min(requests, 5000), clients, streams, responseFrame, ct);
                }

                for (var round = 0; round < rounds; round++)
                {
                    // Rotate the order each round so no setting always runs first or last.
                    foreach (var host in hosts.Skip(round % hosts.Count).Concat(hosts.Take(round % hosts.Count)))
                    {
                        results[host.Name].Add(await H2LoadAsync(host, body, token, requests, clients, streams, responseFrame, ct));
                    }
                }

                Print(hosts, results);
                // And each host still answers the call itself (the token, the cache and the limits held throughout).
                foreach (var host in hosts)
                {
                    using var channel = HostConnection.Open(host.Address);
                    await channel.CreateGrpcService<IUserService>().GetUserAsync(request, new ProtoBuf.Grpc.CallContext(new CallOptions(headers)));
                }

                return results.Values.SelectMany(r => r).All(r => r.Failed == 0) ? 0 : 1;
            }
            finally
            {
                File.Delete(body);
            }
        }
        finally
        {
            foreach (var host in hosts)
            {
                await host.DisposeAsync();
            }
        }
    }

    private static void Print(List<BenchHost> hosts, Dictionary<string, List<Run>> results)
    {
        var baseline = H2LoadResult.Median(results["all off"].Select(r => r.Rps));
        Console.WriteLine($"{"setting",-22} {"req/s (median)",15} {"vs all off",11} {"rounds req/s",-32} {"p50 ms",7} {"p99 ms",7} {"failed",7}");
        foreach (var host in hosts)
        {
            var runs = results[host.Name];
            var rps = H2LoadResult.Median(runs.Select(r => r.Rps));
            var each = string.Join(" ", runs.Select(r => r.Rps.ToString("N0", CultureInfo.InvariantCulture)));
            Console.WriteLine($"{host.Name,-22} {rps,15:N0} {rps / baseline,10:P1} {each,-32} {H2LoadResult.Median(runs.Select(r => r.P50)),7:F2} {H2LoadResult.Median(runs.Select(r => r.P99)),7:F2} " +
                              $"{runs.Sum(r => r.Failed),7}");
        }

        foreach (var name in new[] { "all on", "all on, 10 % sampled" })
        {
            var all = H2LoadResult.Median(results[name].Select(r => r.Rps));
            Console.WriteLine($"cost of {name}: {1 - (all / baseline):P1} of the throughput with everything off (aim: at most 10 %)");
        }
        Console.WriteLine("failed = at least that many calls got no GetUser response (from the bytes received: h2load sees no gRPC status)");
    }

    private static async Task<Run> H2LoadAsync(BenchHost host, string body, string token, int requests, int clients, int streams,
        long responseFrame, CancellationToken ct)
    {
        var result = await H2Load.RunAsync(host.Address + "/pyairtable.users.v1.UserService/GetUser", body, ["authorization: Bearer " + token],
            requests, clients, streams, ct);
        return new Run(result.Rps, result.P50, result.P99, result.FailedAtLeast(requests, responseFrame));
    }

    private static long Measure<T>(T message)
    {
        using var buffer = new MemoryStream();
        Serializer.Serialize(buffer, message);
        return buffer.Length;
    }

    private static Dictionary<string, string> SettingsFor(string[] on)
    {
        var settings = new Dictionary<string, string>
        {
            ["RateLimits__Enabled"] = on.Contains("ratelimits") ? "true" : "false",
            ["OpenTelemetry__Traces"] = on.Contains("traces") ? "true" : "false",
            ["OpenTelemetry__Metrics"] = on.Contains("metrics") ? "true" : "false",
            ["Analytics__RecordCalls"] = on.Contains("analytics") ? "true" : "false",
            ["OpenTelemetry__TraceSampleRatio"] = on.Contains("sampled") ? "0.1" : "1",
        };
        // Consulted on every call, never reached: the cost measured is the check, not refusals.
        foreach (var limit in new[] { "PerCredential", "PerBase", "PerClientIp" })
        {
            settings[$"RateLimits__Classes__default__{limit}"] = "1000000000";
        }

        return settings;
    }

    private readonly record struct Run(double Rps, double P50, double P99, int Failed);
}
