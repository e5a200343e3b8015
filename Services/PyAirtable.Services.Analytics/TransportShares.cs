using PyAirtable.Contracts.Analytics;
using PyAirtable.Services.Analytics.Stores;

namespace PyAirtable.Services.Analytics;

/// <summary>
/// QueryMetrics' <c>transport_shares</c>: per endpoint, its calls by transport and its share among the versions of its
/// method — the figures that say when a JSON route (phase 4 of moving clients to gRPC) or a deprecated v1 can go.
/// </summary>
internal static class TransportShares
{
    public static List<EndpointTransportShares> Of(IReadOnlyList<TransportRow> rows)
    {
        var endpoints = rows.GroupBy(r => r.Endpoint, StringComparer.Ordinal)
            .Select(g => (Endpoint: g.Key, Version: g.First().ApiVersion, Method: MethodOf(g.Key, g.First().ApiVersion),
                Rows: g.ToList(), Calls: g.Sum(r => r.Calls)))
            .ToList();
        var perMethod = endpoints.GroupBy(e => e.Method, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Sum(e => e.Calls), StringComparer.Ordinal);
        return endpoints
            .Select(e => new EndpointTransportShares
            {
                Endpoint = e.Endpoint,
                ApiVersion = e.Version,
                Method = e.Method,
                Calls = e.Calls,
                VersionShare = Share(e.Calls, perMethod[e.Method]),
                Transports = [.. e.Rows.GroupBy(r => (CallTransport)r.Transport)
                    .Select(t => (Transport: t.Key, Calls: t.Sum(r => r.Calls)))
                    .Select(t => new TransportShare { Transport = t.Transport, Calls = t.Calls, Share = Share(t.Calls, e.Calls) })
                    .OrderByDescending(t => t.Calls).ThenBy(t => t.Transport)],
            })
            .OrderBy(e => e.Method, StringComparer.Ordinal).ThenBy(e => e.ApiVersion, StringComparer.Ordinal)
            .ThenBy(e => e.Endpoint, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>
    /// The endpoint without its version: <c>pyairtable.users.UserService/GetUser</c> of
    /// <c>/pyairtable.users.v2.UserService/GetUser</c>, <c>bases</c> of the HTTP route <c>/v1/bases</c>.
    /// </summary>
    internal static string MethodOf(string endpoint, string version)
    {
        var trimmed = endpoint.TrimStart('/');
        if (version.Length == 0)
        {
            return trimmed;
        }

        var dotted = "." + version + ".";
        var at = trimmed.IndexOf(dotted, StringComparison.Ordinal);
        if (at >= 0 && at < trimmed.IndexOf('/', StringComparison.Ordinal))
        {
            return trimmed[..at] + "." + trimmed[(at + dotted.Length)..];
        }

        // An HTTP route: /v1/bases → bases.
        return trimmed.StartsWith(version + "/", StringComparison.Ordinal) ? trimmed[(version.Length + 1)..] : trimmed;
    }

    private static double Share(long part, long whole) => whole == 0 ? 0 : (double)part / whole;
}
