using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf.Reflection;

namespace PyAirtable.Host.Gateway.Rest;

/// <summary>
/// The request body of a client-streaming route as the gRPC frames of its stream, produced while the client sends, one
/// message at a time (<see cref="NextMessageAsync"/>): the first message also carries the path and query fields
/// (protobuf merges concatenated fields). Only the message being framed is held, so a body of any size passes through in
/// bounded memory, and the service's own limits judge the messages as they would a gRPC client's.
/// </summary>
internal abstract class RestStreamedBody(byte[] firstFields) : Stream
{
    private byte[] _frame = [];
    private int _framePosition;
    private bool _sentFirst;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>The next message's wire bytes (without the first message's fields), or null at the end of the body.</summary>
    protected abstract ValueTask<byte[]?> NextMessageAsync(bool first, CancellationToken ct);

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_framePosition == _frame.Length)
        {
            var message = await NextMessageAsync(!_sentFirst, cancellationToken);
            if (message is null)
            {
                return 0;
            }

            var prefix = _sentFirst ? [] : firstFields;
            _sentFirst = true;
            _frame = new byte[5 + prefix.Length + message.Length];
            BinaryPrimitives.WriteUInt32BigEndian(_frame.AsSpan(1), (uint)(prefix.Length + message.Length));
            prefix.CopyTo(_frame, 5);
            message.CopyTo(_frame, 5 + prefix.Length);
            _framePosition = 0;
        }

        var count = Math.Min(buffer.Length, _frame.Length - _framePosition);
        _frame.AsMemory(_framePosition, count).CopyTo(buffer);
        _framePosition += count;
        return count;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("read asynchronously");

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    /// <summary>The stream for a route: raw bytes into its bytes field, or NDJSON lines as whole messages.</summary>
    public static RestStreamedBody For(HttpContext context, RestRoute route, byte[] firstFields) => route.StreamField is { } field
        ? new BytesBody(context.Request.Body, firstFields, field)
        : new NdjsonBody(context, firstFields, route.Method.InputType);

    /// <summary>A raw body cut into chunks of <see cref="ChunkBytes"/>, each one message with the bytes field set.</summary>
    private sealed class BytesBody(Stream body, byte[] firstFields, FieldDescriptor field) : RestStreamedBody(firstFields)
    {
        /// <summary>Below the Files service's smallest allowed chunk limit, so a REST chunk is never refused for its size.</summary>
        private const int ChunkBytes = 256 * 1024;

        private readonly byte[] _chunk = new byte[ChunkBytes];
        private bool _ended;

        protected override async ValueTask<byte[]?> NextMessageAsync(bool first, CancellationToken ct)
        {
            var filled = 0;
            while (!_ended && filled < _chunk.Length)
            {
                var read = await body.ReadAsync(_chunk.AsMemory(filled), ct);
                _ended = read == 0;
                filled += read;
            }

            // An empty body still sends the first message: it names what the stream is about (the upload, the file).
            if (filled == 0)
            {
                return first ? [] : null;
            }

            Span<byte> header = stackalloc byte[20];
            var length = WriteVarint(header, (ulong)((field.FieldNumber << 3) | 2));
            length += WriteVarint(header[length..], (ulong)filled);
            var message = new byte[length + filled];
            header[..length].CopyTo(message);
            _chunk.AsSpan(0, filled).CopyTo(message.AsSpan(length));
            return message;
        }

        private static int WriteVarint(Span<byte> target, ulong value)
        {
            var i = 0;
            while (value >= 0x80)
            {
                target[i++] = (byte)(value | 0x80);
                value >>= 7;
            }

            target[i++] = (byte)value;
            return i;
        }
    }

    /// <summary>
    /// Newline-delimited JSON: each non-blank line is one request message in proto3 JSON. A line that does not fit the
    /// message ends the call as INVALID_ARGUMENT with its field (and line number): the problem is handed to the strict
    /// marshaller, which refuses the next message with it, as it refuses a unary call's bad JSON.
    /// </summary>
    private sealed class NdjsonBody(HttpContext context, byte[] firstFields, MessageDescriptor input) : RestStreamedBody(firstFields)
    {
        private readonly PipeReader _reader = PipeReader.Create(context.Request.Body);
        private int _line;
        private bool _failed;

        protected override async ValueTask<byte[]?> NextMessageAsync(bool first, CancellationToken ct)
        {
            while (!_failed)
            {
                var result = await _reader.ReadAsync(ct);
                var buffer = result.Buffer;
                var newline = buffer.PositionOf((byte)'\n');
                if (newline is null && !result.IsCompleted)
                {
                    if (buffer.Length > RestRequest.MaxBodyBytes)
                    {
                        return Fail("request", $"a line longer than {RestRequest.MaxBodyBytes / (1024 * 1024)} MiB");
                    }

                    _reader.AdvanceTo(buffer.Start, buffer.End);
                    continue;
                }

                var line = newline is { } at ? buffer.Slice(0, at) : buffer;
                var bytes = line.ToArray();
                _reader.AdvanceTo(newline is { } end ? buffer.GetPosition(1, end) : buffer.End);
                if (bytes.AsSpan().Trim(" \t\r"u8).IsEmpty)
                {
                    if (newline is null)
                    {
                        await _reader.CompleteAsync();
                        return first ? [] : null;
                    }

                    _line++;
                    continue;
                }

                _line++;
                try
                {
                    var json = JsonNode.Parse(bytes) as JsonObject ?? throw new ProtoJsonException("request", "a line must be a JSON object");
                    return ProtoJsonReader.ToWire(json, input);
                }
                catch (ProtoJsonException ex)
                {
                    return Fail(ex.Field, ex.Message);
                }
                catch (Exception ex) when (ex is JsonException or ArgumentException or InvalidOperationException)
                {
                    return Fail("request", "is not valid JSON");
                }
            }

            return null;
        }

        /// <summary>Hands the problem to the marshaller and sends one more (empty) message for it to refuse.</summary>
        private byte[] Fail(string field, string problem)
        {
            _failed = true;
            context.Features.Set(new RestRequestProblem(field, $"line {_line}: {problem}"));
            return [];
        }
    }
}
