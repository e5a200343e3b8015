using System.CommandLine;
using System.Globalization;
using Grpc.Core;
using ProtoBuf.Grpc.Client;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Users;

namespace PyAirtable.Tools;

/// <summary>
/// <c>pyairtable bench-rest</c>: what the JSON/HTTP API costs against gRPC for the same authenticated GetUser (bearer
/// token, cached profile) on one host process, driven by h2load in interleaved rounds: gRPC (h2c), JSON/HTTP over h2c on
/// the same port, and JSON/HTTP over HTTP/1.1 on the HTTP endpoint (keep-alive connections, no pipelining). Rate limits stay
/// on, out of reach, as in bench-gateway.
/// </summary>
public static class BenchRestCommand
{
    public static Command Create()
    {
        var postgres = new Option<string>("--postgres") { Description = "A PostgreSQL connection string whose user may create databases.", Required = true };
        var redis = new Option<string>("--redis") { Description = "Redis (host:port).", Required = true };
        var requests = new Option<int>("--requests", "-n") { DefaultValueFactory = _ => 50_000, Description = "Calls per h2load run." };
        var rounds = new Option<int>("--rounds") { DefaultValueFactory = _ => 3, Description = "Interleaved rounds (each runs every protocol once)." };
        var clients = new Option<int>("--clients", "-c") { DefaultValueFactory = _ => 16, Description = "h2load connections (HTTP/1.1: this many × streams)." };
        var streams = new Option<int>("--streams", "-m") { DefaultValueFactory = _ => 16, Description = "Concurrent streams per HTTP/2 connection." };
        var hostDll = new Option<string?>("--host-dll") { Description = "PyAirtable.Host.dll to start (default: the Release build beside this tool's repository)." };
        var command = new Command("bench-rest", "REST vs gRPC throughput and latency for the same GetUser on one host.")
        {
            postgres, redis, requests, rounds, clients, streams, hostDll,
        };
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(postgres)!, parse.GetValue(redis)!, parse.GetValue(requests), parse.GetValue(rounds),
            parse.GetValue(clients), parse.GetValue(streams), parse.GetValue(hostDll), ct));
        return command;
    }

    private sealed record Protocol(string Name, Func<string, string, int, CancellationToken, Task<H2LoadResult>> Run);

    private static async Task<int> RunAsync(string postgres, string redis, int requests, int rounds, int clients, int streams, string? hostDll,
        CancellationToken ct)
    {
        hostDll ??= BenchHost.FindHostDll();
        if (hostDll is null || !File.Exists(hostDll) || !H2Load.Installed)
        {
            await Console.Error.WriteLineAsync("bench-rest: needs the Release PyAirtable.Host.dll (or --host-dll) and h2load (apt-get install nghttp2-client)");
            return 2;
        }

        if (requests < 1 || rounds < 1 || clients < 1 || streams < 1)
        {
            await Console.Error.WriteLineAsync("bench-rest: --requests, --rounds, --clients and --streams must be positive");
            return 2;
        }

        await using var scratch = await ScratchEnvironment.CreateAsync(postgres, redis, "benchrest", ct);
        var settings = new Dictionary<string, string>
        {
            ["RateLimits__Classes__default__PerCredential"] = "100000000",
            ["RateLimits__Classes__default__PerClientIp"] = "100000000",
        };
        await using var host = BenchHost.Start(hostDll, "host", settings, scratch.ConnectionString(40), redis, scratch.Prefix);
        await host.WaitServingAsync(ct);

        using var channel = HostConnection.Open(host.Address);
        var auth = channel.CreateGrpcService<IAuthService>();
        var email = $"bench-{Guid.NewGuid():N}@example.dev";
        var registered = await auth.RegisterAsync(new RegisterRequest { Email = email, Password = "bench-password-123", DisplayName = "Bench" });
        var token = (await auth.LoginAsync(new LoginRequest { Email = email, Password = "bench-password-123" })).Tokens!.AccessToken;
        var request = new GetUserRequest { UserId = registered.UserId };
        await channel.CreateGrpcService<IUserService>().GetUserAsync(request,
            new ProtoBuf.Grpc.CallContext(new CallOptions(new Metadata { { "authorization", "Bearer " + token } })));

        var body = Path.Combine(Path.GetTempPath(), $"bench-rest-{Guid.NewGuid():N}.bin");
        await File.WriteAllBytesAsync(body, H2Load.Frame(request), ct);
        var bearer = "authorization: Bearer " + token;
        var restPath = "/v1/users/" + registered.UserId;
        Protocol[] protocols =
        [
            new("gRPC (h2c)", (_, _, n, c) => H2Load.RunAsync(host.Address + "/pyairtable.users.v1.UserService/GetUser", body, [bearer], n, clients, streams, c)),
            new("REST JSON (h2c)", (_, _, n, c) => H2Load.RunAsync(host.Address + restPath, ["-H", bearer], n, clients, streams, c)),
            new("REST JSON (HTTP/1.1)", (_, _, n, c) => H2Load.RunAsync(host.HttpAddress + restPath, ["--h1", "-H", bearer], n,
                Math.Min(clients * streams, 128), 1, c)),
        ];
        try
        {
            Console.WriteLine($"# pyairtable bench-rest — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC — {Environment.ProcessorCount} cores shared by h2load and the host; " +
                              $"UserService/GetUser (bearer token, cached profile), -n {requests}, {clients} connections × {streams} streams " +
                              $"(HTTP/1.1: {Math.Min(clients * streams, 128)} connections), {rounds} interleaved rounds");
            foreach (var protocol in protocols)
            {
                await protocol.Run("", "", Math.Min(requests, 5000), ct); // warm-up: JIT, pools, caches
            }

            var results = protocols.ToDictionary(p => p.Name, _ => new List<H2LoadResult>());
            for (var round = 0; round < rounds; round++)
            {
                foreach (var protocol in protocols.Skip(round % protocols.Length).Concat(protocols.Take(round % protocols.Length)))
                {
                    results[protocol.Name].Add(await protocol.Run("", "", requests, ct));
                }
            }

            var grpc = H2LoadResult.Median(results[protocols[0].Name].Select(r => r.Rps));
            Console.WriteLine($"{"protocol",-22} {"req/s (median)",15} {"vs gRPC",8} {"rounds req/s",-30} {"p50 ms",7} {"p99 ms",7} {"failed",7}");
            foreach (var protocol in protocols)
            {
                var runs = results[protocol.Name];
                var rps = H2LoadResult.Median(runs.Select(r => r.Rps));
                var each = string.Join(" ", runs.Select(r => r.Rps.ToString("N0", CultureInfo.InvariantCulture)));
                var failed = runs.Sum(r => r.StreamsFailed + r.NotOk);
                Console.WriteLine($"{protocol.Name,-22} {rps,15:N0} {rps / grpc,8:P0} {each,-30} {H2LoadResult.Median(runs.Select(r => r.P50)),7:F2} " +
                                  $"{H2LoadResult.Median(runs.Select(r => r.P99)),7:F2} {failed,7}");
            }

            Console.WriteLine("failed = streams h2load saw fail, plus HTTP statuses other than 200 (gRPC errors are not counted: see bench-gateway)");
            return results.Values.SelectMany(r => r).All(r => r.StreamsFailed + r.NotOk == 0) ? 0 : 1;
        }
        finally
        {
            File.Delete(body);
        }
    }
}
