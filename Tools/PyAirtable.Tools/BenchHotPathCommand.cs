using System.CommandLine;
using System.Globalization;
using System.Net;
using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ProtoBuf.Grpc;
using ProtoBuf.Grpc.Client;
using ProtoBuf.Grpc.Configuration;
using ProtoBuf.Grpc.Server;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Users;
using PyAirtable.Contracts.Workspaces;

namespace PyAirtable.Tools;

/// <summary>
/// <c>pyairtable bench-hotpath</c>: the platform's read path against the transport. One real host (defaults; rate limits
/// out of reach) on a scratch database, and in this process a bare code-first server of the same build answering an
/// in-memory GetUser with the host's own reply through an empty pipeline (the reference). h2load drives each scenario in
/// interleaved rounds at a throughput shape (<c>-c16 -m32</c>) and a latency shape (one connection, one stream), and the
/// figures are printed as ratios against the reference of the same run.
/// </summary>
public static class BenchHotPathCommand
{
    private static readonly string[] LimitNames = ["PerCredential", "PerBase", "PerClientIp"];

    public static Command Create()
    {
        var postgres = new Option<string>("--postgres") { Description = "A PostgreSQL connection string whose user may create databases.", Required = true };
        var redis = new Option<string>("--redis") { Description = "Redis (host:port).", Required = true };
        var requests = new Option<int>("--requests", "-n") { DefaultValueFactory = _ => 100_000, Description = "Calls per throughput run (a tenth per latency run)." };
        var rounds = new Option<int>("--rounds") { DefaultValueFactory = _ => 3, Description = "Interleaved rounds." };
        var hostDll = new Option<string?>("--host-dll") { Description = "PyAirtable.Host.dll to start (default: the Release build beside this tool's repository)." };
        var trace = new Option<string?>("--trace")
        {
            Description = "After the tables, run the scenario whose name starts with this once more under dotnet-trace (thread time, " +
                          "dotnet tool install -g dotnet-trace) and print the host's hottest methods.",
        };
        var traceAlloc = new Option<string?>("--trace-alloc")
        {
            Description = "After the tables, run the scenario whose name starts with this once more under dotnet-trace (gc-verbose) " +
                          "and print the shares of the host's allocations by type and by method.",
        };
        var only = new Option<string[]>("--only")
        {
            Description = "Run only the scenarios whose names start with these (the bare references always run).",
            AllowMultipleArgumentsPerToken = true,
        };
        var command = new Command("bench-hotpath", "Measure authenticated reads against a bare code-first server of the same build, with h2load.")
        {
            postgres, redis, requests, rounds, hostDll, trace, traceAlloc, only,
        };
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(postgres)!, parse.GetValue(redis)!, parse.GetValue(requests), parse.GetValue(rounds),
            parse.GetValue(hostDll) ?? BenchHost.FindHostDll(), parse.GetValue(trace), parse.GetValue(traceAlloc), parse.GetValue(only) ?? [], ct));
        return command;
    }

    private static async Task<int> RunAsync(string postgres, string redis, int requests, int rounds, string? hostDll, string? trace,
        string? traceAlloc, string[] only, CancellationToken ct)
    {
        if (hostDll is null || !File.Exists(hostDll) || !H2Load.Installed || requests < 10 || rounds < 1)
        {
            await Console.Error.WriteLineAsync("bench-hotpath: needs a Release build of the host (or --host-dll), h2load (apt-get install nghttp2-client), " +
                                               "--requests ≥ 10 and --rounds ≥ 1");
            return 2;
        }

        await using var scratch = await ScratchEnvironment.CreateAsync(postgres, redis, "benchhp", ct);
        var limits = LimitNames.ToDictionary(l => $"RateLimits__Classes__default__{l}", _ => "1000000000");
        await using var host = BenchHost.Start(hostDll, "host", limits, scratch.ConnectionString(40), redis, scratch.Prefix);
        await host.WaitServingAsync(ct);

        var cluster = await ClusterCpu.FindAsync(scratch.ConnectionString(1), ct);
        var world = await World.CreateAsync(host.Address, ct);
        await using var reference = await ReferenceServer.StartAsync(world.UserReply);
        var scenarios = world.Scenarios(host.Address, reference.Address);
        scenarios = [.. scenarios.Where(s => only.Length == 0 || s.Name.StartsWith("bare reference", StringComparison.Ordinal)
                                            || only.Any(o => s.Name.StartsWith(o, StringComparison.OrdinalIgnoreCase)))];
        var files = new Dictionary<string, string>();
        try
        {
            foreach (var scenario in scenarios)
            {
                files[scenario.Name] = Path.Combine(Path.GetTempPath(), $"bench-hotpath-{Guid.NewGuid():N}.bin");
                await File.WriteAllBytesAsync(files[scenario.Name], scenario.Body, ct);
                await H2Load.RunAsync(scenario.Url, files[scenario.Name], scenario.Headers, Math.Min(requests, 5000), 16, 32, ct); // warm-up
            }

            var shapes = new (string Name, int Clients, int Streams, int Requests)[] { ("c16 m32", 16, 32, requests), ("c1 m1", 1, 1, Math.Max(10, requests / 10)) };
            var results = new Dictionary<(string, string), List<H2LoadResult>>();
            var cpu = new Dictionary<(string, string), List<double>>();
            var allocs = new Dictionary<(string, string), List<double>>();
            var database = new Dictionary<(string, string), List<double>>();
            for (var round = 0; round < rounds; round++)
            {
                foreach (var shape in shapes)
                {
                    // Rotated each round so no scenario always runs first or last.
                    foreach (var scenario in scenarios.Skip(round % scenarios.Count).Concat(scenarios.Take(round % scenarios.Count)))
                    {
                        // CPU time of the serving process (the host, or this process for the reference) per call: unlike req/s it
                        // hardly moves when other work shares the cores, so it still compares scenarios on a busy box.
                        using var server = scenario.Url.StartsWith(reference.Address + "/", StringComparison.Ordinal)
                            ? System.Diagnostics.Process.GetCurrentProcess()
                            : System.Diagnostics.Process.GetProcessById(host.ProcessId);
                        var isReference = server.Id == Environment.ProcessId;
                        var allocBefore = isReference ? GC.GetTotalAllocatedBytes() : await AllocatedAsync(host, ct);
                        var cpuBefore = server.TotalProcessorTime;
                        var databaseBefore = cluster?.Total();
                        var result = await H2Load.RunAsync(scenario.Url, files[scenario.Name], scenario.Headers, shape.Requests, shape.Clients, shape.Streams, ct);
                        server.Refresh();
                        var allocAfter = isReference ? GC.GetTotalAllocatedBytes() : await AllocatedAsync(host, ct);
                        allocs.TryAdd((scenario.Name, shape.Name), []);
                        allocs[(scenario.Name, shape.Name)].Add((double)(allocAfter - allocBefore) / shape.Requests);
                        cpu.TryAdd((scenario.Name, shape.Name), []);
                        cpu[(scenario.Name, shape.Name)].Add((server.TotalProcessorTime - cpuBefore).TotalMicroseconds / shape.Requests);
                        if (cluster is not null)
                        {
                            // The host writes each call's analytics row within Analytics:FlushInterval (1 s) of the call.
                            await Task.Delay(TimeSpan.FromSeconds(1.2), ct);
                            database.TryAdd((scenario.Name, shape.Name), []);
                            var spent = cluster.Total() - databaseBefore!.Value;
                            database[(scenario.Name, shape.Name)].Add(spent.TotalMicroseconds / shape.Requests);
                        }

                        var failedAtLeast = result.FailedAtLeast(shape.Requests, scenario.MinResponseFrame);
                        if (failedAtLeast > 0)
                        {
                            await Console.Error.WriteLineAsync($"bench-hotpath: {scenario.Name} ({shape.Name}): at least {failedAtLeast} calls failed");
                            return 1;
                        }

                        results.TryAdd((scenario.Name, shape.Name), []);
                        results[(scenario.Name, shape.Name)].Add(result);
                    }
                }
            }

            Console.WriteLine($"# pyairtable bench-hotpath — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC — {Environment.ProcessorCount} cores shared by h2load, " +
                              $"the host and the reference; {rounds} interleaved rounds, medians; loopback h2c");
            foreach (var shape in shapes)
            {
                Console.WriteLine();
                Console.WriteLine($"h2load -c{shape.Clients} -m{shape.Streams} -n {shape.Requests}");
                Console.WriteLine($"{"scenario",-34} {"req/s",9} {"vs bare",8} {"p50 ms",8} {"p99 ms",8} {"cpu µs",8} {"vs bare",8} " +
                                  $"{"B alloc",8} {"db µs",7}");
                var bare = H2LoadResult.Median(results[(scenarios[0].Name, shape.Name)].Select(r => r.Rps));
                var bareCpu = H2LoadResult.Median(cpu[(scenarios[0].Name, shape.Name)]);
                foreach (var scenario in scenarios)
                {
                    var runs = results[(scenario.Name, shape.Name)];
                    var rps = H2LoadResult.Median(runs.Select(r => r.Rps));
                    var cpuPerCall = H2LoadResult.Median(cpu[(scenario.Name, shape.Name)]);
                    Console.WriteLine($"{scenario.Name,-34} {rps,9:N0} {rps / bare,8:F2} {H2LoadResult.Median(runs.Select(r => r.P50)),8:F3} " +
                                      $"{H2LoadResult.Median(runs.Select(r => r.P99)),8:F3} {cpuPerCall,8:F1} {bareCpu / cpuPerCall,8:F2} " +
                                      $"{H2LoadResult.Median(allocs[(scenario.Name, shape.Name)]),8:N0} " +
                                      (cluster is null ? "      —"
                                          : $"{H2LoadResult.Median(database[(scenario.Name, shape.Name)]),7:F1}"));
                }
            }

            if (trace is not null && scenarios.FirstOrDefault(s => s.Name.StartsWith(trace, StringComparison.OrdinalIgnoreCase)) is { } traced)
            {
                await HostProfile.RunAsync(host.ProcessId, traced.Name,
                    () => H2Load.RunAsync(traced.Url, files[traced.Name], traced.Headers, requests, 16, 32, ct), ct);
            }

            if (traceAlloc is not null && scenarios.FirstOrDefault(s => s.Name.StartsWith(traceAlloc, StringComparison.OrdinalIgnoreCase)) is { } sampled)
            {
                await HostProfile.RunAsync(host.ProcessId, sampled.Name,
                    () => H2Load.RunAsync(sampled.Url, files[sampled.Name], sampled.Headers, requests, 16, 32, ct), ct, allocations: true);
            }

            return 0;
        }
        finally
        {
            foreach (var file in files.Values)
            {
                File.Delete(file);
            }
        }
    }

    /// <summary>
    /// Bytes the host has allocated since it started, from the runtime's own counter on its <c>/metrics</c>: per call it is exact
    /// enough (the host's background loops allocate little) and, unlike time, the same on a busy box.
    /// </summary>
    private static async Task<long> AllocatedAsync(BenchHost host, CancellationToken ct)
    {
        using var http = new HttpClient();
        var text = await http.GetStringAsync(host.ProbesAddress + "/metrics", ct);
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith("dotnet_gc_heap_total_allocated_bytes", StringComparison.Ordinal)
                || line.StartsWith("process_runtime_dotnet_gc_allocations_size_bytes", StringComparison.Ordinal))
            {
                return (long)double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException("the host's /metrics has no allocation counter (OpenTelemetry runtime instrumentation)");
    }

    private sealed record Scenario(string Name, string Url, byte[] Body, string[] Headers, long MinResponseFrame);

    /// <summary>An account with a token and an API key, a workspace and a base it owns, each read warmed once.</summary>
    private sealed record World(GetUserRequest GetUser, GetUserResponse UserReply, string Token, string ApiKey, GetBaseRequest GetBase,
        long BaseFrame, CheckPermissionRequest Check, long CheckFrame)
    {
        public static async Task<World> CreateAsync(string address, CancellationToken ct)
        {
            using var channel = HostConnection.Open(address);
            var auth = channel.CreateGrpcService<IAuthService>();
            var email = $"bench-{Guid.NewGuid():N}@example.dev";
            var registered = await auth.RegisterAsync(new RegisterRequest { Email = email, Password = "bench-password-123", DisplayName = "Bench" });
            var token = (await auth.LoginAsync(new LoginRequest { Email = email, Password = "bench-password-123" })).Tokens!.AccessToken;
            var bearer = new CallContext(new CallOptions(new Metadata { { "authorization", "Bearer " + token } }, cancellationToken: ct));
            var key = await auth.CreateApiKeyAsync(new CreateApiKeyRequest { Name = "bench", Scopes = [Scopes.UsersRead] }, bearer);
            var workspaces = channel.CreateGrpcService<IWorkspaceService>();
            var workspace = (await workspaces.CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Bench" }, bearer)).Workspace!;
            var created = (await workspaces.CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace.Id, Name = "Bench" }, bearer)).Base!;

            var getUser = new GetUserRequest { UserId = registered.UserId };
            var users = channel.CreateGrpcService<IUserService>();
            var reply = await users.GetUserAsync(getUser, bearer);
            await users.GetUserAsync(getUser, new CallContext(new CallOptions(new Metadata { { "x-api-key", key.Secret } }, cancellationToken: ct)));
            var getBase = new GetBaseRequest { BaseId = created.Id };
            var baseReply = await workspaces.GetBaseAsync(getBase, bearer);
            var check = new CheckPermissionRequest
            {
                UserId = registered.UserId, Resource = new ResourceRef { Type = ResourceType.Base, Id = created.Id }, Level = PermissionLevel.Read,
            };
            var checkReply = await channel.CreateGrpcService<IPermissionService>().CheckPermissionAsync(check, bearer);
            return new World(getUser, reply, token, key.Secret, getBase, Frame(baseReply), check, Frame(checkReply));
        }

        public List<Scenario> Scenarios(string host, string reference)
        {
            string[] bearer = ["authorization: Bearer " + Token];
            var user = Frame(UserReply);
            return
            [
                new("bare reference (in-memory GetUser)", reference + "/pyairtable.bench.v1.ReferenceService/GetUser", H2Load.Frame(GetUser), [], user),
                // The reference carrying the same token, which it ignores: what the token costs the transport alone. h2load, like
                // every nghttp2 client (Node's http2, grpc-js), never indexes `authorization` in HPACK (RFC 7541 §7.1.3), so
                // each call sends it whole, Huffman-coded, and the server decodes it on every call.
                new("bare reference + bearer header", reference + "/pyairtable.bench.v1.ReferenceService/GetUser", H2Load.Frame(GetUser),
                    bearer, user),
                new("health Check (anonymous)", host + "/grpc.health.v1.Health/Check", [0, 0, 0, 0, 0], [], 5 + 2),
                new("GetUser warm (bearer JWT)", host + "/pyairtable.users.v1.UserService/GetUser", H2Load.Frame(GetUser), bearer, user),
                new("GetUser warm (API key)", host + "/pyairtable.users.v1.UserService/GetUser", H2Load.Frame(GetUser), ["x-api-key: " + ApiKey], user),
                new("GetBase (permission check + row)", host + "/pyairtable.workspaces.v1.WorkspaceService/GetBase", H2Load.Frame(GetBase), bearer, BaseFrame),
                new("CheckPermission", host + "/pyairtable.permissions.v1.PermissionService/CheckPermission", H2Load.Frame(Check), bearer, CheckFrame),
            ];
        }

        // Replies carry timestamps whose encoded length varies by a byte or two: the shortest success, less a margin.
        private static long Frame<T>(T reply) => H2Load.Frame(reply).Length - 4;
    }

    /// <summary>The reference's contract: one unary method, GetUser's own messages.</summary>
    [Service("pyairtable.bench.v1.ReferenceService")]
    public interface IReferenceService
    {
        ValueTask<GetUserResponse> GetUserAsync(GetUserRequest request);
    }

    private sealed class ReferenceService(GetUserResponse reply) : IReferenceService
    {
        public ValueTask<GetUserResponse> GetUserAsync(GetUserRequest request) => ValueTask.FromResult(reply);
    }

    /// <summary>Kestrel with protobuf-net.Grpc and nothing else: no authentication, middleware or interceptors.</summary>
    private sealed class ReferenceServer(WebApplication app, string address) : IAsyncDisposable
    {
        public string Address { get; } = address;

        public static async Task<ReferenceServer> StartAsync(GetUserResponse reply)
        {
            var port = BenchHost.FreePort();
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port, l => l.Protocols = HttpProtocols.Http2));
            builder.Services.AddSingleton(new ReferenceService(reply));
            builder.Services.AddCodeFirstGrpc();
            var app = builder.Build();
            app.MapGrpcService<ReferenceService>();
            await app.StartAsync();
            return new ReferenceServer(app, string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}"));
        }

        public async ValueTask DisposeAsync()
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}
