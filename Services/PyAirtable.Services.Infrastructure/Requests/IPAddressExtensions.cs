using System.Net;

namespace PyAirtable.Services.Infrastructure.Requests;

/// <summary>Client addresses as the platform compares them.</summary>
public static class IPAddressExtensions
{
    /// <summary>
    /// The IPv4 address an IPv4-mapped IPv6 address (<c>::ffff:10.0.0.7</c>) carries, else the address itself. A
    /// dual-stack socket reports IPv4 clients in the mapped form: without this, one client would count as two, and an IPv4
    /// network (a proxy list, an allow-list) would not contain it.
    /// </summary>
    public static IPAddress Unmapped(this IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
    }
}
