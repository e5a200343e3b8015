using System.Security.Cryptography;
using Bogus;
using Microsoft.Extensions.Configuration;
using PyAirtable.Contracts.Common;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Pagination;
using ValidationException = PyAirtable.Services.Infrastructure.Errors.ValidationException;

namespace PyAirtable.UnitTests;

public sealed class CursorCodecTests
{
    private sealed class FixedKey(byte[] key) : ICursorKeyProvider
    {
        public byte[] CursorKey => key;
    }

    private static CursorCodec NewCodec() => new(new FixedKey(RandomNumberGenerator.GetBytes(32)));

    [Fact]
    public void Decode_OfEncoded_RoundTripsPosition()
    {
        var codec = NewCodec();
        var faker = new Faker();
        var position = new CursorPosition(7, [faker.Date.Past().ToString("O"), faker.Random.Guid().ToString(), "with|odd,chars"]);

        var decoded = codec.Decode("users.list", codec.Encode("users.list", position));

        Assert.Equal(position.Page, decoded.Page);
        Assert.Equal(position.After, decoded.After);
    }

    [Fact]
    public void TryDecode_EveryFlippedByte_IsRejected()
    {
        var codec = NewCodec();
        var cursor = codec.Encode("scope", new CursorPosition(2, ["42"]));
        var bytes = System.Buffers.Text.Base64Url.DecodeFromChars(cursor);

        for (var i = 0; i < bytes.Length; i++)
        {
            var forged = (byte[])bytes.Clone();
            forged[i] ^= 0x01;
            Assert.False(codec.TryDecode("scope", System.Buffers.Text.Base64Url.EncodeToString(forged), out _), $"byte {i}");
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("%%%")]
    [InlineData("AAAA")]
    [InlineData("AQ")]
    public void TryDecode_Garbage_IsRejected(string cursor)
    {
        Assert.False(NewCodec().TryDecode("scope", cursor, out _));
    }

    [Fact]
    public void TryDecode_OtherScopeOrOtherKey_IsRejected()
    {
        var codec = NewCodec();
        var cursor = codec.Encode("workspaces.list:owner=1", new CursorPosition(2, ["x"]));

        Assert.False(codec.TryDecode("workspaces.list:owner=2", cursor, out _));
        Assert.False(NewCodec().TryDecode("workspaces.list:owner=1", cursor, out _));
    }

    [Fact]
    public void TryDecode_Oversized_IsRejectedWithoutWork()
    {
        Assert.False(NewCodec().TryDecode("scope", new string('A', 10_000), out _));
    }

    [Fact]
    public void PageRequestFrom_ForgedCursor_ThrowsValidationOnCursorField()
    {
        var ex = Assert.Throws<PyAirtable.Services.Infrastructure.Errors.ValidationException>(() =>
            PageRequest.From(new PaginationRequest { Cursor = "forged" }, NewCodec(), "scope"));

        Assert.Equal(CursorCodec.CursorField, Assert.Single(ex.Violations).Field);
    }

    [Fact]
    public void Complete_FetchedOneMoreThanPage_HasNextWithCursorOfLastItem()
    {
        var codec = NewCodec();
        var request = PageRequest.From(new PaginationRequest { PageSize = 2 }, codec, "s");

        var (items, pagination) = request.Complete([1, 2, 3], 10, i => [i.ToString(System.Globalization.CultureInfo.InvariantCulture)], codec, "s");

        Assert.Equal([1, 2], items);
        Assert.True(pagination.HasNext);
        Assert.Equal(10, pagination.TotalCount);
        var next = PageRequest.From(new PaginationRequest { PageSize = 2, Cursor = pagination.NextCursor }, codec, "s");
        Assert.Equal(2, next.Page);
        Assert.Equal(["2"], next.After!);
    }

    [Fact]
    public void Complete_FetchedNoMoreThanPage_HasNoNext()
    {
        var codec = NewCodec();
        var request = PageRequest.From(new PaginationRequest { PageSize = 2 }, codec, "s");

        var (items, pagination) = request.Complete([1, 2], 2, i => [i.ToString(System.Globalization.CultureInfo.InvariantCulture)], codec, "s");

        Assert.Equal([1, 2], items);
        Assert.False(pagination.HasNext);
        Assert.Null(pagination.NextCursor);
        Assert.Equal((1, 2), (pagination.CurrentPage, pagination.PageSize));
    }

    [Fact]
    public void Cursor_OfExactlyTheMaximumLength_IsAccepted_OneLonger_IsRefusedThoughGenuine()
    {
        var codec = NewCodec();
        // 1 version byte + page (2) + string tag and 2-byte length (3) + 16 tag bytes + n = 1,536 bytes = 2,048 base64url chars.
        var longest = codec.Encode("s", new CursorPosition(2, [new string('x', 1514)]));
        var tooLong = codec.Encode("s", new CursorPosition(2, [new string('x', 1517)]));

        Assert.Equal(2048, longest.Length);
        Assert.True(codec.TryDecode("s", longest, out var position));
        Assert.Equal(1514, position.After[0].Length);
        Assert.True(tooLong.Length > 2048);
        Assert.False(codec.TryDecode("s", tooLong, out _));
    }

    [Fact]
    public void Cursor_CannotBeMovedToAListWhoseNameIsThisListsNamePlusTheCursorsFirstBytes()
    {
        // The tag covers the scope's length too: without it, "s" + body and a longer scope + the body's tail sign alike.
        var codec = NewCodec();
        var cursor = codec.Encode("s", new CursorPosition(2, ["\u0001\u0008\u0005"])); // body 01 08 02 12 03 01 08 05
        var token = System.Buffers.Text.Base64Url.DecodeFromChars(cursor);
        var moved = System.Buffers.Text.Base64Url.EncodeToString(token.AsSpan(5).ToArray()); // body 01 08 05 (page 5) + tag

        Assert.True(codec.TryDecode("s", cursor, out _));
        Assert.False(codec.TryDecode("s\u0001\u0008\u0002\u0012\u0003", moved, out _));
    }

    [Fact]
    public void Encode_WithoutAScope_Throws()
    {
        Assert.Throws<ArgumentException>(() => NewCodec().Encode("", new CursorPosition(2, [])));
    }

    [Fact]
    public void Decode_Refused_SaysToStartAgainWithoutACursor()
    {
        var ex = Assert.Throws<ValidationException>(() => NewCodec().Decode("s", "forged"));

        var violation = Assert.Single(ex.Violations);
        Assert.Equal(CursorCodec.CursorField, violation.Field);
        Assert.Contains("start again without a cursor", violation.Description, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(-1, 0, "pagination.page_size")]
    [InlineData(0, -1, "pagination.page")]
    [InlineData(0, 2, "pagination.page")]
    public void PageRequestFrom_NegativeOrPageWithoutCursor_IsInvalidOnTheField(int pageSize, int page, string field)
    {
        var ex = Assert.Throws<ValidationException>(() =>
            PageRequest.From(new PaginationRequest { PageSize = pageSize, Page = page }, NewCodec(), "s"));

        Assert.Equal(field, Assert.Single(ex.Violations).Field);
    }

    [Theory]
    [InlineData(0, 50)]
    [InlineData(1, 1)]
    [InlineData(1000, 1000)]
    [InlineData(1001, 1000)]
    public void PageRequestFrom_SizeZeroTakesTheDefault_LargeSizesAreCapped(int requested, int expected)
    {
        var request = PageRequest.From(new PaginationRequest { PageSize = requested }, NewCodec(), "s");

        Assert.Equal(expected, request.PageSize);
        Assert.Equal(1, request.Page);
        Assert.Null(request.After);
    }

    [Fact]
    public void PageRequestFrom_PageOneWithoutCursor_IsTheFirstPage()
    {
        Assert.Equal(1, PageRequest.From(new PaginationRequest { Page = 1 }, NewCodec(), "s").Page);
    }

    [Fact]
    public void PageRequestFrom_PageNumberWithCursor_MustMatchTheCursor_ZeroOrOneDefersToIt()
    {
        var codec = NewCodec();
        var cursor = codec.Encode("s", new CursorPosition(3, ["k"]));

        Assert.Equal(3, PageRequest.From(new PaginationRequest { Page = 3, Cursor = cursor }, codec, "s").Page);
        Assert.Equal(3, PageRequest.From(new PaginationRequest { Page = 0, Cursor = cursor }, codec, "s").Page);
        Assert.Equal(3, PageRequest.From(new PaginationRequest { Page = 1, Cursor = cursor }, codec, "s").Page);
        var ex = Assert.Throws<ValidationException>(() => PageRequest.From(new PaginationRequest { Page = 4, Cursor = cursor }, codec, "s"));
        Assert.Equal("pagination.page", Assert.Single(ex.Violations).Field);
    }

    [Fact]
    public void PageRequest_NullArguments_Throw()
    {
        var codec = NewCodec();
        var request = PageRequest.From(null, codec, "s");

        Assert.Throws<ArgumentNullException>(() => PageRequest.From(null, null!, "s"));
        Assert.Throws<ArgumentNullException>(() => request.Complete<int>(null!, 0, i => [], codec, "s"));
        Assert.Throws<ArgumentNullException>(() => request.Complete([1], 0, null!, codec, "s"));
        Assert.Throws<ArgumentNullException>(() => request.Complete([1], 0, i => [], null!, "s"));
    }

    [Fact]
    public void GenuineCursor_OfTheFirstPage_IsRefused()
    {
        // Cursors only open pages after the first; the first page is asked for without one.
        var codec = NewCodec();

        Assert.False(codec.TryDecode("s", codec.Encode("s", new CursorPosition(1, ["k"])), out _));
        Assert.False(codec.TryDecode("s", codec.Encode("s", new CursorPosition(0, [])), out _));
    }

    [Fact]
    public void SignedCursor_WhosePayloadThisVersionCannotRead_IsRefused_NotAnError()
    {
        // A cursor of a future version: signed with the platform's key, but not a payload this build reads.
        var key = RandomNumberGenerator.GetBytes(32);
        var codec = new CursorCodec(new FixedKey(key));
        byte[] body = [1, 0x0A, 0x01, 0x41]; // field 1 (the page, a varint) sent as a string
        var scope = System.Text.Encoding.UTF8.GetBytes("s");
        var message = new byte[4 + scope.Length + body.Length];
        BitConverter.TryWriteBytes(message.AsSpan(0, 4), scope.Length);
        scope.CopyTo(message.AsSpan(4));
        body.CopyTo(message.AsSpan(4 + scope.Length));
        var token = body.Concat(HMACSHA256.HashData(key, message).Take(16)).ToArray();

        Assert.False(codec.TryDecode("s", System.Buffers.Text.Base64Url.EncodeToString(token), out _));
    }

    [Fact]
    public async Task CursorKey_FromConfiguration_IsUsed_AndMustBeAtLeast32Bytes()
    {
        static CursorKeyProvider With(string key) => new(null!, new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Pagination:CursorKey"] = key }).Build());
        var key = RandomNumberGenerator.GetBytes(32);
        var provider = With(Convert.ToBase64String(key));

        Assert.Throws<InvalidOperationException>(() => provider.CursorKey); // not loaded yet
        await provider.InitializeAsync(default);
        Assert.Equal(key, provider.CursorKey);
        await Assert.ThrowsAsync<InvalidOperationException>(() => With(Convert.ToBase64String(key[..31])).InitializeAsync(default));
    }
}
