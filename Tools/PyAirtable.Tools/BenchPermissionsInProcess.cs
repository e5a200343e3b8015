using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using ProtoBuf.Grpc;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Host;
using PyAirtable.Services.Infrastructure.Requests;
using PyAirtable.Services.Infrastructure.SharedState;

namespace PyAirtable.Tools;

/// <summary>
/// <c>bench-permissions --in-process</c>: the checks a service makes inside a host (the Workspace service's before each read),
/// without a network: a platform host built in this process on the same database and Redis, its <see cref="IPermissionService"/>
/// called as a service would call it, one caller, each call timed. "warm" asks the same 1,000 questions again and again
/// (a working set, what the decision cache serves from memory); "cold" draws every question from the whole data set.
/// </summary>
internal static class BenchPermissionsInProcess
{
    public static async Task RunAsync(string postgres, string redis, Guid[] users, (short Type, Guid Id)[] resources, int requests, CancellationToken ct)
    {
        // As command-line settings: the host reads its connection strings while it registers its services.
        var builder = PlatformHost.CreateBuilder(
        [
            $"--ConnectionStrings:Postgres={postgres}", $"--ConnectionStrings:Redis={redis}", "--Redis:InstanceName=bench-inprocess:",
            $"--Kestrel:Endpoints:Grpc:Url=http://127.0.0.1:{BenchHost.FreePort()}",
            $"--Kestrel:Endpoints:Probes:Url=http://127.0.0.1:{BenchHost.FreePort()}",
            $"--Kestrel:Endpoints:Http:Url=http://127.0.0.1:{BenchHost.FreePort()}", "--Logging:LogLevel:Default=Warning",
        ]);
        await using var app = PlatformHost.Build(builder);
        await PlatformHost.StartAsync(app, ct);
        var feed = app.Services.GetRequiredService<ChangeFeed>();
        while (!feed.IsCurrent)
        {
            await Task.Delay(10, ct);
        }

        var permissions = app.Services.GetRequiredService<IPermissionService>();
        // Cold questions pair any user with any resource (millions of pairs): nearly every one is computed in PostgreSQL.
        var warm = users.Zip(resources).Take(1000).Select(p => (p.First, p.Second.Type, p.Second.Id)).ToArray();
        (Guid, short, Guid) Cold()
        {
            var r = resources[Random.Shared.Next(resources.Length)];
            return (users[Random.Shared.Next(users.Length)], r.Type, r.Id);
        }

        CheckItem Item((Guid User, short Type, Guid Id) q) =>
            new() { UserId = q.User.ToString(), Resource = new ResourceRef { Type = (ResourceType)q.Type, Id = q.Id.ToString() }, Level = PermissionLevel.Read };

        Console.WriteLine();
        Console.WriteLine("# in process (IPermissionService of a host built in this process; one caller; no network)");
        Console.WriteLine($"{"scenario",-36} {"calls",7} {"p50 ms",8} {"p99 ms",8}");
        var i = 0;
        foreach (var (name, size, pick) in new (string, int, Func<(Guid, short, Guid)>)[]
        {
            ("CheckPermission warm", 1, () => warm[i++ % warm.Length]),
            ("CheckPermission cold", 1, Cold),
            ("BatchCheckPermission x1000 warm", 1000, () => warm[i++ % warm.Length]),
            ("BatchCheckPermission x1000 cold", 1000, Cold),
        })
        {
            var calls = size == 1 ? requests : Math.Max(20, requests / 4);
            if (name.EndsWith("warm", StringComparison.Ordinal))
            {
                await permissions.BatchCheckPermissionAsync(new BatchCheckPermissionRequest { Checks = [.. warm.Select(Item)] }, Context(ct));
            }

            var times = new double[calls];
            for (var n = 0; n < calls; n++)
            {
                // The request is built before the clock starts: only the check is timed.
                var items = Enumerable.Range(0, size).Select(_ => Item(pick())).ToList();
                var context = Context(ct);
                var start = Stopwatch.GetTimestamp();
                if (size == 1)
                {
                    await permissions.CheckPermissionAsync(
                        new CheckPermissionRequest { UserId = items[0].UserId, Resource = items[0].Resource, Level = items[0].Level }, context);
                }
                else
                {
                    await permissions.BatchCheckPermissionAsync(new BatchCheckPermissionRequest { Checks = items }, context);
                }

                times[n] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }

            Array.Sort(times);
            Console.WriteLine($"{name,-36} {calls,7} {times[calls / 2],8:F3} {times[Math.Min(calls - 1, (int)(calls * 0.99))],8:F3}");
        }

        await app.StopAsync(ct);
    }

    /// <summary>A server context whose caller is a platform service (what the in-process implementation sees behind the gateway).</summary>
    private static CallContext Context(CancellationToken ct) => InProcessServerCall.AsService("bench", [Scopes.WorkspacesRead], ct);
}
