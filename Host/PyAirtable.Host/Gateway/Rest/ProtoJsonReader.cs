using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace PyAirtable.Host.Gateway.Rest;

/// <summary>A JSON value that is not a valid value of its field: INVALID_ARGUMENT on <see cref="Field"/> (proto naming).</summary>
internal sealed class ProtoJsonException(string field, string problem) : Exception(problem)
{
    public string Field { get; } = field;
}

/// <summary>
/// proto3 canonical JSON → protobuf wire bytes, driven by the descriptors of the exported protos (the files clients
/// generate from), so a JSON client can send exactly the fields those protos declare and nothing else: an unknown
/// field or a value of the wrong type is refused with the field's proto path, as the gRPC path refuses bad bytes.
/// Both the JSON name (lowerCamelCase) and the proto name are accepted, as the proto3 JSON mapping requires.
/// </summary>
internal static class ProtoJsonReader
{
    public static byte[] ToWire(JsonObject json, MessageDescriptor descriptor)
    {
        using var buffer = new MemoryStream();
        var output = new CodedOutputStream(buffer);
        WriteMessage(output, json, descriptor, "");
        output.Flush();
        return buffer.ToArray();
    }

    private static void WriteMessage(CodedOutputStream output, JsonObject json, MessageDescriptor descriptor, string prefix)
    {
        foreach (var (name, value) in json)
        {
            var field = descriptor.FindFieldByName(name) ?? descriptor.Fields.InDeclarationOrder().FirstOrDefault(f => f.JsonName == name)
                ?? throw new ProtoJsonException(prefix + name, $"unknown field '{name}' in {descriptor.Name}");
            var path = prefix + field.Name;
            if (value is null)
            {
                continue; // null is the field's default, as proto3 JSON says
            }

            if (field.IsMap)
            {
                var map = value as JsonObject ?? throw new ProtoJsonException(path, "must be a JSON object");
                var keyField = field.MessageType.FindFieldByNumber(1);
                var valueField = field.MessageType.FindFieldByNumber(2);
                foreach (var (key, entry) in map)
                {
                    var entryJson = new JsonObject { [keyField.Name] = key, [valueField.Name] = entry?.DeepClone() };
                    output.WriteTag(field.FieldNumber, WireFormat.WireType.LengthDelimited);
                    output.WriteBytes(ByteString.CopyFrom(ToWireOf(entryJson, field.MessageType, path + ".")));
                }
            }
            else if (field.IsRepeated)
            {
                var array = value as JsonArray ?? throw new ProtoJsonException(path, "must be a JSON array");
                for (var i = 0; i < array.Count; i++)
                {
                    WriteSingle(output, field, array[i] ?? throw new ProtoJsonException(path, "must not contain null"), $"{path}[{i}]");
                }
            }
            else
            {
                WriteSingle(output, field, value, path);
            }
        }
    }

    private static byte[] ToWireOf(JsonObject json, MessageDescriptor descriptor, string prefix)
    {
        using var buffer = new MemoryStream();
        var output = new CodedOutputStream(buffer);
        WriteMessage(output, json, descriptor, prefix);
        output.Flush();
        return buffer.ToArray();
    }

    private static void WriteSingle(CodedOutputStream output, FieldDescriptor field, JsonNode value, string path)
    {
        var number = field.FieldNumber;
        switch (field.FieldType)
        {
            case FieldType.Message:
                output.WriteTag(number, WireFormat.WireType.LengthDelimited);
                output.WriteBytes(ByteString.CopyFrom(MessageBytes(field.MessageType, value, path)));
                break;
            case FieldType.String:
                output.WriteTag(number, WireFormat.WireType.LengthDelimited);
                output.WriteString(String(value, path));
                break;
            case FieldType.Bytes:
                output.WriteTag(number, WireFormat.WireType.LengthDelimited);
                output.WriteBytes(ByteString.CopyFrom(Bytes(value, path)));
                break;
            case FieldType.Bool:
                output.WriteTag(number, WireFormat.WireType.Varint);
                output.WriteBool(value.GetValueKind() switch
                {
                    JsonValueKind.True => true,
                    JsonValueKind.False => false,
                    _ => throw new ProtoJsonException(path, "must be true or false"),
                });
                break;
            case FieldType.Enum:
                output.WriteTag(number, WireFormat.WireType.Varint);
                output.WriteEnum(EnumNumber(field.EnumType, value, path));
                break;
            case FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32:
                var i32 = checked((int)Integer(value, path, int.MinValue, int.MaxValue));
                WriteInt32(output, field.FieldType, number, i32);
                break;
            case FieldType.UInt32 or FieldType.Fixed32:
                var u32 = checked((uint)Integer(value, path, 0, uint.MaxValue));
                output.WriteTag(number, field.FieldType == FieldType.Fixed32 ? WireFormat.WireType.Fixed32 : WireFormat.WireType.Varint);
                if (field.FieldType == FieldType.Fixed32) { output.WriteFixed32(u32); } else { output.WriteUInt32(u32); }
                break;
            case FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64:
                var i64 = (long)Integer(value, path, long.MinValue, long.MaxValue);
                output.WriteTag(number, field.FieldType == FieldType.SFixed64 ? WireFormat.WireType.Fixed64 : WireFormat.WireType.Varint);
                if (field.FieldType == FieldType.SInt64) { output.WriteSInt64(i64); }
                else if (field.FieldType == FieldType.SFixed64) { output.WriteSFixed64(i64); }
                else { output.WriteInt64(i64); }
                break;
            case FieldType.UInt64 or FieldType.Fixed64:
                var u64 = (ulong)Integer(value, path, 0, ulong.MaxValue);
                output.WriteTag(number, field.FieldType == FieldType.Fixed64 ? WireFormat.WireType.Fixed64 : WireFormat.WireType.Varint);
                if (field.FieldType == FieldType.Fixed64) { output.WriteFixed64(u64); } else { output.WriteUInt64(u64); }
                break;
            case FieldType.Double:
                output.WriteTag(number, WireFormat.WireType.Fixed64);
                output.WriteDouble(Floating(value, path));
                break;
            case FieldType.Float:
                output.WriteTag(number, WireFormat.WireType.Fixed32);
                output.WriteFloat((float)Floating(value, path));
                break;
            default:
                throw new ProtoJsonException(path, $"fields of type {field.FieldType} are not supported over JSON");
        }
    }

