using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.Host.Gateway.Rest;
using PyAirtable.IntegrationTests.Access;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;

namespace PyAirtable.IntegrationTests.Rest;

/// <summary>
/// Every RPC with a route, called through gRPC and through JSON/HTTP with the same caller and the same input: the same
/// status code (and field violations), and when both succeed the same data field by field — the gRPC response decoded
/// with the exported descriptors against the REST body. Ids and times that a call creates anew are compared by presence.
/// </summary>
public sealed class RestParityTests(HostFixture fixture) : HostTests(fixture)
{
    private static readonly TimeSpan StreamWait = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Calls whose first run changes what the second meets: a mail cool-down, and Logout, which ends the session of the
    /// token every later call uses (RestApiTests and the Python walk cover both over JSON/HTTP).
    /// </summary>
    private static readonly HashSet<string> NotRepeatable = new(StringComparer.Ordinal)
    {
        "/pyairtable.auth.v1.AuthService/SendVerificationEmail",
        "/pyairtable.auth.v1.AuthService/Logout",
    };

    /// <summary>Calls that destroy what they name get ids that name nothing, so both protocols meet the same state.</summary>
    private static readonly string[] Destructive = ["Delete", "Remove", "Leave", "Resign", "Deactivate", "Revoke", "Abort", "Decline", "Unassign"];

    private TestHost Host => Fixture.Host;

