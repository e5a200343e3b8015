using System.Globalization;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace PyAirtable.Host.Gateway.Rest;

/// <summary>
/// Protobuf wire bytes → proto3 canonical JSON, driven by the descriptors of the exported protos: lowerCamelCase JSON
/// names, enums as names, Timestamps as RFC 3339, Durations as "1.5s", 64-bit integers as strings, bytes as base64,
/// fields without presence omitted when they hold their default. Fields are written in declaration order.
/// </summary>
internal static class ProtoJsonWriter
{
    public static void Write(Utf8JsonWriter json, MessageDescriptor descriptor, ReadOnlySpan<byte> wire) =>
        WriteMessage(json, descriptor, ByteString.CopyFrom(wire));

    private static void WriteMessage(Utf8JsonWriter json, MessageDescriptor descriptor, ByteString wire)
    {
        switch (descriptor.FullName)
        {
            case "google.protobuf.Timestamp":
                var timestamp = Google.Protobuf.WellKnownTypes.Timestamp.Parser.ParseFrom(wire);
                json.WriteStringValue(FormatTimestamp(timestamp));
                return;
            case "google.protobuf.Duration":
                var duration = Google.Protobuf.WellKnownTypes.Duration.Parser.ParseFrom(wire);
                var total = duration.Seconds + (duration.Nanos / 1_000_000_000m);
                json.WriteStringValue(total.ToString("0.#########", CultureInfo.InvariantCulture) + "s");
                return;
        }

        var values = Decode(descriptor, wire);
        json.WriteStartObject();
        foreach (var field in descriptor.Fields.InDeclarationOrder())
        {
            if (!values.TryGetValue(field.FieldNumber, out var list))
            {
                continue;
            }

            if (field.IsMap)
            {
                json.WritePropertyName(field.JsonName);
                json.WriteStartObject();
                foreach (ByteString entry in list)
                {
                    var pair = Decode(field.MessageType, entry);
                    var keyField = field.MessageType.FindFieldByNumber(1);
                    var valueField = field.MessageType.FindFieldByNumber(2);
                    var key = pair.TryGetValue(1, out var k) ? Convert.ToString(k[^1], CultureInfo.InvariantCulture) ?? "" : "";
                    json.WritePropertyName(keyField.FieldType == FieldType.Bool ? key.ToLowerInvariant() : key);
                    WriteValue(json, valueField, pair.TryGetValue(2, out var v) ? v[^1] : DefaultOf(valueField));
                }

                json.WriteEndObject();
            }
            else if (field.IsRepeated)
            {
                json.WritePropertyName(field.JsonName);
                json.WriteStartArray();
                foreach (var item in list)
                {
                    WriteValue(json, field, item);
                }

                json.WriteEndArray();
            }
            else
            {
                var last = list[^1];
                if (!field.HasPresence && IsDefault(last))
                {
                    continue;
                }

                json.WritePropertyName(field.JsonName);
                WriteValue(json, field, last);
            }
        }

        json.WriteEndObject();
    }

    private static Dictionary<int, List<object>> Decode(MessageDescriptor descriptor, ByteString wire)
    {
        var values = new Dictionary<int, List<object>>();
        var input = wire.CreateCodedInput();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            var number = WireFormat.GetTagFieldNumber(tag);
            var field = descriptor.FindFieldByNumber(number);
            if (field is null)
            {
                input.SkipLastField(); // not in the exported contract: a JSON client never sees it
                continue;
            }

            if (!values.TryGetValue(number, out var list))
            {
                values[number] = list = [];
            }

            if (WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited && IsPackable(field.FieldType))
            {
                var packed = input.ReadBytes().CreateCodedInput();
                while (!packed.IsAtEnd)
                {
                    list.Add(ReadScalar(packed, field.FieldType));
                }
            }
            else
            {
                list.Add(ReadScalar(input, field.FieldType));
            }
        }

