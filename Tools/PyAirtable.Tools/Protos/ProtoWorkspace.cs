using System.Diagnostics;
using PyAirtable.Contracts.Common;

namespace PyAirtable.Tools.Protos;

/// <summary>The protos/ folder: exported files under pyairtable/, the released baseline under .baseline/.</summary>
public static class ProtoWorkspace
{
    public const string BaselineFolder = ".baseline";
    private const string ExportRoot = "pyairtable";

    /// <summary>What a fresh export of the Contracts assembly gives.</summary>
    public static IReadOnlyDictionary<string, string> ExportContracts() =>
        ProtoExporter.Export(typeof(ErrorCode).Assembly);

    public static int Export(DirectoryInfo protos)
    {
        ArgumentNullException.ThrowIfNull(protos);
        var files = ExportContracts();
        Write(protos, files);
        Console.WriteLine($"exported {files.Count} files to {Path.Combine(protos.FullName, ExportRoot)}");
        return 0;
    }

    /// <summary>Replaces protos/pyairtable with <paramref name="files"/> (stale files are removed).</summary>
    public static void Write(DirectoryInfo protos, IReadOnlyDictionary<string, string> files)
    {
        ArgumentNullException.ThrowIfNull(protos);
        ArgumentNullException.ThrowIfNull(files);
        var root = Path.Combine(protos.FullName, ExportRoot);
        if (Directory.Exists(root))
        {
            Directory.Delete(root, recursive: true);
        }

        foreach (var (path, content) in files)
        {
            var target = Path.Combine(protos.FullName, path);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.WriteAllText(target, content);
        }
    }

    public static int Release(DirectoryInfo protos)
    {
        ArgumentNullException.ThrowIfNull(protos);
        var baseline = Path.Combine(protos.FullName, BaselineFolder);
        if (Directory.Exists(baseline))
        {
            Directory.Delete(baseline, recursive: true);
        }

        var source = Path.Combine(protos.FullName, ExportRoot);
        foreach (var file in Directory.GetFiles(source, "*.proto", SearchOption.AllDirectories))
        {
            var target = Path.Combine(baseline, Path.GetRelativePath(protos.FullName, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }

        Console.WriteLine($"released: {baseline} now holds the contract that later changes must stay compatible with");
        return 0;
    }

    /// <summary>Drift, then lint, then breaking changes; every finding is printed; 0 when all pass.</summary>
    public static async Task<int> CheckAsync(DirectoryInfo protos, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(protos);
        ArgumentNullException.ThrowIfNull(output);
        var failed = false;

        var drift = Drift(protos, ExportContracts());
        if (drift.Count > 0)
        {
            failed = true;
            await output.WriteLineAsync("protos: DRIFT — the committed protos differ from the contracts; run `pyairtable protos export` and commit:");
            foreach (var line in drift)
            {
                await output.WriteLineAsync("  " + line);
            }
        }
        else
        {
            await output.WriteLineAsync("protos: no drift");
        }

        // Lint and compatibility judge what the contracts say now (a fresh export), so a breaking
        // change shows even before anyone re-exports.
        var fresh = Directory.CreateTempSubdirectory("pyairtable-protos-");
        try
        {
            Write(fresh, ExportContracts());
            var config = Path.Combine(protos.FullName, "buf.yaml");
            if (File.Exists(config))
            {
                File.Copy(config, Path.Combine(fresh.FullName, "buf.yaml"));
            }

            var lint = await Buf.RunAsync(["lint", fresh.FullName], cancellationToken);
            failed |= !Report(output, "lint (buf STANDARD)", lint, fresh.FullName);

            var baseline = Path.Combine(protos.FullName, BaselineFolder);
            if (!Directory.Exists(baseline))
            {
                failed = true;
                await output.WriteLineAsync($"protos: no released baseline at {baseline}; run `pyairtable protos release` once");
            }
            else
            {
                var breaking = await BreakingAsync(fresh.FullName, baseline, cancellationToken);
                failed |= !Report(output, "compatibility with the released baseline (buf WIRE_JSON, RPC_NO_DELETE, SERVICE_NO_DELETE)", breaking, fresh.FullName);
            }
        }
        finally
        {
            fresh.Delete(recursive: true);
        }

        return failed ? 1 : 0;
    }

    /// <summary>Runs buf breaking on any two proto folders (the gate, also used by its tests).</summary>
    public static Task<BufResult> BreakingAsync(string current, string baseline, CancellationToken cancellationToken) =>
        Buf.RunAsync(
        [
            "breaking", current,
            "--against", baseline,
            "--config", """{"version":"v1","build":{"excludes":[".baseline"]},"breaking":{"use":["WIRE_JSON","RPC_NO_DELETE","SERVICE_NO_DELETE"]}}""",
        ], cancellationToken);

    public static IReadOnlyList<string> Drift(DirectoryInfo protos, IReadOnlyDictionary<string, string> expected)
    {
        ArgumentNullException.ThrowIfNull(protos);
        ArgumentNullException.ThrowIfNull(expected);
        var problems = new List<string>();
        var root = Path.Combine(protos.FullName, ExportRoot);
        var committed = Directory.Exists(root)
            ? Directory.GetFiles(root, "*.proto", SearchOption.AllDirectories)
                .Select(f => Path.GetRelativePath(protos.FullName, f).Replace('\\', '/'))
                .ToHashSet(StringComparer.Ordinal)
            : [];
        foreach (var (path, content) in expected.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (!committed.Contains(path))
            {
                problems.Add($"missing: {path}");
            }
            else if (File.ReadAllText(Path.Combine(protos.FullName, path)) != content)
            {
                problems.Add($"changed: {path}");
            }
        }

        problems.AddRange(committed.Where(p => !expected.ContainsKey(p)).Order(StringComparer.Ordinal).Select(p => $"stale: {p}"));
        return problems;
    }

    private static bool Report(TextWriter output, string what, BufResult result, string exportedTo)
    {
        if (result.ExitCode == 0)
        {
            output.WriteLine($"protos: {what}: ok");
            return true;
        }

        output.WriteLine($"protos: {what}: FAILED");
        foreach (var line in (result.Output + result.Error).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            // Point at the files a developer knows: protos/pyairtable/…, not the temporary export.
            output.WriteLine("  protos/" + line.Replace(exportedTo + Path.DirectorySeparatorChar, "", StringComparison.Ordinal));
        }

        return false;
    }
}

public sealed record BufResult(int ExitCode, string Output, string Error);

/// <summary>The pinned buf (npm @bufbuild/buf, installed by ./test.sh into node_modules).</summary>
public static class Buf
{
    public static string Executable()
    {
        if (Environment.GetEnvironmentVariable("PYAIRTABLE_BUF") is { Length: > 0 } configured)
        {
            return configured;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "node_modules", ".bin", "buf");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("buf is not installed: run `npm ci` at the repository root (./test.sh does) or set PYAIRTABLE_BUF.");
    }

    public static async Task<BufResult> RunAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(Executable()) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("buf did not start");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        return new BufResult(process.ExitCode, await output, await error);
    }
}
