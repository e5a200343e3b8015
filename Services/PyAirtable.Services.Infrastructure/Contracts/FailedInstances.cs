using System.Collections.Concurrent;
using System.Net;
using Grpc.Core;
using Grpc.Net.Client.Balancer;
using Grpc.Net.Client.Configuration;
using Microsoft.Extensions.Logging;

namespace PyAirtable.Services.Infrastructure.Contracts;

/// <summary>
/// The instances of one balanced remote target that have just failed a call, each kept out of the round-robin for
/// <see cref="RemoteCallOptions.FailedInstancePause"/>.
/// </summary>
/// <remarks>
/// grpc-dotnet's round-robin picks among the instances whose connection it believes ready, and learns that one is
/// gone only when its connection closes and a reconnect fails, or (here) when the health watch hears NOT_SERVING.
/// Until then each pick, the retry of a read that instance just failed included, lands on it again with the same odds:
/// under concurrent load a read could spend all its attempts on an instance that had stopped. A failure that says
/// "this instance" — the transport failed, or
/// the instance refused the call with UNAVAILABLE before any response, which is how a host that is shutting down
/// answers — takes it out at once, for every call on the channel, so the retry goes elsewhere.
/// </remarks>
internal sealed partial class FailedInstances(string target, TimeSpan pause, TimeProvider time, ILogger logger)
{
    /// <summary>More remembered instances than a target usually has: time to forget those back in.</summary>
    private const int PruneAbove = 64;

    private readonly ConcurrentDictionary<(string Host, int Port), long> _outUntil = new();

    /// <summary>Takes the instance at <paramref name="host"/>:<paramref name="port"/> out for the pause, from now.</summary>
    public void TakeOut(string host, int port, string reason)
    {
        if (pause <= TimeSpan.Zero)
        {
            return;
        }

        var now = time.GetTimestamp();
        var until = now + (long)(pause.TotalSeconds * time.TimestampFrequency);
        var wasIn = true;
        _outUntil.AddOrUpdate((host, port), until, (_, previous) =>
        {
            wasIn = previous <= now;
            return Math.Max(previous, until);
        });
        if (wasIn)
        {
            Log.TakenOut(logger, target, $"{host}:{port}", pause, reason);
        }

        if (_outUntil.Count > PruneAbove)
        {
            // Instances come and go (a resolver's pods get new addresses): forget those whose pause is over.
            foreach (var (instance, end) in _outUntil)
            {
                if (end <= now)
                {
                    _outUntil.TryRemove(KeyValuePair.Create(instance, end));
                }
            }
        }
    }

    /// <summary>How many instances are remembered (out, or back in and not yet forgotten).</summary>
    internal int Count => _outUntil.Count;

    /// <summary>True while the instance at <paramref name="endPoint"/> is out.</summary>
    public bool IsOut(DnsEndPoint endPoint) =>
        _outUntil.TryGetValue((endPoint.Host, endPoint.Port), out var until) && time.GetTimestamp() < until;

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning,
            Message = "Instance {Instance} of remote target {Target} is taken out of the round-robin for {Pause}: {Reason}")]
        public static partial void TakenOut(ILogger logger, string target, string instance, TimeSpan pause, string reason);
    }
}

/// <summary>
/// Sits under grpc-dotnet's balancing handler, so it sees each attempt on the instance it was sent to (the request's
/// address is that instance's), and takes the instance out (<see cref="FailedInstances"/>, on a balanced target) when
/// the attempt failed there. A connection the instance closed gracefully before answering is reported as UNAVAILABLE.
/// </summary>
/// <remarks>
/// A host that stops sends GOAWAY (NO_ERROR) and closes; a call whose headers were being sent on that connection fails
/// with an HTTP/2 protocol error NO_ERROR, which grpc-dotnet maps to INTERNAL as the gRPC spec maps a stream reset with
/// that code. Such a call never reached the instance's application (a graceful close lets the calls it accepted
/// finish), so it is what UNAVAILABLE means: retry, elsewhere. As INTERNAL no retry policy would retry it — CI saw a read
/// fail that way while an instance stopped — and a client of the edge would be told of an internal error.
/// </remarks>
internal sealed class FailedInstanceHandler(FailedInstances? instances, HttpMessageHandler inner) : DelegatingHandler(inner)
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && request.RequestUri is { } failed)
        {
            // The caller did not cancel: the connection could not be made, or broke before the response began.
            instances?.TakeOut(failed.Host, failed.Port, $"the call could not be sent ({ex.GetType().Name}: {ex.Message})");
            if (ClosedBeforeAnswering(ex))
            {
                throw new RpcException(new Status(StatusCode.Unavailable,
                    $"{failed.Host}:{failed.Port} closed the connection before answering the call; retry ({ex.Message})", ex));
            }

            throw;
        }

        if (instances is not null && request.RequestUri is { } uri && RefusedUnavailable(response))
        {
            instances.TakeOut(uri.Host, uri.Port, "it refused a call with UNAVAILABLE");
        }

        return response;
    }

    /// <summary>The instance ended the connection with HTTP/2 NO_ERROR (a graceful GOAWAY) before any response.</summary>
    internal static bool ClosedBeforeAnswering(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            if (e is HttpProtocolException { ErrorCode: 0 })
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// A trailers-only gRPC response with status 14: the instance answered UNAVAILABLE before running anything
    /// (shutting down, or a dependency of it out). A status after response messages never shows here: only headers have
    /// arrived when this runs, and such a call is committed anyway, not retried.
    /// </summary>
    internal static bool RefusedUnavailable(HttpResponseMessage response) =>
        response.Headers.TryGetValues("grpc-status", out var values) && values.FirstOrDefault() == "14";
}

/// <summary>Round-robin over the ready instances that are not taken out; over all ready ones when every one is.</summary>
internal sealed class FailedInstanceAwareRoundRobin(
    IChannelControlHelper controller, ILoggerFactory loggerFactory, FailedInstances instances)
    : SubchannelsLoadBalancer(controller, loggerFactory)
{
    /// <summary>The policy's name in a channel's service config (<see cref="Config"/>).</summary>
    public const string PolicyName = "pyairtable_round_robin";

    public static LoadBalancingConfig Config => new(PolicyName);

    protected override SubchannelPicker CreatePicker(IReadOnlyList<Subchannel> readySubchannels) =>
        new Picker(readySubchannels.ToArray(), instances, Random.Shared.Next(readySubchannels.Count));

    internal sealed class Picker(Subchannel[] ready, FailedInstances instances, long start) : SubchannelPicker
    {
        private long _next = start;

        public override PickResult Pick(PickContext context)
        {
            var first = Interlocked.Increment(ref _next);
            for (var i = 0; i < ready.Length; i++)
            {
                var candidate = ready[(first + i) % ready.Length];
                if (candidate.CurrentAddress is not { } address || !instances.IsOut(address.EndPoint))
                {
                    return PickResult.ForSubchannel(candidate);
                }
            }

            // Every ready instance failed a moment ago: calls go on failing or succeeding on their own rather than
            // having nowhere to go (as the health watch does when no instance is SERVING).
            return PickResult.ForSubchannel(ready[first % ready.Length]);
        }
    }

    /// <summary>The factory of one channel's balancer, sharing that channel's <see cref="FailedInstances"/>.</summary>
    internal sealed class Factory(FailedInstances instances) : LoadBalancerFactory
    {
        public override string Name => PolicyName;

        public override LoadBalancer Create(LoadBalancerOptions options) =>
            new FailedInstanceAwareRoundRobin(options.Controller, options.LoggerFactory, instances);
    }
}