        return values;
    }

    private static bool IsPackable(FieldType type) => type is not (FieldType.String or FieldType.Bytes or FieldType.Message or FieldType.Group);

    private static object ReadScalar(CodedInputStream input, FieldType type) => type switch
    {
        FieldType.Double => input.ReadDouble(),
        FieldType.Float => input.ReadFloat(),
        FieldType.Int64 => input.ReadInt64(),
        FieldType.UInt64 => input.ReadUInt64(),
        FieldType.Int32 => input.ReadInt32(),
        FieldType.Fixed64 => input.ReadFixed64(),
        FieldType.Fixed32 => input.ReadFixed32(),
        FieldType.Bool => input.ReadBool(),
        FieldType.String => input.ReadString(),
        FieldType.Message or FieldType.Bytes => input.ReadBytes(),
        FieldType.UInt32 => input.ReadUInt32(),
        FieldType.Enum => new EnumNumber(input.ReadEnum()),
        FieldType.SFixed32 => input.ReadSFixed32(),
        FieldType.SFixed64 => input.ReadSFixed64(),
        FieldType.SInt32 => input.ReadSInt32(),
        FieldType.SInt64 => input.ReadSInt64(),
        _ => throw new InvalidOperationException($"Unsupported field type {type}."),
    };

    private readonly record struct EnumNumber(int Value);

    private static bool IsDefault(object value) => value switch
    {
        string s => s.Length == 0,
        ByteString b => b.IsEmpty,
        bool b => !b,
        EnumNumber e => e.Value == 0,
        double d => d == 0 && !double.IsNegative(d),
        float f => f == 0 && !float.IsNegative(f),
        int i => i == 0,
        long l => l == 0,
        uint u => u == 0,
        ulong u => u == 0,
        _ => false,
    };

    private static object DefaultOf(FieldDescriptor field) => field.FieldType switch
    {
        FieldType.String => "",
        FieldType.Bytes or FieldType.Message => ByteString.Empty,
        FieldType.Bool => false,
        FieldType.Enum => new EnumNumber(0),
        FieldType.Double => 0d,
        FieldType.Float => 0f,
        FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 => 0L,
        FieldType.UInt64 or FieldType.Fixed64 => 0UL,
        FieldType.UInt32 or FieldType.Fixed32 => 0U,
        _ => 0,
    };

    private static void WriteValue(Utf8JsonWriter json, FieldDescriptor field, object value)
    {
        switch (value)
        {
            case ByteString bytes when field.FieldType == FieldType.Message:
                WriteMessage(json, field.MessageType, bytes);
                break;
            case ByteString bytes:
                json.WriteStringValue(bytes.ToBase64());
                break;
            case string s:
                json.WriteStringValue(s);
                break;
            case bool b:
                json.WriteBooleanValue(b);
                break;
            case EnumNumber e:
                var name = field.EnumType.FindValueByNumber(e.Value)?.Name;
                if (name is null) { json.WriteNumberValue(e.Value); } else { json.WriteStringValue(name); }
                break;
            case long l:
                json.WriteStringValue(l.ToString(CultureInfo.InvariantCulture));
                break;
            case ulong u:
                json.WriteStringValue(u.ToString(CultureInfo.InvariantCulture));
                break;
            case int i:
                json.WriteNumberValue(i);
                break;
            case uint u:
                json.WriteNumberValue(u);
                break;
            case double d:
                WriteFloating(json, d);
                break;
            case float f:
                WriteFloating(json, f);
                break;
        }
    }

    private static void WriteFloating(Utf8JsonWriter json, double value)
    {
        if (double.IsNaN(value)) { json.WriteStringValue("NaN"); }
        else if (double.IsPositiveInfinity(value)) { json.WriteStringValue("Infinity"); }
        else if (double.IsNegativeInfinity(value)) { json.WriteStringValue("-Infinity"); }
        else { json.WriteNumberValue(value); }
    }

    /// <summary>RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits, as the proto3 JSON mapping writes it.</summary>
    internal static string FormatTimestamp(Google.Protobuf.WellKnownTypes.Timestamp timestamp)
    {
        var time = DateTimeOffset.FromUnixTimeSeconds(timestamp.Seconds).UtcDateTime;
        var text = time.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture);
        var nanos = timestamp.Nanos;
        if (nanos != 0)
        {
            text += nanos % 1_000_000 == 0 ? "." + (nanos / 1_000_000).ToString("000", CultureInfo.InvariantCulture)
                : nanos % 1000 == 0 ? "." + (nanos / 1000).ToString("000000", CultureInfo.InvariantCulture)
                : "." + nanos.ToString("000000000", CultureInfo.InvariantCulture);
        }

        return text + "Z";
    }
}
