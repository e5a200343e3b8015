using Grpc.Core;
using ProtoBuf.Grpc;
using PyAirtable.IntegrationTests.Diagnostics;
using PyAirtable.IntegrationTests.Infrastructure;

namespace PyAirtable.IntegrationTests.Gateway;

public sealed class RequestMetadataTests(HostFixture hostFixture) : HostTests(hostFixture)
{
    [Fact]
    public async Task Echo_WithRequestIdHeader_RoundTripsIdInResponseHeaderAndMetadata()
    {
        var requestId = "req-" + Guid.NewGuid().ToString("N");
        var context = new CallContext(new CallOptions(new Metadata { { "x-request-id", requestId }, { "user-agent", "pyairtable-tests/1.0" } }),
            CallContextFlags.CaptureMetadata);

        var response = await Fixture.Host.Diagnostics.EchoAsync(new EchoRequest { Text = "hi" }, context);

        Assert.Equal(requestId, (await context.ResponseHeadersAsync()).GetValue("x-request-id"));
        Assert.NotNull(response.Metadata);
        Assert.Equal(requestId, response.Metadata.RequestId);
        Assert.Equal("127.0.0.1", response.Metadata.ClientIp);
        Assert.Contains("pyairtable-tests/1.0", response.Metadata.UserAgent, StringComparison.Ordinal);
        Assert.NotNull(response.Metadata.Timestamp);
        Assert.InRange(response.Metadata.Timestamp.Value, DateTime.UtcNow.AddMinutes(-1), DateTime.UtcNow.AddMinutes(1));
    }

    [Fact]
    public async Task Echo_WithoutRequestId_GeneratesOneAndReturnsIt()
    {
        var context = new CallContext(flags: CallContextFlags.CaptureMetadata);

        var response = await Fixture.Host.Diagnostics.EchoAsync(new EchoRequest(), context);

        var returned = (await context.ResponseHeadersAsync()).GetValue("x-request-id");
        Assert.False(string.IsNullOrEmpty(returned));
        Assert.Equal(returned, response.Metadata!.RequestId);
    }

    [Theory]
    [InlineData("bad id with spaces")]
    [InlineData("line\u000bbreak")]
    [InlineData("this-one-is-far-too-long-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")]
    public async Task Echo_WithUnsafeRequestId_ReplacesIt(string unsafeId)
    {
        var context = new CallContext(new CallOptions(new Metadata { { "x-request-id", unsafeId } }), CallContextFlags.CaptureMetadata);

        await Fixture.Host.Diagnostics.EchoAsync(new EchoRequest(), context);

        var returned = (await context.ResponseHeadersAsync()).GetValue("x-request-id");
        Assert.False(string.IsNullOrEmpty(returned));
        Assert.NotEqual(unsafeId, returned);
    }

    [Fact]
    public async Task Failure_IsLoggedWithTheRequestIdInScope()
    {
        var requestId = "scope-" + Guid.NewGuid().ToString("N");
        var context = new CallContext(new CallOptions(new Metadata { { "x-request-id", requestId } }));

        await Assert.ThrowsAsync<RpcException>(async () =>
            await Fixture.Host.Diagnostics.FailAsync(new FailRequest { Kind = FailureKind.Bug }, context));

        var errors = Fixture.Host.Logs.TakeErrors(e => e.RequestId == requestId);
        var error = Assert.Single(errors);
        Assert.IsType<InvalidOperationException>(error.Exception);
        // One scope carries the request: its id once (ASP.NET Core's hosting scope, which repeated it, is off) and its method.
        var values = error.Scopes.OfType<IEnumerable<KeyValuePair<string, object>>>().SelectMany(s => s).ToList();
        Assert.Single(values, kv => kv.Key == "RequestId");
        Assert.Contains(values, kv => kv.Key == "RequestPath" && kv.Value is string path
            && path == $"/{TestHost.DiagnosticsServiceName}/Fail");
    }

    [Fact]
    public async Task ProbeEndpoint_ReturnsRequestIdHeader()
    {
        using var http = new HttpClient();

        using var response = await http.GetAsync(new Uri(Fixture.Host.ProbeAddress + "/healthz"));

        Assert.True(response.IsSuccessStatusCode);
        Assert.True(response.Headers.Contains("x-request-id"));
    }
}
