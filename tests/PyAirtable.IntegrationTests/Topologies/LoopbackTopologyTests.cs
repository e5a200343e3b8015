using System.Collections.Concurrent;
using Grpc.Core;
using Grpc.Net.Client;
using ProtoBuf.Grpc;
using ProtoBuf.Grpc.Client;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Users;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using Xunit.Abstractions;
using static PyAirtable.IntegrationTests.Access.Access;

namespace PyAirtable.IntegrationTests.Topologies;

/// <summary>
/// The split topology on loopback, each host a process of its own on a 127.0.0.x address, mTLS on: a gateway-only edge,
/// two Users instances (blue) and a green one, two Permissions instances, and a Workspaces host with the rest. Calls
/// through the edge spread evenly; a SIGTERMed instance fails no call; a killed one fails no idempotent call; a
/// blue-green shift splits as configured at every step; a certificate from another CA is refused.
/// </summary>
public sealed class LoopbackTopologyTests(ITestOutputHelper output) : DatabasePerTest
{
    private const string Users = "pyairtable.users.v1.UserService";
    private const string Permissions = "pyairtable.permissions.v1.PermissionService";
    private static readonly string[] Rest =
    [
        "pyairtable.auth.v1.AuthService", "pyairtable.workspaces.v1.WorkspaceService", "pyairtable.analytics.v1.AnalyticsService",
        "pyairtable.files.v1.FileService", "pyairtable.webhooks.v1.WebhookService", "pyairtable.notifications.v1.NotificationService",
    ];

