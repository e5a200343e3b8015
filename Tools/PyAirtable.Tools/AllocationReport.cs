using System.CommandLine;
using System.Text.RegularExpressions;
using Microsoft.Diagnostics.Tracing.Etlx;
using Microsoft.Diagnostics.Tracing.EventPipe;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

namespace PyAirtable.Tools;

/// <summary>
/// Where a host's allocations come from, from a <c>gc-verbose</c> trace: the runtime reports every ~100 KB allocated with
/// the type and the stack of the allocation that crossed the mark, so over a few seconds of load each type's and each
/// method's share of the samples is its share of the bytes. A method's inclusive share counts what it and everything it
/// called allocated: a middleware's share, less the next one's, is its own cost per call.
/// </summary>
internal static partial class AllocationReport
{
    private const int Top = 30;
    private const int StackDepth = 14;

    /// <summary><c>pyairtable trace-report FILE [--stacks REGEX]</c>: the same report from a trace kept by an earlier bench.</summary>
    public static Command Create()
    {
        var file = new Argument<FileInfo>("trace") { Description = "A .nettrace written by bench-hotpath --trace-alloc (gc-verbose)." };
        var stacks = new Option<string?>("--stacks")
        {
            Description = "Also print the most common allocating stacks of the types whose names match this regular expression " +
                          "(e.g. 'AsyncLocalValueMap|ServiceCacheKey'): who allocates them.",
        };
        var cpu = new Option<bool>("--cpu")
        {
            Description = "The trace is a thread-time one (bench-hotpath --trace): report where the host's threads ran managed code " +
                          "(samples of threads waiting or in native code left out), by method, inclusive and exclusive.",
        };
        var command = new Command("trace-report", "Print the allocation (or, with --cpu, the CPU) report of a kept trace.") { file, stacks, cpu };
        command.SetAction(parse =>
        {
            var trace = parse.GetValue(file)!;
            if (!trace.Exists)
            {
                Console.Error.WriteLine($"trace-report: {trace.FullName} does not exist");
                return 2;
            }

            if (parse.GetValue(cpu))
            {
                var of = parse.GetValue(stacks);
                PrintCpu(trace.FullName, trace.Name, of is null ? null : new Regex(of, RegexOptions.CultureInvariant));
                return 0;
            }

            var pattern = parse.GetValue(stacks);
            Print(trace.FullName, trace.Name, pattern is null ? null : new Regex(pattern, RegexOptions.CultureInvariant));
            return 0;
        });
        return command;
    }

    public static void Print(string nettrace, string what, Regex? stacksOf = null)
    {
        var etlx = TraceLog.CreateFromEventPipeDataFile(nettrace);
        using var log = new TraceLog(etlx);
        var byType = new Dictionary<string, long>(StringComparer.Ordinal);
        var byMethod = new Dictionary<string, long>(StringComparer.Ordinal);
        var byStack = new Dictionary<string, long>(StringComparer.Ordinal);
        long total = 0;
        var onStack = new HashSet<string>(StringComparer.Ordinal);
        var frames = new List<string>();
        // TraceEvents enumerates only as IEnumerable<TraceEvent> (its non-generic enumerator, which OfType uses, throws).
        foreach (var traceEvent in log.Events)
        {
            if (traceEvent is not GCAllocationTickTraceData sample)
            {
                continue;
            }

            var bytes = sample.AllocationAmount64;
            total += bytes;
            var type = sample.TypeName ?? "?";
            byType[type] = byType.GetValueOrDefault(type) + bytes;
            onStack.Clear();
            frames.Clear();
            for (var frame = sample.CallStack(); frame is not null; frame = frame.Caller)
            {
                if (frame.CodeAddress.FullMethodName is { Length: > 0 } method)
                {
                    var name = Arguments().Replace(method, "");
                    onStack.Add(name);
                    if (frames.Count < StackDepth && !IsPlumbing(name))
                    {
                        frames.Add(name);
                    }
                }
            }

            foreach (var method in onStack)
            {
                byMethod[method] = byMethod.GetValueOrDefault(method) + bytes;
            }

            if (stacksOf?.IsMatch(type) == true)
            {
                var key = Shorten(type) + "\n      " + string.Join("\n      ", frames.Select(Shorten));
                byStack[key] = byStack.GetValueOrDefault(key) + bytes;
            }
        }

        Console.WriteLine($"# allocations of the host during {what} (c16 m32), gc-verbose samples: {total / 1024.0 / 1024.0:N0} MB sampled");
        if (total == 0)
        {
            return;
        }

        PrintShares("## by type (share of bytes)", byType, total, Top);
        PrintShares("## by method on the stack (inclusive share of bytes; thread-pool and Kestrel frames left out)",
            byMethod.Where(p => !IsPlumbing(p.Key)), total, Top * 2);
        if (stacksOf is not null)
        {
            PrintShares($"## stacks allocating /{stacksOf}/ (share of all bytes; innermost frame first, {StackDepth} frames)",
                byStack, total, Top, shorten: false);
        }
    }

