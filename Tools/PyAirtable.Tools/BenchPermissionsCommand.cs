using System.CommandLine;
using System.Diagnostics;
using Dapper;
using Grpc.Core;
using Npgsql;
using ProtoBuf.Grpc;
using ProtoBuf.Grpc.Client;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Permissions;

namespace PyAirtable.Tools;

/// <summary>
/// <c>pyairtable bench-permissions</c>: fills the database of a running host with a permission data set
/// (users, workspaces with bases and tables, grants; written with SQL, once — later runs reuse it),
/// then measures CheckPermission and BatchCheckPermission of 1, 100 and 1,000 items over one channel.
/// </summary>
public static class BenchPermissionsCommand
{
    public static Command Create()
    {
        var address = HostConnection.AddressOption();
        var postgres = new Option<string>("--postgres") { Description = "The host's PostgreSQL connection string (to write the data set).", Required = true };
        var users = new Option<int>("--users") { DefaultValueFactory = _ => 10_000, Description = "Users in the data set." };
        var workspaces = new Option<int>("--workspaces") { DefaultValueFactory = _ => 1_000, Description = "Workspaces (each with 3 bases of 3 tables)." };
        var grants = new Option<int>("--grants") { DefaultValueFactory = _ => 100_000, Description = "Grants spread over users and resources." };
        var requests = new Option<int>("--requests", "-n") { DefaultValueFactory = _ => 2_000, Description = "Calls per scenario (batches of 1,000: a tenth)." };
        var concurrency = new Option<int>("--concurrency", "-c") { DefaultValueFactory = _ => 16, Description = "Concurrent calls." };
        var inProcess = new Option<string?>("--in-process")
        {
            Description = "Also measure checks inside a host built in this process, on this Redis (host:port): no network, one caller.",
        };
        var command = new Command("bench-permissions", "Measure CheckPermission and BatchCheckPermission against a large permission data set.")
        {
            address, postgres, users, workspaces, grants, requests, concurrency, inProcess,
        };
        command.SetAction(async (parse, ct) =>
        {
            try
            {
                return await RunAsync(parse.GetValue(address)!, parse.GetValue(postgres)!, parse.GetValue(users), parse.GetValue(workspaces),
                    parse.GetValue(grants), parse.GetValue(requests), parse.GetValue(concurrency), parse.GetValue(inProcess), ct);
            }
            catch (RpcException ex)
            {
                await Console.Error.WriteLineAsync($"bench-permissions: the host refused a call: {ex.StatusCode}: {ex.Status.Detail}");
                return 1;
            }
        });
        return command;
    }

    private static async Task<int> RunAsync(string address, string postgres, int userCount, int workspaceCount, int grantCount, int requests, int concurrency,
        string? inProcessRedis, CancellationToken ct)
    {
        if (userCount < 1 || workspaceCount < 1 || grantCount < 1 || requests < 1 || concurrency is < 1 or > 4096)
        {
            await Console.Error.WriteLineAsync("bench-permissions: counts must be positive and concurrency 1 to 4096");
            return 2;
        }

        await using var connection = new NpgsqlConnection(postgres);
        await connection.OpenAsync(ct);
        var seedTime = Stopwatch.StartNew();
        await SeedAsync(connection, userCount, workspaceCount, grantCount, ct);
        var counts = await connection.QuerySingleAsync<(long Users, long Workspaces, long Resources, long Grants)>(
            "SELECT (SELECT count(*) FROM users.users), (SELECT count(*) FROM permissions.resources WHERE type = 1), (SELECT count(*) FROM permissions.resources), (SELECT count(*) FROM permissions.grants)");

        using var channel = HostConnection.Open(address);
        var auth = channel.CreateGrpcService<IAuthService>();
        var email = $"bench-admin-{Guid.NewGuid():N}@example.dev";
        const string password = "bench-password-123";
        var admin = await auth.RegisterAsync(new RegisterRequest { Email = email, Password = password, DisplayName = "Bench admin" });
        await connection.ExecuteAsync("UPDATE auth.credentials SET roles = '{admin}' WHERE user_id = @id", new { id = Guid.Parse(admin.UserId) });
        var token = (await auth.LoginAsync(new LoginRequest { Email = email, Password = password })).Tokens!.AccessToken;
        var bearer = new Metadata { { "authorization", "Bearer " + token } };

        // Questions drawn from the data set: users who hold grants, resources anywhere in the trees.
        var sampleUsers = (await connection.QueryAsync<Guid>("SELECT DISTINCT user_id FROM permissions.grants LIMIT 2000")).ToArray();
        var sampleResources = (await connection.QueryAsync<(short Type, Guid Id)>("SELECT type, id FROM permissions.resources ORDER BY random() LIMIT 5000")).ToArray();
        var permissions = channel.CreateGrpcService<IPermissionService>();
        CheckItem RandomCheck()
        {
            var r = sampleResources[Random.Shared.Next(sampleResources.Length)];
            return new CheckItem
            {
                UserId = sampleUsers[Random.Shared.Next(sampleUsers.Length)].ToString(),
                Resource = new ResourceRef { Type = (ResourceType)r.Type, Id = r.Id.ToString() },
                Level = (PermissionLevel)Random.Shared.Next(2, 7),
            };
        }

        Console.WriteLine($"# pyairtable bench-permissions — {address} — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC — {Environment.ProcessorCount} cores (client, host, PostgreSQL share them when all run here)");
        Console.WriteLine($"# data set: {counts.Users} users, {counts.Workspaces} workspaces, {counts.Resources} resources, {counts.Grants} grants (ready in {seedTime.Elapsed.TotalSeconds:F1} s)");
        Console.WriteLine($"{"scenario",-30} {"conc",5} {"calls",7} {"calls/s",9} {"checks/s",10} {"p50 ms",8} {"p99 ms",8}");
        var scenarios = new (string Name, int Size, int Calls)[]
        {
            ("CheckPermission", 1, requests),
            ("BatchCheckPermission x1", 1, requests),
            ("BatchCheckPermission x100", 100, requests),
            ("BatchCheckPermission x1000", 1000, Math.Max(1, requests / 10)),
        };
        foreach (var (name, size, calls) in scenarios)
        {
            Func<CancellationToken, Task> call = name == "CheckPermission"
                ? async c =>
                {
                    var item = RandomCheck();
                    await permissions.CheckPermissionAsync(new CheckPermissionRequest { UserId = item.UserId, Resource = item.Resource, Level = item.Level }, new CallContext(new CallOptions(bearer, cancellationToken: c)));
                }
                : async c => await permissions.BatchCheckPermissionAsync(new BatchCheckPermissionRequest { Checks = Enumerable.Range(0, size).Select(_ => RandomCheck()).ToList() },
                    new CallContext(new CallOptions(bearer, cancellationToken: c)));
            await call(ct);
            var result = await LoadRun.MeasureAsync(call, calls, concurrency, ct);
            if (result.Errors > 0)
            {
                await Console.Error.WriteLineAsync($"bench-permissions: the host refused {result.Errors} of {calls} {name} calls");
                return 1;
            }

            Console.WriteLine($"{name,-30} {concurrency,5} {calls,7} {result.Rps,9:F0} {result.Rps * size,10:F0} {result.P50,8:F2} {result.P99,8:F2}");
        }

        if (inProcessRedis is not null)
        {
            await BenchPermissionsInProcess.RunAsync(postgres, inProcessRedis, sampleUsers, sampleResources, requests, ct);
        }

        return 0;
    }

