using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using PyAirtable.Contracts.Common;

namespace PyAirtable.Tools.Protos;

/// <summary>The protos/ folder: exported files under pyairtable/, the released baseline under .baseline/.</summary>
public static partial class ProtoWorkspace
{
    public const string BaselineFolder = ".baseline";
    private const string ExportRoot = "pyairtable";
    // PACKAGE_NO_DELETE: the WIRE_JSON rules compare what is in both files, so without it deleting a whole
    // stable package passed, and a release afterwards dropped it from the baseline: a way around the gate.
    private static readonly string[] BreakingRules = ["WIRE_JSON", "RPC_NO_DELETE", "SERVICE_NO_DELETE", "PACKAGE_NO_DELETE"];
    private static readonly string BreakingLabel = $"buf {string.Join(", ", BreakingRules)}; v1alpha1/v1beta1 packages exempt";

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

    /// <summary>
    /// Makes the committed export the released baseline. New packages, fields and RPCs are what a release is
    /// for; a wire break is refused with the baseline left as it was, since moving the baseline across a break
    /// would silence the gate for every client already built on it (a break needs a new package version).
    /// </summary>
    public static async Task<int> ReleaseAsync(DirectoryInfo protos, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(protos);
        ArgumentNullException.ThrowIfNull(output);
        var baseline = Path.Combine(protos.FullName, BaselineFolder);

        // What is judged is exactly what gets copied: the committed files, not a fresh export.
        var files = Read(protos.FullName);
        if (files.Count == 0)
        {
            await output.WriteLineAsync($"protos: nothing to release in {protos.FullName}; run `pyairtable protos export` first");
            return 1;
        }

        var newPackages = Unreleased(files, Read(baseline));
        if (Directory.Exists(baseline))
        {
            var breaking = await BreakingAsync(protos.FullName, baseline, cancellationToken);
            if (!Report(output, $"compatibility with the released baseline ({BreakingLabel})", breaking, protos.FullName))
            {
                await output.WriteLineAsync($"protos: release REFUSED; {baseline} is unchanged. A wire break needs a new package "
                    + "version (e.g. pyairtable.<area>.v2 from namespace PyAirtable.Contracts.<Area>.V2, beside v1, "
                    + "which stays as released), not a new baseline.");
                return 1;
            }

            Directory.Delete(baseline, recursive: true);
        }

        Write(new DirectoryInfo(baseline), files);
        await output.WriteLineAsync($"released: {baseline} now holds the contract that later changes must stay compatible with");
        if (newPackages.Count > 0)
        {
            await output.WriteLineAsync($"  newly guarded: {string.Join(", ", newPackages)}");
        }

        return 0;
    }

    /// <summary>Drift, then lint, then breaking changes; every finding is printed; 0 when all pass.</summary>
    public static Task<int> CheckAsync(DirectoryInfo protos, TextWriter output, CancellationToken cancellationToken) =>
        CheckAsync(protos, ExportContracts(), output, cancellationToken);

