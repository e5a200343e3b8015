namespace PyAirtable.Services.Infrastructure.Contracts;

/// <summary>
/// Where the instances of a remote service are, as one <c>Remote:&lt;service name&gt;</c> value:
/// <list type="bullet">
/// <item><c>http://10.0.0.7:50051</c>: one host (one pooled HTTP/2 channel, as before);</item>
/// <item><c>http://10.0.0.7:50051,http://10.0.0.8:50051</c>: a static list, balanced round-robin;</item>
/// <item><c>dns:///users.pyairtable.svc.cluster.local:50051</c>: every address the name resolves to, re-resolved every
/// <c>RemoteCalls:DnsRefreshInterval</c> (a Kubernetes headless Service), balanced round-robin;</item>
/// <item><c>&lt;scheme&gt;:///&lt;name&gt;</c>: any other grpc-dotnet resolver registered in the host's services
/// (a <c>ResolverFactory</c> whose <c>Name</c> is the scheme, e.g. a Consul catalog).</item>
/// </list>
/// Balanced targets take out instances whose grpc.health.v1 status is not SERVING (draining, stopping).
/// </summary>
public sealed record RemoteTarget
{
    private RemoteTarget(string text, IReadOnlyList<Uri> addresses, Uri? resolver)
    {
        Text = text;
        Addresses = addresses;
        Resolver = resolver;
    }

    /// <summary>The configured value, normalized: the key of the channel every contract bound to it shares.</summary>
    public string Text { get; }

    /// <summary>The static addresses (one or more); empty for a resolver target.</summary>
    public IReadOnlyList<Uri> Addresses { get; }

    /// <summary>The resolver address (<c>dns:///…</c>, <c>consul:///…</c>), or null for static addresses.</summary>
    public Uri? Resolver { get; }

    /// <summary>True when calls are spread over instances a resolver yields (a list, or a resolver target).</summary>
    public bool IsBalanced => Resolver is not null || Addresses.Count > 1;

    /// <summary>True for https addresses; a resolver target's transport follows the platform TLS settings.</summary>
    public bool IsHttps => Addresses.Count > 0 && Addresses[0].Scheme == Uri.UriSchemeHttps;

    /// <summary>Parses <paramref name="value"/> (the value of <paramref name="key"/>), or says what is wrong with it.</summary>
    public static RemoteTarget Parse(string key, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var parts = value.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0)
        {
            throw new InvalidOperationException($"{key} is empty.");
        }

        if (parts.Length == 1 && Uri.TryCreate(parts[0], UriKind.Absolute, out var single)
            && single.Scheme != Uri.UriSchemeHttp && single.Scheme != Uri.UriSchemeHttps)
        {
            if (!parts[0].Contains(":///", StringComparison.Ordinal) || single.AbsolutePath.Length <= 1)
            {
                throw new InvalidOperationException($"{key}: a resolver target is written <scheme>:///<name>[:port], not '{value}'.");
            }

            return new RemoteTarget(single.ToString(), [], single);
        }

        var addresses = new List<Uri>();
        foreach (var part in parts)
        {
            if (!Uri.TryCreate(part, UriKind.Absolute, out var address) || (address.Scheme != Uri.UriSchemeHttp && address.Scheme != Uri.UriSchemeHttps)
                || address.AbsolutePath != "/" || address.Host.Length == 0)
            {
                throw new InvalidOperationException(
                    $"{key} must be an http(s):// address, a comma-separated list of them, or a resolver target such as dns:///name:port, not '{value}'.");
            }

            addresses.Add(address);
        }

        if (addresses.Select(a => a.Scheme).Distinct().Count() > 1)
        {
            throw new InvalidOperationException($"{key}: the addresses of one service are all http:// or all https://.");
        }

        var distinct = addresses.Distinct().ToList();
        return new RemoteTarget(string.Join(',', distinct.Select(a => a.ToString())), distinct, null);
    }
}