    /// <summary>Writes the data set with set-based SQL, unless a previous run did (idempotent).</summary>
    private static async Task SeedAsync(NpgsqlConnection connection, int users, int workspaces, int grants, CancellationToken ct)
    {
        await using var tx = await connection.BeginTransactionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_xact_lock(7070)", transaction: tx, cancellationToken: ct));
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO users.users (id, email, display_name)
            SELECT md5('bench-user-' || g)::uuid, 'bench-user-' || g || '@example.dev', 'Bench user ' || g FROM generate_series(1, @users) g
            ON CONFLICT DO NOTHING;
            INSERT INTO permissions.resources (type, id, workspace_id)
            SELECT 1, md5('bench-ws-' || w)::uuid, md5('bench-ws-' || w)::uuid FROM generate_series(1, @workspaces) w
            ON CONFLICT DO NOTHING;
            INSERT INTO permissions.resources (type, id, parent_type, parent_id, workspace_id)
            SELECT 2, md5('bench-base-' || w || '-' || b)::uuid, 1, md5('bench-ws-' || w)::uuid, md5('bench-ws-' || w)::uuid
              FROM generate_series(1, @workspaces) w, generate_series(1, 3) b
            ON CONFLICT DO NOTHING;
            INSERT INTO permissions.resources (type, id, parent_type, parent_id, workspace_id)
            SELECT 3, md5('bench-table-' || w || '-' || b || '-' || t)::uuid, 2, md5('bench-base-' || w || '-' || b)::uuid, md5('bench-ws-' || w)::uuid
              FROM generate_series(1, @workspaces) w, generate_series(1, 3) b, generate_series(1, 3) t
            ON CONFLICT DO NOTHING;
            -- Every workspace gets an owner; then grants at random (seeded) levels, users and depths.
            INSERT INTO permissions.grants (resource_type, resource_id, user_id, level, granted_by)
            SELECT 1, md5('bench-ws-' || w)::uuid, md5('bench-user-' || (1 + w % @users))::uuid, 6, 'bench' FROM generate_series(1, @workspaces) w
            ON CONFLICT DO NOTHING;
            SELECT setseed(0.42);
            INSERT INTO permissions.grants (resource_type, resource_id, user_id, level, granted_by)
            SELECT kind,
                   CASE kind WHEN 1 THEN md5('bench-ws-' || w)::uuid
                             WHEN 2 THEN md5('bench-base-' || w || '-' || b)::uuid
                             ELSE md5('bench-table-' || w || '-' || b || '-' || t)::uuid END,
                   md5('bench-user-' || u)::uuid, level, 'bench'
              FROM (SELECT 1 + floor(random() * 3)::int AS kind, 1 + floor(random() * @workspaces)::int AS w,
                           1 + floor(random() * 3)::int AS b, 1 + floor(random() * 3)::int AS t,
                           1 + floor(random() * @users)::int AS u, 1 + floor(random() * 5)::int AS level
                      FROM generate_series(1, greatest(0, @grants - (SELECT count(*) FROM permissions.grants WHERE granted_by = 'bench')) * 11 / 10)) g
            ON CONFLICT DO NOTHING;
            """, new { users, workspaces, grants }, tx, commandTimeout: 600, cancellationToken: ct));
        await connection.ExecuteAsync(new CommandDefinition("ANALYZE permissions.resources; ANALYZE permissions.grants;", transaction: tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
    }
}
