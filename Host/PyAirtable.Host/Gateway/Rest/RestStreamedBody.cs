using System.Buffers.Binary;
using Google.Protobuf.Reflection;

namespace PyAirtable.Host.Gateway.Rest;

/// <summary>
/// The request body of a client-streaming route as the gRPC frames of its stream, produced while the client sends: each
/// chunk of up to <see cref="ChunkBytes"/> of the raw body becomes one message with the route's bytes field
/// (<see cref="RestRoute.StreamField"/>) set, the first one also carrying the path and query fields. At most one chunk is
/// held at a time, so a file of any size passes through in constant memory; the service's own limits (chunk size, file
/// size, offsets) judge the messages as they would a gRPC client's.
/// </summary>
internal sealed class RestStreamedBody(Stream body, byte[] firstFields, FieldDescriptor field) : Stream
{
    /// <summary>Below the Files service's smallest allowed chunk limit, so a REST chunk is never refused for its size.</summary>
    public const int ChunkBytes = 256 * 1024;

    private readonly byte[] _chunk = new byte[ChunkBytes];
    private byte[] _frame = [];
    private int _framePosition;
    private bool _sentFirst;
    private bool _ended;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_framePosition == _frame.Length && !await NextFrameAsync(cancellationToken))
        {
            return 0;
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

    /// <summary>Reads the next chunk (as full as the body allows) and frames it; false at the end of the body.</summary>
    private async Task<bool> NextFrameAsync(CancellationToken ct)
    {
        if (_ended)
        {
            return false;
        }

        var filled = 0;
        while (filled < _chunk.Length)
        {
            var read = await body.ReadAsync(_chunk.AsMemory(filled), ct);
            if (read == 0)
            {
                _ended = true;
                break;
            }

            filled += read;
        }

        // An empty body still sends the first message: it names what the stream is about (the upload, the file).
        if (filled == 0 && _sentFirst)
        {
            return false;
        }

        var prefix = _sentFirst ? [] : firstFields;
        _sentFirst = true;
        Span<byte> tag = stackalloc byte[10];
        var tagLength = WriteVarint(tag, (ulong)((field.FieldNumber << 3) | 2));
        Span<byte> length = stackalloc byte[10];
        var lengthLength = WriteVarint(length, (ulong)filled);
        var message = prefix.Length + (filled == 0 ? 0 : tagLength + lengthLength + filled);
        _frame = new byte[5 + message];
        BinaryPrimitives.WriteUInt32BigEndian(_frame.AsSpan(1), (uint)message);
        prefix.CopyTo(_frame, 5);
        if (filled > 0)
        {
            var at = 5 + prefix.Length;
            tag[..tagLength].CopyTo(_frame.AsSpan(at));
            length[..lengthLength].CopyTo(_frame.AsSpan(at + tagLength));
            _chunk.AsSpan(0, filled).CopyTo(_frame.AsSpan(at + tagLength + lengthLength));
        }

        _framePosition = 0;
        return true;
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
