using System.Buffers.Binary;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Google.Rpc;
using Grpc.Core;

namespace PyAirtable.IntegrationTests.Adversarial;

/// <summary>
/// A bare HTTP/2 client (cleartext, prior knowledge) for requests no gRPC client sends: every header line goes out exactly as
/// given, a repeated name as two lines. grpc-dotnet and HttpClient join repeated values into one line (<c>a, b</c>), so only
/// this reaches what the server does with two lines. One unary gRPC call per connection; HPACK without Huffman coding, which
/// Kestrel does not use for responses (a Huffman-coded response fails the call loudly, not silently).
/// </summary>
public static class RawHttp2
{
    /// <summary>What came back: every header and trailer line in order, and the gRPC messages' bytes.</summary>
    public sealed record Response(IReadOnlyList<(string Name, string Value)> Headers, byte[] Body)
    {
        public string? Header(string name) => Headers.Where(h => h.Name == name).Select(h => h.Value).FirstOrDefault();

        public StatusCode GrpcStatus =>
            (StatusCode)int.Parse(Header("grpc-status") ?? throw new InvalidOperationException("no grpc-status"), CultureInfo.InvariantCulture);

        /// <summary>The <c>cause</c> of the refusal's ErrorInfo, if it has one.</summary>
        public string? Cause
        {
            get
            {
                if (Header("grpc-status-details-bin") is not { } details)
                {
                    return null;
                }

                var padded = details.PadRight(details.Length + (4 - details.Length % 4) % 4, '=');
                var status = Google.Rpc.Status.Parser.ParseFrom(Convert.FromBase64String(padded));
                return status.Details.Where(d => d.Is(ErrorInfo.Descriptor)).Select(d => d.Unpack<ErrorInfo>())
                    .Select(i => i.Metadata.GetValueOrDefault("cause")).FirstOrDefault();
            }
        }

        /// <summary>The response message (the first gRPC frame's payload).</summary>
        public byte[] Message => Body.Length < 5 ? [] : Body[5..(5 + BinaryPrimitives.ReadInt32BigEndian(Body.AsSpan(1)))];
    }

    private const byte Data = 0, Headers = 1, RstStream = 3, Settings = 4, Ping = 6, GoAway = 7, Continuation = 9;
    private const byte EndStream = 0x1, Ack = 0x1, EndHeaders = 0x4, Padded = 0x8, Priority = 0x20;

    /// <summary>Calls <paramref name="path"/> (<c>/package.Service/Method</c>) at <paramref name="address"/>, header lines as given.</summary>
    public static async Task<Response> UnaryAsync(
        string address, string path, byte[] message, IEnumerable<(string Name, string Value)> headers)
    {
        var uri = new Uri(address);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var ct = timeout.Token;
        using var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(uri.Host, uri.Port, ct);
        var stream = tcp.GetStream();

        var block = new List<byte>();
        foreach (var (name, value) in new[] { (":method", "POST"), (":scheme", "http"), (":path", path), (":authority", uri.Authority),
                     ("content-type", "application/grpc"), ("te", "trailers") }.Concat(headers))
        {
            block.Add(0x00); // literal header field without indexing, new name
            WriteString(block, name);
            WriteString(block, value);
        }

        var body = new byte[5 + message.Length];
        BinaryPrimitives.WriteInt32BigEndian(body.AsSpan(1), message.Length);
        message.CopyTo(body, 5);

        var output = new MemoryStream();
        output.Write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8);
        // SETTINGS_HEADER_TABLE_SIZE 0: the server's encoder keeps no dynamic table for us; SETTINGS_ENABLE_PUSH 0.
        WriteFrame(output, Settings, 0, 0, [0, 1, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0]);
        WriteFrame(output, Headers, EndHeaders, 1, [.. block]);
        WriteFrame(output, Data, EndStream, 1, body);
        await stream.WriteAsync(output.ToArray(), ct);

