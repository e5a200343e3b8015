using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using PyAirtable.IntegrationTests.Infrastructure;
using StandardWebhooks;
using StandardWebhooks.Diagnostics;

namespace PyAirtable.IntegrationTests.Webhooks;

/// <summary>A request the receiver got: the Standard Webhooks headers, the raw body and when it arrived.</summary>
public sealed record ReceivedWebhook(string Id, string Timestamp, string Signature, string Body, DateTime ReceivedAt)
{
    public JsonElement Json => JsonDocument.Parse(Body).RootElement;

    /// <summary>
    /// Whether the independent verifier (the StandardWebhooks NuGet package) accepts it with <paramref name="secret"/>. Each
    /// space-separated signature is given to it on its own: StandardWebhooks 1.1.2 never looks at the last of several
    /// signatures in one header (its loop ends as soon as no space follows), which would hide the second signature of a
    /// rotation's overlap.
    /// </summary>
    public bool VerifiesWith(string secret) => Signature.Split(' ').Any(signature =>
    {
        var headers = new HeaderDictionary
        {
            ["webhook-id"] = Id, ["webhook-timestamp"] = Timestamp, ["webhook-signature"] = signature,
        };
        try
        {
            new StandardWebhook(secret).Verify(Body, headers);
            return true;
        }
        catch (WebhookVerificationException)
        {
            return false;
        }
    });
}

public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    private WebhookReceiver(WebApplication app) => _app = app;

    public string Url { get; private set; } = "";

    public ConcurrentQueue<ReceivedWebhook> Received { get; } = new();

    /// <summary>The status to answer a request with, given it and how many came before it (0 for the first).</summary>
    public Func<ReceivedWebhook, int, Task<int>> Respond { get; set; } = (_, _) => Task.FromResult(200);

    /// <summary>When set, the Location header of every answer (with a 3xx status from <see cref="Respond"/>: a redirect).</summary>
    public string? Location { get; set; }

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        // Not the host's appsettings.json beside the test binaries (its Kestrel endpoints are the host's).
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        var count = -1;
        app.MapPost("/hook", async (HttpContext context) =>
        {
            using var reader = new StreamReader(context.Request.Body);
            var received = new ReceivedWebhook(
                context.Request.Headers["webhook-id"].ToString(), context.Request.Headers["webhook-timestamp"].ToString(),
                context.Request.Headers["webhook-signature"].ToString(), await reader.ReadToEndAsync(context.RequestAborted), DateTime.UtcNow);
            receiver.Received.Enqueue(received);
            try
            {
                context.Response.StatusCode = await receiver.Respond(received, Interlocked.Increment(ref count));
                if (receiver.Location is { } location)
                {
                    context.Response.Headers.Location = location;
                }
            }
            catch (OperationCanceledException)
            {
                context.Abort();
            }
        });
        await app.StartAsync();
        receiver.Url = app.Urls.First(u => u.StartsWith("http://127.0.0.1:", StringComparison.Ordinal)) + "/hook";
        return receiver;
    }

    /// <summary>Waits until <paramref name="count"/> requests (or more) arrived.</summary>
    public async Task<List<ReceivedWebhook>> WaitForAsync(int count, TimeSpan? timeout = null)
    {
        await Eventually.TrueAsync(() => Task.FromResult(Received.Count >= count), $"{count} webhook requests arrived (got {Received.Count})",
            timeout ?? TimeSpan.FromSeconds(20));
        return [.. Received];
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