    private readonly string _dir = Path.Combine(TestEnvironment.RepositoryRoot, ".local", "test-topology", Guid.NewGuid().ToString("N")[..12]);
    private readonly List<HostProcess> _hosts = [];
    private TestCertificates _certs = null!;
    private TestCertificates _foreign = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Directory.CreateDirectory(_dir);
        _certs = await TestCertificates.CreateAsync("edge", "users-1:users", "users-2:users", "users-green:users",
            "permissions-1:permissions", "permissions-2:permissions", "workspaces:workspaces+auth+analytics+files+webhooks+notifications");
        _foreign = await TestCertificates.CreateAsync("intruder:workspaces");
    }

    public override async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }

        _certs.Dispose();
        _foreign.Dispose();
        await base.DisposeAsync();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // leftovers under .local/ are harmless
        }
    }

    [Fact]
    public async Task SplitTopology_OverMtls_BalancesDrainsFailsOverAndShiftsVersions()
    {
        var ports = new Dictionary<string, (string Ip, (int Grpc, int Probe, int Http) Ports)>();
        string[] names = ["edge", "users-1", "users-2", "users-green", "permissions-1", "permissions-2", "workspaces"];
        for (var i = 0; i < names.Length; i++)
        {
            var ip = $"127.0.0.{i + 2}";
            ports[names[i]] = (ip, HostProcess.PickPorts(ip));
        }

        string Address(string name) => $"https://{ports[name].Ip}:{ports[name].Ports.Grpc}";
        var routingFile = Path.Combine(_dir, "routing.json");
        await WriteGreenWeightAsync(routingFile, Address("users-green"), 0);
        var remotes = new Dictionary<string, string>
        {
            [$"Remote:{Users}"] = $"{Address("users-1")},{Address("users-2")}",
            [$"Remote:{Permissions}"] = $"{Address("permissions-1")},{Address("permissions-2")}",
        };
        foreach (var service in Rest)
        {
            remotes[$"Remote:{service}"] = Address("workspaces");
        }

        HostProcess Start(string name, string serve, params (string Key, string Value)[] extra)
        {
            var settings = new Dictionary<string, string>(remotes)
            {
                ["ConnectionStrings:Postgres"] = Database.ConnectionString,
                ["ConnectionStrings:Redis"] = TestEnvironment.Redis,
                ["Redis:InstanceName"] = $"topology-{Path.GetFileName(_dir)}:",
                ["Topology:Serve"] = serve,
                ["Mtls:CertificatePath"] = Path.Combine(_certs.Directory, name + ".crt"),
                ["Mtls:KeyPath"] = Path.Combine(_certs.Directory, name + ".key"),
                ["Mtls:CaPath"] = Path.Combine(_certs.Directory, "ca.crt"),
                // Long enough for the edge to hear NOT_SERVING (health watch) before a SIGTERMed instance refuses calls, even
                // with seven host processes on two busy cores: a write it refuses is not retried, and fails step 3.
                ["Shutdown:DrainDelay"] = "00:00:05",
                ["Health:PublishPeriod"] = "00:00:01",
                ["Files:FileSystem:Path"] = Path.Combine(_dir, "files"),
                ["RateLimits:Classes:default:PerCredential"] = "1000000",
                ["RateLimits:Classes:default:PerBase"] = "1000000",
                ["RateLimits:Classes:default:PerClientIp"] = "1000000",
                ["Logging:LogLevel:Default"] = "Warning",
            };
            foreach (var (key, value) in extra)
            {
                settings[key] = value;
            }

            var host = HostProcess.Start(name, ports[name].Ip, ports[name].Ports, settings, _dir);
            _hosts.Add(host);
            return host;
        }

        // The workspaces host first: it runs Auth, whose signing keys every other host fetches.
        var workspaces = Start("workspaces", "*,-users,-permissions");
        await workspaces.WaitReadyAsync(TimeSpan.FromSeconds(90));
        var users1 = Start("users-1", "users", ("Deployment:Version", "blue"));
        var users2 = Start("users-2", "users", ("Deployment:Version", "blue"));
        var green = Start("users-green", "users", ("Deployment:Version", "green"));
        var permissions1 = Start("permissions-1", "permissions");
        var permissions2 = Start("permissions-2", "permissions");
        var edge = Start("edge", "none", ("Topology:Forward", "true"), ("Mtls:ClientCertificates", "Allow"), ("Routing:File", routingFile));
        foreach (var host in _hosts)
        {
            await host.WaitReadyAsync(TimeSpan.FromSeconds(90));
        }

        // A client of the edge: trusts the platform CA, presents no certificate (the edge allows that; backends do not).
        using var channel = GrpcChannel.ForAddress(edge.GrpcAddress, new GrpcChannelOptions { HttpHandler = _certs.Handler(null) });
        var auth = channel.CreateGrpcService<IAuthService>();
        var user = await RegisterAsync(auth);
        var userApi = channel.CreateGrpcService<IUserService>();
        var permissionApi = channel.CreateGrpcService<IPermissionService>();
        var workspace = (await channel.CreateGrpcService<IWorkspaceService>()
            .CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Topology" }, user.Bearer)).Workspace!;
        var check = new CheckPermissionRequest { Resource = Ref(ResourceType.Workspace, workspace.Id), Level = PermissionLevel.Owner };
        Assert.True((await permissionApi.CheckPermissionAsync(check, user.Bearer)).Allowed);

        // 1. Even spread over the two instances of each service (round-robin, measured on the instances' own metrics).
        await SpreadAsync("GetUser", [users1, users2], 400, () => userApi.GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer).AsTask());
        await SpreadAsync("CheckPermission", [permissions1, permissions2], 400,
            () => permissionApi.CheckPermissionAsync(check, user.Bearer).AsTask());

        // 2. Blue-green: green's share of GetUser follows the routing file, 0 → 50 → 100 % and back, within ±5 %.
        Task GetUser() => userApi.GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer).AsTask();
        foreach (var weight in new[] { 0, 50, 100, 50, 0 })
        {
            await WriteGreenWeightAsync(routingFile, Address("users-green"), weight);
            // The edge reloads the file through a file watcher and the configuration's reload delay, which a starved
            // process can stretch past any fixed wait: probe until the new weight is in force, then measure.
            await Eventually.TrueAsync(async () => Math.Abs(await GreenShareAsync(green, ProbeCalls, GetUser) - weight) <= 15,
                $"the edge routes {weight} % of GetUser calls to green", TimeSpan.FromSeconds(30));
            const int calls = 400;
            var share = await GreenShareAsync(green, calls, GetUser);
            output.WriteLine($"blue-green: weight {weight,3} % → green served {share:F1} % of {calls} GetUser calls");
            Assert.InRange(share, weight - 5, weight + 5);
        }

        // 3. SIGTERM of a Users instance under load, writes included: none fails (it says NOT_SERVING, the edge stops
        //    picking it, and it serves what is in flight before it exits).
        var failures = await UnderLoadAsync(channel, user, async () => await users2.TerminateAsync(TimeSpan.FromSeconds(30)),
            writes: true);
        output.WriteLine($"SIGTERM users-2 under load: {failures.Calls} calls, {failures.Failed.Count} failed");
        Assert.Empty(failures.Failed);

        // 4. SIGKILL of a Permissions instance under load: no idempotent call fails (retried on the other instance).
        var checks = new ConcurrentBag<RpcException>();
        var done = 0;
        using (var stop = new CancellationTokenSource())
        {
            var load = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    try
                    {
                        await permissionApi.CheckPermissionAsync(check, user.Bearer);
                        Interlocked.Increment(ref done);
                    }
                    catch (RpcException ex)
                    {
                        checks.Add(ex);
                    }
                }
            })).ToList();
            await Task.Delay(1000);
            permissions2.Kill();
            await Task.Delay(3000);
            await stop.CancelAsync();
            await Task.WhenAll(load);
        }

        output.WriteLine($"SIGKILL permissions-2 under load: {done} CheckPermission calls, {checks.Count} failed");
        Assert.Empty(checks);

        // 5. A host whose certificate another CA issued (it claims the workspaces service) is refused by a backend, as is
        //    one without a certificate.
        foreach (var handler in new[] { _certs.Handler("intruder", from: _foreign), _certs.Handler(null) })
        {
            using var intruder = GrpcChannel.ForAddress(permissions1.GrpcAddress, new GrpcChannelOptions { HttpHandler = handler });
            var refused = await Assert.ThrowsAsync<RpcException>(async () =>
                await intruder.CreateGrpcService<IPermissionService>().CheckPermissionAsync(check, user.Bearer));
            Assert.Contains(refused.StatusCode, new[] { StatusCode.Unavailable, StatusCode.Internal });
        }
    }

    /// <summary>
    /// Calls in a probe of the routing weights. The edge picks the version of call n by slot n·37 mod 100
    /// (<c>VersionRouting</c>), so any 20 consecutive calls give green its weight within one call (5 points). The weights
    /// this test moves between lie 50 points apart, so a probe within 15 points of the new weight was made (at least
    /// mostly) after the reload, and the calls measured after it all are.
    /// </summary>
    private const int ProbeCalls = 20;

    /// <summary>The percentage of <paramref name="calls"/> sequential calls that green served (its own metrics).</summary>
    private static async Task<double> GreenShareAsync(HostProcess green, int calls, Func<Task> call)
    {
        var before = await green.ServedAsync("GetUser");
        for (var i = 0; i < calls; i++)
        {
            await call();
        }

        return 100.0 * (await green.ServedAsync("GetUser") - before) / calls;
    }

    private async Task SpreadAsync(string method, HostProcess[] instances, int calls, Func<Task> call)
    {
        var before = await Task.WhenAll(instances.Select(i => i.ServedAsync(method)));
        for (var i = 0; i < calls; i++)
        {
            await call();
        }

        var served = (await Task.WhenAll(instances.Select(i => i.ServedAsync(method)))).Select((n, i) => n - before[i]).ToArray();
        output.WriteLine($"spread of {calls} {method} calls: " + string.Join(", ", instances.Select((h, i) => $"{h.Name} {served[i]}")));
        Assert.Equal(calls, served.Sum());
        Assert.All(served, n => Assert.InRange(n, calls / instances.Length * 0.9, calls / instances.Length * 1.1));
    }

    private static async Task<(int Calls, List<RpcException> Failed)> UnderLoadAsync(
        GrpcChannel channel, TestUser user, Func<Task> disruption, bool writes)
    {
        var api = channel.CreateGrpcService<IUserService>();
        var failed = new ConcurrentBag<RpcException>();
        var calls = 0;
        using var stop = new CancellationTokenSource();
        var load = Enumerable.Range(0, 6).Select(worker => Task.Run(async () =>
        {
            var etag = (await api.GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer)).User!.Etag;
            var n = 0;
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    if (writes && worker == 0)
                    {
                        // One writer, so the etag chain is its own: a failed write would show here.
                        var updated = await api.UpdateUserAsync(
                            new UpdateUserRequest { UserId = user.UserId, Etag = etag, DisplayName = $"Writer {n++}" }, user.Bearer);
                        etag = updated.User!.Etag;
                    }
                    else
                    {
                        await api.GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer);
                    }

                    Interlocked.Increment(ref calls);
                }
                catch (RpcException ex)
                {
                    failed.Add(ex);
                }
            }
        })).ToList();
        await Task.Delay(1000);
        await disruption();
        await Task.Delay(1000);
        await stop.CancelAsync();
        await Task.WhenAll(load);
        return (calls, failed.ToList());
    }

    private static async Task<TestUser> RegisterAsync(IAuthService auth)
    {
        var email = Identities.NewEmail();
        const string password = "Topology-Password-1aA";
        var registered = await auth.RegisterAsync(new RegisterRequest { Email = email, Password = password, DisplayName = "Topology" });
        var login = await auth.LoginAsync(new LoginRequest { Email = email, Password = password });
        return new TestUser(registered.UserId, email, password, login.Tokens!);
    }

    private static async Task WriteGreenWeightAsync(string path, string green, int weight)
    {
        var json = $$"""
            { "Routing": { "{{Users}}": { "Stable": "blue", "Versions": { "green": "{{green}}" }, "Weights": { "green": {{weight}} } } } }
            """;
        await File.WriteAllTextAsync(path + ".tmp", json);
        File.Move(path + ".tmp", path, overwrite: true);
    }
}
