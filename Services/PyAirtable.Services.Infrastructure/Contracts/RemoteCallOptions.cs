using System.Reflection;
using ProtoBuf.Grpc.Configuration;

namespace PyAirtable.Services.Infrastructure.Contracts;

/// <summary>How calls to contracts on other hosts are protected (section <c>RemoteCalls</c>).</summary>
public sealed class RemoteCallOptions
{
    public const string Section = "RemoteCalls";

    /// <summary>
    /// The deadline of a unary call that has none (neither its own nor the served call's): a remote host that hangs
    /// must not hold a caller forever. Streams get none (a default would cut long watches).
    /// </summary>
    public TimeSpan DefaultDeadline { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Attempts of an idempotent read, the first included (grpc-dotnet retries UNAVAILABLE); 1 turns retries off.</summary>
    public int MaxAttempts { get; set; } = 3;

    /// <summary>The first retry's backoff ceiling (grpc-dotnet picks a random delay up to it; doubled per retry, at most 1 s).</summary>
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// How long an instance of a balanced target that just failed a call (its connection failed, or it refused the call
    /// with UNAVAILABLE) is left out of the round-robin, so a retried read goes to another one; zero turns this off.
    /// </summary>
    public TimeSpan FailedInstancePause { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How often a <c>dns:///</c> target is resolved again (new and removed instances show within this).</summary>
    public TimeSpan DnsRefreshInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>The breaker opens when at least this share of calls in <see cref="SamplingDuration"/> failed…</summary>
    public double FailureRatio { get; set; } = 0.5;

    /// <summary>…and at least this many calls were made in it (fewer say too little).</summary>
    public int MinimumThroughput { get; set; } = 5;

    /// <summary>The window over which calls are counted.</summary>
    public TimeSpan SamplingDuration { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long an open breaker fails calls at once before it lets one trial call through (at least 0.5 s).</summary>
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Method-name prefixes of idempotent reads, which are retried: a call that failed UNAVAILABLE may have run, so
    /// only calls that change nothing may run twice. The platform's contracts name reads this way.
    /// </summary>
    public static readonly IReadOnlyList<string> IdempotentPrefixes = ["Get", "List", "Check", "Search", "Lookup"];

    /// <summary>True when <paramref name="methodName"/> (the gRPC method name) reads only (see <see cref="IdempotentPrefixes"/>).</summary>
    public static bool IsIdempotent(string methodName) =>
        IdempotentPrefixes.Any(p => methodName.StartsWith(p, StringComparison.Ordinal)
            && (methodName.Length == p.Length || char.IsUpper(methodName[p.Length])));

    /// <summary>The gRPC method names of a code-first contract: the method name less <c>Async</c>, unless [Operation] names it.</summary>
    public static IEnumerable<string> MethodNamesOf(Type contract)
    {
        ArgumentNullException.ThrowIfNull(contract);
        foreach (var method in contract.GetMethods())
        {
            var name = method.GetCustomAttribute<OperationAttribute>()?.Name;
            if (string.IsNullOrEmpty(name))
            {
                name = method.Name.EndsWith("Async", StringComparison.Ordinal) ? method.Name[..^"Async".Length] : method.Name;
            }

            yield return name;
        }
    }
}
