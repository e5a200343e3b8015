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
    [InlineData("https://[::10.0.0.1]/a.png", false)]      // IPv4-compatible
    [InlineData("https://[64:ff9b::a9fe:a9fe]/a.png", false)] // NAT64 of 169.254.169.254
    [InlineData("https://[2002:0a00:0001::1]/a.png", false)]  // 6to4 of 10.0.0.1
    [InlineData("https://[2001:0:4136:e378::1]/a.png", false)] // Teredo
    [InlineData("https://[64:ff9b::808:808]/a.png", true)]    // NAT64 of a public address
    public void PublicHttpsUrl_RefusesEveryWayOfNamingAnInternalHost(string url, bool accepted)
    {
        var validator = new RequestValidator().PublicHttpsUrl("avatar_url", url, 2048);
        Assert.Equal(accepted, validator.IsValid);
    }

    [Theory]
    [InlineData("Ev\U000E0041e", false)]        // a tag character (invisible, beyond the BMP)
    [InlineData("Plain Name", true)]
    [InlineData("Zoë \U0001F600", true)]
    public void Names_RefuseFormatCharactersBeyondTheBmpToo(string name, bool accepted) =>
        Assert.Equal(accepted, new RequestValidator().Name("display_name", name).IsValid);

    [Fact]
    public void Utf8Check_RefusesGroups_WhichWouldHideWhatFollows()
    {
        // An empty group (field 99: start 0x9B 0x06, end 0x9C 0x06), then user_ids with invalid UTF-8.
        byte[] payload = [0x9B, 0x06, 0x9C, 0x06, .. Field(1, [0xFF])];
        var problem = StrictMarshallerFactory.Utf8Check.FindProblem(typeof(GetUsersRequest), Seq(payload));
        Assert.NotNull(problem);
        Assert.Contains("group", problem.Value.Problem, StringComparison.Ordinal);
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

public sealed class ClientResetMiddlewareTests
{
    [Fact]
    public async Task AFailedRequestRead_AbortsTheRequest_BeforeTheExceptionReachesTheHandler()
    {
        var context = new Microsoft.AspNetCore.Http.DefaultHttpContext();
        using var lifetime = new RecordingLifetime();
        context.Features.Set<Microsoft.AspNetCore.Http.Features.IHttpRequestLifetimeFeature>(lifetime);
        context.Features.Set<Microsoft.AspNetCore.Http.Features.IRequestBodyPipeFeature>(new ResetBody());
        context.Request.ContentType = "application/grpc";
        var abortedWhenThrown = false;
        var middleware = new ClientResetMiddleware(async http =>
        {
            try
            {
                await http.Request.BodyReader.ReadAsync();
            }
            catch (IOException)
            {
                // What grpc-dotnet looks at to decide "cancelled" (information) or "error".
                abortedWhenThrown = http.RequestAborted.IsCancellationRequested;
            }
        });

        await middleware.InvokeAsync(context);

        Assert.True(abortedWhenThrown);
    }

    /// <summary>Like Kestrel: Abort() signals the token later, from the thread pool.</summary>
    private sealed class RecordingLifetime : Microsoft.AspNetCore.Http.Features.IHttpRequestLifetimeFeature, IDisposable
    {
        private readonly CancellationTokenSource _aborted = new();

        public CancellationToken RequestAborted { get => _aborted.Token; set => throw new NotSupportedException(); }

        public void Abort() => _ = Task.Run(async () =>
        {
            await Task.Delay(50);
            await _aborted.CancelAsync();
        });

        public void Dispose() => _aborted.Dispose();
    }

    private sealed class ResetBody : Microsoft.AspNetCore.Http.Features.IRequestBodyPipeFeature
    {
        public System.IO.Pipelines.PipeReader Reader { get; } = new Failing();

        private sealed class Failing : System.IO.Pipelines.PipeReader
        {
            public override ValueTask<System.IO.Pipelines.ReadResult> ReadAsync(CancellationToken cancellationToken = default) =>
                ValueTask.FromException<System.IO.Pipelines.ReadResult>(new IOException("The client reset the request stream."));

            public override bool TryRead(out System.IO.Pipelines.ReadResult result) => throw new IOException("The client reset the request stream.");

            public override void AdvanceTo(SequencePosition consumed) { }

            public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) { }

            public override void CancelPendingRead() { }

            public override void Complete(Exception? exception = null) { }
        }
    }
}
