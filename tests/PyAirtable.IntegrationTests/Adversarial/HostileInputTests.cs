using System.Text;
using Google.Rpc;
using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.Extensions.Logging;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Users;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using static PyAirtable.IntegrationTests.Identity.AuthenticationTests;

namespace PyAirtable.IntegrationTests.Adversarial;

/// <summary>Bytes and strings an attacker sends: undecodable messages, invalid UTF-8, huge metadata, spoofing characters, internal URLs.</summary>
public sealed class HostileInputTests(IdentityFixture fixture) : IClassFixture<IdentityFixture>, IDisposable
{
    private TestHost Host => fixture.Host;

    public void Dispose() => fixture.AssertNoUnexpectedErrors();

    [Fact]
    public async Task RandomBytes_ToAnonymousAndAuthenticatedRpcs_AreInvalidArgument_WithoutErrorLogs()
    {
        var user = await Host.RegisterAsync();
        var random = new Random(20261129);
        var warningsBefore = RejectionWarnings();
        var codes = new List<StatusCode>();
        for (var i = 0; i < 300; i++)
        {
            var payload = new byte[random.Next(1, 200)];
            random.NextBytes(payload);
            var (service, method, headers) = (i % 2) switch
            {
                0 => ("pyairtable.auth.v1.AuthService", "Login", null),
                _ => ("pyairtable.users.v1.UserService", "GetUser", new Metadata { { "authorization", "Bearer " + user.Tokens.AccessToken } }),
            };
            var ex = await Assert.ThrowsAsync<RpcException>(() => Adversary.CallRawAsync(Host.Channel, service, method, payload, headers));
            codes.Add(ex.StatusCode);
            if (ex.StatusCode == StatusCode.InvalidArgument)
            {
                var info = AssertStatus(ex, StatusCode.InvalidArgument);
                Assert.False(string.IsNullOrEmpty(info.Metadata["request_id"]));
                Assert.NotNull(ex.GetRpcStatus()!.GetDetail<BadRequest>());
            }
        }

        // Bytes that happen to decode still fail validation (or name nobody): never UNKNOWN or INTERNAL.
        Assert.All(codes, c => Assert.True(c is StatusCode.InvalidArgument or StatusCode.NotFound, c.ToString()));
        Assert.InRange(RejectionWarnings() - warningsBefore, 1, 3); // one per 10 s, not one per call
        Assert.DoesNotContain(Host.Logs.Entries, e => e.Level >= LogLevel.Error);
    }

    [Fact]
    public async Task UnknownServicesAndMethods_AreUnimplemented_WithTheRequestId_WithOrWithoutCredentials()
    {
        var user = await Host.RegisterAsync();
        var bearer = new Metadata { { "authorization", "Bearer " + user.Tokens.AccessToken } };
        foreach (var headers in new[] { null, bearer })
        {
            foreach (var (service, method) in new[]
                     {
                         ("pyairtable.users.v1.UserService", "NoSuchMethod"), ("pyairtable.nosuch.v1.NoSuchService", "Get"),
                         ("pyairtable.users.v1.UserService", "Get%0d%0aX-Evil: 1"),
                     })
            {
                var ex = await Assert.ThrowsAsync<RpcException>(() => Adversary.CallRawAsync(Host.Channel, service, method, [], headers));
                var info = AssertStatus(ex, StatusCode.Unimplemented);
                Assert.False(string.IsNullOrEmpty(info.Metadata["request_id"]));
                Assert.DoesNotContain("Evil", ex.Status.Detail, StringComparison.Ordinal); // a path is echoed only if it looks like a method
            }
        }
    }

    [Fact]
    public async Task InvalidUtf8_InAString_IsInvalidArgument_NamingTheField()
    {
        var email = Encoding.UTF8.GetBytes(Identities.NewEmail());
        var password = Encoding.UTF8.GetBytes("a-long-enough-password-1");
        byte[] name = [.. "Bad"u8, 0xFF, 0xFE, .. "Name"u8];
        byte[] payload = [.. Field(1, email), .. Field(2, password), .. Field(3, name)];
        var ex = await Assert.ThrowsAsync<RpcException>(() => Adversary.CallRawAsync(Host.Channel, "pyairtable.auth.v1.AuthService", "Register", payload));
        AssertStatus(ex, StatusCode.InvalidArgument);
        Assert.Equal("display_name", ex.GetRpcStatus()!.GetDetail<BadRequest>()!.FieldViolations.Single().Field);

        // The same message with valid UTF-8 registers.
        byte[] valid = [.. Field(1, email), .. Field(2, password), .. Field(3, "Good Name"u8.ToArray())];
        await Adversary.CallRawAsync(Host.Channel, "pyairtable.auth.v1.AuthService", "Register", valid);
    }

