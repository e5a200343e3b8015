using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Grpc.Net.Client.Balancer;

namespace PyAirtable.Services.Infrastructure.Contracts;

/// <summary>
/// Wraps any grpc-dotnet resolver (DNS, static, a catalog's) so that the balancer sees only instances that say they are
/// SERVING: grpc-dotnet has no client-side health checking of its own. Each resolved address gets a grpc.health.v1
/// <c>Watch</c> of the whole host (<c>""</c>), which a draining host answers with NOT_SERVING at once (see "Health and
/// shutdown"), so round-robin stops picking it before it refuses calls.
/// </summary>
/// <remarks>
/// An address is in while its watch says SERVING, and while it has not answered yet (a new instance is not held back
/// until its first answer). One whose watch fails (gone, refusing) is out until a watch succeeds again. When no
/// address is in, all are published: calls then fail or succeed on their own rather than having nowhere to go.
/// </remarks>
internal sealed class HealthCheckingResolver : Resolver
{
    private static readonly TimeSpan RewatchDelay = TimeSpan.FromMilliseconds(500);

    private readonly Resolver _inner;
    private readonly Func<BalancerAddress, GrpcChannel> _healthChannel;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Watched> _watched = new(StringComparer.Ordinal);
    private Action<ResolverResult>? _listener;
    private ResolverResult? _lastInner;

    public HealthCheckingResolver(Resolver inner, Func<BalancerAddress, GrpcChannel> healthChannel)
    {
        _inner = inner;
        _healthChannel = healthChannel;
    }

    public override void Start(Action<ResolverResult> listener)
    {
        _listener = listener;
        _inner.Start(OnResolved);
    }

    public override void Refresh() => _inner.Refresh();

    private void OnResolved(ResolverResult result)
    {
        if (result.Status.StatusCode != StatusCode.OK || result.Addresses is null)
        {
            _listener?.Invoke(result);
            return;
        }

        lock (_gate)
        {
            _lastInner = result;
            var current = result.Addresses.ToDictionary(Key, StringComparer.Ordinal);
            foreach (var gone in _watched.Keys.Where(k => !current.ContainsKey(k)).ToList())
            {
                _watched[gone].Stop();
                _watched.Remove(gone);
            }

            foreach (var (key, address) in current.Where(a => !_watched.ContainsKey(a.Key)))
            {
                var watched = new Watched(address, CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token));
                _watched[key] = watched;
                _ = WatchAsync(watched);
            }
        }

        Publish();
    }

    private void Publish()
    {
        ResolverResult? result;
        lock (_gate)
        {
            if (_lastInner?.Addresses is not { } resolved)
            {
                return;
            }

            var serving = resolved.Where(a => _watched.TryGetValue(Key(a), out var w) && w.Serving).ToList();
            var published = serving.Count > 0 ? serving : resolved.ToList();
            result = ResolverResult.ForResult(published, _lastInner.ServiceConfig, _lastInner.ServiceConfigStatus);
        }

        _listener?.Invoke(result);
    }

    private async Task WatchAsync(Watched watched)
    {
        var ct = watched.Stopping.Token;
        using var channel = _healthChannel(watched.Address);
        var client = new Grpc.Health.V1.Health.HealthClient(channel);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                using var call = client.Watch(new HealthCheckRequest { Service = "" }, cancellationToken: ct);
                await foreach (var answer in call.ResponseStream.ReadAllAsync(ct))
                {
                    Set(watched, answer.Status == HealthCheckResponse.Types.ServingStatus.Serving);
                }

                Set(watched, false); // the stream ended: the host is going away
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unimplemented)
            {
                Set(watched, true); // no health service there: judge it by its calls alone
                return;
            }
            catch (RpcException) when (!ct.IsCancellationRequested)
            {
                Set(watched, false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }

            try
            {
                await Task.Delay(RewatchDelay, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private void Set(Watched watched, bool serving)
    {
        if (watched.Serving == serving)
        {
            return;
        }

        watched.Serving = serving;
        Publish();
    }

    private static string Key(BalancerAddress address) => $"{address.EndPoint.Host}:{address.EndPoint.Port}";

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _stopping.Cancel();
            _inner.Dispose();
            _stopping.Dispose();
        }

        base.Dispose(disposing);
    }

    private sealed class Watched(BalancerAddress address, CancellationTokenSource stopping)
    {
        public BalancerAddress Address { get; } = address;

        public CancellationTokenSource Stopping { get; } = stopping;

        private volatile bool _serving = true;

        /// <summary>In until a watch says otherwise (see the class remarks).</summary>
        public bool Serving
        {
            get => _serving;
            set => _serving = value;
        }

        // Cancelled, not disposed: the watch loop may still be registering on its token.
        public void Stop() => Stopping.Cancel();
    }
}

/// <summary>Makes <see cref="HealthCheckingResolver"/>s around the resolvers of another factory (same scheme).</summary>
internal sealed class HealthCheckingResolverFactory(ResolverFactory inner, Func<BalancerAddress, GrpcChannel> healthChannel) : ResolverFactory
{
    public override string Name => inner.Name;

    public override Resolver Create(ResolverOptions options) => new HealthCheckingResolver(inner.Create(options), healthChannel);
}