    private static void WriteInt32(CodedOutputStream output, FieldType type, int number, int value)
    {
        if (type == FieldType.SFixed32)
        {
            output.WriteTag(number, WireFormat.WireType.Fixed32);
            output.WriteSFixed32(value);
            return;
        }

        output.WriteTag(number, WireFormat.WireType.Varint);
        if (type == FieldType.SInt32) { output.WriteSInt32(value); } else { output.WriteInt32(value); }
    }

    private static byte[] MessageBytes(MessageDescriptor type, JsonNode value, string path)
    {
        switch (type.FullName)
        {
            case "google.protobuf.Timestamp":
                var text = String(value, path);
                if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time)
                    || !text.Contains('T', StringComparison.Ordinal))
                {
                    throw new ProtoJsonException(path, "must be an RFC 3339 timestamp such as 2026-01-31T12:00:00Z");
                }

                return Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(time).ToByteArray();
            case "google.protobuf.Duration":
                var duration = String(value, path);
                if (!duration.EndsWith('s')
                    || !decimal.TryParse(duration[..^1], NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds)
                    || Math.Abs(seconds) > 315_576_000_000m)
                {
                    throw new ProtoJsonException(path, "must be a duration in seconds such as \"1.5s\"");
                }

                var whole = (long)decimal.Truncate(seconds);
                return new Google.Protobuf.WellKnownTypes.Duration { Seconds = whole, Nanos = (int)((seconds - whole) * 1_000_000_000m) }.ToByteArray();
            default:
                return ToWireOf(value as JsonObject ?? throw new ProtoJsonException(path, "must be a JSON object"), type, path + ".");
        }
    }

    private static string String(JsonNode value, string path) =>
        value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : throw new ProtoJsonException(path, "must be a string");

    private static byte[] Bytes(JsonNode value, string path)
    {
        var text = String(value, path).Replace('-', '+').Replace('_', '/');
        text = text.PadRight(text.Length + ((4 - (text.Length % 4)) % 4), '=');
        try
        {
            return Convert.FromBase64String(text);
        }
        catch (FormatException)
        {
            throw new ProtoJsonException(path, "must be base64");
        }
    }

    private static int EnumNumber(EnumDescriptor type, JsonNode value, string path)
    {
        if (value.GetValueKind() == JsonValueKind.String)
        {
            return type.FindValueByName(value.GetValue<string>())?.Number
                ?? throw new ProtoJsonException(path, $"must be one of {string.Join(", ", type.Values.Select(v => v.Name))}");
        }

        return checked((int)Integer(value, path, int.MinValue, int.MaxValue));
    }

    /// <summary>An integer from a JSON number or a decimal string (64-bit values travel as strings), within range.</summary>
    private static decimal Integer(JsonNode value, string path, decimal min, decimal max)
    {
        decimal parsed;
        var kind = value.GetValueKind();
        if (kind == JsonValueKind.Number)
        {
            if (!value.AsValue().TryGetValue<decimal>(out parsed))
            {
                throw new ProtoJsonException(path, "must be an integer");
            }
        }
        else if (kind != JsonValueKind.String
            || !decimal.TryParse(value.GetValue<string>(), NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent,
                CultureInfo.InvariantCulture, out parsed))
        {
            throw new ProtoJsonException(path, "must be an integer");
        }

        if (parsed != decimal.Truncate(parsed) || parsed < min || parsed > max)
        {
            throw new ProtoJsonException(path, $"must be an integer from {min} to {max}");
        }

        return parsed;
    }

    private static double Floating(JsonNode value, string path)
    {
        var kind = value.GetValueKind();
        if (kind == JsonValueKind.Number)
        {
            return value.GetValue<double>();
        }

        if (kind == JsonValueKind.String)
        {
            var text = value.GetValue<string>();
            switch (text)
            {
                case "NaN": return double.NaN;
                case "Infinity": return double.PositiveInfinity;
                case "-Infinity": return double.NegativeInfinity;
            }

            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed))
            {
                return parsed;
            }
        }

        throw new ProtoJsonException(path, "must be a number");
    }
}
