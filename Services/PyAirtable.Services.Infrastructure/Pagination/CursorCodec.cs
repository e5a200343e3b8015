using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using ProtoBuf;
using PyAirtable.Contracts.Common;
using PyAirtable.Services.Infrastructure.Errors;

namespace PyAirtable.Services.Infrastructure.Pagination;

/// <summary>The position a keyset cursor encodes: the sort key values of the last item returned.</summary>
/// <param name="Page">The 1-based number of the page this cursor opens.</param>
/// <param name="After">The sort key of the last item of the previous page, as strings.</param>
public sealed record CursorPosition(int Page, IReadOnlyList<string> After);

/// <summary>
/// Opaque, tamper-evident keyset cursors: base64url(version | protobuf payload | HMAC-SHA256 tag).
/// The tag covers the payload and the list's scope (for example <c>users.list</c> plus its filter),
/// so a cursor that was edited, forged, or taken from another list is rejected as INVALID_ARGUMENT.
/// Cursors are not encrypted: never put secrets in sort keys.
/// </summary>
public sealed class CursorCodec(ICursorKeyProvider keys)
{
    private const byte Version = 1;
    private const int TagLength = 16;
    private const int MaxCursorLength = 2048;
    public const string CursorField = "pagination.cursor";

    public string Encode(string scope, CursorPosition position)
    {
        ArgumentException.ThrowIfNullOrEmpty(scope);
        using var buffer = new MemoryStream();
        buffer.WriteByte(Version);
        Serializer.Serialize(buffer, new Payload { Page = position.Page, After = [.. position.After] });
        var body = buffer.ToArray();
        var tag = ComputeTag(scope, body);
        var token = new byte[body.Length + TagLength];
        body.CopyTo(token, 0);
        tag.AsSpan(0, TagLength).CopyTo(token.AsSpan(body.Length));
        return Base64Url.EncodeToString(token);
    }

    /// <summary>Decodes a cursor issued for <paramref name="scope"/>, or throws INVALID_ARGUMENT.</summary>
    public CursorPosition Decode(string scope, string cursor)
    {
        if (!TryDecode(scope, cursor, out var position))
        {
            throw new ValidationException(CursorField, "is malformed, was changed, or was not issued for this list; start again without a cursor");
        }

        return position;
    }

    public bool TryDecode(string scope, string cursor, out CursorPosition position)
    {
        position = new CursorPosition(1, []);
        if (string.IsNullOrEmpty(cursor) || cursor.Length > MaxCursorLength)
        {
            return false;
        }

        byte[] token;
        try
        {
            token = Base64Url.DecodeFromChars(cursor);
        }
        catch (FormatException)
        {
            return false;
        }

        if (token.Length < 1 + TagLength || token[0] != Version)
        {
            return false;
        }

        var body = token.AsSpan(0, token.Length - TagLength);
        var expected = ComputeTag(scope, body);
        if (!CryptographicOperations.FixedTimeEquals(expected.AsSpan(0, TagLength), token.AsSpan(token.Length - TagLength)))
        {
            return false;
        }

        Payload payload;
        try
        {
            payload = Serializer.Deserialize<Payload>(body[1..]);
        }
        catch (ProtoException)
        {
            return false; // signed by us but unreadable: a cursor of a future version
        }

        if (payload.Page < 2)
        {
            return false;
        }

        position = new CursorPosition(payload.Page, payload.After);
        return true;
    }

    private byte[] ComputeTag(string scope, ReadOnlySpan<byte> body)
    {
        var scopeBytes = Encoding.UTF8.GetBytes(scope);
        var message = new byte[4 + scopeBytes.Length + body.Length];
        BitConverter.TryWriteBytes(message.AsSpan(0, 4), scopeBytes.Length);
        scopeBytes.CopyTo(message.AsSpan(4));
        body.CopyTo(message.AsSpan(4 + scopeBytes.Length));
        return HMACSHA256.HashData(keys.CursorKey, message);
    }

    [ProtoContract]
    private sealed class Payload
    {
        [ProtoMember(1)] public int Page { get; set; }
        [ProtoMember(2)] public List<string> After { get; set; } = [];
    }
}

/// <summary>A page request after defaults, caps and cursor checks.</summary>
/// <param name="PageSize">Items to return (the query should fetch one more to learn whether a next page exists).</param>
/// <param name="Page">The 1-based page number.</param>
/// <param name="After">The keyset position to continue after; null for the first page.</param>
public sealed record PageRequest(int PageSize, int Page, IReadOnlyList<string>? After)
{
    /// <summary>
    /// Validates a <see cref="PaginationRequest"/> for the list <paramref name="scope"/>:
    /// negative sizes and forged cursors are INVALID_ARGUMENT, 0 takes the default, large sizes are capped.
    /// </summary>
    public static PageRequest From(PaginationRequest? request, CursorCodec codec, string scope, int defaultPageSize = 50, int maxPageSize = 1000)
    {
        ArgumentNullException.ThrowIfNull(codec);
        request ??= new PaginationRequest();
        var validator = new RequestValidator();
        if (request.PageSize < 0)
        {
            validator.Add("pagination.page_size", "must not be negative");
        }

        if (request.Page < 0)
        {
            validator.Add("pagination.page", "must not be negative");
        }
        else if (request.Page > 1 && string.IsNullOrEmpty(request.Cursor))
        {
            validator.Add("pagination.page", "pages are reached with cursors: send next_cursor of the previous page instead of a page number");
        }

        validator.ThrowIfInvalid();
        var size = request.PageSize == 0 ? defaultPageSize : Math.Min(request.PageSize, maxPageSize);
        if (string.IsNullOrEmpty(request.Cursor))
        {
            return new PageRequest(size, 1, null);
        }

        var position = codec.Decode(scope, request.Cursor);
        if (request.Page > 1 && request.Page != position.Page)
        {
            throw new ValidationException("pagination.page", $"does not match the cursor, which opens page {position.Page}");
        }

        return new PageRequest(size, position.Page, position.After);
    }

    /// <summary>
    /// Builds the response of a page. <paramref name="fetched"/> is what the query returned for
    /// <c>PageSize + 1</c> rows; <paramref name="keyOf"/> gives an item's sort key.
    /// </summary>
    public (IReadOnlyList<T> Items, PaginationResponse Pagination) Complete<T>(
        IReadOnlyList<T> fetched, long totalCount, Func<T, IReadOnlyList<string>> keyOf, CursorCodec codec, string scope)
    {
        ArgumentNullException.ThrowIfNull(fetched);
        ArgumentNullException.ThrowIfNull(keyOf);
        ArgumentNullException.ThrowIfNull(codec);
        var hasNext = fetched.Count > PageSize;
        var items = hasNext ? fetched.Take(PageSize).ToList() : fetched;
        string? next = hasNext ? codec.Encode(scope, new CursorPosition(Page + 1, keyOf(items[^1]))) : null;
        return (items, new PaginationResponse
        {
            CurrentPage = Page,
            PageSize = PageSize,
            TotalCount = totalCount,
            NextCursor = next,
            HasNext = hasNext,
        });
    }
}