    [Fact]
    public async Task EveryRoute_SameStatusAndData_OverGrpcAndRest()
    {
        var user = await Host.RegisterAsync();
        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Parity" }, user.Bearer)).Workspace!;
        var baseId = (await Host.Workspaces().CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace.Id, Name = "Parity base" }, user.Bearer)).Base!.Id;
        var ids = new Dictionary<string, string> { ["workspace_id"] = workspace.Id, ["base_id"] = baseId, ["user_id"] = user.UserId };

        var routes = Host.App.Services.GetRequiredService<RestRouteTable>().Routes
            // Client streams: RestUploadTests and RestIngestTests.
            .Where(r => !NotRepeatable.Contains(r.GrpcPath) && !r.Method.IsClientStreaming).ToList();
        Assert.True(routes.Count > 70, $"only {routes.Count} routes");
        using var http = Host.RestClient();
        var mismatches = new List<string>();
        var succeeded = 0;
        var unauthenticated = 0;
        foreach (var route in routes)
        {
            var destructive = Destructive.Any(d => route.Method.Name.StartsWith(d, StringComparison.Ordinal));
            var fields = route.Segments.Where(s => s.StartsWith('{')).Select(s => s[1..^1])
                .ToDictionary(f => f, f => !destructive && ids.TryGetValue(f, out var id) ? id : "no-such-" + f);
            var json = new JsonObject();
            foreach (var (field, value) in fields)
            {
                json[field] = value;
            }

            var grpc = await CallGrpcAsync(route, ProtoJsonReader.ToWire(json, route.Method.InputType), user.Tokens.AccessToken);
            var rest = await CallRestAsync(http, route, fields, user.Tokens.AccessToken);
            if (Describe(grpc) != Describe(rest))
            {
                mismatches.Add($"{route.Verb} {route.Template}: gRPC {Describe(grpc)} | REST {Describe(rest)}");
            }
            else if (grpc.Data is not null)
            {
                succeeded++;
            }

            unauthenticated += grpc.Code == (int)StatusCode.Unauthenticated ? 1 : 0;
        }

        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
        Assert.True(unauthenticated < 5, $"{unauthenticated} routes refused the caller: the session ended mid-test");
        Assert.True(succeeded >= 8, $"only {succeeded} routes succeeded both ways: the comparison of data proved little");
        Host.WaitForQuiet();
    }

    private sealed record Outcome(int Code, string Violations, JsonNode? Data);

    /// <summary>The code, violations and data with the values a call mints anew (ids, times, tokens) reduced to their presence.</summary>
    private static string Describe(Outcome outcome) =>
        $"code={outcome.Code} violations=[{outcome.Violations}] data={Normalize(outcome.Data)?.ToJsonString()}";

    private static JsonNode? Normalize(JsonNode? node, string name = "")
    {
        switch (node)
        {
            case JsonObject obj:
                var copy = new JsonObject();
                foreach (var (key, value) in obj.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    copy[key] = Normalize(value, key);
                }

                return copy;
            case JsonArray array:
                return new JsonArray(array.Select(item => Normalize(item, name)).ToArray());
            case null:
                return null;
            default:
                var minted = name.EndsWith("Id", StringComparison.Ordinal) || name is "id" or "etag" || name.EndsWith("At", StringComparison.Ordinal)
                    || name.EndsWith("Token", StringComparison.Ordinal) || name.EndsWith("Key", StringComparison.Ordinal) || name == "expiresAt"
                    // A health report's dependency timings: measured anew whenever the checks run again between the two calls.
                    || name == "duration";
                return minted ? JsonValue.Create("<present>") : node.DeepClone();
        }
    }

    private async Task<Outcome> CallGrpcAsync(RestRoute route, byte[] request, string token)
    {
        var marshaller = Marshallers.Create(static (byte[] b) => b, static b => b);
        var type = route.ServerStreaming ? MethodType.ServerStreaming : MethodType.Unary;
        var method = new Method<byte[], byte[]>(type, route.Method.Service.FullName, route.Method.Name, marshaller, marshaller);
        using var cts = new CancellationTokenSource(route.ServerStreaming ? StreamWait : TimeSpan.FromSeconds(30));
        var options = new CallOptions(new Metadata { { "authorization", "Bearer " + token } }, cancellationToken: cts.Token);
        var invoker = Host.Channel.CreateCallInvoker();
        try
        {
            byte[] response;
            if (route.ServerStreaming)
            {
                using var call = invoker.AsyncServerStreamingCall(method, null, options, request);
                if (!await call.ResponseStream.MoveNext(cts.Token))
                {
                    return new Outcome(0, "", null);
                }

                response = call.ResponseStream.Current;
            }
            else
            {
                response = await invoker.AsyncUnaryCall(method, null, options, request);
            }

            var buffer = new System.Buffers.ArrayBufferWriter<byte>();
            await using (var json = new Utf8JsonWriter(buffer))
            {
                ProtoJsonWriter.Write(json, route.Method.OutputType, response);
            }

            return new Outcome(0, "", JsonNode.Parse(buffer.WrittenSpan));
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled && cts.IsCancellationRequested)
        {
            return new Outcome(-1, "", null); // an open stream with nothing to say yet
        }
        catch (RpcException ex)
        {
            var violations = ex.GetRpcStatus()?.GetDetail<Google.Rpc.BadRequest>()?.FieldViolations.Select(v => v.Field + ": " + v.Description) ?? [];
            return new Outcome((int)ex.StatusCode, string.Join("; ", violations), null);
        }
    }

    private static async Task<Outcome> CallRestAsync(HttpClient http, RestRoute route, Dictionary<string, string> fields, string token)
    {
        var path = "/" + string.Join('/', route.Segments.Select(s => s.StartsWith('{') ? Uri.EscapeDataString(fields[s[1..^1]]) : s)) + route.CustomVerb;
        using var request = new HttpRequestMessage(new HttpMethod(route.Verb), path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (route.HasBody)
        {
            request.Content = new StringContent("{}", System.Text.Encoding.UTF8, "application/json");
        }

        using var cts = new CancellationTokenSource(route.ServerStreaming ? StreamWait : TimeSpan.FromSeconds(30));
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
            var text = route.ServerStreaming && response.IsSuccessStatusCode ? await reader.ReadLineAsync(cts.Token) : await reader.ReadToEndAsync(cts.Token);
            if (string.IsNullOrEmpty(text))
            {
                return new Outcome(0, "", null);
            }

            var body = JsonNode.Parse(text)!;
            if (!response.IsSuccessStatusCode || body["error"] is not null)
            {
                var status = body["error"] ?? body;
                var code = status["code"]!.GetValue<int>();
                Assert.Equal(RestResponseWriter.HttpStatusOf(code), (int)response.StatusCode);
                var violations = RestApiTests.Violations(status).Select(v => v.Field + ": " + v.Description);
                return new Outcome(code, string.Join("; ", violations), null);
            }

            return new Outcome(0, "", body);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            return new Outcome(-1, "", null);
        }
    }
}
