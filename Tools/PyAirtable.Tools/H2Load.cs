using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using ProtoBuf;

namespace PyAirtable.Tools;

/// <summary>What one h2load run measured. Latencies come from its per-request log, in milliseconds.</summary>
/// <param name="DataBytes">Response body bytes received in all (h2load sees no gRPC status: callers judge success by it).</param>
/// <param name="StreamsFailed">Streams that h2load itself saw fail (reset, timeout), not gRPC errors.</param>
/// <param name="NotOk">Responses whose HTTP status was not 200 (a JSON/HTTP error; gRPC errors are 200 with a grpc-status).</param>
internal readonly record struct H2LoadResult(double Rps, double P50, double P99, double Max, long DataBytes, int StreamsFailed, int NotOk = 0)
{
    /// <summary>
    /// A lower bound on the calls that failed: h2load sees no gRPC status, but every success carries a reply of at least
    /// <paramref name="minResponseFrame"/> bytes and an error (a trailers-only response) none.
    /// </summary>
    public int FailedAtLeast(int requests, long minResponseFrame) =>
        Math.Max(StreamsFailed, (int)Math.Ceiling(requests - ((double)DataBytes / minResponseFrame)));

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}

/// <summary>
/// Drives one unary gRPC method with h2load (Debian's nghttp2-client): the same framed request on every stream, h2c
/// with prior knowledge. A .NET client on these two cores would be the bottleneck before the host is.
/// </summary>
internal static partial class H2Load
{
    public static bool Installed =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(dir => File.Exists(Path.Combine(dir, "h2load")));

    /// <summary>One gRPC length-prefixed message: no compression, 4-byte big-endian length, the protobuf bytes.</summary>
    public static byte[] Frame<T>(T message)
    {
        using var buffer = new MemoryStream();
        Serializer.Serialize(buffer, message);
        var payload = buffer.ToArray();
        var frame = new byte[5 + payload.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(1), payload.Length);
        payload.CopyTo(frame, 5);
        return frame;
    }

    /// <param name="url">The method's URL, e.g. <c>http://127.0.0.1:50051/pyairtable.users.v1.UserService/GetUser</c>.</param>
    /// <param name="bodyFile">A file holding the framed request (<see cref="Frame{T}"/>).</param>
    public static Task<H2LoadResult> RunAsync(string url, string bodyFile, IEnumerable<string> headers, int requests, int clients, int streams,
        CancellationToken ct) =>
        RunAsync(url, ["-d", bodyFile, "-H", "content-type: application/grpc", "-H", "te: trailers", .. headers.SelectMany(h => new[] { "-H", h })],
            requests, clients, streams, ct);

    /// <summary>Any request h2load can make (e.g. a JSON/HTTP GET, or <c>--h1</c> for HTTP/1.1); <paramref name="arguments"/> go before the URL.</summary>
    public static async Task<H2LoadResult> RunAsync(string url, IEnumerable<string> arguments, int requests, int clients, int streams,
        CancellationToken ct)
    {
        var log = Path.Combine(Path.GetTempPath(), $"h2load-{Guid.NewGuid():N}.tsv");
        var start = new ProcessStartInfo("h2load") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[]
        {
            "-n", requests.ToString(CultureInfo.InvariantCulture), "-c", clients.ToString(CultureInfo.InvariantCulture),
            "-m", streams.ToString(CultureInfo.InvariantCulture), "--log-file", log,
        }.Concat(arguments).Append(url))
        {
            start.ArgumentList.Add(arg);
        }

        try
        {
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync(ct);
            var stderr = process.StandardError.ReadToEndAsync(ct);
            await process.WaitForExitAsync(ct);
            var text = await stdout;
            var rps = RpsPattern().Match(text);
            var data = DataPattern().Match(text);
            var failed = FailedPattern().Match(text);
            if (!rps.Success || !data.Success || !failed.Success || !File.Exists(log))
            {
                throw new InvalidOperationException($"h2load printed no result for {url}: {text}{await stderr}");
            }

            // Columns: start (µs since the epoch), HTTP status (-1: the stream failed), µs until the response ended.
            var rows = (await File.ReadAllLinesAsync(log, ct)).Select(l => l.Split('\t')).Where(c => c.Length >= 3).ToList();
            var notOk = rows.Count(c => c[1] != "-1" && c[1] != "200");
            var latencies = rows
                .Where(c => c[1] != "-1")
                .Select(c => double.Parse(c[2], CultureInfo.InvariantCulture) / 1000)
                .Order()
                .ToArray();
            double At(double q) => latencies.Length == 0 ? double.NaN : latencies[Math.Min(latencies.Length - 1, (int)Math.Ceiling(q * latencies.Length) - 1)];
            return new H2LoadResult(double.Parse(rps.Groups[1].Value, CultureInfo.InvariantCulture), At(0.50), At(0.99),
                latencies.LastOrDefault(double.NaN), long.Parse(data.Groups[1].Value, CultureInfo.InvariantCulture),
                int.Parse(failed.Groups[1].Value, CultureInfo.InvariantCulture), notOk);
        }
        finally
        {
            File.Delete(log);
        }
    }

    [GeneratedRegex(@"finished in [^,]+, ([0-9.]+) req/s")]
    private static partial Regex RpsPattern();

    [GeneratedRegex(@"traffic: .*\(([0-9]+)\) data")]
    private static partial Regex DataPattern();

    [GeneratedRegex(@"requests: .*?, ([0-9]+) failed")]
    private static partial Regex FailedPattern();
}
