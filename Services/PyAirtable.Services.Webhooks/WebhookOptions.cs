using System.Globalization;
using System.Net;

namespace PyAirtable.Services.Webhooks;

/// <summary>Webhook delivery settings (section <c>Webhooks</c>).</summary>
public sealed class WebhookOptions
{
    public const string Section = "Webhooks";

    /// <summary>
    /// Networks (CIDR, comma-separated, e.g. <c>127.0.0.1/32,10.1.0.0/16</c>) that deliveries may reach although they are
    /// loopback, private or link-local. Empty by default: only public addresses are reached.
    /// </summary>
    public string AllowedNetworks { get; set; } = "";

    /// <summary>How long one attempt may take, connect to response headers; past it the attempt failed.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Delays before each attempt, comma-separated: the first is counted from the event, each next from the previous
    /// failure. After the last, the delivery is failed.
    /// </summary>
    public string RetrySchedule { get; set; } = "00:00:00,00:00:05,00:05:00,00:30:00,02:00:00,05:00:00,10:00:00,10:00:00";

    /// <summary>An endpoint whose attempts have all failed for this long is disabled (and WebhookDisabled written).</summary>
    public TimeSpan DisableAfter { get; set; } = TimeSpan.FromDays(5);

    /// <summary>How often a worker looks for due deliveries when nothing woke it.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a worker holds a claimed delivery; another host takes it over after this (a host killed mid-attempt).
    /// Must exceed <see cref="Timeout"/>.
    /// </summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Attempts one host runs at once (each holds a slot until its outcome is recorded).</summary>
    public int MaxConcurrency { get; set; } = 64;

    /// <summary>
    /// Connections one host keeps open to one endpoint (scheme, host and port) at most; attempts beyond wait for one. Pooled
    /// and reused (keep-alive), so a busy endpoint is not paying a TCP handshake per delivery.
    /// </summary>
    public int MaxConnectionsPerEndpoint { get; set; } = 16;

    /// <summary>Set false on a host that should not send deliveries (it still serves the RPCs and enqueues).</summary>
    public bool WorkerEnabled { get; set; } = true;

    /// <summary>Base64 of a 32-byte key that encrypts webhook secrets at rest; unset: a key generated into the database.</summary>
    public string SecretKey { get; set; } = "";

    /// <summary>Finished deliveries (and their attempts) are deleted after this.</summary>
    public TimeSpan DeliveryRetention { get; set; } = TimeSpan.FromDays(30);

    internal IReadOnlyList<TimeSpan> ParsedSchedule() =>
        RetrySchedule.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => TimeSpan.Parse(s, CultureInfo.InvariantCulture)).ToList() is { Count: > 0 } list
            ? list
            : throw new InvalidOperationException("Webhooks:RetrySchedule needs at least one delay.");

    internal IReadOnlyList<IPNetwork> ParsedAllowedNetworks() =>
        AllowedNetworks.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(IPNetwork.Parse).ToList();
}
