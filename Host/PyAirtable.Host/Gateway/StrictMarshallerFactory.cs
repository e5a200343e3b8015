using System.Buffers;
using System.Collections.Concurrent;
using Grpc.Core;
using ProtoBuf;
using ProtoBuf.Grpc.Configuration;
using ProtoBuf.Meta;
using PyAirtable.Contracts.Common;
using PyAirtable.Services.Infrastructure.Errors;

namespace PyAirtable.Host.Gateway;

/// <summary>
/// The server's protobuf marshallers (protobuf-net's default model, contextual buffers), strict about
/// what arrives: bytes that do not decode as the request message, or strings that are not valid UTF-8
/// (proto3 requires it; protobuf-net would silently put U+FFFD in their place), are INVALID_ARGUMENT with
/// the platform's ErrorInfo and request id — not UNKNOWN "Exception was thrown by handler" with an
/// error-level stack trace. Anonymous callers can send such bytes at will, so they are logged as one
/// rate-limited warning, never per call.
/// </summary>
internal sealed partial class StrictMarshallerFactory(IHttpContextAccessor http, ILogger<StrictMarshallerFactory> logger, TimeProvider time)
    : MarshallerFactory
{
    private static readonly RuntimeTypeModel Model = RuntimeTypeModel.Default;
    private static readonly TimeSpan WarningInterval = TimeSpan.FromSeconds(10);
    private long _rejected;
    private long _nextWarning;

    protected override bool CanSerialize(Type type) => Model.CanSerialize(type);

    protected override Marshaller<T> CreateMarshaller<T>() => new(SerializeContextual, DeserializeContextual<T>);

    private static void SerializeContextual<T>(T value, Grpc.Core.SerializationContext context)
    {
        using var measured = Model.Measure(value);
        context.SetPayloadLength(checked((int)measured.Length));
        measured.Serialize(context.GetBufferWriter());
        context.Complete();
    }

    private T DeserializeContextual<T>(DeserializationContext context)
    {
        var payload = context.PayloadAsReadOnlySequence();
        string field, problem;
        // A JSON/HTTP request that did not fit its message is refused here, where undecodable bytes are.
        if (http.HttpContext?.Features.Get<Rest.RestRequestProblem>() is { } json)
        {
            throw Reject(json.Field, json.Problem);
        }

        try
        {
            var found = Utf8Check.FindProblem(typeof(T), payload);
            if (found is null)
            {
                return Model.Deserialize<T>(payload);
            }

            (field, problem) = found.Value;
        }
        catch (Exception ex) when (ex is ProtoException or EndOfStreamException or OverflowException or InvalidOperationException or ArgumentException)
        {
            (field, problem) = ("request", "the bytes received are not a valid protobuf " + typeof(T).Name + " message");
        }

        throw Reject(field, problem);
    }

    private RpcException Reject(string field, string problem)
    {
        var rejected = Interlocked.Increment(ref _rejected);
        var now = time.GetTimestamp();
        var next = Volatile.Read(ref _nextWarning);
        if (now >= next && Interlocked.CompareExchange(ref _nextWarning, now + (long)(WarningInterval.TotalSeconds * time.TimestampFrequency), next) == next)
        {
            LogRejected(logger, rejected, field, problem);
        }

        var context = http.HttpContext;
        var error = new ValidationException(field, problem);
        return RpcErrors.ToRpcException(error, context?.TraceIdentifier);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused undecodable request messages ({Total} since start; at most one warning per 10 s); latest: {Field} {Problem}")]
    private static partial void LogRejected(ILogger logger, long total, string field, string problem);

    /// <summary>
    /// Walks the protobuf wire format of a message with the contract's field map and checks that every string
    /// field (nested messages, repeated fields and maps included) is valid UTF-8. Fields it does not know
    /// are skipped; structural damage is left to the deserializer, which rejects it.
    /// </summary>
    internal static class Utf8Check
    {
        private enum Kind { Other, String, Message }

        private sealed record Field(Kind Kind, Type? MessageType, string Name = "");

        private static readonly ConcurrentDictionary<Type, Dictionary<int, Field>> Plans = new();

        private const string NotUtf8 = "is not valid UTF-8 (proto3 strings must be)";

        /// <summary>The first string field that is not valid UTF-8 (its path), or null.</summary>
        public static string? FindInvalidString(Type type, ReadOnlySequence<byte> payload) =>
            FindProblem(type, payload) is ({ } field, NotUtf8) ? field : null;

        /// <summary>The first field that makes the message unacceptable and why, or null.</summary>
        public static (string Field, string Problem)? FindProblem(Type type, ReadOnlySequence<byte> payload)
        {
            var bytes = payload.IsSingleSegment ? payload.FirstSpan : payload.ToArray();
            return Walk(type, bytes, "", 0);
        }

        private static (string Field, string Problem)? Walk(Type type, ReadOnlySpan<byte> data, string path, int depth)
        {
            if (depth > 32)
            {
                return null; // the deserializer enforces its own depth limit
            }

            var plan = PlanOf(type);
            var position = 0;
            while (position < data.Length)
            {
                if (!TryReadVarint(data, ref position, out var tag))
                {
                    return null;
                }

                var number = (int)(tag >> 3);
                switch ((int)(tag & 7))
                {
                    case 0 when TryReadVarint(data, ref position, out _):
                        continue;
                    case 1:
                        position += 8;
                        continue;
                    case 5:
                        position += 4;
                        continue;
                    case 2 when TryReadVarint(data, ref position, out var length) && length <= (ulong)(data.Length - position):
                        var value = data.Slice(position, (int)length);
                        position += (int)length;
                        if (plan.TryGetValue(number, out var field))
                        {
                            var leaf = field.Name.Length > 0 ? field.Name : number.ToString(System.Globalization.CultureInfo.InvariantCulture);
                            var name = path.Length == 0 ? leaf : $"{path}.{leaf}";
                            if (field.Kind == Kind.String && !System.Text.Unicode.Utf8.IsValid(value))
                            {
                                return (name, NotUtf8);
                            }

                            if (field.Kind == Kind.Message && Walk(field.MessageType!, value, name, depth + 1) is { } nested)
                            {
                                return nested;
                            }
                        }

                        continue;
                    case 3 or 4:
                        // Groups (proto2) appear in no contract, and the deserializer would skip an unknown one
                        // and go on decoding: refuse them rather than let them hide what follows from this check.
                        return (path.Length == 0 ? "request" : path, $"uses the group wire type (field {number}), which these messages never use");
                    default:
                        return null; // damage: the deserializer rejects it
                }
            }

            return null;
        }

        private static Dictionary<int, Field> PlanOf(Type type) => Plans.GetOrAdd(type, static t =>
        {
            var plan = new Dictionary<int, Field>();
            if (MapEntryTypes(t) is { } entry)
            {
                plan[1] = FieldOf(entry.Key);
                plan[2] = FieldOf(entry.Value);
                return plan;
            }

            if (!Model.IsDefined(t))
            {
                return plan;
            }

            foreach (var member in Model[t].GetFields())
            {
                var itemType = member.ItemType ?? member.MemberType;
                var field = member.IsMap || MapEntryTypes(member.MemberType) is not null
                    ? new Field(Kind.Message, member.MemberType)
                    : FieldOf(itemType);
                plan[member.FieldNumber] = field with { Name = SnakeCase(member.Name) };
            }

            return plan;
        });

        private static Field FieldOf(Type type) =>
            type == typeof(string) ? new Field(Kind.String, null)
            : type != typeof(byte[]) && !type.IsPrimitive && !type.IsEnum && Model.IsDefined(type) ? new Field(Kind.Message, type)
            : new Field(Kind.Other, null);

        /// <summary>A dictionary type's key and value types: its wire form is a repeated entry message {1: key, 2: value}.</summary>
        private static (Type Key, Type Value)? MapEntryTypes(Type type)
        {
            var dictionary = type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IDictionary<,>)
                ? type
                : type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IDictionary<,>));
            return dictionary is null ? null : (dictionary.GetGenericArguments()[0], dictionary.GetGenericArguments()[1]);
        }

        /// <summary>The proto field name the exporter gives a C# member (DisplayName → display_name).</summary>
        private static string SnakeCase(string name)
        {
            var builder = new System.Text.StringBuilder(name.Length + 4);
            for (var i = 0; i < name.Length; i++)
            {
                if (char.IsUpper(name[i]) && i > 0)
                {
                    builder.Append('_');
                }

                builder.Append(char.ToLowerInvariant(name[i]));
            }

            return builder.ToString();
        }

        private static bool TryReadVarint(ReadOnlySpan<byte> data, ref int position, out ulong value)
        {
            value = 0;
            for (var shift = 0; shift < 64 && position < data.Length; shift += 7)
            {
                var b = data[position++];
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return true;
                }
            }

            return false;
        }
    }
}
