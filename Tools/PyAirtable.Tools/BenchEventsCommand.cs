using System.Collections.Concurrent;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Dapper;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using PyAirtable.Contracts.Events;
using PyAirtable.Services.Infrastructure;
using PyAirtable.Services.Infrastructure.Database;
using PyAirtable.Services.Infrastructure.Events;
using StackExchange.Redis;

namespace PyAirtable.Tools;

/// <summary>
/// <c>pyairtable bench-events</c>: the event backbone on a scratch database (created and dropped) and a Redis key prefix of
/// its own. Prints (1) commit → consumer latency at a steady rate through the real relay and consumer; (2) events committed per second
/// by 1, 16 and 64 concurrent writers, with the old platform-wide lock
/// and with today's per-aggregate lock, in interleaved rounds of one run; (3) events relayed per second (sequenced and
/// published to Redis Streams).
/// </summary>
public static class BenchEventsCommand
{
    // The lock every outbox writer took before (Outbox.OrderLockKey), for the "before" column.
    private const long OldGlobalLock = 0x5079_4169_7254_0002;

    public static Command Create()
    {
        var postgres = new Option<string>("--postgres") { Description = "A PostgreSQL connection string whose user may create databases.", Required = true };
        var redis = new Option<string>("--redis") { Description = "Redis (host:port).", Required = true };
        var seconds = new Option<double>("--seconds") { DefaultValueFactory = _ => 3, Description = "Length of each writer round." };
        var rounds = new Option<int>("--rounds") { DefaultValueFactory = _ => 2, Description = "Interleaved rounds per writer setting." };
        var rate = new Option<int>("--rate") { DefaultValueFactory = _ => 1000, Description = "Events per second in the latency phase." };
        var latencySeconds = new Option<double>("--latency-seconds") { DefaultValueFactory = _ => 10, Description = "Length of the latency phase." };
        var command = new Command("bench-events", "Measure outbox writes, relay throughput and commit-to-consumer latency.")
        {
            postgres, redis, seconds, rounds, rate, latencySeconds,
        };
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(postgres)!, parse.GetValue(redis)!, TimeSpan.FromSeconds(parse.GetValue(seconds)),
            parse.GetValue(rounds), parse.GetValue(rate), TimeSpan.FromSeconds(parse.GetValue(latencySeconds)), ct));
        return command;
    }

    private static async Task<int> RunAsync(string postgres, string redis, TimeSpan round, int rounds, int rate, TimeSpan latencyPhase, CancellationToken ct)
    {
        await using var scratch = await ScratchEnvironment.CreateAsync(postgres, redis, "bench", ct);
        var (database, target, prefix) = (scratch.Database, scratch.ConnectionString(100), scratch.Prefix);
        try
        {
            var consumer = new LatencyConsumer();
            var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
            builder.Logging.ClearProviders();
            builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning);
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["ConnectionStrings:Postgres"] = target,
                ["ConnectionStrings:Redis"] = redis,
                ["Redis:InstanceName"] = prefix,
                ["Database:MaxPoolSize"] = "100",
            });
            builder.Services.AddPlatformInfrastructure(builder.Configuration);
            builder.Services.AddSingleton(consumer);
            builder.Services.AddEventConsumer<LatencyConsumer>("bench.latency");
            using var host = builder.Build();
            await host.Services.GetRequiredService<MigrationRunner>().RunAsync(ct);
            var db = host.Services.GetRequiredService<NpgsqlDataSource>();

            Console.WriteLine($"bench-events: {Environment.ProcessorCount} cores, scratch database {database}, Redis {redis} (prefix {prefix})");
            Console.WriteLine();
            // Latency first, on a fresh database: the phases after it leave hundreds of thousands of rows for autovacuum.
            await host.StartAsync(ct);
            var committed = await PacedWriteAsync(db, consumer, rate, latencyPhase, ct);
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (consumer.Received.Count < committed && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100, ct);
            }

            await host.StopAsync(ct);
            var latencies = consumer.Latencies();
            Console.WriteLine($"1) commit -> consumer at {rate:N0} events/s for {latencyPhase.TotalSeconds:F0} s: {latencies.Length:N0} of {committed:N0} handled; " +
                              $"p50 {Percentile(latencies, 0.50):F1} ms, p90 {Percentile(latencies, 0.90):F1} ms, " +
                              $"p99 {Percentile(latencies, 0.99):F1} ms, max {latencies.LastOrDefault():F1} ms");
            Console.WriteLine();
            Console.WriteLine("2) events committed per second (one event per transaction, distinct aggregates; median of rounds)");
            Console.WriteLine("   writers | old global lock | per-aggregate lock | ratio");
            foreach (var writers in new[] { 1, 16, 64 })
            {
                var old = new List<double>();
                var now = new List<double>();
                for (var r = 0; r < rounds; r++)
                {
                    old.Add(await WriteAsync(db, writers, round, globalLock: true, ct));
                    now.Add(await WriteAsync(db, writers, round, globalLock: false, ct));
                }

                var (o, n) = (Median(old), Median(now));
                Console.WriteLine($"   {writers,7} | {o,15:N0} | {n,18:N0} | {n / o,5:F2}x");
            }

            var relay = host.Services.GetRequiredService<EventRelay>();
            var ok = latencies.Length == committed;
            await using (var c = await db.OpenConnectionAsync(ct))
            {
                var backlog = await c.ExecuteScalarAsync<long>("SELECT count(*) FROM platform.outbox WHERE seq IS NULL");
                var watch = Stopwatch.StartNew();
                while (await relay.RelayOnceAsync(ct) > 0)
                {
                }

                Console.WriteLine();
                Console.WriteLine($"3) relay: {backlog:N0} events sequenced and published to Redis Streams in {watch.Elapsed.TotalSeconds:F2} s " +
                                  $"= {backlog / watch.Elapsed.TotalSeconds:N0} events/s");
            }

            return ok ? 0 : 1;
        }
        finally
        {
            NpgsqlConnection.ClearAllPools(); // before the scratch database is dropped
        }
    }

    /// <summary>Events committed per second by <paramref name="writers"/> concurrent transactions of one event each.</summary>
    private static async Task<double> WriteAsync(NpgsqlDataSource db, int writers, TimeSpan duration, bool globalLock, CancellationToken ct)
    {
        var origin = new EventOrigin("/bench", "", "");
        long total = 0;
        var until = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        await Task.WhenAll(Enumerable.Range(0, writers).Select(_ => Task.Run(async () =>
        {
            await using var connection = await db.OpenConnectionAsync(ct);
            long count = 0;
            while (Stopwatch.GetTimestamp() < until)
            {
                await using var tx = await connection.BeginTransactionAsync(ct);
                if (globalLock)
                {
                    await connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_xact_lock(@k)", new { k = OldGlobalLock }, tx, cancellationToken: ct));
                }

                await Outbox.EnqueueAsync(tx, new WorkspaceUpdated { WorkspaceId = Guid.NewGuid().ToString(), Name = "bench" }, origin, ct);
                await tx.CommitAsync(ct);
                count++;
            }

            Interlocked.Add(ref total, count);
        }, ct)));
        return total / duration.TotalSeconds;
    }

    /// <summary>Writes at <paramref name="rate"/> events/s, noting when each committed; returns how many committed.</summary>
    private static async Task<int> PacedWriteAsync(NpgsqlDataSource db, LatencyConsumer consumer, int rate, TimeSpan duration, CancellationToken ct)
    {
        const int writers = 4;
        var origin = new EventOrigin("/bench", "", "");
        var interval = TimeSpan.FromSeconds(writers / (double)rate);
        var perWriter = (int)(duration.TotalSeconds * rate / writers);
        await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            await using var connection = await db.OpenConnectionAsync(ct);
            var start = Stopwatch.GetTimestamp() + (long)(w * interval.TotalSeconds / writers * Stopwatch.Frequency);
            for (var i = 0; i < perWriter; i++)
            {
                var due = start + (long)(i * interval.TotalSeconds * Stopwatch.Frequency);
                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, ct);
                }

                await using var tx = await connection.BeginTransactionAsync(ct);
                var eventId = await Outbox.EnqueueAsync(tx, new WorkspaceCreated { WorkspaceId = Guid.NewGuid().ToString(), Name = "bench" }, origin, ct);
                await tx.CommitAsync(ct);
                consumer.Committed[eventId] = Stopwatch.GetTimestamp();
            }
        }, ct)));
        return perWriter * writers;
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

    /// <summary>Notes when each event arrived; latencies are worked out afterwards against the writers' commit times.</summary>
    private sealed class LatencyConsumer : IEventConsumer<WorkspaceCreated>
    {
        public ConcurrentDictionary<Guid, long> Committed { get; } = new();

        public ConcurrentDictionary<Guid, long> Received { get; } = new();

        public double[] Latencies() => Received
            .Select(r => Committed.TryGetValue(r.Key, out var at) ? Math.Max(0, Stopwatch.GetElapsedTime(at, r.Value).TotalMilliseconds) : double.NaN)
            .Where(l => !double.IsNaN(l)).Order().ToArray();

        public Task HandleAsync(WorkspaceCreated domainEvent, EventContext context, CancellationToken cancellationToken)
        {
            Received.TryAdd(Guid.Parse(context.Envelope.Id), Stopwatch.GetTimestamp());
            return Task.CompletedTask;
        }
    }
}
