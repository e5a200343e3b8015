using System.Net;
using System.Net.Sockets;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using PyAirtable.Services.Infrastructure.Contracts;

namespace PyAirtable.UnitTests;

/// <summary>
/// Which failures take an instance of a balanced remote target out of the round-robin, and for how long. (That the
/// balancer then sends retries elsewhere is proven by LoadBalancingTests over real hosts.)
/// </summary>
public sealed class FailedInstancesTests
{
    private static readonly DnsEndPoint A = new("127.0.0.1", 5001);
    private static readonly DnsEndPoint B = new("127.0.0.1", 5002);

    private readonly FakeTimeProvider _time = new();

    private FailedInstances Instances(TimeSpan pause) => new("static:///test", pause, _time, NullLogger.Instance);

    [Fact]
    public void AnInstanceTakenOut_IsOutForThePause_AndNotAMomentLonger()
    {
        var instances = Instances(TimeSpan.FromSeconds(2));

        instances.TakeOut(B.Host, B.Port, "test");

        Assert.True(instances.IsOut(B));
        Assert.False(instances.IsOut(A));
        _time.Advance(TimeSpan.FromMilliseconds(1999));
        Assert.True(instances.IsOut(B));
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.False(instances.IsOut(B));
    }

    [Fact]
    public void AnotherFailure_ExtendsThePauseFromItsOwnTime()
    {
        var instances = Instances(TimeSpan.FromSeconds(2));
        instances.TakeOut(B.Host, B.Port, "first");
        _time.Advance(TimeSpan.FromSeconds(1.5));

        instances.TakeOut(B.Host, B.Port, "second");
        _time.Advance(TimeSpan.FromSeconds(1.5));

        Assert.True(instances.IsOut(B));
    }

    [Fact]
    public void InstancesWhosePauseIsOver_AreForgotten_WhenManyHaveFailed()
    {
        var instances = Instances(TimeSpan.FromSeconds(2));
        for (var port = 1; port <= 100; port++)
        {
            instances.TakeOut("10.0.0.1", port, "old");
        }

        _time.Advance(TimeSpan.FromSeconds(3));
        instances.TakeOut(B.Host, B.Port, "new");

        Assert.Equal(1, instances.Count);
        Assert.True(instances.IsOut(B));
    }

    [Fact]
    public void APauseOfZero_TakesNothingOut()
    {
        var instances = Instances(TimeSpan.Zero);

        instances.TakeOut(B.Host, B.Port, "test");

        Assert.False(instances.IsOut(B));
    }

    public static TheoryData<string, bool> Answers => new()
    {
        { "14", true },     // UNAVAILABLE before any response: shutting down, or a dependency out
        { "0", false },
        { "5", false },     // NOT_FOUND is about the call, not the instance
        { "8", false },     // RESOURCE_EXHAUSTED: a rate limit of the caller
        { "", false },      // a normal response: the status comes in the trailers
    };

    [Theory]
    [MemberData(nameof(Answers))]
    public async Task OnlyAnUnavailableRefusal_TakesTheInstanceOut(string grpcStatus, bool takenOut)
    {
        var instances = Instances(TimeSpan.FromSeconds(2));
        var response = new HttpResponseMessage(HttpStatusCode.OK);
        if (grpcStatus.Length > 0)
        {
            response.Headers.TryAddWithoutValidation("grpc-status", grpcStatus);
        }

        using var invoker = new HttpMessageInvoker(new FailedInstanceHandler(instances, new Answer(_ => Task.FromResult(response))));
        using var answered = await invoker.SendAsync(Request(B), CancellationToken.None);

        Assert.Same(response, answered);
        Assert.Equal(takenOut, instances.IsOut(B));
    }

    [Fact]
    public async Task ACallThatCouldNotBeSent_TakesTheInstanceOut_AndStillFails()
    {
        var instances = Instances(TimeSpan.FromSeconds(2));
        var refused = new HttpRequestException("Connection refused", new SocketException((int)SocketError.ConnectionRefused));
        using var invoker = new HttpMessageInvoker(new FailedInstanceHandler(instances, new Answer(_ => throw refused)));

        var thrown = await Assert.ThrowsAsync<HttpRequestException>(() => invoker.SendAsync(Request(B), CancellationToken.None));

        Assert.Same(refused, thrown);
        Assert.True(instances.IsOut(B));
        Assert.False(instances.IsOut(A));
    }

    [Fact]
    public async Task AConnectionClosedGracefullyBeforeAnswering_IsUnavailable_NotInternal()
    {
        // What a stopping host's GOAWAY does to a call whose headers were being sent (seen in CI): grpc-dotnet would map
        // the NO_ERROR protocol error to INTERNAL, which no retry policy retries.
        var instances = Instances(TimeSpan.FromSeconds(2));
        var closed = new HttpRequestException("The HTTP/2 server closed the connection.",
            new HttpProtocolException(0, "The HTTP/2 server closed the connection. HTTP/2 error code 'NO_ERROR' (0x0).", null));

        foreach (var handler in new[] { new FailedInstanceHandler(instances, new Answer(_ => throw closed)),
            new FailedInstanceHandler(null, new Answer(_ => throw closed)) })
        {
            using var invoker = new HttpMessageInvoker(handler);
            var thrown = await Assert.ThrowsAsync<RpcException>(() => invoker.SendAsync(Request(B), CancellationToken.None));

            Assert.Equal(StatusCode.Unavailable, thrown.StatusCode);
            Assert.Same(closed, thrown.Status.DebugException);
        }

        Assert.True(instances.IsOut(B));
    }

    [Fact]
    public async Task AStreamResetWithAnotherCode_IsLeftAsItIs()
    {
        var reset = new HttpRequestException("reset", new HttpProtocolException(8, "The HTTP/2 server reset the stream. HTTP/2 error code 'CANCEL' (0x8).", null));
        using var invoker = new HttpMessageInvoker(new FailedInstanceHandler(null, new Answer(_ => throw reset)));

        Assert.Same(reset, await Assert.ThrowsAsync<HttpRequestException>(() => invoker.SendAsync(Request(B), CancellationToken.None)));
    }

    [Fact]
    public async Task ACallTheCallerCancelled_TakesNothingOut()
    {
        var instances = Instances(TimeSpan.FromSeconds(2));
        using var cancel = new CancellationTokenSource();
        using var invoker = new HttpMessageInvoker(new FailedInstanceHandler(instances, new Answer(async token =>
        {
            await cancel.CancelAsync();
            token.ThrowIfCancellationRequested();
            return new HttpResponseMessage();
        })));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => invoker.SendAsync(Request(B), cancel.Token));

        Assert.False(instances.IsOut(B));
    }

    private static HttpRequestMessage Request(DnsEndPoint to) => new(HttpMethod.Post, $"http://{to.Host}:{to.Port}/pyairtable.test.v1.TestService/GetThing");

    private sealed class Answer(Func<CancellationToken, Task<HttpResponseMessage>> answer) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            answer(cancellationToken);
    }
}