        var received = new List<(string, string)>();
        var decoder = new HpackDecoder();
        var fragment = new List<byte>();
        var data = new MemoryStream();
        while (true)
        {
            var head = new byte[9];
            await stream.ReadExactlyAsync(head, ct);
            var length = (head[0] << 16) | (head[1] << 8) | head[2];
            var (type, flags) = (head[3], head[4]);
            var streamId = BinaryPrimitives.ReadInt32BigEndian(head.AsSpan(5)) & 0x7fffffff;
            var payload = new byte[length];
            await stream.ReadExactlyAsync(payload, ct);
            switch (type)
            {
                case Settings when (flags & Ack) == 0:
                    await stream.WriteAsync(Frame(Settings, Ack, 0, []), ct);
                    continue;
                case Ping when (flags & Ack) == 0:
                    await stream.WriteAsync(Frame(Ping, Ack, 0, payload), ct);
                    continue;
                case GoAway:
                    throw new IOException($"GOAWAY (error {BinaryPrimitives.ReadInt32BigEndian(payload.AsSpan(4))})");
                case RstStream when streamId == 1:
                    throw new IOException($"RST_STREAM (error {BinaryPrimitives.ReadInt32BigEndian(payload)})");
                case Headers or Continuation when streamId == 1:
                    fragment.AddRange(type == Headers ? Unpad(payload, flags, (flags & Priority) != 0 ? 5 : 0) : payload);
                    if ((flags & EndHeaders) != 0)
                    {
                        received.AddRange(decoder.Decode([.. fragment]));
                        fragment.Clear();
                    }

                    break;
                case Data when streamId == 1:
                    data.Write(Unpad(payload, flags, 0));
                    break;
                default:
                    continue;
            }

            if (streamId == 1 && (flags & EndStream) != 0)
            {
                return new Response(received, data.ToArray());
            }
        }
    }

    private static byte[] Unpad(byte[] payload, byte flags, int skip)
    {
        var pad = (flags & Padded) != 0 ? payload[0] : 0;
        var start = ((flags & Padded) != 0 ? 1 : 0) + skip;
        return payload[start..(payload.Length - pad)];
    }

    private static byte[] Frame(byte type, byte flags, int streamId, byte[] payload)
    {
        var frame = new MemoryStream();
        WriteFrame(frame, type, flags, streamId, payload);
        return frame.ToArray();
    }

    private static void WriteFrame(Stream output, byte type, byte flags, int streamId, byte[] payload)
    {
        Span<byte> head = stackalloc byte[9];
        head[0] = (byte)(payload.Length >> 16);
        head[1] = (byte)(payload.Length >> 8);
        head[2] = (byte)payload.Length;
        head[3] = type;
        head[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(head[5..], streamId);
        output.Write(head);
        output.Write(payload);
    }

    private static void WriteString(List<byte> block, string value)
    {
        var bytes = Encoding.ASCII.GetBytes(value);
        WriteInteger(block, 0x00, 7, bytes.Length); // no Huffman coding
        block.AddRange(bytes);
    }

    private static void WriteInteger(List<byte> block, byte high, int prefixBits, int value)
    {
        var max = (1 << prefixBits) - 1;
        if (value < max)
        {
            block.Add((byte)(high | value));
            return;
        }

        block.Add((byte)(high | max));
        for (value -= max; value >= 0x80; value >>= 7)
        {
            block.Add((byte)((value & 0x7f) | 0x80));
        }

        block.Add((byte)value);
    }

    /// <summary>HPACK (RFC 7541) decoding of plain (not Huffman-coded) literals, with the static and dynamic tables.</summary>
    private sealed class HpackDecoder
    {
        private static readonly string[] StaticNames =
        [
            ":authority", ":method", ":method", ":path", ":path", ":scheme", ":scheme", ":status", ":status", ":status", ":status",
            ":status", ":status", ":status", "accept-charset", "accept-encoding", "accept-language", "accept-ranges", "accept",
            "access-control-allow-origin", "age", "allow", "authorization", "cache-control", "content-disposition",
            "content-encoding", "content-language", "content-length", "content-location", "content-range", "content-type",
            "cookie", "date", "etag", "expect", "expires", "from", "host", "if-match", "if-modified-since", "if-none-match",
            "if-range", "if-unmodified-since", "last-modified", "link", "location", "max-forwards", "proxy-authenticate",
            "proxy-authorization", "range", "referer", "refresh", "retry-after", "server", "set-cookie",
            "strict-transport-security", "transfer-encoding", "user-agent", "vary", "via", "www-authenticate",
        ];

        private static readonly Dictionary<int, string> StaticValues = new()
        {
            [2] = "GET", [3] = "POST", [4] = "/", [5] = "/index.html", [6] = "http", [7] = "https", [8] = "200", [9] = "204",
            [10] = "206", [11] = "304", [12] = "400", [13] = "404", [14] = "500", [16] = "gzip, deflate",
        };

        private readonly List<(string Name, string Value)> _dynamic = [];

        public List<(string, string)> Decode(byte[] block)
        {
            var fields = new List<(string, string)>();
            var at = 0;
            while (at < block.Length)
            {
                var first = block[at];
                if ((first & 0x80) != 0)
                {
                    fields.Add(Entry(ReadInteger(block, ref at, 7)));
                }
                else if ((first & 0xc0) == 0x40)
                {
                    var field = Literal(block, ref at, 6);
                    _dynamic.Insert(0, field);
                    fields.Add(field);
                }
                else if ((first & 0xe0) == 0x20)
                {
                    if (ReadInteger(block, ref at, 5) == 0)
                    {
                        _dynamic.Clear();
                    }
                }
                else
                {
                    fields.Add(Literal(block, ref at, 4)); // without indexing, or never indexed
                }
            }

            return fields;
        }

        private (string Name, string Value) Literal(byte[] block, ref int at, int prefixBits)
        {
            var index = ReadInteger(block, ref at, prefixBits);
            var name = index == 0 ? ReadString(block, ref at) : Entry(index).Name;
            return (name, ReadString(block, ref at));
        }

        private (string Name, string Value) Entry(int index) =>
            index <= StaticNames.Length
                ? (StaticNames[index - 1], StaticValues.GetValueOrDefault(index, ""))
                : _dynamic[index - StaticNames.Length - 1];

        private static string ReadString(byte[] block, ref int at)
        {
            if ((block[at] & 0x80) != 0)
            {
                throw new NotSupportedException("a Huffman-coded header: this client does not decode them");
            }

            var length = ReadInteger(block, ref at, 7);
            var text = Encoding.ASCII.GetString(block, at, length);
            at += length;
            return text;
        }

        private static int ReadInteger(byte[] block, ref int at, int prefixBits)
        {
            var max = (1 << prefixBits) - 1;
            var value = block[at++] & max;
            if (value < max)
            {
                return value;
            }

            for (var shift = 0; ; shift += 7)
            {
                var next = block[at++];
                value += (next & 0x7f) << shift;
                if ((next & 0x80) == 0)
                {
                    return value;
                }
            }
        }
    }
}
