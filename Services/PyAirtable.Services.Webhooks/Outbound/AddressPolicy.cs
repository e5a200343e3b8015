using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Requests;

namespace PyAirtable.Services.Webhooks.Outbound;

/// <summary>
/// Where deliveries may go (SSRF guard): public addresses, plus the networks <c>Webhooks:AllowedNetworks</c> names.
/// Loopback, private, link-local (cloud metadata), CGNAT, unspecified, multicast and reserved addresses are refused, in
/// every IPv4 and IPv6 form (<see cref="Validation.IsPublicAddress"/>). The check is made on the address actually
/// connected to (<see cref="GuardedHttp"/>), so a name that resolves, or later rebinds, to such an address gets nowhere.
/// </summary>
public sealed class AddressPolicy(IOptions<WebhookOptions> options)
{
    private readonly IReadOnlyList<IPNetwork> _allowed = options.Value.ParsedAllowedNetworks();

    /// <summary>Null when the address may be reached; otherwise why not.</summary>
    public string? Refusal(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        var plain = address.Unmapped();
        if (_allowed.Any(n => n.Contains(plain)))
        {
            return null;
        }

        return Validation.IsPublicAddress(plain) ? null : $"{plain} is not a public address (loopback, private, link-local or reserved)";
    }

    /// <summary>Checks a URL given by a caller: http(s), no credentials, at most 2,000 characters, and a literal address only when allowed.</summary>
    public RequestValidator CheckUrl(RequestValidator validator, string field, string? url)
    {
        ArgumentNullException.ThrowIfNull(validator);
        if (string.IsNullOrWhiteSpace(url) || url.Length > 2000 || !Uri.TryCreate(url, UriKind.Absolute, out var uri)
            || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp) || uri.UserInfo.Length > 0 || uri.Host.Length == 0)
        {
            return validator.Add(field, "must be an http or https URL of at most 2000 characters, without credentials");
        }

        // Uri has already turned decimal, octal and hex host forms (2130706433, 0x7f.1) into the address they mean.
        if (uri.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6
            && IPAddress.TryParse(uri.Host.Trim('[', ']'), out var literal) && Refusal(literal) is { } why)
        {
            return validator.Add(field, "must not point at " + why);
        }

        return validator;
    }
}

/// <summary>Thrown by the connect callback when every address of a name is refused.</summary>
public sealed class AddressRefusedException(string message) : Exception(message)
{
    public AddressRefusedException() : this("refused") { }

    public AddressRefusedException(string message, Exception inner) : this(message + " " + inner?.Message) { }
}

/// <summary>
/// The HttpClient of deliveries: resolves the name itself and connects only to an address <see cref="AddressPolicy"/>
/// allows (checked at connect time, so DNS rebinding does not get through), follows no redirects, uses no proxy (a proxy
/// would connect for us, unchecked) and keeps connections a short while only.
/// </summary>
public sealed class GuardedHttp : IDisposable
{
    public GuardedHttp(AddressPolicy policy, Microsoft.Extensions.Options.IOptions<WebhookOptions> options)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(options);
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseProxy = false,
            UseCookies = false,
            PooledConnectionLifetime = TimeSpan.FromMinutes(1),
            MaxConnectionsPerServer = options.Value.MaxConnectionsPerEndpoint,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            ConnectCallback = async (context, ct) =>
            {
                var host = context.DnsEndPoint.Host;
                var addresses = IPAddress.TryParse(host.Trim('[', ']'), out var literal)
                    ? [literal]
                    : await Dns.GetHostAddressesAsync(host, ct);
                string? refusal = null;
                foreach (var address in addresses)
                {
                    if (policy.Refusal(address) is { } why)
                    {
                        refusal ??= why;
                        continue;
                    }

                    var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                    try
                    {
                        await socket.ConnectAsync(new IPEndPoint(address, context.DnsEndPoint.Port), ct);
                        return new NetworkStream(socket, ownsSocket: true);
                    }
                    catch
                    {
                        socket.Dispose();
                        throw;
                    }
                }

                throw new AddressRefusedException(refusal is null ? $"{host} has no address" : $"refused: {host}: {refusal}");
            },
        };
        Client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    public HttpClient Client { get; }

    public void Dispose() => Client.Dispose();
}
