using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Npgsql;
using ProtoBuf.Grpc;
using ProtoBuf.Grpc.Client;
using PyAirtable.Contracts.Events;
using PyAirtable.Contracts.Webhooks;
using PyAirtable.Services.Infrastructure.Events;

namespace PyAirtable.Tools;

/// <summary>
/// The webhook half of <c>bench-notify</c>: <c>--webhooks</c> webhooks on a workspace of their own, all pointing at a
/// Kestrel receiver in this process (HTTP/1.1 on 127.0.0.1, answers 204 at once). Events are committed into the outbox
/// straight from here (WorkspaceUpdated of that workspace), so the commit time is exact and the load is the platform's
/// whole path: relay → webhooks.forward consumer → delivery rows → delivery worker → POST. Two phases: paced at
/// <c>--webhook-rate</c> events/s (latency without a backlog), then every event committed at once (throughput, and
/// latency under a backlog).
/// </summary>
internal static class BenchNotifyWebhooks
{
    public static async Task<int> RunAsync(GrpcChannel channel, CallContext bearer, string sql, Guid workspace, BenchNotifyCommand.Options options,
        CancellationToken ct)
    {
        var receiver = new Receiver();
        var port = BenchHost.FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
        await using var app = builder.Build();
        app.MapPost("/hook/{n}", receiver.HandleAsync);
        await app.StartAsync(ct);

        var webhooks = channel.CreateGrpcService<IWebhookService>();
        for (var i = 0; i < options.Webhooks; i++)
        {
            await webhooks.CreateWebhookAsync(new CreateWebhookRequest
            {
                WorkspaceId = workspace.ToString(), Url = $"http://127.0.0.1:{port}/hook/{i}", Description = "bench",
            }, bearer);
        }

        Console.WriteLine();
        Console.WriteLine($"3) webhooks: {options.Webhooks} webhooks on one workspace → a receiver in this process (HTTP/1.1, 204); " +
                          "events committed to the outbox here, latency from that commit to the POST's arrival");
        Console.WriteLine("   phase                       deliveries  deliveries/s     p50 ms     p90 ms     p99 ms     max ms");
        var ok = await PhaseAsync("paced", receiver, sql, workspace, options, options.Rate, ct);
        ok &= await PhaseAsync("burst (all at once)", receiver, sql, workspace, options, 0, ct);
        await app.StopAsync(ct);
        return ok ? 0 : 1;
    }

    private static async Task<bool> PhaseAsync(string name, Receiver receiver, string sql, Guid workspace, BenchNotifyCommand.Options options, int rate,
        CancellationToken ct)
    {
        receiver.Reset();
        var expected = options.Events * options.Webhooks;
        var started = Stopwatch.GetTimestamp();
        await CommitAsync(sql, workspace, options.Events, rate, receiver.Committed, ct);
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (receiver.Count < expected && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20, ct);
        }

