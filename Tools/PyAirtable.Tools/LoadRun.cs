using System.Diagnostics;
using Grpc.Core;

namespace PyAirtable.Tools;

/// <summary>What a load run measured: calls per second, latency percentiles in milliseconds, refused calls.</summary>
internal readonly record struct LoadResult(double Rps, double P50, double P99, double P999, int Errors);

/// <summary>The benchmarks' load loop: <c>count</c> calls shared by <c>concurrency</c> workers, each call timed.</summary>
internal static class LoadRun
{
    public static async Task<LoadResult> MeasureAsync(Func<CancellationToken, Task> call, int count, int concurrency, CancellationToken ct)
    {
        var latencies = new double[count];
        var next = -1;
        var errors = 0;
        var total = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Math.Min(concurrency, count)).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                var start = Stopwatch.GetTimestamp();
                try
                {
                    await call(ct);
                }
                catch (RpcException)
                {
                    Interlocked.Increment(ref errors);
                }

                latencies[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
        }, ct)));
        total.Stop();
        Array.Sort(latencies);
        double At(double q) => latencies[Math.Min(count - 1, (int)Math.Ceiling(q * count) - 1)];
        return new LoadResult(count / total.Elapsed.TotalSeconds, At(0.50), At(0.99), At(0.999), errors);
    }
}
