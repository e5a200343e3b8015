using ProtoBuf.Grpc.Client;
using PyAirtable.Contracts.Webhooks;
using PyAirtable.IntegrationTests.Infrastructure;

namespace PyAirtable.IntegrationTests.Webhooks;

/// <summary>
/// A host whose webhook delivery is scaled down for tests: retries after 0.5 s, 1 s, 1 s, 1 s (then failed), a 2 s
/// attempt timeout, and loopback 127.0.0.1 allowed so the test's receivers can be reached.
/// </summary>
public sealed class WebhookFixture : HostFixture
{
    protected override void Configure(TestHostOptions options) => Apply(options.Settings);

    public static void Apply(Dictionary<string, string?> settings, bool allowLoopback = true)
    {
        settings["Webhooks:AllowedNetworks"] = allowLoopback ? "127.0.0.1/32" : "";
        settings["Webhooks:RetrySchedule"] = "00:00:00,00:00:00.500,00:00:01,00:00:01,00:00:01";
        settings["Webhooks:Timeout"] = "00:00:02";
        settings["Webhooks:LeaseDuration"] = "00:00:05";
        settings["Webhooks:PollInterval"] = "00:00:00.100";
    }
}

public static class WebhookCalls
{
    public static IWebhookService Webhooks(this TestHost host) => host.Channel.CreateGrpcService<IWebhookService>();
}
