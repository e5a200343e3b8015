using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using PyAirtable.Contracts.Analytics;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using PyAirtable.Services.Analytics;
using PyAirtable.Services.Analytics.Recording;
using static PyAirtable.IntegrationTests.Analytics.Analytic;

namespace PyAirtable.IntegrationTests.Analytics;

/// <summary>Minute and hour roll-ups, retention, and queries over old ranges reading them.</summary>
public sealed class RollupTests : DatabasePerTest
{
    private static readonly DateTime Now = DateTime.UtcNow;
    private static readonly DateTime Hour3 = Truncate(Now.AddHours(-3), TimeSpan.FromHours(1)); // within raw retention (48 h)
    private static readonly DateTime Day3 = Truncate(Now.AddDays(-3), TimeSpan.FromHours(1));   // raw gone, minutes kept (7 d)
    private static readonly DateTime Day10 = Truncate(Now.AddDays(-10), TimeSpan.FromHours(1)); // only hours kept (400 d)

    [Fact]
    public async Task Rollup_MakesMinuteAndHourHistograms_AppliesRetention_AndIsIdempotent()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString, Configure);
        await InsertAsync(Hour3.AddMinutes(5), 1_000, 0);
        await InsertAsync(Hour3.AddMinutes(5), 2_000, 0);
        await InsertAsync(Hour3.AddMinutes(5), 3_000, 5);
        await InsertAsync(Hour3.AddMinutes(7), 4_000, 0);
        await InsertAsync(Day3.AddMinutes(1), 5_000, 0);
        await InsertAsync(Day10.AddMinutes(1), 6_000, 14);
        var runner = host.App.Services.GetRequiredService<RollupRunner>();

        var first = await runner.RunOnceAsync(CancellationToken.None);

        Assert.NotNull(first);
        Assert.Equal((4, 3), (first.Minutes, first.Hours));
        Assert.Equal(2, first.CallsDeleted);      // the 3- and 10-day-old calls
        Assert.Equal(1, first.MinuteRowsDeleted); // the 10-day-old minute
        var minutes = await RowsAsync("minute_rollups");
        Assert.Equal(
            [(Day3.AddMinutes(1), 0, 1L), (Hour3.AddMinutes(5), 0, 1L), (Hour3.AddMinutes(5), 0, 1L), (Hour3.AddMinutes(5), 5, 1L), (Hour3.AddMinutes(7), 0, 1L)],
            minutes.Select(r => (r.BucketStart, r.StatusCode, r.Calls)));
        var hours = await RowsAsync("hour_rollups");
        Assert.Equal([(Day10, 14, 1L), (Day3, 0, 1L), (Hour3, 0, 1L), (Hour3, 0, 1L), (Hour3, 0, 1L), (Hour3, 5, 1L)],
            hours.Select(r => (r.BucketStart, r.StatusCode, r.Calls)));
        // The histogram bucket of each call is the one LatencyHistogram gives it.
        Assert.Equal(LatencyHistogram.BucketOf(4_000), minutes.Single(r => r.BucketStart == Hour3.AddMinutes(7)).LatencyBucket);

        // Again, and on two hosts at once: the same rows, nothing doubled.
        await using var other = await TestHost.StartAsync(Database.ConnectionString, Configure);
        await Task.WhenAll(
            runner.RunOnceAsync(CancellationToken.None),
            other.App.Services.GetRequiredService<RollupRunner>().RunOnceAsync(CancellationToken.None));
        Assert.Equal(minutes, await RowsAsync("minute_rollups"));
        Assert.Equal(hours, await RowsAsync("hour_rollups"));

        // A call that arrives late for a rolled-up minute is folded in by recomputing that minute, not added twice.
        await InsertAsync(Hour3.AddMinutes(7), 4_000, 0);
        await runner.RunOnceAsync(CancellationToken.None);
        Assert.Equal(2, (await RowsAsync("minute_rollups")).Single(r => r.BucketStart == Hour3.AddMinutes(7)).Calls);
        Assert.Equal(5, (await RowsAsync("hour_rollups")).Where(r => r.BucketStart == Hour3).Sum(r => r.Calls));
    }

    [Fact]
    public async Task QueryMetrics_OldRanges_ReadMinuteThenHourRollups()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString, Configure);
        var admin = await host.RegisterAdminAsync(Database.ConnectionString);
        await InsertAsync(Day3.AddMinutes(1), 5_000, 0);
        await InsertAsync(Day3.AddMinutes(2), 50_000, 13);
        await InsertAsync(Day10.AddMinutes(1), 6_000, 14);
        await host.App.Services.GetRequiredService<RollupRunner>().RunOnceAsync(CancellationToken.None);

        var minute = await host.Analytics().QueryMetricsAsync(new QueryMetricsRequest
        {
            Endpoint = "/old/call", StartTime = Day3, EndTime = Day3.AddHours(1), BucketWidth = TimeSpan.FromMinutes(1),
        }, admin.Bearer);
        Assert.Equal(MetricsResolution.Minute, minute.Resolution);
        Assert.Equal(2, minute.Total!.Count);
        Assert.Equal(0.5, minute.Total.ErrorRate);
        Assert.Equal([0, 1, 1], minute.Buckets.Take(3).Select(b => b.Summary!.Count));
        Assert.InRange(minute.Total.P99!.Value.TotalMilliseconds, 45, 55);

        // A recent range longer than Analytics:RawQueryMaxRange (6 h) reads the minute roll-ups too.
        await InsertAsync(Hour3.AddMinutes(5), 1_000, 0);
        await host.App.Services.GetRequiredService<RollupRunner>().RunOnceAsync(CancellationToken.None);
        var longRecent = await host.Analytics().QueryMetricsAsync(new QueryMetricsRequest
        {
            Endpoint = "/old/call", StartTime = Now.AddHours(-7), EndTime = Now,
        }, admin.Bearer);
        Assert.Equal((MetricsResolution.Minute, 1L), (longRecent.Resolution, longRecent.Total!.Count));

        var hour = await host.Analytics().QueryMetricsAsync(new QueryMetricsRequest
        {
            Endpoint = "/old/call", StartTime = Day10, EndTime = Now, BucketWidth = TimeSpan.FromDays(1),
        }, admin.Bearer);
        Assert.Equal(MetricsResolution.Hour, hour.Resolution);
        Assert.Equal(4, hour.Total!.Count);
        Assert.Equal(4, hour.Buckets.Sum(b => b.Summary!.Count));
    }

    private async Task InsertAsync(DateTime at, long micros, int status)
    {
        await using var connection = new NpgsqlConnection(Database.ConnectionString);
        await connection.ExecuteAsync(
            """
            INSERT INTO analytics.calls (recorded_at, endpoint, method, protocol, status_code, is_error, duration_us, source)
            VALUES (@at, '/old/call', @post, @grpc, @status, @status <> 0, @micros, @ingested)
            """,
            new { at, micros, status, post = (short)ApiHttpMethod.Post, grpc = (short)CallProtocol.Grpc, ingested = (short)MetricSource.Ingested });
    }

    private async Task<List<RollupRow>> RowsAsync(string table)
    {
        await using var connection = new NpgsqlConnection(Database.ConnectionString);
        // The table name is one of two literals above, never input.
        return (await connection.QueryAsync<RollupRow>(
            $"SELECT bucket_start AS BucketStart, status_code AS StatusCode, latency_bucket AS LatencyBucket, calls AS Calls FROM analytics.{table} ORDER BY 1, 2, 3")).AsList();
    }

    private static DateTime Truncate(DateTime value, TimeSpan unit) => new(value.Ticks - value.Ticks % unit.Ticks, DateTimeKind.Utc);

    private sealed record RollupRow
    {
        public DateTime BucketStart { get; init; }
        public int StatusCode { get; init; }
        public short LatencyBucket { get; init; }
        public long Calls { get; init; }
    }
}
