using System.Globalization;
using Npgsql;

namespace PyAirtable.Tools;

/// <summary>
/// CPU time spent by a PostgreSQL cluster on this machine: its postmaster with every backend and worker, live or ended
/// (an ended child's time moves into the postmaster's children's time, so the sum never drops). On a box the benchmark
/// shares with the database, every call's database work (analytics rows, rate-limit fallbacks) competes with the host for
/// the same cores, and req/s alone hides whose it is. Linux only, and only for a cluster whose processes this user can read.
/// </summary>
internal sealed class ClusterCpu
{
    private const double TicksPerSecond = 100; // USER_HZ: what /proc/<pid>/stat counts in on Linux
    private readonly int _postmaster;

    private ClusterCpu(int postmaster) => _postmaster = postmaster;

    /// <summary>The cluster serving <paramref name="connectionString"/>, or null when it is not a local one this user can read.</summary>
    public static async Task<ClusterCpu?> FindAsync(string connectionString, CancellationToken ct)
    {
        try
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync(ct);
            await using var command = new NpgsqlCommand("SELECT pg_backend_pid()", connection);
            var backend = (int)(await command.ExecuteScalarAsync(ct))!;
            var parent = ParentOf(backend);
            return parent is { } postmaster && File.Exists($"/proc/{postmaster}/stat") ? new ClusterCpu(postmaster) : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NpgsqlException or FormatException)
        {
            return null;
        }
    }

    /// <summary>The cluster's CPU time so far, user and system.</summary>
    public TimeSpan Total()
    {
        var ticks = 0L;
        if (Fields(_postmaster) is { } postmaster)
        {
            // utime, stime, and the reaped children's cutime, cstime
            ticks += long.Parse(postmaster[11], CultureInfo.InvariantCulture) + long.Parse(postmaster[12], CultureInfo.InvariantCulture)
                     + long.Parse(postmaster[13], CultureInfo.InvariantCulture) + long.Parse(postmaster[14], CultureInfo.InvariantCulture);
        }

        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), out var pid) && Fields(pid) is { } fields
                && int.Parse(fields[1], CultureInfo.InvariantCulture) == _postmaster)
            {
                ticks += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            }
        }

        return TimeSpan.FromSeconds(ticks / TicksPerSecond);
    }

    private static int? ParentOf(int pid) => Fields(pid) is { } fields ? int.Parse(fields[1], CultureInfo.InvariantCulture) : null;

    /// <summary>The fields of /proc/PID/stat after the command name (which may hold spaces): [0] is the state, [1] the parent.</summary>
    private static string[]? Fields(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null; // gone meanwhile, or not ours to read
        }
    }
}
