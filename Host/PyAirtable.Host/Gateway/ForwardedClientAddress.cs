using System.Net;
using PyAirtable.Services.Infrastructure.Requests;
using PyAirtable.Services.Infrastructure.Security;

namespace PyAirtable.Host.Gateway;

/// <summary>Which peers may tell the host who the client is (section <c>ForwardedHeaders</c>).</summary>
public sealed class ForwardedHeadersOptions
{
    public const string Section = "ForwardedHeaders";

    /// <summary>
    /// Comma-separated addresses or CIDRs of the reverse proxies and load balancers in front of this host, e.g.
    /// <c>10.0.0.0/8, 192.0.2.10</c>. Empty (the default): <c>x-forwarded-for</c> is believed only from other platform hosts
    /// (a platform client certificate), so nobody can pick the address their rate limits and login throttles count.
    /// </summary>
    public string KnownProxies { get; set; } = "";

    internal IReadOnlyList<IPNetwork> ParsedKnownProxies() =>
        KnownProxies.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Network).ToList();

    private static IPNetwork Network(string text)
    {
        if (IPNetwork.TryParse(text, out var network))
        {
            return network;
        }

        return IPAddress.TryParse(text, out var address)
            ? new IPNetwork(address, address.GetAddressBytes().Length * 8)
            : throw new InvalidOperationException($"ForwardedHeaders:KnownProxies: '{text}' is neither an address nor a CIDR.");
    }
}

/// <summary>
/// The client's own address for everything after it (request metadata, per-address rate limits, Login's throttles,
/// analytics), when the call came through a peer that may say it: a configured proxy (<see cref="ForwardedHeadersOptions"/>)
/// or another platform host, which forwards a call with the address it established (<c>x-forwarded-for</c>, see
/// ContractBindings). Behind a proxy without this, every caller is the proxy's address, and one failed-login burst would
/// lock out everybody. The chain is read from the right: each address a trusted peer added is believed, and the first
/// one that is not itself a trusted proxy is the client. A header from anyone else is ignored, never an error.
/// </summary>
internal sealed class ForwardedClientAddress(RequestDelegate next, IReadOnlyList<IPNetwork> proxies, PlatformTls? tls = null)
{
    /// <summary>More hops than this is not a real chain; the address is taken from the last ones.</summary>
    private const int MaxHops = 16;

    public Task InvokeAsync(HttpContext context)
    {
        if (context.Request.Headers.TryGetValue(RequestMetadataExtensions.ForwardedForHeader, out var values)
            && context.Connection.RemoteIpAddress is { } peer && Trusted(context, peer) && ClientOf(values, proxies) is { } client)
        {
            context.Connection.RemoteIpAddress = client;
        }

        return next(context);
    }

    private bool Trusted(HttpContext context, IPAddress peer) =>
        IsProxy(peer, proxies)
        || (tls is not null && context.Connection.ClientCertificate is { } certificate && tls.IsPlatformCertificate(certificate));

    /// <summary>The client a trusted peer's chain names, or null when it names none that parses.</summary>
    internal static IPAddress? ClientOf(IEnumerable<string?> values, IReadOnlyList<IPNetwork> proxies)
    {
        var hops = values.SelectMany(v => (v ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .ToList();
        IPAddress? client = null;
        for (var i = hops.Count - 1; i >= Math.Max(0, hops.Count - MaxHops); i--)
        {
            if (!IPAddress.TryParse(hops[i], out var hop))
            {
                break; // not an address (a port, "unknown", garbage): nothing to its left can be believed either
            }

            client = hop.Unmapped();
            if (!IsProxy(client, proxies))
            {
                break;
            }
        }

        return client;
    }

    private static bool IsProxy(IPAddress address, IReadOnlyList<IPNetwork> proxies)
    {
        var normalized = address.Unmapped();
        foreach (var proxy in proxies)
        {
            if (proxy.Contains(normalized))
            {
                return true;
            }
        }

        return false;
    }
}
