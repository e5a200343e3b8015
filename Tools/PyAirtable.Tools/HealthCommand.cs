using System.CommandLine;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;

namespace PyAirtable.Tools;

/// <summary>
/// <c>pyairtable health</c>: asks a running host's grpc.health.v1 service, once or until a status
/// is reached (<c>--wait</c>, which scripts use to know the platform is up), or follows it (<c>--watch</c>).
/// Exit code 0 when the last status seen is SERVING, 1 otherwise.
/// </summary>
public static class HealthCommand
{
    public static Command Create()
    {
        // A string, checked below: System.CommandLine has no Uri parser and would throw.
        var address = new Option<string>("--address", "-a")
        {
            Description = "The host's gRPC address (http:// for h2c, https:// for TLS).",
            DefaultValueFactory = _ => "http://127.0.0.1:50051",
        };
        address.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<string>();
            if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                result.AddError($"--address must be an http:// or https:// URL, not '{value}'.");
            }
        });
        var service = new Option<string>("--service", "-s")
        {
            Description = "A service name (e.g. pyairtable.users.v1.UserService); empty for the whole host.",
            DefaultValueFactory = _ => "",
        };
        var wait = new Option<TimeSpan?>("--wait")
        {
            Description = "Keep asking until SERVING or this long has passed (e.g. 00:01:00).",
        };
        var watch = new Option<bool>("--watch")
        {
            Description = "Stream status changes until interrupted.",
        };

        var command = new Command("health", "Check a running host's health (grpc.health.v1).") { address, service, wait, watch };
        command.SetAction((parse, cancellationToken) => RunAsync(
            new Uri(parse.GetValue(address)!), parse.GetValue(service) ?? "", parse.GetValue(wait), parse.GetValue(watch), cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(Uri address, string service, TimeSpan? wait, bool watch, CancellationToken cancellationToken)
    {
        using var channel = GrpcChannel.ForAddress(address);
        var client = new Health.HealthClient(channel);
        var request = new HealthCheckRequest { Service = service };
        var label = service.Length == 0 ? "(host)" : service;

        if (watch)
        {
            var last = HealthCheckResponse.Types.ServingStatus.Unknown;
            try
            {
                using var call = client.Watch(request, cancellationToken: cancellationToken);
                await foreach (var update in call.ResponseStream.ReadAllAsync(cancellationToken))
                {
                    last = update.Status;
                    Console.WriteLine($"{DateTime.UtcNow:O} {label} {Name(update.Status)}");
                }
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled)
            {
            }

            return last == HealthCheckResponse.Types.ServingStatus.Serving ? 0 : 1;
        }

        var deadline = DateTime.UtcNow + (wait ?? TimeSpan.Zero);
        while (true)
        {
            string outcome;
            var serving = false;
            try
            {
                var response = await client.CheckAsync(request, deadline: DateTime.UtcNow.AddSeconds(5), cancellationToken: cancellationToken);
                serving = response.Status == HealthCheckResponse.Types.ServingStatus.Serving;
                outcome = Name(response.Status);
            }
            catch (RpcException ex)
            {
                outcome = ex.StatusCode == StatusCode.NotFound ? "SERVICE_UNKNOWN" : $"UNREACHABLE ({ex.StatusCode}: {ex.Status.Detail})";
            }

            if (serving || DateTime.UtcNow >= deadline)
            {
                Console.WriteLine($"{label} {outcome}");
                return serving ? 0 : 1;
            }

            await Task.Delay(500, cancellationToken);
        }
    }

    private static string Name(HealthCheckResponse.Types.ServingStatus status) => status switch
    {
        HealthCheckResponse.Types.ServingStatus.Serving => "SERVING",
        HealthCheckResponse.Types.ServingStatus.NotServing => "NOT_SERVING",
        HealthCheckResponse.Types.ServingStatus.ServiceUnknown => "SERVICE_UNKNOWN",
        _ => "UNKNOWN",
    };
}
