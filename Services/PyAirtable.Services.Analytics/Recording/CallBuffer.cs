using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using PyAirtable.Services.Infrastructure.Telemetry;

namespace PyAirtable.Services.Analytics.Recording;

/// <summary>
/// The bounded in-memory buffer between the gateway and <see cref="CallWriter"/>. Recording never waits: a full
/// buffer drops the call and counts it (<c>pyairtable.analytics.dropped</c>, reason <c>buffer_full</c>). The writer
/// takes calls out only when it writes them, so the capacity bounds everything not yet written.
/// </summary>
internal sealed class CallBuffer : ICallRecorder
{
    private readonly Channel<CallRow> _channel;
    private readonly Counter<long> _dropped;
    private readonly int _batchSize;
    // A wake-up for the writer when a batch is full: one slot, extra wake-ups are dropped (never blocks, never throws).
    private readonly Channel<bool> _batchReady = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private long _droppedCount;

    public CallBuffer(IOptions<AnalyticsOptions> options, IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(meters);
        var settings = options.Value;
        Enabled = settings.RecordCalls;
        _batchSize = Math.Max(1, settings.BatchSize);
        // Wait mode with TryWrite: a full channel refuses at once (false), and nothing ever waits on it.
        _channel = Channel.CreateBounded<CallRow>(new BoundedChannelOptions(Math.Max(1, settings.BufferCapacity))
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });
        _dropped = meters.Create(PlatformMetrics.MeterName).CreateCounter<long>("pyairtable.analytics.dropped", "{call}",
            "Calls the Analytics service did not record: its buffer was full (buffer_full) or PostgreSQL refused the batch (write_failed).");
    }

    public bool Enabled { get; }

    /// <summary>Calls dropped by this host since it started (also exported as the counter).</summary>
    public long Dropped => Interlocked.Read(ref _droppedCount);

    public ChannelReader<CallRow> Reader => _channel.Reader;

    public void Record(in ServedCall served)
    {
        if (Enabled)
        {
            Add(CallRow.Served(served));
        }
    }

    /// <summary>Buffers a call (recorded or ingested); false when the buffer is full and the call was dropped.</summary>
    public bool Add(in CallRow row)
    {
        if (!_channel.Writer.TryWrite(row))
        {
            CountDropped(1, "buffer_full");
            return false;
        }

        if (_channel.Reader.Count >= _batchSize)
        {
            _batchReady.Writer.TryWrite(true);
        }

        return true;
    }

    public void CountDropped(long calls, string reason)
    {
        Interlocked.Add(ref _droppedCount, calls);
        _dropped.Add(calls, new KeyValuePair<string, object?>("reason", reason));
    }

    /// <summary>Completes when a full batch waits or <paramref name="timeout"/> passed, whichever is first.</summary>
    public async Task WaitForBatchAsync(TimeSpan timeout, CancellationToken ct)
    {
        _batchReady.Reader.TryRead(out _);
        if (_channel.Reader.Count >= _batchSize)
        {
            return;
        }

        using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
        wait.CancelAfter(timeout);
        try
        {
            await _batchReady.Reader.ReadAsync(wait.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // the flush interval passed
        }
    }
}