    /// <summary>The gate over <paramref name="export"/>, what the contracts say now (tests pass edited copies of it).</summary>
    public static async Task<int> CheckAsync(
        DirectoryInfo protos, IReadOnlyDictionary<string, string> export, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(protos);
        ArgumentNullException.ThrowIfNull(export);
        ArgumentNullException.ThrowIfNull(output);
        var failed = false;

        var drift = Drift(protos, export);
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
            Write(fresh, export);
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
                // A stable package the baseline lacks would pass the compatibility check below
                // unjudged, and so would every later break of it: releasing it is what starts guarding it.
                var unreleased = Unreleased(export, Read(baseline));
                if (unreleased.Count > 0)
                {
                    failed = true;
                    await output.WriteLineAsync("protos: every stable package in the released baseline: FAILED");
                    await output.WriteLineAsync(
                        $"  not in {protos.Name}/{BaselineFolder}, so nothing guards it yet: {string.Join(", ", unreleased)}");
                    await output.WriteLineAsync($"  run `pyairtable protos release` and commit {protos.Name}/{BaselineFolder} "
                        + "(a package that may still change names itself …v1alpha1 or …v1beta1: namespace ….<Area>.V1Alpha1)");
                }
                else
                {
                    await output.WriteLineAsync("protos: every stable package in the released baseline: ok");
                }

                var breaking = await BreakingAsync(fresh.FullName, baseline, cancellationToken);
                failed |= !Report(output, $"compatibility with the released baseline ({BreakingLabel})", breaking, fresh.FullName);
            }
        }
        finally
        {
            fresh.Delete(recursive: true);
        }

        return failed ? 1 : 0;
    }

    /// <summary>
    /// Runs buf breaking on the stable packages of two proto folders (the gate, also used by its tests).
    /// Unstable packages (v1alpha1, v1beta1) are left out of both sides: buf would otherwise judge them
    /// like any other (it only skips them when asked), and they are allowed to change.
    /// </summary>
    public static async Task<BufResult> BreakingAsync(string current, string baseline, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(baseline);
        var shown = Path.TrimEndingDirectorySeparator(Path.GetFullPath(current));
        var currentFiles = Read(current);
        var leaks = UnstableImports(currentFiles);
        if (leaks.Count > 0)
        {
            return new BufResult(1, string.Concat(leaks.Select(l => shown + Path.DirectorySeparatorChar + l + '\n')), "");
        }

        var released = Stable(Read(baseline));
        if (released.Count == 0)
        {
            // Nothing stable was released, so nothing can be broken (and buf refuses an empty module).
            return new BufResult(0, "", "");
        }

        var judged = Stable(currentFiles);
        if (judged.Count == 0)
        {
            // buf refuses an empty module; every released stable package was deleted (as PACKAGE_NO_DELETE words it).
            var deleted = released.Values.Select(PackageOf).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)
                .Select(p => $"<input>:1:1:Previously present package \"{p}\" was deleted.\n");
            return new BufResult(100, string.Concat(deleted), "");
        }

        var stableCurrent = Directory.CreateTempSubdirectory("pyairtable-breaking-");
        var stableBaseline = Directory.CreateTempSubdirectory("pyairtable-breaking-");
        try
        {
            Write(stableCurrent, judged);
            Write(stableBaseline, released);
            var result = await Buf.RunAsync(
            [
                "breaking", stableCurrent.FullName,
                "--against", stableBaseline.FullName,
                "--config", JsonSerializer.Serialize(new { version = "v1", breaking = new { use = BreakingRules } }),
            ], cancellationToken);

            // Findings name the files the caller knows, not the filtered copies.
            return result with
            {
                Output = result.Output.Replace(stableCurrent.FullName, shown, StringComparison.Ordinal),
                Error = result.Error.Replace(stableCurrent.FullName, shown, StringComparison.Ordinal),
            };
        }
        finally
        {
            stableCurrent.Delete(recursive: true);
            stableBaseline.Delete(recursive: true);
        }
    }

    /// <summary>buf's convention: a package named …v1alpha1 or …v1beta2 may still change; every other one is gated.</summary>
    public static bool IsUnstable(string package) => UnstablePackage().IsMatch(package);

    /// <summary>The package a .proto file declares ("" when it declares none).</summary>
    public static string PackageOf(string proto) => PackageStatement().Match(proto) is { Success: true } match ? match.Groups[1].Value : "";

    /// <summary>The stable packages of <paramref name="export"/> that <paramref name="baseline"/> lacks (sorted).</summary>
    public static IReadOnlyList<string> Unreleased(IReadOnlyDictionary<string, string> export, IReadOnlyDictionary<string, string> baseline)
    {
        ArgumentNullException.ThrowIfNull(export);
        ArgumentNullException.ThrowIfNull(baseline);
        var released = baseline.Values.Select(PackageOf).ToHashSet(StringComparer.Ordinal);
        return export.Values.Select(PackageOf).Where(p => !IsUnstable(p) && !released.Contains(p))
            .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>The .proto files below <paramref name="folder"/> by path relative to it, without a released baseline inside it.</summary>
    public static IReadOnlyDictionary<string, string> Read(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (!Directory.Exists(folder))
        {
            return files;
        }

        foreach (var file in Directory.GetFiles(folder, "*.proto", SearchOption.AllDirectories))
        {
            var path = Path.GetRelativePath(folder, file).Replace('\\', '/');
            if (!path.StartsWith(BaselineFolder + "/", StringComparison.Ordinal))
            {
                files[path] = File.ReadAllText(file);
            }
        }

        return files;
    }

    private static Dictionary<string, string> Stable(IReadOnlyDictionary<string, string> files) =>
        files.Where(f => !IsUnstable(PackageOf(f.Value))).ToDictionary(StringComparer.Ordinal);

    /// <summary>
    /// A stable file must not import an unstable one: the unstable types would change the stable
    /// contract's wire format unjudged (and buf could not build the stable side without them).
    /// </summary>
    private static List<string> UnstableImports(IReadOnlyDictionary<string, string> files) =>
        [.. files.Where(f => !IsUnstable(PackageOf(f.Value)))
            .SelectMany(f => ImportStatement().Matches(f.Value).Select(m => (File: f.Key, Import: m.Groups[1].Value)))
            .Where(i => files.TryGetValue(i.Import, out var imported) && IsUnstable(PackageOf(imported)))
            .Select(i => $"{i.File}: imports {i.Import}, an unstable package; a stable contract cannot depend on one that may change")];

    [GeneratedRegex(@"\.v\d+(alpha|beta)\d+$")]
    private static partial Regex UnstablePackage();

    [GeneratedRegex(@"^package\s+([A-Za-z0-9_.]+)\s*;", RegexOptions.Multiline)]
    private static partial Regex PackageStatement();

    [GeneratedRegex(@"^import\s+(?:public\s+|weak\s+)?""([^""]+)""\s*;", RegexOptions.Multiline)]
    private static partial Regex ImportStatement();

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
        var folder = exportedTo + Path.DirectorySeparatorChar;
        foreach (var line in (result.Output + result.Error).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            // Point at the files a developer knows: protos/pyairtable/…, not the temporary export. Findings
            // about no file (<input>:1:1: for a deleted package, buf's own failures) are shown as they are.
            output.WriteLine("  " + (line.StartsWith(folder, StringComparison.Ordinal) ? "protos/" + line[folder.Length..] : line));
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
