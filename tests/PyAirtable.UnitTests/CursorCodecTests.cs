using System.Security.Cryptography;
using Bogus;
using PyAirtable.Contracts.Common;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Pagination;

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
}
