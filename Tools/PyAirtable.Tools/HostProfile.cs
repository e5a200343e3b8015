using System.Diagnostics;

namespace PyAirtable.Tools;

/// <summary>
/// Where a host's CPU time goes while a load runs: dotnet-trace's thread-time sampling of the host process (~100 Hz per thread),
/// reported from the samples of threads running managed code as the methods most often on the stack (exclusive, then
/// inclusive). Needs dotnet-trace (<c>dotnet tool install -g dotnet-trace</c>).
/// </summary>
internal static class HostProfile
{
    /// <param name="allocations">
    /// Sample allocations instead (<c>gc-verbose</c>: an event per ~100 KB allocated, with its type and stack) and report the
    /// shares of bytes by type and by method on the stack: where a call's allocations come from.
    /// </param>
    public static async Task RunAsync(int processId, string what, Func<Task> load, CancellationToken ct, bool allocations = false)
    {
        var file = Path.Combine(Path.GetTempPath(), $"pyairtable-{processId}-{Guid.NewGuid():N}.nettrace");
        using var collector = Start(false, "collect", "--process-id", processId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--profile", allocations ? "gc-verbose" : "dotnet-sampled-thread-time", "--output", file);
        if (collector is null)
        {
            await Console.Error.WriteLineAsync("bench: dotnet-trace not found (dotnet tool install -g dotnet-trace)");
            return;
        }

        await Task.Delay(TimeSpan.FromSeconds(2), ct); // the session attaches before the load starts
        await load();
        // dotnet-trace stops on Enter (or Ctrl-C), then writes the file.
        if (collector.HasExited)
        {
            await Console.Error.WriteLineAsync($"bench: dotnet-trace ended early (exit code {collector.ExitCode})");
            return;
        }

        await collector.StandardInput.WriteLineAsync();
        await StopAsync(collector, ct);
        Console.WriteLine();
        if (allocations)
        {
            AllocationReport.Print(file, what);
            Console.WriteLine($"(trace kept: {file})");
            return;
        }

        AllocationReport.PrintCpu(file, what + " (c16 m32)");
        Console.WriteLine($"(trace kept: {file})");
    }

    /// <summary>
    /// Waits for the collector to write its file after Enter; one that did not take the Enter (seen once on a loaded box) gets
    /// SIGINT, which it also treats as "stop and write", never a kill, which would lose the trace.
    /// </summary>
    private static async Task StopAsync(Process collector, CancellationToken ct)
    {
        using var patience = CancellationTokenSource.CreateLinkedTokenSource(ct);
        patience.CancelAfter(TimeSpan.FromSeconds(30));
        try
        {
            await collector.WaitForExitAsync(patience.Token);
            return;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            using var interrupt = Process.Start("kill", ["-INT", collector.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            await interrupt.WaitForExitAsync(ct);
        }

        await collector.WaitForExitAsync(ct);
    }

    private static Process? Start(bool readOutput, params string[] args)
    {
        var tool = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".dotnet", "tools", "dotnet-trace");
        var start = new ProcessStartInfo(File.Exists(tool) ? tool : "dotnet-trace")
        {
            RedirectStandardInput = true,
            // The collector's progress goes to the console as it is; only the report is read.
            RedirectStandardOutput = readOutput,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        try
        {
            return Process.Start(start);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
