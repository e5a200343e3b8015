using System.Diagnostics;
using Grpc.Health.V1;
using Grpc.Net.Client;
using PyAirtable.IntegrationTests.Diagnostics;
using PyAirtable.IntegrationTests.Infrastructure;

namespace PyAirtable.IntegrationTests.Health;

/// <summary>The shipped host binary, started as a process the way ./run.sh starts it.</summary>
public sealed class StartupTests
{
    [Fact]
    public async Task Host_PostgresUnreachable_ExitsWithOneLineError()
    {
        var port = TestEnvironment.FreeTcpPort();

        var (exitCode, stdout, stderr) = await RunHostToExitAsync(new()
        {
            ["ConnectionStrings__Postgres"] = $"Host=127.0.0.1;Port={port};Username=nobody;Password=x;Database=nothing;Timeout=3",
        });

        Assert.Equal(3, exitCode);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"pyairtable: cannot reach PostgreSQL at 127.0.0.1:{port}/nothing", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stdout + stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Host_NoConnectionString_ExitsWithOneLineError()
    {
        var (exitCode, stdout, stderr) = await RunHostToExitAsync(new() { ["ConnectionStrings__Postgres"] = "" });

        Assert.Equal(3, exitCode);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("pyairtable: ConnectionStrings:Postgres is not set", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stdout + stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Host_WrongPassword_ExitsWithOneLineError()
    {
        var admin = new Npgsql.NpgsqlConnectionStringBuilder(TestEnvironment.PostgresAdmin) { Password = "wrong-password" };

        var (exitCode, _, stderr) = await RunHostToExitAsync(new() { ["ConnectionStrings__Postgres"] = admin.ConnectionString });

        Assert.Equal(3, exitCode);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("refused the host", line, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-password", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Host_Sigterm_ServesThenStopsCleanly()
    {
        await using var database = await TestDatabase.CreateAsync();
        var grpcPort = TestEnvironment.FreeTcpPort();
        using var process = StartHost(new()
        {
            ["ConnectionStrings__Postgres"] = database.ConnectionString,
            ["ConnectionStrings__Redis"] = TestEnvironment.Redis,
            ["Kestrel__Endpoints__Grpc__Url"] = $"http://127.0.0.1:{grpcPort}",
        });
        var output = CollectOutput(process);
        try
        {
            using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");
            var health = new Grpc.Health.V1.Health.HealthClient(channel);
            await Eventually.TrueAsync(async () =>
            {
                try
                {
                    return (await health.CheckAsync(new HealthCheckRequest())).Status == HealthCheckResponse.Types.ServingStatus.Serving;
                }
                catch (Grpc.Core.RpcException)
                {
                    return false;
                }
            }, "the host serves", TimeSpan.FromSeconds(60));

            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(timeout.Token);
            Assert.Equal(0, process.ExitCode);
            Assert.Contains("Shutting down: reporting NOT_SERVING", output.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    private static Process StartHost(Dictionary<string, string> environment)
    {
        var hostDll = Path.Combine(AppContext.BaseDirectory, "PyAirtable.Host.dll");
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        info.ArgumentList.Add(hostDll);
        info.Environment["Kestrel__Endpoints__Grpc__Url"] = $"http://127.0.0.1:{TestEnvironment.FreeTcpPort()}";
        info.Environment["Kestrel__Endpoints__Probes__Url"] = $"http://127.0.0.1:{TestEnvironment.FreeTcpPort()}";
        info.Environment["Kestrel__Endpoints__Http__Url"] = $"http://127.0.0.1:{TestEnvironment.FreeTcpPort()}";
        info.Environment["ConnectionStrings__Redis"] = "";
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        return Process.Start(info) ?? throw new InvalidOperationException("the host did not start");
    }

    private static System.Text.StringBuilder CollectOutput(Process process)
    {
        var output = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return output;
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunHostToExitAsync(Dictionary<string, string> environment)
    {
        using var process = StartHost(environment);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}

public sealed class NoRedisTests : DatabasePerTest
{

    [Fact]
    public async Task Host_WithoutRedis_ServesOnOneInstanceAndSaysSo()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o => o.WithRedis = false);

        var echo = await host.Diagnostics.EchoAsync(new EchoRequest { Text = "solo" });
        var health = await host.Health.CheckAsync(new HealthCheckRequest());

        Assert.Equal("solo", echo.Text);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
        Assert.Contains(host.Logs.Entries, e => e.Level == Microsoft.Extensions.Logging.LogLevel.Warning
            && e.Message.Contains("single-instance mode with an in-memory cache", StringComparison.Ordinal));
        var cache = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions
            .GetRequiredService<Microsoft.Extensions.Caching.Distributed.IDistributedCache>(host.App.Services);
        Assert.IsType<Microsoft.Extensions.Caching.Distributed.MemoryDistributedCache>(cache);
    }
}
