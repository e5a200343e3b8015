using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using Grpc.Net.Client;
using ProtoBuf.Grpc;
using ProtoBuf.Grpc.Client;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Notifications;
using PyAirtable.Contracts.Workspaces;

namespace PyAirtable.Tools;

/// <summary>
/// <c>pyairtable bench-notify</c>: one real host process on a scratch database and Redis prefix. (1) <c>--streams</c>
/// users, each with one StreamNotifications server stream (HTTP/2, <c>--per-connection</c> streams per connection): the
/// host's memory per open stream, then rounds of one workspace change fanned out to every member — event (the call's
/// commit, when it returned) → notification received on each stream, p50/p99. (2) Webhooks to a receiver in this
/// process: deliveries per second and event (outbox commit) → delivery latency, paced and as a burst.
/// </summary>
public static class BenchNotifyCommand
{
    public static Command Create()
    {
        var postgres = new Option<string>("--postgres") { Description = "A PostgreSQL connection string whose user may create databases.", Required = true };
        var redis = new Option<string>("--redis") { Description = "Redis (host:port).", Required = true };
        var streams = new Option<int>("--streams") { DefaultValueFactory = _ => 10_000, Description = "Notification streams (one user each)." };
        var perConnection = new Option<int>("--per-connection") { DefaultValueFactory = _ => 100, Description = "Streams per HTTP/2 connection (Kestrel allows 100)." };
        var rounds = new Option<int>("--rounds") { DefaultValueFactory = _ => 5, Description = "Fan-out rounds (one event to every stream each)." };
        var webhooks = new Option<int>("--webhooks") { DefaultValueFactory = _ => 4, Description = "Webhooks on the workspace (0: skip the webhook phase)." };
        var events = new Option<int>("--webhook-events") { DefaultValueFactory = _ => 1000, Description = "Events per webhook phase (each goes to every webhook)." };
        var rate = new Option<int>("--webhook-rate") { DefaultValueFactory = _ => 100, Description = "Events per second in the paced webhook phase." };
        var hostDll = new Option<string?>("--host-dll") { Description = "The host to measure (default: this repository's Release build), e.g. an older build to compare." };
        var command = new Command("bench-notify", "Measure notification streams (memory per stream, fan-out latency) and webhook delivery (rate, latency).")
        {
            postgres, redis, streams, perConnection, rounds, webhooks, events, rate, hostDll,
        };
        command.SetAction(async (parse, ct) =>
        {
            var options = new Options(parse.GetValue(streams), parse.GetValue(perConnection), parse.GetValue(rounds), parse.GetValue(webhooks),
                parse.GetValue(events), parse.GetValue(rate), parse.GetValue(hostDll));
            if (options.Streams < 1 || options.PerConnection is < 1 or > 100 || options.Rounds < 1 || options.Webhooks < 0 || options.Events < 1 || options.Rate < 1)
            {
                await Console.Error.WriteLineAsync("bench-notify: --streams, --rounds, --webhook-events and --webhook-rate must be positive, --per-connection 1 to 100");
                return 2;
            }

            try
            {
                return await RunAsync(parse.GetValue(postgres)!, parse.GetValue(redis)!, options, ct);
            }
            catch (RpcException ex)
            {
                await Console.Error.WriteLineAsync($"bench-notify: the host refused a call: {ex.StatusCode}: {ex.Status.Detail}");
                return 1;
            }
        });
        return command;
    }

    internal sealed record Options(int Streams, int PerConnection, int Rounds, int Webhooks, int Events, int Rate, string? HostDll);

