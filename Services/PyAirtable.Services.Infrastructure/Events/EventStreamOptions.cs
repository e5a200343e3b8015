namespace PyAirtable.Services.Infrastructure.Events;

/// <summary>The event stream's settings (section <c>Events</c>).</summary>
public sealed class EventStreamOptions
{
    public const string Section = "Events";

    /// <summary>Set false on a host that serves calls but leaves relaying committed events to the stream to others.</summary>
    public bool RelayEnabled { get; set; } = true;

    /// <summary>
    /// How long the relay sleeps when it found nothing to relay while it cannot hear outbox writes commit (their PostgreSQL
    /// notifications, <see cref="OutboxNotifications"/>): then it polls.
    /// </summary>
    public TimeSpan RelayInterval { get; set; } = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// How long an idle relay that hears outbox writes commit waits for one before it looks anyway (a safety net: a write
    /// wakes it at once).
    /// </summary>
    public TimeSpan RelayIdleInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Events the relay sequences and publishes per round.</summary>
    public int RelayBatchSize { get; set; } = 1000;

    /// <summary>Entries kept per partition stream in Redis (approximate trimming); older ones are read from PostgreSQL.</summary>
    public int StreamMaxLength { get; set; } = 10_000;

    /// <summary>How long events stay in PostgreSQL for replay and catching up; older ones are deleted.</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Set false on a host that should not run this host's event consumers.</summary>
    public bool ConsumersEnabled { get; set; } = true;

    /// <summary>How long an idle consumer waits for new events when no wake-up signal arrives (Redis pub/sub).</summary>
    public TimeSpan ConsumerPollInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Events a consumer reads per partition per round.</summary>
    public int ConsumerBatchSize { get; set; } = 200;

    /// <summary>
    /// How often a host re-counts the hosts running a consumer and evens out the partitions among them (a host that dies
    /// frees its partitions at once: they are PostgreSQL session locks).
    /// </summary>
    public TimeSpan RebalanceInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Failed deliveries of one event to one consumer before it is set aside (platform.event_failures).</summary>
    public int MaxAttempts { get; set; } = 5;

    /// <summary>The first retry delay after a failed delivery; doubles per attempt up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often a host reads the stream's lag from PostgreSQL for its metrics; zero turns the sampling off.</summary>
    public TimeSpan LagSampleInterval { get; set; } = TimeSpan.FromSeconds(10);
}
