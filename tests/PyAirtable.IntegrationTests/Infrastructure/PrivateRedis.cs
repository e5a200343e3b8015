using System.Diagnostics;
using System.Globalization;

namespace PyAirtable.IntegrationTests.Infrastructure;

/// <summary>A Redis server of a test's own (scripts/redis.sh, nothing persisted), which the test may kill, hang or restart.</summary>
public sealed class PrivateRedis : IAsyncDisposable
{
    private PrivateRedis(string directory, int port)
    {
        Directory = directory;
        Port = port;
    }

    public string Directory { get; }

    public int Port { get; }

    public string ConnectionString => $"127.0.0.1:{Port}";

    public static async Task<PrivateRedis> StartAsync()
    {
        var directory = Path.Combine(TestEnvironment.RepositoryRoot, ".local", "test-redis", Guid.NewGuid().ToString("N")[..12]);
        var port = TestEnvironment.FreeTcpPort();
        await ScriptRunner.RunAsync("redis.sh", "start", directory, port.ToString(CultureInfo.InvariantCulture));
        var actual = int.Parse(await File.ReadAllTextAsync(Path.Combine(directory, "port")), CultureInfo.InvariantCulture);
        return new PrivateRedis(directory, actual);
    }

    private int Pid => int.Parse(File.ReadAllText(Path.Combine(Directory, "redis.pid")).Trim(), CultureInfo.InvariantCulture);

    /// <summary>kill -9: the server is gone at once, with everything it held.</summary>
    public async Task KillAsync()
    {
        var pid = Pid;
        await SignalAsync("KILL", pid);
        for (var i = 0; i < 100 && IsAlive(pid); i++)
        {
            await Task.Delay(20);
        }

        File.Delete(Path.Combine(Directory, "redis.pid"));
    }

    /// <summary>SIGSTOP: the server keeps its connections open and answers nothing (a hung Redis).</summary>
    public Task HangAsync() => SignalAsync("STOP", Pid);

    public Task ResumeAsync() => SignalAsync("CONT", Pid);

    /// <summary>Starts it again, empty, on the same port.</summary>
    public Task RestartAsync() => ScriptRunner.RunAsync("redis.sh", "start", Directory, Port.ToString(CultureInfo.InvariantCulture));

    public async ValueTask DisposeAsync()
    {
        if (File.Exists(Path.Combine(Directory, "redis.pid")))
        {
            await SignalAsync("CONT", Pid); // a hung server cannot be stopped politely
        }

        await ScriptRunner.RunAsync("redis.sh", "stop", Directory);
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Leftovers under .local/ are harmless.
        }
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            return !Process.GetProcessById(pid).HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static async Task SignalAsync(string signal, int pid)
    {
        using var kill = Process.Start("kill", ["-" + signal, pid.ToString(CultureInfo.InvariantCulture)])!;
        await kill.WaitForExitAsync();
    }
}