    private static async Task<int> RunAsync(string postgres, string redis, Options options, CancellationToken ct)
    {
        var hostDll = options.HostDll ?? BenchHost.FindHostDll();
        if (hostDll is null || !File.Exists(hostDll))
        {
            await Console.Error.WriteLineAsync("bench-notify: build the host first: dotnet build -c Release");
            return 2;
        }

        await using var scratch = await ScratchEnvironment.CreateAsync(postgres, redis, "benchnotify", ct);
        var settings = new Dictionary<string, string>
        {
            ["RateLimits__Enabled"] = "false", // 10,000 users opening streams from one address is the point, not abuse
            ["Webhooks__AllowedNetworks"] = "127.0.0.1/32",
        };
        await using var host = BenchHost.Start(hostDll, "notify", settings, scratch.ConnectionString(60), redis, scratch.Prefix);
        await host.WaitServingAsync(ct);
        var sql = scratch.ConnectionString(4);

        using var channel = HostConnection.Open(host.Address);
        var auth = channel.CreateGrpcService<IAuthService>();
        var email = $"bench-notify-{Guid.NewGuid():N}@example.dev";
        var owner = Guid.Parse((await auth.RegisterAsync(new RegisterRequest { Email = email, Password = "bench-password-123", DisplayName = "Owner" }, ct)).UserId);
        var ownerToken = (await auth.LoginAsync(new LoginRequest { Email = email, Password = "bench-password-123" }, ct)).Tokens!.AccessToken;
        var bearer = new CallContext(new CallOptions(new Metadata { { "authorization", "Bearer " + ownerToken } }, cancellationToken: ct));
        var workspaces = channel.CreateGrpcService<IWorkspaceService>();
        var fanout = Guid.Parse((await workspaces.CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "bench fan-out" }, bearer)).Workspace!.Id);
        await BenchNotifySeed.WaitProjectedAsync(sql, fanout, ct);

        var seeding = Stopwatch.StartNew();
        var users = await BenchNotifySeed.MembersAsync(sql, fanout, owner, options.Streams, ct);
        var tokens = await BenchNotifySeed.TokensAsync(sql, users, ct);
        var connections = (options.Streams + options.PerConnection - 1) / options.PerConnection;
        Console.WriteLine($"# pyairtable bench-notify — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC — {Environment.ProcessorCount} cores shared by this " +
                          $"client, the host, PostgreSQL and Redis; loopback h2c; host {hostDll}");
        Console.WriteLine($"{options.Streams:N0} users seeded by SQL (credentials, read grant, membership) with signed tokens in " +
                          $"{seeding.Elapsed.TotalSeconds:F1} s; {options.Streams:N0} StreamNotifications on {connections} HTTP/2 connections");

        var exitCode = await StreamsPhaseAsync(host, users, tokens, connections, options, workspaces, bearer, fanout, sql, ct);
        if (options.Webhooks > 0)
        {
            var hooks = Guid.Parse((await workspaces.CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "bench webhooks" }, bearer)).Workspace!.Id);
            exitCode |= await BenchNotifyWebhooks.RunAsync(channel, bearer, sql, hooks, options, ct);
        }

        return exitCode;
    }

    private static async Task<int> StreamsPhaseAsync(BenchHost host, Guid[] users, string[] tokens, int connections, Options options,
        IWorkspaceService workspaces, CallContext bearer, Guid workspace, string sql, CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var channels = Enumerable.Range(0, connections).Select(_ => GrpcChannel.ForAddress(host.Address, new GrpcChannelOptions
        {
            // One connection per channel, so the count printed is the count used.
            HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = false, PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan },
        })).ToArray();
        var before = await host.MemoryAsync(ct);
        var streams = new StreamProbe[users.Length];
        var opening = Stopwatch.StartNew();
        using var gate = new SemaphoreSlim(200);
        for (var i = 0; i < users.Length; i++)
        {
            await gate.WaitAsync(ct);
            var probe = streams[i] = new StreamProbe(channels[i / options.PerConnection].CreateGrpcService<INotificationService>(), tokens[i], options.Rounds);
            probe.Run(() => gate.Release(), stop.Token);
        }

        await Task.WhenAll(streams.Select(s => s.Opened));
        opening.Stop();
        var failed = streams.Count(s => s.Opened.IsFaulted);
        await Task.Delay(TimeSpan.FromSeconds(3), ct); // let the host settle (first heartbeats, pools) before measuring
        var after = await host.MemoryAsync(ct);
        var open = users.Length - failed;
        Console.WriteLine();
        Console.WriteLine($"1) {open:N0} streams open in {opening.Elapsed.TotalSeconds:F1} s ({failed} failed to open)");
        Console.WriteLine($"   host memory: resident {Mib(before.Rss)} → {Mib(after.Rss)} MiB = {(after.Rss - before.Rss) / 1024.0 / Math.Max(1, open):F1} KiB per stream; " +
                          $"managed heap at the last GC {Mib(before.Heap)} → {Mib(after.Heap)} MiB = {(after.Heap - before.Heap) / 1024.0 / Math.Max(1, open):F1} KiB per stream" +
                          $" ({after.Gcs - before.Gcs} GCs between)");
        Console.WriteLine($"2) fan-out: each round one UpdateWorkspace → one notification on every stream; latency from the call's return (its commit)");
        Console.WriteLine("   round  received        p50 ms     p90 ms     p99 ms     max ms   call ms  feeds written ms");
        await using var feeds = new Npgsql.NpgsqlConnection(sql);
        await feeds.OpenAsync(ct);
        var all = new List<double>();
        var complete = true;
        for (var round = 0; round < options.Rounds; round++)
        {
            var started = Stopwatch.GetTimestamp();
            await workspaces.UpdateWorkspaceAsync(new UpdateWorkspaceRequest { WorkspaceId = workspace.ToString(), Name = $"round {round}" }, bearer);
            var committed = Stopwatch.GetTimestamp();
            var deadline = DateTime.UtcNow.AddSeconds(60);
            // The fan-out writes every member's row in one transaction: one member's row visible = all written.
            while (!await Dapper.SqlMapper.ExecuteScalarAsync<bool>(feeds, new Dapper.CommandDefinition(
                       "SELECT EXISTS (SELECT 1 FROM notifications.inbox WHERE user_id = @user AND \"offset\" > @round)",
                       new { user = users[^1], round = (long)round }, cancellationToken: ct)) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(5, ct);
            }

            var written = Stopwatch.GetElapsedTime(committed).TotalMilliseconds;
            while (streams.Count(s => s.Received(round) != 0) < open && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20, ct);
            }

            var latencies = streams.Select(s => s.Received(round)).Where(t => t != 0)
                .Select(t => Math.Max(0, Stopwatch.GetElapsedTime(committed, t).TotalMilliseconds)).Order().ToArray();
            all.AddRange(latencies);
            complete &= latencies.Length == open;
            Console.WriteLine($"   {round + 1,5}  {latencies.Length,8:N0}  {P(latencies, 0.50),12:F1} {P(latencies, 0.90),10:F1} " +
                              $"{P(latencies, 0.99),10:F1} {latencies.LastOrDefault(),10:F1} {Stopwatch.GetElapsedTime(started, committed).TotalMilliseconds,9:F1} {written,17:F0}");
            await Task.Delay(TimeSpan.FromSeconds(1), ct);
        }

        var sorted = all.Order().ToArray();
        Console.WriteLine($"   all rounds: {sorted.Length:N0} notifications, p50 {P(sorted, 0.50):F1} ms, p99 {P(sorted, 0.99):F1} ms, max {sorted.LastOrDefault():F1} ms" +
                          (complete ? "" : " — SOME STREAMS MISSED A ROUND"));
        var broken = streams.Count(s => s.Error is not null);
        if (broken > 0)
        {
            Console.WriteLine($"   {broken} streams ended with an error, e.g. {streams.First(s => s.Error is not null).Error}");
        }

        await stop.CancelAsync();
        await Task.WhenAll(streams.Select(s => s.Done));
        foreach (var c in channels)
        {
            c.Dispose();
        }

        return complete && failed == 0 && broken == 0 ? 0 : 1;
    }

    internal static double P(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

    private static string Mib(long bytes) => (bytes / 1048576.0).ToString("F1", CultureInfo.InvariantCulture);

    /// <summary>One user's stream: when it opened, and when each round's notification arrived (Stopwatch ticks, 0 = not yet).</summary>
    private sealed class StreamProbe(INotificationService service, string token, int rounds)
    {
        private readonly TaskCompletionSource _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly long[] _received = new long[rounds];
        private int _count;

        public Task Opened => _opened.Task;

        public Task Done { get; private set; } = Task.CompletedTask;

        public string? Error { get; private set; }

        public long Received(int round) => Volatile.Read(ref _received[round]);

        public void Run(Action released, CancellationToken ct) => Done = Task.Run(async () =>
        {
            var context = new CallContext(new CallOptions(new Metadata { { "authorization", "Bearer " + token } }, cancellationToken: ct));
            try
            {
                await foreach (var message in service.StreamNotificationsAsync(new StreamNotificationsRequest(), context))
                {
                    if (_opened.TrySetResult())
                    {
                        released();
                    }

                    if (message.Notification is not null && _count < _received.Length)
                    {
                        Volatile.Write(ref _received[_count++], Stopwatch.GetTimestamp());
                    }
                }
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled && ct.IsCancellationRequested)
            {
            }
            catch (Exception ex) when (ex is RpcException or HttpRequestException or IOException)
            {
                Error = ex.Message;
            }
            finally
            {
                if (_opened.TrySetException(new InvalidOperationException(Error ?? "the stream ended before its first message")))
                {
                    released();
                }
            }
        }, CancellationToken.None);
    }
}
