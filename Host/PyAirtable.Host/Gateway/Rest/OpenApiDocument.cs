using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf.Reflection;

namespace PyAirtable.Host.Gateway.Rest;

/// <summary>
/// The OpenAPI 3.1 document of the JSON/HTTP API, generated from the same two sources the host serves it from: the
/// routes on the contracts and the exported protos' descriptors. Schemas are the proto3 JSON mapping of each message
/// (JSON names, enums as names, 64-bit integers as strings, Timestamps as date-time), closed to unknown properties as
/// the server is; descriptions are the protos' comments. Deterministic: sorted paths and schemas.
/// </summary>
internal static class OpenApiDocument
{
    public static JsonObject Generate(IEnumerable<Type> contracts, IReadOnlyList<FileDescriptor> files, string version = "v1")
    {
        var services = files.SelectMany(f => f.Services).ToDictionary(s => s.FullName, StringComparer.Ordinal);
        var routes = new List<RestRoute>();
        foreach (var contract in contracts)
        {
            var name = contract.GetCustomAttributes(typeof(ProtoBuf.Grpc.Configuration.ServiceAttribute), false)
                .OfType<ProtoBuf.Grpc.Configuration.ServiceAttribute>().FirstOrDefault()?.Name;
            if (name is not null && services.TryGetValue(name, out var service))
            {
                routes.AddRange(RestRouteTable.RoutesOf(contract, service));
            }
        }

        var schemas = new SortedDictionary<string, JsonNode>(StringComparer.Ordinal);
        var paths = new SortedDictionary<string, JsonObject>(StringComparer.Ordinal);
        foreach (var route in routes.OrderBy(r => r.Template, StringComparer.Ordinal).ThenBy(r => r.Verb, StringComparer.Ordinal))
        {
            if (!paths.TryGetValue(route.Template, out var item))
            {
                paths[route.Template] = item = [];
            }

            item[route.Verb.ToLowerInvariant()] = Operation(route, schemas);
        }

        schemas["google.rpc.Status"] = StatusSchema();
        var pathsNode = new JsonObject();
        foreach (var (path, item) in paths)
        {
            pathsNode[path] = item;
        }

        var schemasNode = new JsonObject();
        foreach (var (name, schema) in schemas)
        {
            schemasNode[name] = schema;
        }

        return new JsonObject
        {
            ["openapi"] = "3.1.0",
            ["info"] = new JsonObject
            {
                ["title"] = "PyAirtable JSON/HTTP API",
                ["version"] = version,
                ["description"] = "The platform's gRPC contracts over JSON/HTTP: the same methods, validation, errors and limits. "
                    + "Bodies are proto3 canonical JSON; errors are google.rpc.Status; server streams are newline-delimited JSON "
                    + "(or Server-Sent Events with Accept: text/event-stream).",
            },
            ["security"] = new JsonArray(new JsonObject { ["bearer"] = new JsonArray() }, new JsonObject { ["apiKey"] = new JsonArray() }),
            ["paths"] = pathsNode,
            ["components"] = new JsonObject
            {
                ["schemas"] = schemasNode,
                ["securitySchemes"] = new JsonObject
                {
                    ["bearer"] = new JsonObject { ["type"] = "http", ["scheme"] = "bearer", ["bearerFormat"] = "JWT" },
                    ["apiKey"] = new JsonObject { ["type"] = "apiKey", ["in"] = "header", ["name"] = "x-api-key" },
                },
            },
        };
    }

    public static string ToText(JsonObject document) =>
        // A file people read, served as application/json (never into HTML): no need to escape quotes and the like.
        document.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n";

    /// <summary>
    /// <c>UserService_GetUser</c> for v1 (as released), <c>UserServiceV2_GetUser</c> for other package versions: operation
    /// ids must be unique in the document, and a v2 beside v1 has the same service and method names.
    /// </summary>
    private static string OperationId(MethodDescriptor method)
    {
        var version = method.Service.File.Package.Split('.')[^1];
        var suffix = version == "v1" ? "" : char.ToUpperInvariant(version[0]) + version[1..];
        return method.Service.Name + suffix + "_" + method.Name;
    }