    [Fact]
    public async Task OversizedMetadata_RefusesThatCall_OtherCallsOnTheConnectionGoOn()
    {
        using var watchCts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var watch = Host.Health.Watch(new HealthCheckRequest(), cancellationToken: watchCts.Token);
        Assert.True(await watch.ResponseStream.MoveNext(watchCts.Token));
        var next = watch.ResponseStream.MoveNext(watchCts.Token); // stays pending while the stream lives

        foreach (var size in new[] { 20 * 1024, 40 * 1024, 60 * 1024 })
        {
            var headers = new Metadata { { "x-padding", new string('a', size) } };
            var ex = await Assert.ThrowsAsync<RpcException>(async () =>
                await Host.Health.CheckAsync(new HealthCheckRequest(), headers, DateTime.UtcNow.AddSeconds(10)));
            Assert.Equal("metadata_size", AssertStatus(ex, StatusCode.ResourceExhausted).Metadata["limit"]);
        }

        await Task.Delay(200);
        Assert.False(next.IsCompleted, "the Watch stream on the same connection was torn down");
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await Host.Health.CheckAsync(new HealthCheckRequest())).Status);
        await watchCts.CancelAsync();
    }

    [Fact]
    public async Task CallsResetWhileTheServerReadsTheRequest_AreCancellations_NotErrorLogs()
    {
        using var http = new HttpClient(new SocketsHttpHandler()) { DefaultRequestVersion = System.Net.HttpVersion.Version20 };
        for (var i = 0; i < 20; i++)
        {
            // A gRPC frame header announcing 100 bytes, 3 of them sent, then the client gives up and resets the stream.
            using var request = new HttpRequestMessage(HttpMethod.Post, Host.GrpcAddress + "/pyairtable.auth.v1.AuthService/Login")
            {
                Version = System.Net.HttpVersion.Version20,
                VersionPolicy = HttpVersionPolicy.RequestVersionExact,
                Content = new StalledContent(),
            };
            request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/grpc");
            request.Headers.TryAddWithoutValidation("te", "trailers");
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(150));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => http.SendAsync(request, cts.Token));
        }

        await Task.Delay(500); // let the server notice the resets
        Assert.DoesNotContain(Host.Logs.Entries, e => e.Level >= LogLevel.Error);
    }

    private sealed class StalledContent : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context, CancellationToken cancellationToken)
        {
            await stream.WriteAsync(new byte[] { 0, 0, 0, 0, 100, 0x0A, 0x01, 0x61 }, cancellationToken);
            await stream.FlushAsync(cancellationToken);
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    [Theory]
    [InlineData("Mallory\u202Egpj.exe")]   // right-to-left override
    [InlineData("Ali\u2066ce\u2069")]      // isolate
    [InlineData("Bo\u200Bb")]              // zero-width space
    [InlineData("\uFEFFEve")]              // byte order mark
    public async Task DisplayNames_WithInvisibleFormatting_AreRefused(string name)
    {
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await Host.Auth().RegisterAsync(
            new RegisterRequest { Email = Identities.NewEmail(), Password = "a-long-enough-password-1", DisplayName = name }));
        AssertStatus(ex, StatusCode.InvalidArgument);
        Assert.Equal("display_name", ex.GetRpcStatus()!.GetDetail<BadRequest>()!.FieldViolations.Single().Field);
    }

    [Fact]
    public async Task DisplayNames_WithJoiners_AreAccepted()
    {
        // A family emoji (zero-width joiners) and Persian with a zero-width non-joiner.
        await Host.RegisterAsync("Family \U0001F468\u200D\U0001F469\u200D\U0001F467");
        await Host.RegisterAsync("\u0645\u06CC\u200C\u062E\u0648\u0627\u0647\u0645");
    }

    [Theory]
    [InlineData("https://169.254.169.254/latest/meta-data/")]
    [InlineData("https://10.0.0.7/a.png")]
    [InlineData("https://192.168.1.1/a.png")]
    [InlineData("https://127.0.0.1/a.png")]
    [InlineData("https://[fd00::1]/a.png")]
    [InlineData("https://[fe80::1]/a.png")]
    [InlineData("https://[::ffff:10.0.0.1]/a.png")]
    [InlineData("https://localhost/a.png")]
    [InlineData("https://printer.local/a.png")]
    [InlineData("https://metadata.google.internal/a.png")]
    [InlineData("https://intranet/a.png")]
    [InlineData("https://user:pass@cdn.example.com/a.png")]
    [InlineData("http://cdn.example.com/a.png")]
    public async Task AvatarUrls_PointingInsideANetwork_AreRefused(string url)
    {
        var user = await Host.RegisterAsync();
        var current = await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer);
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await Host.Users().UpdateUserAsync(
            new UpdateUserRequest { UserId = user.UserId, Etag = current.Cache!.Etag, AvatarUrl = url }, user.Bearer));
        AssertStatus(ex, StatusCode.InvalidArgument);
        Assert.Equal("avatar_url", ex.GetRpcStatus()!.GetDetail<BadRequest>()!.FieldViolations.Single().Field);
    }

    [Fact]
    public async Task AvatarUrls_OnPublicHosts_AreAccepted()
    {
        var user = await Host.RegisterAsync();
        var current = await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer);
        var updated = await Host.Users().UpdateUserAsync(
            new UpdateUserRequest { UserId = user.UserId, Etag = current.Cache!.Etag, AvatarUrl = "https://cdn.example.com/avatars/1.png" }, user.Bearer);
        Assert.Equal("https://cdn.example.com/avatars/1.png", updated.User!.AvatarUrl);
    }

    private int RejectionWarnings() =>
        Host.Logs.Entries.Count(e => e.Level == LogLevel.Warning && e.Category.EndsWith("StrictMarshallerFactory", StringComparison.Ordinal));

    /// <summary>A length-delimited protobuf field.</summary>
    private static byte[] Field(int number, byte[] value)
    {
        var bytes = new List<byte> { (byte)((number << 3) | 2) };
        var length = value.Length;
        while (length >= 0x80)
        {
            bytes.Add((byte)(length | 0x80));
            length >>= 7;
        }

        bytes.Add((byte)length);
        bytes.AddRange(value);
        return [.. bytes];
    }
}
