using System.CommandLine;
using PyAirtable.Tools;

namespace PyAirtable.UnitTests;

public sealed class CliTests
{
    private static RootCommand Cli() => new("test") { HealthCommand.Create() };

    [Fact]
    public async Task Health_ExplicitAddressOfNothing_ReportsUnreachableWithExitCode1()
    {
        var port = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        port.Start();
        var free = ((System.Net.IPEndPoint)port.LocalEndpoint).Port;
        port.Stop();

        var exitCode = await Cli().Parse(["health", "--address", $"http://127.0.0.1:{free}"]).InvokeAsync();

        Assert.Equal(1, exitCode);
    }

    [Theory]
    [InlineData("not a url")]
    [InlineData("ftp://127.0.0.1:1")]
    public void Health_MalformedAddress_IsAParseError(string address)
    {
        var result = Cli().Parse(["health", "--address", address]);

        Assert.Contains(result.Errors, e => e.Message.Contains("--address must be an http:// or https:// URL", StringComparison.Ordinal));
    }
}