    private static JsonObject Operation(RestRoute route, SortedDictionary<string, JsonNode> schemas)
    {
        var method = route.Method;
        var input = method.InputType;
        Register(input, schemas);
        Register(method.OutputType, schemas);
        var pathFields = route.Segments.Where(s => s.StartsWith('{')).Select(s => s[1..^1]).ToHashSet(StringComparer.Ordinal);
        var parameters = new JsonArray();
        foreach (var name in pathFields.Order(StringComparer.Ordinal))
        {
            var field = input.FindFieldByName(name);
            parameters.Add(new JsonObject { ["name"] = name, ["in"] = "path", ["required"] = true, ["schema"] = FieldSchema(field, schemas) });
        }

        if (!route.HasBody && !(route.Method.IsClientStreaming && route.StreamField is null))
        {
            foreach (var (name, field) in QueryFields(input, "", 0).Where(q => !pathFields.Contains(q.Name) && q.Name != route.StreamField?.Name))
            {
                var parameter = new JsonObject { ["name"] = name, ["in"] = "query", ["schema"] = FieldSchema(field, schemas) };
                if (Comment(field.Declaration) is { } description)
                {
                    parameter["description"] = description;
                }

                parameters.Add(parameter);
            }
        }

        var responseSchema = new JsonObject { ["$ref"] = Ref(method.OutputType) };
        var content = route.ServerStreaming
            ? new JsonObject
            {
                ["application/x-ndjson"] = new JsonObject { ["schema"] = responseSchema },
                ["text/event-stream"] = new JsonObject { ["schema"] = responseSchema.DeepClone() },
            }
            : new JsonObject { ["application/json"] = new JsonObject { ["schema"] = responseSchema } };
        var operation = new JsonObject
        {
            ["operationId"] = OperationId(method),
            ["tags"] = new JsonArray(method.Service.FullName),
        };
        // From the exported protos' own options, as the rest of the document: a service or method the contract deprecates.
        if (method.GetOptions()?.Deprecated == true || method.Service.GetOptions()?.Deprecated == true)
        {
            operation["deprecated"] = true;
        }

        if (Comment(method.Declaration) is { } summary)
        {
            operation["description"] = summary;
        }

        if (parameters.Count > 0)
        {
            operation["parameters"] = parameters;
        }

        if (route.Method.IsClientStreaming && route.StreamField is null)
        {
            // A client stream of messages: one per line of newline-delimited JSON.
            Register(input, schemas);
            operation["requestBody"] = new JsonObject
            {
                ["required"] = true,
                ["description"] = "Newline-delimited JSON: each line is one message of the request stream.",
                ["content"] = new JsonObject
                {
                    ["application/x-ndjson"] = new JsonObject { ["schema"] = new JsonObject { ["$ref"] = Ref(input) } },
                },
            };
        }

        if (route.StreamField is not null)
        {
            // A client stream: the raw bytes of the body, streamed into the bytes field of its messages.
            operation["requestBody"] = new JsonObject
            {
                ["required"] = true,
                ["description"] = $"The raw bytes, streamed into the '{route.StreamField.Name}' field of the request stream.",
                ["content"] = new JsonObject
                {
                    ["application/octet-stream"] = new JsonObject { ["schema"] = new JsonObject { ["type"] = "string", ["format"] = "binary" } },
                },
            };
        }

        if (route.HasBody)
        {
            operation["requestBody"] = new JsonObject
            {
                ["required"] = true,
                ["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = new JsonObject { ["$ref"] = Ref(input) } } },
            };
        }

        operation["responses"] = new JsonObject
        {
            ["200"] = new JsonObject { ["description"] = "The response message" + (route.ServerStreaming ? "s, one per line." : "."), ["content"] = content },
            ["default"] = new JsonObject
            {
                ["description"] = "An error: google.rpc.Status with the HTTP status grpc-gateway maps its code to.",
                ["content"] = new JsonObject
                {
                    ["application/json"] = new JsonObject { ["schema"] = new JsonObject { ["$ref"] = "#/components/schemas/google.rpc.Status" } },
                },
            },
        };
        return operation;
    }

    /// <summary>Scalar fields reachable without repetition, named by dotted proto path (<c>pagination.page_size</c>).</summary>
    private static IEnumerable<(string Name, FieldDescriptor Field)> QueryFields(MessageDescriptor message, string prefix, int depth)
    {
        foreach (var field in message.Fields.InDeclarationOrder())
        {
            if (field.IsMap)
            {
                continue;
            }

            if (field.FieldType == FieldType.Message && !IsWellKnown(field.MessageType))
            {
                if (!field.IsRepeated && depth < 2)
                {
                    foreach (var nested in QueryFields(field.MessageType, prefix + field.Name + ".", depth + 1))
                    {
                        yield return nested;
                    }
                }

                continue;
            }

            yield return (prefix + field.Name, field);
        }
    }

    private static void Register(MessageDescriptor message, SortedDictionary<string, JsonNode> schemas)
    {
        if (IsWellKnown(message) || schemas.ContainsKey(message.FullName))
        {
            return;
        }

        var properties = new JsonObject();
        schemas[message.FullName] = new JsonObject(); // placeholder: recursion ends here
        foreach (var field in message.Fields.InDeclarationOrder())
        {
            var schema = FieldSchema(field, schemas);
            if (Comment(field.Declaration) is { } description)
            {
                schema["description"] = description;
            }

            properties[field.JsonName] = schema;
        }

        var node = new JsonObject { ["type"] = "object", ["properties"] = properties, ["additionalProperties"] = false };
        if (Comment(message.Declaration) is { } about)
        {
            node["description"] = about;
        }

        schemas[message.FullName] = node;
    }

    private static JsonObject FieldSchema(FieldDescriptor field, SortedDictionary<string, JsonNode> schemas)
    {
        if (field.IsMap)
        {
            return new JsonObject
            {
                ["type"] = "object",
                ["additionalProperties"] = SingleSchema(field.MessageType.FindFieldByNumber(2), schemas),
            };
        }

        var single = SingleSchema(field, schemas);
        return field.IsRepeated ? new JsonObject { ["type"] = "array", ["items"] = single } : single;
    }

    private static JsonObject SingleSchema(FieldDescriptor field, SortedDictionary<string, JsonNode> schemas)
    {
        switch (field.FieldType)
        {
            case FieldType.Message when field.MessageType.FullName == "google.protobuf.Timestamp":
                return new JsonObject { ["type"] = "string", ["format"] = "date-time" };
            case FieldType.Message when field.MessageType.FullName == "google.protobuf.Duration":
                return new JsonObject { ["type"] = "string", ["pattern"] = "^-?[0-9]+(\\.[0-9]{1,9})?s$", ["examples"] = new JsonArray("1.5s") };
            case FieldType.Message:
                Register(field.MessageType, schemas);
                return new JsonObject { ["$ref"] = Ref(field.MessageType) };
            case FieldType.Enum:
                return new JsonObject { ["type"] = "string", ["enum"] = new JsonArray(field.EnumType.Values.Select(v => (JsonNode)v.Name).ToArray()) };
            case FieldType.String:
                return new JsonObject { ["type"] = "string" };
            case FieldType.Bytes:
                return new JsonObject { ["type"] = "string", ["contentEncoding"] = "base64" };
            case FieldType.Bool:
                return new JsonObject { ["type"] = "boolean" };
            case FieldType.Double or FieldType.Float:
                return new JsonObject { ["type"] = "number", ["format"] = field.FieldType == FieldType.Double ? "double" : "float" };
            case FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64:
                return new JsonObject { ["type"] = "string", ["format"] = "int64", ["pattern"] = "^-?[0-9]+$" };
            case FieldType.UInt64 or FieldType.Fixed64:
                return new JsonObject { ["type"] = "string", ["format"] = "uint64", ["pattern"] = "^[0-9]+$" };
            case FieldType.UInt32 or FieldType.Fixed32:
                return new JsonObject { ["type"] = "integer", ["format"] = "uint32", ["minimum"] = 0 };
            default:
                return new JsonObject { ["type"] = "integer", ["format"] = "int32" };
        }
    }

    private static JsonObject StatusSchema() => new()
    {
        ["type"] = "object",
        ["description"] = "google.rpc.Status: the gRPC code, a message, and details (ErrorInfo with the request id, BadRequest field violations, RetryInfo).",
        ["properties"] = new JsonObject
        {
            ["code"] = new JsonObject { ["type"] = "integer", ["format"] = "int32" },
            ["message"] = new JsonObject { ["type"] = "string" },
            ["details"] = new JsonObject
            {
                ["type"] = "array",
                ["items"] = new JsonObject
                {
                    ["type"] = "object",
                    ["properties"] = new JsonObject { ["@type"] = new JsonObject { ["type"] = "string" } },
                    ["required"] = new JsonArray("@type"),
                    ["additionalProperties"] = true,
                },
            },
        },
    };

    private static string Ref(MessageDescriptor message) => "#/components/schemas/" + message.FullName;

    private static bool IsWellKnown(MessageDescriptor type) => type.FullName is "google.protobuf.Timestamp" or "google.protobuf.Duration";

    private static string? Comment(DescriptorDeclaration? declaration)
    {
        var text = declaration?.LeadingComments?.Trim();
        return string.IsNullOrEmpty(text) ? null : string.Join(' ', text.Split('\n', StringSplitOptions.TrimEntries));
    }
}
