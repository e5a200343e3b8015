using System.Net;
using PyAirtable.Host.Gateway;

namespace PyAirtable.UnitTests;

/// <summary>How the client is read from an <c>x-forwarded-for</c> chain a trusted peer sent: from the right, past trusted proxies.</summary>
public sealed class ForwardedClientAddressTests
{
    private static readonly IReadOnlyList<IPNetwork> Proxies =
        new ForwardedHeadersOptions { KnownProxies = "10.0.0.0/8, 192.0.2.10, 2001:db8::/32" }.ParsedKnownProxies();

    [Theory]
    [InlineData("203.0.113.9", "203.0.113.9")]
    [InlineData("198.51.100.7, 203.0.113.9", "203.0.113.9")] // what the client itself wrote on the left is not believed
    [InlineData("198.51.100.7, 203.0.113.9, 10.1.2.3", "203.0.113.9")] // an inner proxy's hop is skipped
    [InlineData("198.51.100.7,10.1.2.3,192.0.2.10", "198.51.100.7")]
    [InlineData("::ffff:203.0.113.5", "203.0.113.5")] // IPv4-mapped: counted as the IPv4 address it is
    [InlineData("2001:db8::1, 2001:db9::7", "2001:db9::7")]
    [InlineData("unknown, 203.0.113.9", "203.0.113.9")]
    public void TheClient_IsTheRightmostAddressThatIsNotATrustedProxy(string header, string client) =>
        Assert.Equal(IPAddress.Parse(client), ForwardedClientAddress.ClientOf([header], Proxies));

    [Fact]
    public void SeveralHeaderLines_AreOneChain_InOrder() =>
        Assert.Equal(IPAddress.Parse("198.51.100.7"), ForwardedClientAddress.ClientOf(["198.51.100.7", "10.0.0.1"], Proxies));

    [Theory]
    [InlineData("")]
    [InlineData("unknown")]
    [InlineData("203.0.113.9:443")] // a port: not an address, so nothing is believed
    [InlineData("<script>")]
    public void AChainThatNamesNoAddress_LeavesThePeerAsTheClient(string header) =>
        Assert.Null(ForwardedClientAddress.ClientOf([header], Proxies));

    [Fact]
    public void AnAllProxyChain_NamesItsLeftmostProxy_AndAHugeChainIsReadOnlyFromItsLastHops()
    {
        Assert.Equal(IPAddress.Parse("10.0.0.1"), ForwardedClientAddress.ClientOf(["10.0.0.1, 10.0.0.2"], Proxies));
        var hops = string.Join(", ", Enumerable.Range(1, 1000).Select(i => $"10.0.{i / 256}.{i % 256}"));
        Assert.Equal(IPAddress.Parse("10.0.3.217"), ForwardedClientAddress.ClientOf(["198.51.100.7, " + hops], Proxies));
    }

    [Theory]
    [InlineData("10.0.0.0/33")]
    [InlineData("proxy.example")]
    public void AKnownProxyThatIsNotAnAddressOrCidr_StopsTheHost_NamingTheSetting(string value)
    {
        var ex = Assert.ThrowsAny<Exception>(() => new ForwardedHeadersOptions { KnownProxies = value }.ParsedKnownProxies());
        Assert.Contains("ForwardedHeaders:KnownProxies", ex.Message, StringComparison.Ordinal);
    }
}
