using System.Diagnostics;

namespace PyAirtable.IntegrationTests.Infrastructure;

/// <summary>Runs the repository's scripts (the same ones ./run.sh and ./test.sh use).</summary>
public static class ScriptRunner
{
    public static async Task<string> RunAsync(string script, params string[] args)
    {
        var info = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = TestEnvironment.RepositoryRoot,
        };
        info.ArgumentList.Add(Path.Combine(TestEnvironment.RepositoryRoot, "scripts", script));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("bash did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"scripts/{script} {string.Join(' ', args)} failed ({process.ExitCode}): {await stderr}");
        }

        return (await stdout).Trim();
    }
}

/// <summary>A PostgreSQL cluster of a test's own, which the test may stop and start.</summary>
public sealed class PrivatePostgres : IAsyncDisposable
{
    private PrivatePostgres(string directory, int port, string connectionString)
    {
        Directory = directory;
        Port = port;
        ConnectionString = connectionString;
    }

    public string Directory { get; }

    public int Port { get; }

    /// <summary>The pyairtable role on the pyairtable database.</summary>
    public string ConnectionString { get; }

    public static async Task<PrivatePostgres> StartAsync()
    {
        var directory = Path.Combine(TestEnvironment.RepositoryRoot, ".local", "test-clusters", Guid.NewGuid().ToString("N")[..12]);
        var port = TestEnvironment.FreeTcpPort();
        var connectionString = (await ScriptRunner.RunAsync("pg.sh", "start", directory, port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--fast"))
            .Split('\n').Last();
        var actualPort = int.Parse(await File.ReadAllTextAsync(Path.Combine(directory, "port")), System.Globalization.CultureInfo.InvariantCulture);
        return new PrivatePostgres(directory, actualPort, connectionString);
    }

    public Task StopAsync() => ScriptRunner.RunAsync("pg.sh", "stop", Directory);

    /// <summary>Starts the stopped cluster again on the same port.</summary>
    public Task RestartAsync() => ScriptRunner.RunAsync("pg.sh", "start", Directory, Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--fast");

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            var data = (await File.ReadAllTextAsync(Path.Combine(Directory, "datadir"))).Trim();
            if (System.IO.Directory.Exists(data))
            {
                System.IO.Directory.Delete(data, recursive: true);
            }

            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Leftovers under .local/ are harmless; ./test.sh clears them.
        }
    }
}
