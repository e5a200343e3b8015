using Microsoft.Extensions.Configuration;

namespace PyAirtable.Services.Infrastructure.Contracts;

/// <summary>
/// Which services this host serves (section <c>Topology</c>): one build, any role. <c>Topology:Serve</c> is a
/// comma-separated list of areas (<c>users</c>, the second part of <c>pyairtable.users.v1.UserService</c>) or full
/// service names; <c>*</c> (the default, as <c>./run.sh</c>) is every service, <c>none</c> a gateway-only edge, and an
/// entry prefixed with <c>-</c> takes one away (<c>*,-users,-permissions</c>). A service not served here is called on
/// the host its <c>Remote:&lt;service name&gt;</c> names; one with neither is a start-up error.
/// </summary>
public static class Topology
{
    public const string ServeKey = "Topology:Serve";

    /// <summary>
    /// True on an edge: the contracts this host calls elsewhere are served here as well, each call forwarded to an
    /// instance of its service (<see cref="ForwardingProxy{TContract}"/>). False (default): only what runs here is served.
    /// </summary>
    public const string ForwardKey = "Topology:Forward";

    /// <summary>Served on every host whatever the list says: it reports on the host itself.</summary>
    private static readonly HashSet<string> HostLocal = new(StringComparer.Ordinal) { "pyairtable.health.v1.HealthService" };

    /// <summary>True when this host serves <paramref name="serviceName"/> (a full gRPC service name).</summary>
    public static bool Serves(IConfiguration configuration, string serviceName)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentException.ThrowIfNullOrEmpty(serviceName);
        if (HostLocal.Contains(serviceName))
        {
            return true;
        }

        var entries = (configuration[ServeKey] ?? "*")
            .Split([',', ' ', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (entries.Length == 0)
        {
            return true;
        }

        var served = false;
        foreach (var entry in entries)
        {
            var exclude = entry.StartsWith('-');
            var name = exclude ? entry[1..] : entry;
            if (name == "*" || Matches(name, serviceName))
            {
                served = !exclude;
            }
            else if (name.Equals("none", StringComparison.OrdinalIgnoreCase) && !exclude)
            {
                served = false;
            }
        }

        return served;
    }

    /// <summary>
    /// True when <c>Topology:Serve</c> is set and names <paramref name="serviceName"/>: the host serves it even if a
    /// <c>Remote:</c> binding names it too, so every role of a split deployment can share one file of <c>Remote:</c>
    /// bindings. Without the setting a <c>Remote:</c> binding wins (a host moves a service out by that alone).
    /// </summary>
    public static bool ServesExplicitly(IConfiguration configuration, string serviceName)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return configuration[ServeKey] is not null && Serves(configuration, serviceName);
    }

    /// <summary>The area of a platform service name (<c>users</c> of <c>pyairtable.users.v1.UserService</c>), else the name.</summary>
    public static string AreaOf(string serviceName)
    {
        ArgumentNullException.ThrowIfNull(serviceName);
        var parts = serviceName.Split('.');
        return parts.Length >= 4 ? parts[1] : serviceName;
    }

    private static bool Matches(string entry, string serviceName) =>
        string.Equals(entry, serviceName, StringComparison.Ordinal)
        || string.Equals(entry, AreaOf(serviceName), StringComparison.OrdinalIgnoreCase);
}