    /// <summary>
    /// Where the host ran managed code, from a thread-time trace: each sample of a thread in managed code counts for every
    /// method on its stack (inclusive) and for the innermost one (exclusive). Waiting threads and native code are left out, so
    /// the shares are of the managed CPU time, which is what the gateway's own code can change.
    /// </summary>
    /// <param name="stacksOf">Also print the most common stacks running a method that matches, from it outward (who calls it).</param>
    public static void PrintCpu(string nettrace, string what, Regex? stacksOf = null)
    {
        var byStack = new Dictionary<string, long>(StringComparer.Ordinal);
        var frames = new List<string>();
        var etlx = TraceLog.CreateFromEventPipeDataFile(nettrace);
        using var log = new TraceLog(etlx);
        var inclusive = new Dictionary<string, long>(StringComparer.Ordinal);
        var exclusive = new Dictionary<string, long>(StringComparer.Ordinal);
        var onStack = new HashSet<string>(StringComparer.Ordinal);
        long total = 0;
        foreach (var traceEvent in log.Events)
        {
            if (traceEvent is not ClrThreadSampleTraceData { Type: ClrThreadSampleType.Managed } sample)
            {
                continue;
            }

            total++;
            onStack.Clear();
            frames.Clear();
            string? innermost = null;
            for (var frame = sample.CallStack(); frame is not null; frame = frame.Caller)
            {
                if (frame.CodeAddress.FullMethodName is { Length: > 0 } method)
                {
                    var name = Arguments().Replace(method, "");
                    innermost ??= name;
                    onStack.Add(name);
                    // From the innermost frame that matches outward: who calls it.
                    if (frames.Count > 0 ? frames.Count < StackDepth : stacksOf?.IsMatch(name) == true)
                    {
                        frames.Add(name);
                    }
                }
            }

            if (frames.Count > 0)
            {
                var key = string.Join("\n      ", frames.Select(Shorten));
                byStack[key] = byStack.GetValueOrDefault(key) + 1;
            }

            foreach (var method in onStack)
            {
                inclusive[method] = inclusive.GetValueOrDefault(method) + 1;
            }

            if (innermost is not null)
            {
                exclusive[innermost] = exclusive.GetValueOrDefault(innermost) + 1;
            }
        }

        Console.WriteLine($"# managed CPU of the host during {what}: {total:N0} samples of threads running managed code");
        if (total == 0)
        {
            return;
        }

        PrintShares("## exclusive (share of samples)", exclusive, total, Top);
        PrintShares("## inclusive (share of samples; thread-pool and Kestrel frames left out)",
            inclusive.Where(p => !IsPlumbing(p.Key)), total, Top * 2);
        if (stacksOf is not null)
        {
            PrintShares($"## stacks running /{stacksOf}/ (share of samples; from the matching frame outward, {StackDepth} frames)",
                byStack, total, Top, shorten: false);
        }
    }

    /// <summary>The <paramref name="top"/> largest entries under <paramref name="title"/>, each as its share of <paramref name="total"/>.</summary>
    private static void PrintShares(string title, IEnumerable<KeyValuePair<string, long>> amounts, long total, int top, bool shorten = true)
    {
        Console.WriteLine(title);
        foreach (var (name, amount) in amounts.OrderByDescending(p => p.Value).Take(top))
        {
            Console.WriteLine($"{amount * 100.0 / total,6:F2} %  {(shorten ? Shorten(name) : name)}");
        }
    }

    private static bool IsPlumbing(string method) =>
        method.StartsWith("System.Threading.", StringComparison.Ordinal) || method.StartsWith("System.Runtime.CompilerServices.", StringComparison.Ordinal)
        || method.Contains("Kestrel.Core.Internal", StringComparison.Ordinal);

    private static string Shorten(string name) => name.Length > 160 ? name[..160] + "…" : name;

    [GeneratedRegex(@"\(.*$")]
    private static partial Regex Arguments();
}