        var latencies = receiver.Latencies();
        var delivered = receiver.Count;
        var seconds = Stopwatch.GetElapsedTime(started, receiver.Last).TotalSeconds;
        Console.WriteLine($"   {name,-26} {delivered,10:N0} {delivered / Math.Max(seconds, 1e-3),13:N0} " +
                          $"{BenchNotifyCommand.P(latencies, 0.50),10:F1} {BenchNotifyCommand.P(latencies, 0.90),10:F1} " +
                          $"{BenchNotifyCommand.P(latencies, 0.99),10:F1} {latencies.LastOrDefault(),10:F1}" +
                          (delivered == expected ? "" : $" — {expected - delivered} NOT DELIVERED in 120 s") +
                          (receiver.Duplicates > 0 ? $" ({receiver.Duplicates} sent twice)" : ""));
        await BreakdownAsync(sql, receiver.Committed, ct);
        return delivered == expected;
    }

    /// <summary>Where the time went, from the delivery rows: commit → queued (the webhooks.forward consumer), queued → first attempt (the worker).</summary>
    private static async Task BreakdownAsync(string sql, ConcurrentDictionary<string, (long Ticks, DateTime Utc)> committed, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(sql);
        await connection.OpenAsync(ct);
        var rows = await Dapper.SqlMapper.QueryAsync<(Guid EventId, DateTime Queued, DateTime Attempted)>(connection, new Dapper.CommandDefinition(
            """
            SELECT d.event_id, d.created_at, min(a.attempted_at) FROM webhooks.deliveries d JOIN webhooks.attempts a ON a.delivery_id = d.id
             WHERE d.event_id = ANY(@ids) GROUP BY d.id
            """, new { ids = committed.Keys.Select(Guid.Parse).ToArray() }, cancellationToken: ct));
        var queued = new List<double>();
        var waited = new List<double>();
        foreach (var (eventId, at, attempted) in rows)
        {
            queued.Add(Math.Max(0, (at - committed[eventId.ToString()].Utc).TotalMilliseconds));
            waited.Add(Math.Max(0, (attempted - at).TotalMilliseconds));
        }

        var (q, w) = (queued.Order().ToArray(), waited.Order().ToArray());
        Console.WriteLine($"     of which commit → queued (webhooks.forward) p50 {BenchNotifyCommand.P(q, 0.5):F0} ms, p99 {BenchNotifyCommand.P(q, 0.99):F0} ms; " +
                          $"queued → first attempt (worker) p50 {BenchNotifyCommand.P(w, 0.5):F0} ms, p99 {BenchNotifyCommand.P(w, 0.99):F0} ms");
    }

    /// <summary>Commits <paramref name="count"/> events by 4 writers, at <paramref name="rate"/> a second (0: as fast as they go).</summary>
    private static async Task CommitAsync(string sql, Guid workspace, int count, int rate, ConcurrentDictionary<string, (long Ticks, DateTime Utc)> committed, CancellationToken ct)
    {
        const int writers = 4;
        var origin = new EventOrigin("/bench", "", "");
        await using var db = NpgsqlDataSource.Create(sql);
        var start = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            await using var connection = await db.OpenConnectionAsync(ct);
            for (var i = w; i < count; i += writers)
            {
                if (rate > 0)
                {
                    var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), start + (long)(i / (double)rate * Stopwatch.Frequency));
                    if (wait > TimeSpan.Zero)
                    {
                        await Task.Delay(wait, ct);
                    }
                }

                await using var tx = await connection.BeginTransactionAsync(ct);
                var id = await Outbox.EnqueueAsync(tx, new WorkspaceUpdated { WorkspaceId = workspace.ToString(), Name = $"event {i}" }, origin, ct);
                await tx.CommitAsync(ct);
                committed[id.ToString()] = (Stopwatch.GetTimestamp(), DateTime.UtcNow);
            }
        }, ct)));
    }

    /// <summary>Notes each POST's arrival by webhook-id (a retry would arrive under the same id) and the event it carries.</summary>
    private sealed class Receiver
    {
        private ConcurrentDictionary<string, (string Event, long At)> _arrived = new();
        private int _duplicates;
        private long _last;

        public ConcurrentDictionary<string, (long Ticks, DateTime Utc)> Committed { get; private set; } = new();

        public int Count => _arrived.Count;

        public int Duplicates => _duplicates;

        public long Last => Volatile.Read(ref _last);

        public void Reset()
        {
            _arrived = new();
            Committed = new();
            _duplicates = 0;
            _last = 0;
        }

        public async Task HandleAsync(HttpContext http)
        {
            var at = Stopwatch.GetTimestamp();
            using var body = await JsonDocument.ParseAsync(http.Request.Body);
            var eventId = body.RootElement.GetProperty("id").GetString() ?? "";
            if (!_arrived.TryAdd(http.Request.Headers["webhook-id"].ToString(), (eventId, at)))
            {
                Interlocked.Increment(ref _duplicates);
            }

            long seen;
            while ((seen = Volatile.Read(ref _last)) < at && Interlocked.CompareExchange(ref _last, at, seen) != seen)
            {
            }

            http.Response.StatusCode = StatusCodes.Status204NoContent;
        }

        public double[] Latencies() => _arrived.Values
            .Where(a => Committed.ContainsKey(a.Event))
            .Select(a => Math.Max(0, Stopwatch.GetElapsedTime(Committed[a.Event].Ticks, a.At).TotalMilliseconds)).Order().ToArray();
    }
}
