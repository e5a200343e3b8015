using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Health.V1;
using Grpc.Net.Client;
using ProtoBuf.Grpc.Client;
using PyAirtable.IntegrationTests.Diagnostics;
using PyAirtable.IntegrationTests.Infrastructure;

namespace PyAirtable.IntegrationTests.Health;

public sealed class TlsTests : DatabasePerTest
{
    private readonly string _certificatePath = Path.Combine(Path.GetTempPath(), $"pyairtable-test-{Guid.NewGuid():N}.pfx");

    public override async Task DisposeAsync()
    {
        File.Delete(_certificatePath);
        await base.DisposeAsync();
    }

    [Fact]
    public async Task Host_WithCertificateConfigured_ServesGrpcOverTlsWithHttp2()
    {
        using var certificate = CreateSelfSigned();
        await File.WriteAllBytesAsync(_certificatePath, certificate.Export(X509ContentType.Pfx, "test-password"));
        var port = TestEnvironment.FreeTcpPort();
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Settings["Kestrel:Endpoints:Grpc:Url"] = $"https://127.0.0.1:{port}";
            o.Settings["Kestrel:Endpoints:Grpc:Protocols"] = "Http1AndHttp2";
            o.Settings["Kestrel:Endpoints:Grpc:Certificate:Path"] = _certificatePath;
            o.Settings["Kestrel:Endpoints:Grpc:Certificate:Password"] = "test-password";
        });
        var negotiated = new List<Version>();
        using var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, presented, _, _) =>
            presented is not null && presented.GetCertHashString() == certificate.GetCertHashString();
        using var channel = GrpcChannel.ForAddress($"https://127.0.0.1:{port}", new GrpcChannelOptions
        {
            HttpHandler = new VersionRecordingHandler(handler, negotiated),
        });

        var health = await new Grpc.Health.V1.Health.HealthClient(channel).CheckAsync(new HealthCheckRequest());
        var echo = await channel.CreateGrpcService<IDiagnosticsService>().EchoAsync(new EchoRequest { Text = "over tls" });

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
        Assert.Equal("over tls", echo.Text);
        Assert.All(negotiated, v => Assert.Equal(HttpVersion.Version20, v));
        Assert.NotEmpty(negotiated);
    }

    private static X509Certificate2 CreateSelfSigned()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
    }

    private sealed class VersionRecordingHandler(HttpMessageHandler inner, List<Version> versions) : DelegatingHandler(inner)
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            lock (versions)
            {
                versions.Add(response.Version);
            }

            return response;
        }
    }
}
