namespace PyAirtable.Services.Analytics;

/// <summary>Section <c>Analytics</c>: recording, batching, roll-ups and retention.</summary>
public sealed class AnalyticsOptions
{
    public const string Section = "Analytics";

    /// <summary>Record every served call. False turns the gateway's recording off (benchmarks); IngestMetrics still works.</summary>
    public bool RecordCalls { get; set; } = true;

    /// <summary>Calls held in memory waiting to be written; past it new calls are dropped and counted.</summary>
    public int BufferCapacity { get; set; } = 50_000;

    /// <summary>A batch is written when this many calls wait…</summary>
    public int BatchSize { get; set; } = 1_000;

    /// <summary>…or when the oldest has waited this long.</summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often roll-ups and retention run (on one host at a time).</summary>
    public TimeSpan RollupInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How long recorded calls are kept; queries starting within it read them, unless they are longer than <see cref="RawQueryMaxRange"/>.</summary>
    public TimeSpan RawRetention { get; set; } = TimeSpan.FromHours(48);

    /// <summary>
    /// The longest range read from the recorded calls themselves: a query scans every call in its range, so longer
    /// ranges read the minute roll-ups (which hold at most one row per minute, endpoint, workspace, status and latency bucket).
    /// </summary>
    public TimeSpan RawQueryMaxRange { get; set; } = TimeSpan.FromHours(6);

    /// <summary>How long per-minute roll-ups are kept.</summary>
    public TimeSpan MinuteRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>How long per-hour roll-ups are kept.</summary>
    public TimeSpan HourRetention { get; set; } = TimeSpan.FromDays(400);
}
