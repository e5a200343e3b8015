using System.Diagnostics;
using System.Globalization;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using PyAirtable.IntegrationTests.Access;
using ProtoBuf.Grpc.Client;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Events;
using PyAirtable.Contracts.Webhooks;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;

namespace PyAirtable.IntegrationTests.Webhooks;

/// <summary>
/// A host process (the real PyAirtable.Host.dll) killed with SIGKILL while its delivery is at the receiver: another host
/// sends the same message (same webhook-id, same body) once the dead host's lease runs out.
/// </summary>
public sealed class WebhookDurabilityTests : DatabasePerTest
{
    [Fact]
    public async Task DeliveringHostKilled_AnotherHostDeliversLater_SameWebhookId()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var firstArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        receiver.Respond = async (_, n) =>
        {
            if (n == 0)
            {
                firstArrived.TrySetResult();
                await release.Task.WaitAsync(TimeSpan.FromSeconds(60)); // hold the first attempt until its host is dead
            }

            return 200;
        };
        var instance = $"test-{Guid.NewGuid():N}:";
        var grpcPort = TestEnvironment.FreeTcpPort();
        using var process = StartHostProcess(grpcPort, instance);
        var output = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        string secret, webhookId;
        TokenSet tokens;
        try
        {
            using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");
            await WaitServingAsync(channel, output);
            var auth = channel.CreateGrpcService<IAuthService>();
            var email = Identities.NewEmail();
            await auth.RegisterAsync(new RegisterRequest { Email = email, Password = "Durable-Password-1", DisplayName = "Durable" });
            tokens = (await auth.LoginAsync(new LoginRequest { Email = email, Password = "Durable-Password-1" })).Tokens!;
            var bearer = Identities.WithBearer(tokens.AccessToken);
            var workspace = (await channel.CreateGrpcService<IWorkspaceService>().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Doomed host" }, bearer)).Workspace!;
            var created = await channel.CreateGrpcService<IWebhookService>().CreateWebhookAsync(new CreateWebhookRequest
            {
                WorkspaceId = workspace.Id, Url = receiver.Url, EventTypes = [EventTypes.NameOf<WorkspaceUpdated>()],
            }, bearer);
            (secret, webhookId) = (created.Secret, created.Webhook!.Id);
            await channel.CreateGrpcService<IWorkspaceService>().UpdateWorkspaceAsync(new UpdateWorkspaceRequest { WorkspaceId = workspace.Id, Description = "last words" }, bearer);

            await firstArrived.Task.WaitAsync(TimeSpan.FromSeconds(30));
            using (var kill = Process.Start("kill", ["-KILL", process.Id.ToString(CultureInfo.InvariantCulture)])!)
            {
                await kill.WaitForExitAsync();
            }

            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        var killedAt = DateTime.UtcNow;
        release.TrySetResult();

        // Another host on the same database: the dead host's lease (5 s) runs out and this one sends the row again.
        await using var survivor = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            WebhookFixture.Apply(o.Settings);
            o.Settings["Redis:InstanceName"] = instance;
        });
        var received = await receiver.WaitForAsync(2, TimeSpan.FromSeconds(30));
        Assert.Equal(received[0].Id, received[1].Id);
        Assert.Equal(received[0].Body, received[1].Body);
        Assert.True(received[1].VerifiesWith(secret));
        // Within the test's 5 s lease, not the 60 s default: the survivor's start, the lease's end and a 100 ms poll, with
        // room for a slow start on a busy machine.
        Assert.True(received[1].ReceivedAt - killedAt < TimeSpan.FromSeconds(30),
            $"redelivered {received[1].ReceivedAt - killedAt} after the kill");

