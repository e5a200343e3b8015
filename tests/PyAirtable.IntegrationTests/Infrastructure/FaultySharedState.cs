using Microsoft.Extensions.DependencyInjection;
using PyAirtable.Services.Infrastructure.SharedState;

namespace PyAirtable.IntegrationTests.Infrastructure;

/// <summary>Switches that make some operations of one host's shared state fail as if Redis were unreachable from it.</summary>
public sealed class CacheFaults
{
    private volatile bool _failVersionedWrites;
    private volatile bool _failChangeReads;
    private volatile bool _failVersionedReads;

    /// <summary>Writes of versioned cache entries (the profile cache) fail.</summary>
    public bool FailVersionedWrites { get => _failVersionedWrites; set => _failVersionedWrites = value; }

    /// <summary>Reads of versioned cache entries (the profile cache) fail.</summary>
    public bool FailVersionedReads { get => _failVersionedReads; set => _failVersionedReads = value; }

    /// <summary>Reads of the change feed fail: the host is cut off from the feed while the rest of Redis answers.</summary>
    public bool FailChangeReads { get => _failChangeReads; set => _failChangeReads = value; }
}

/// <summary>The host's real shared state (Redis), with the failures <see cref="CacheFaults"/> asks for.</summary>
public sealed class FaultySharedState(ISharedState inner, CacheFaults faults) : ISharedState
{
    /// <summary>Wraps the shared state the host registered.</summary>
    public static void Install(IServiceCollection services, CacheFaults faults)
    {
        var inner = services.Single(d => d.ServiceType == typeof(ISharedState));
        services.Remove(inner);
        services.AddSingleton(faults);
        services.AddSingleton<ISharedState>(sp => new FaultySharedState(
            (ISharedState)(inner.ImplementationFactory?.Invoke(sp) ?? ActivatorUtilities.CreateInstance(sp, inner.ImplementationType!)), faults));
    }

    private static SharedStateUnavailableException Down() => new("injected: Redis unreachable");

    public Task<(long Count, TimeSpan Remaining)> IncrementAsync(string key, TimeSpan window) => inner.IncrementAsync(key, window);

    public Task<(long Count, TimeSpan Remaining)> GetCounterAsync(string key) => inner.GetCounterAsync(key);

    public Task DecrementAsync(string key) => inner.DecrementAsync(key);

    public Task SetFlagAsync(string key, TimeSpan ttl) => inner.SetFlagAsync(key, ttl);

    public Task<bool[]> ExistAsync(string[] keys, CancellationToken cancellationToken = default) => inner.ExistAsync(keys, cancellationToken);

    public Task SetTextAsync(string key, string value) => inner.SetTextAsync(key, value);

    public Task<bool> SetIfGuardAsync(string key, string value, string guardKey, string guardValue) =>
        inner.SetIfGuardAsync(key, value, guardKey, guardValue);

    public Task DeleteAsync(string key) => inner.DeleteAsync(key);

    public Task<VersionedEntry?> GetVersionedAsync(string key) =>
        faults.FailVersionedReads ? throw Down() : inner.GetVersionedAsync(key);

    public Task<bool> SetVersionedIfNewerAsync(string key, VersionedEntry entry, TimeSpan ttl) =>
        faults.FailVersionedWrites ? throw Down() : inner.SetVersionedIfNewerAsync(key, entry, ttl);

    public Task AppendChangesAsync(IReadOnlyList<string> items) => inner.AppendChangesAsync(items);

    public Task<ChangeBatch> ReadChangesAsync(long after, int max, string newEpoch, CancellationToken cancellationToken = default) =>
        faults.FailChangeReads ? throw Down() : inner.ReadChangesAsync(after, max, newEpoch, cancellationToken);

    public Task ResetChangesAsync(string newEpoch) => inner.ResetChangesAsync(newEpoch);
}
