using System.Buffers;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Users;
using PyAirtable.Host.Gateway;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.SharedState;

namespace PyAirtable.UnitTests;

public sealed class HostileInputUnitTests
{
    [Theory]
    [InlineData("https://cdn.example.com/a.png", true)]
    [InlineData("https://8.8.8.8/a.png", true)]
    [InlineData("https://[2606:4700::1111]/a.png", true)]
    [InlineData("https://2130706433/a.png", false)]     // 127.0.0.1 written as one decimal number
    [InlineData("https://0x7f.1/a.png", false)]         // and in hex
    [InlineData("https://0177.0.0.1/a.png", false)]     // and in octal
    [InlineData("https://127.1/a.png", false)]
    [InlineData("https://169.254.169.254./a.png", false)] // trailing dot
    [InlineData("https://100.64.0.1/a.png", false)]     // carrier-grade NAT
    [InlineData("https://0.0.0.0/a.png", false)]
    [InlineData("https://[::1]/a.png", false)]
    [InlineData("https://[::]/a.png", false)]
    [InlineData("https://[fe80::1%25eth0]/a.png", false)]
    [InlineData("https://LOCALHOST./a.png", false)]
    [InlineData("https://a.localhost/a.png", false)]
    [InlineData("https://example.123/a.png", false)]    // numeric top-level labels are addresses, not names
    [InlineData("https://xn--e1afmkfd.xn--p1ai/a.png", true)]
    public void PublicHttpsUrl_RefusesEveryWayOfNamingAnInternalHost(string url, bool accepted)
    {
        var validator = new RequestValidator().PublicHttpsUrl("avatar_url", url, 2048);
        Assert.Equal(accepted, validator.IsValid);
    }

    [Fact]
    public void Utf8Check_FindsInvalidStrings_InNestedMessagesRepeatedFieldsAndMaps()
    {
        // GetUsersRequest.user_ids (repeated string, field 1).
        Assert.Null(StrictMarshallerFactory.Utf8Check.FindInvalidString(typeof(GetUsersRequest), Seq([.. Field(1, "ok"u8.ToArray()), .. Field(1, "fine"u8.ToArray())])));
        Assert.Equal("user_ids", StrictMarshallerFactory.Utf8Check.FindInvalidString(typeof(GetUsersRequest), Seq([.. Field(1, "ok"u8.ToArray()), .. Field(1, [0xC3, 0x28])])));

        // UpdateUserRequest wraps nothing nested, but RequestMetadata → UserContext (field 2) → roles (repeated string, field 3).
        byte[] context = [.. Field(3, [0xFF])];
        Assert.Equal("user_context.roles", StrictMarshallerFactory.Utf8Check.FindInvalidString(typeof(RequestMetadata), Seq(Field(2, context))));

        // Structural damage is left to the deserializer: the walker neither throws nor loops.
        Assert.Null(StrictMarshallerFactory.Utf8Check.FindInvalidString(typeof(GetUsersRequest), Seq([0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])));
        Assert.Null(StrictMarshallerFactory.Utf8Check.FindInvalidString(typeof(GetUsersRequest), Seq([0x0A, 0x05, 0x61])));
    }

    [Fact]
    public async Task MemorySharedState_SetIfGuard_OnlyWhileTheGuardHolds()
    {
        var state = new MemorySharedState(TimeProvider.System);
        Assert.False(await state.SetIfGuardAsync("done", "1", "guard", "a"));
        await state.SetTextAsync("guard", "a");
        Assert.True(await state.SetIfGuardAsync("done", "1", "guard", "a"));
        await state.SetTextAsync("guard", "b");
        Assert.False(await state.SetIfGuardAsync("done2", "1", "guard", "a"));
        var exist = await state.ExistAsync(["done", "done2"]);
        Assert.Equal(new[] { true, false }, exist);
    }

    private static ReadOnlySequence<byte> Seq(byte[] bytes) => new(bytes);

    private static byte[] Field(int number, byte[] value) => [(byte)((number << 3) | 2), (byte)value.Length, .. value];
}
