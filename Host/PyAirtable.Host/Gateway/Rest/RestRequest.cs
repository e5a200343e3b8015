using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf.Reflection;

namespace PyAirtable.Host.Gateway.Rest;

/// <summary>
/// A JSON request that does not fit its message. It does not end the call here: the call goes on as a gRPC call with an
/// empty message, and the server's marshaller (<see cref="StrictMarshallerFactory"/>) refuses it with this field
/// violation at the point where it refuses undecodable protobuf bytes — after authentication, with the request id,
/// through the same error mapping and metrics — so a JSON client and a gRPC client get the same answer.
/// </summary>
internal sealed record RestRequestProblem(string Field, string Problem);

/// <summary>Builds the request message's wire bytes from a JSON/HTTP request: path fields, query string, JSON body.</summary>
internal static class RestRequest
{
    /// <summary>gRPC's default largest message; a JSON body is refused beyond it.</summary>
    public const int MaxBodyBytes = 4 * 1024 * 1024;

    public static async Task<(byte[] Wire, RestRequestProblem? Problem)> ReadAsync(HttpContext context, RestRoute route,
        Dictionary<string, string> pathFields)
    {
        var input = route.Method.InputType;
        try
        {
            var json = route.HasBody ? await ReadBodyAsync(context.Request) : [];
            foreach (var (key, values) in context.Request.Query)
            {
                foreach (var value in values)
                {
                    Set(json, input, key, value ?? "", fromPath: false);
                }
            }

            foreach (var (field, value) in pathFields)
            {
                Set(json, input, field, value, fromPath: true);
            }

            return (ProtoJsonReader.ToWire(json, input), null);
        }
        catch (ProtoJsonException ex)
        {
            return ([], new RestRequestProblem(ex.Field, ex.Message));
        }
    }

    private static async Task<JsonObject> ReadBodyAsync(HttpRequest request)
    {
        if (request.ContentLength > MaxBodyBytes)
        {
            throw new ProtoJsonException("request", $"the JSON body exceeds {MaxBodyBytes / (1024 * 1024)} MiB");
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, request.HttpContext.RequestAborted)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > MaxBodyBytes)
            {
                throw new ProtoJsonException("request", $"the JSON body exceeds {MaxBodyBytes / (1024 * 1024)} MiB");
            }
        }

        if (buffer.Length == 0)
        {
            return [];
        }

        try
        {
            return JsonNode.Parse(buffer.ToArray()) as JsonObject ?? throw new ProtoJsonException("request", "the body must be a JSON object");
        }
        catch (Exception ex) when (ex is JsonException or ArgumentException or InvalidOperationException)
        {
            throw new ProtoJsonException("request", "the body is not valid JSON");
        }
    }

    /// <summary>Sets a field named by a dotted path (proto or JSON names) from a path or query-string value.</summary>
    private static void Set(JsonObject root, MessageDescriptor message, string dotted, string value, bool fromPath)
    {
        var parts = dotted.Split('.');
        var target = root;
        var path = "";
        for (var i = 0; i < parts.Length; i++)
        {
            var field = message.FindFieldByName(parts[i]) ?? message.Fields.InDeclarationOrder().FirstOrDefault(f => f.JsonName == parts[i])
                ?? throw new ProtoJsonException(path + parts[i], $"unknown field '{parts[i]}' in {message.Name}");
            path += field.Name;
            if (i < parts.Length - 1)
            {
                if (field.FieldType != FieldType.Message || field.IsRepeated || IsWellKnown(field.MessageType))
                {
                    throw new ProtoJsonException(path, "is not a message field");
                }

                if (target[field.Name] is not JsonObject child)
                {
                    target[field.Name] = child = [];
                }

                target = child;
                message = field.MessageType;
                path += ".";
                continue;
            }

            if ((field.FieldType == FieldType.Message && !IsWellKnown(field.MessageType)) || field.IsMap)
            {
                throw new ProtoJsonException(path, "a message cannot be set from the query string; send it in the body");
            }

            JsonNode node = field.FieldType == FieldType.Bool
                ? value switch
                {
                    "true" => JsonValue.Create(true),
                    "false" => JsonValue.Create(false),
                    _ => throw new ProtoJsonException(path, "must be true or false"),
                }
                : JsonValue.Create(value);
            if (field.IsRepeated && !fromPath)
            {
                if (target[field.Name] is not JsonArray array)
                {
                    target[field.Name] = array = [];
                }

                array.Add(node);
            }
            else
            {
                // The path wins over a body that names the same field: the URL is what addressed the resource.
                target.Remove(field.JsonName);
                target[field.Name] = node;
            }
        }
    }

    private static bool IsWellKnown(MessageDescriptor type) => type.FullName is "google.protobuf.Timestamp" or "google.protobuf.Duration";
}
