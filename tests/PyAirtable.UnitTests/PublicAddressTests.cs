using System.Net;
using PyAirtable.Services.Infrastructure.Errors;

namespace PyAirtable.UnitTests;

/// <summary>
/// The SSRF guard's address ranges at their edges: the first and last address of each internal range are refused, the
/// neighbours just outside are public, and IPv6 prefixes that merely resemble a tunnelling form (NAT64, 6to4, Teredo,
/// documentation) in one byte are judged as the ordinary addresses they are.
/// </summary>
public sealed class PublicAddressTests
{
    [Theory]
    [InlineData("0.1.2.3")]
    [InlineData("10.255.255.255")]
    [InlineData("127.255.0.1")]
    [InlineData("100.64.0.0")]
    [InlineData("100.127.255.255")]
    [InlineData("169.254.0.1")]
    [InlineData("172.16.0.0")]
    [InlineData("172.31.255.255")]
    [InlineData("192.168.0.1")]
    [InlineData("192.0.0.8")]
    [InlineData("198.18.0.1")]
    [InlineData("198.19.255.255")]
    [InlineData("224.0.0.1")]
    [InlineData("255.255.255.255")]
    [InlineData("::ffff:192.168.1.1")]
    [InlineData("::ffff:172.20.0.1")]
    [InlineData("64:ff9b::c0a8:101")]   // NAT64 of 192.168.1.1
    [InlineData("2002:ac10:1::")]       // 6to4 of 172.16.0.1
    [InlineData("fc00::1")]
    [InlineData("fd12:3456::1")]
    [InlineData("fec0::1")]
    [InlineData("ff02::1")]
    [InlineData("2001:db8::1")]
    public void InternalAddresses_AreNotPublic(string address) => Assert.False(Validation.IsPublicAddress(IPAddress.Parse(address)));

    [Theory]
    [InlineData("1.1.1.1")]
    [InlineData("9.255.255.255")]
    [InlineData("11.0.0.1")]
    [InlineData("100.63.255.255")]
    [InlineData("100.128.0.1")]
    [InlineData("169.253.255.255")]
    [InlineData("169.255.0.1")]
    [InlineData("172.15.255.255")]
    [InlineData("172.32.0.1")]
    [InlineData("192.167.255.255")]
    [InlineData("192.169.0.1")]
    [InlineData("192.0.1.1")]
    [InlineData("192.1.0.1")]
    [InlineData("198.17.255.255")]
    [InlineData("198.20.0.1")]
    [InlineData("223.255.255.255")]
    [InlineData("::ffff:8.8.8.8")]
    [InlineData("64:ff9b::808:808")]    // NAT64 of 8.8.8.8
    [InlineData("2002:808:808::")]      // 6to4 of 8.8.8.8
    [InlineData("2606:ff9b::1")]        // shares bytes 2-3 with the NAT64 prefix only
    [InlineData("64:ff9b:100::a00:1")]  // the NAT64 prefix followed by more than zeros
    [InlineData("2a02:a00:1::1")]       // shares byte 1 with 6to4 only
    [InlineData("2a01::1")]             // shares bytes 1-3 with Teredo only
    [InlineData("2606:d00::1")]         // shares byte 2 with the documentation prefix only
    [InlineData("2606:b8::1")]          // shares byte 3 with the documentation prefix only
    [InlineData("2001:db9::1")]
    public void OrdinaryAddresses_ArePublic(string address) => Assert.True(Validation.IsPublicAddress(IPAddress.Parse(address)));

    [Theory]
    [InlineData("https://printer.local/a.png", false)]
    [InlineData("https://metadata.google.internal/a.png", false)]
    [InlineData("https://intranet/a.png", false)]
    [InlineData("https://user:pw@cdn.example.com/a.png", false)]
    [InlineData("http://cdn.example.com/a.png", false)]
    [InlineData("https://cdn.example.com/a.png", true)]
    public void AvatarUrl_NeedsHttpsAPublicNameAndNoCredentials(string url, bool accepted) =>
        Assert.Equal(accepted, new RequestValidator().PublicHttpsUrl("avatar_url", url, 2048).IsValid);

    [Fact]
    public void AvatarUrl_OfExactlyTheMaximumLength_IsAccepted_OneLonger_IsNot()
    {
        var url = "https://cdn.example.com/" + new string('a', 40);

        Assert.True(new RequestValidator().PublicHttpsUrl("avatar_url", url, url.Length).IsValid);
        Assert.False(new RequestValidator().PublicHttpsUrl("avatar_url", url, url.Length - 1).IsValid);
    }
}