        var hooks = survivor.Channel.CreateGrpcService<IWebhookService>();
        Delivery? delivery = null;
        await Eventually.TrueAsync(async () =>
        {
            delivery = (await hooks.ListDeliveriesAsync(new ListDeliveriesRequest { WebhookId = webhookId }, Identities.WithBearer(tokens.AccessToken))).Deliveries.Single();
            return delivery.Status == DeliveryStatus.Succeeded;
        }, "the survivor recorded the delivery as succeeded");
        // The killed attempt left no record (the host died before writing it); the survivor's is there.
        Assert.Equal(200, Assert.Single(delivery!.Attempts).StatusCode);
        Assert.Equal(2, receiver.Received.Count);
    }

    [Fact]
    public async Task TwoHostsShareTheQueue_EachDeliveryOnce()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        // Each host sends two at a time, and the receiver holds the first attempts until three are there at once, so
        // both hosts are sending however slowly the events are written (one host could otherwise claim each at once).
        var atOnce = 0;
        var bothSending = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        receiver.Respond = async (_, _) =>
        {
            if (Interlocked.Increment(ref atOnce) >= 3)
            {
                bothSending.TrySetResult();
            }

            await Task.WhenAny(bothSending.Task, Task.Delay(TimeSpan.FromSeconds(20)));
            Interlocked.Decrement(ref atOnce);
            await Task.Delay(50); // a receiver that takes a moment, so both hosts find work
            return 200;
        };
        void HeldAttemptSettings(TestHostOptions o)
        {
            WebhookFixture.Apply(o.Settings);
            // An attempt held at the receiver must not time out (a retry would be a second request for it).
            o.Settings["Webhooks:Timeout"] = "00:00:30";
            o.Settings["Webhooks:LeaseDuration"] = "00:01:00";
        }

        await using var a = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            HeldAttemptSettings(o);
            o.Name = "a";
            o.Settings["Webhooks:MaxConcurrency"] = "2";
        });
        await using var b = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            HeldAttemptSettings(o);
            o.Name = "b";
            o.Settings["Redis:InstanceName"] = a.App.Services.GetRequiredService<Microsoft.Extensions.Configuration.IConfiguration>()["Redis:InstanceName"];
            o.Settings["Webhooks:MaxConcurrency"] = "2";
        });
        var owner = await a.RegisterAsync();
        var workspace = (await a.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Shared" }, owner.Bearer)).Workspace!;
        var created = await a.Webhooks().CreateWebhookAsync(new CreateWebhookRequest
        {
            WorkspaceId = workspace.Id, Url = receiver.Url, EventTypes = [EventTypes.NameOf<WorkspaceUpdated>()],
        }, owner.Bearer);

        const int Events = 100;
        for (var i = 0; i < Events; i++)
        {
            await a.Workspaces().UpdateWorkspaceAsync(new UpdateWorkspaceRequest { WorkspaceId = workspace.Id, Description = $"v{i}" }, owner.Bearer);
        }

        var received = await receiver.WaitForAsync(Events, TimeSpan.FromSeconds(60));
        await Task.Delay(500);
        Assert.Equal(Events, receiver.Received.Count);
        Assert.Equal(Events, received.Select(r => r.Id).Distinct().Count());
        Assert.All(received, r => Assert.True(r.VerifiesWith(created.Secret)));
        var byA = a.Logs.Entries.Count(e => e.Message.StartsWith("Webhook delivery ", StringComparison.Ordinal));
        var byB = b.Logs.Entries.Count(e => e.Message.StartsWith("Webhook delivery ", StringComparison.Ordinal));
        Assert.Equal(Events, byA + byB);
        Assert.True(bothSending.Task.IsCompleted, "three attempts were at the receiver at once, one more than either host sends");
        Assert.True(byA > 0 && byB > 0, $"both hosts delivered: a {byA}, b {byB}");
    }

    private Process StartHostProcess(int grpcPort, string instance)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "PyAirtable.Host.dll"));
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings__Postgres"] = Database.ConnectionString,
            ["ConnectionStrings__Redis"] = TestEnvironment.Redis,
            ["Redis__InstanceName"] = instance,
            ["Kestrel__Endpoints__Grpc__Url"] = $"http://127.0.0.1:{grpcPort}",
            ["Kestrel__Endpoints__Probes__Url"] = $"http://127.0.0.1:{TestEnvironment.FreeTcpPort()}",
            ["Kestrel__Endpoints__Http__Url"] = $"http://127.0.0.1:{TestEnvironment.FreeTcpPort()}",
            ["Events__RebalanceInterval"] = "00:00:00.500",
            ["RateLimits__Classes__default__PerCredential"] = "1000000",
            ["RateLimits__Classes__default__PerClientIp"] = "1000000",
        };
        var webhookSettings = new Dictionary<string, string?>();
        WebhookFixture.Apply(webhookSettings);
        webhookSettings["Webhooks:Timeout"] = "00:00:04"; // the receiver holds the attempt longer than the test needs
        foreach (var (key, value) in webhookSettings)
        {
            settings[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        foreach (var (key, value) in settings)
        {
            info.Environment[key] = value;
        }

        return Process.Start(info) ?? throw new InvalidOperationException("the host did not start");
    }

    private static async Task WaitServingAsync(GrpcChannel channel, System.Text.StringBuilder output)
    {
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
        }, "the host process serves; its output:\n" + output, TimeSpan.FromSeconds(60));
    }
}
