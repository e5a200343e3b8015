namespace PyAirtable.Services.Notifications;

/// <summary>Notification settings (section <c>Notifications</c>).</summary>
public sealed class NotificationOptions
{
    public const string Section = "Notifications";

    /// <summary>Notifications kept per user; older ones are dropped (a stream resuming before them gets not_recovered).</summary>
    public int MaxPerUser { get; set; } = 1000;

    /// <summary>How often an idle stream gets a heartbeat.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How often an open stream looks in PostgreSQL when no signal came (Redis down or a missed message).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);
}
