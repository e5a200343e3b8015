using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace PyAirtable.IntegrationTests.Infrastructure;

/// <summary>A platform CA and host certificates made by scripts/certs.sh (as an operator would), removed afterwards.</summary>
public sealed class TestCertificates : IDisposable
{
    private TestCertificates(string directory) => Directory = directory;

    public string Directory { get; }

    /// <summary>Runs certs.sh with <paramref name="hosts"/> (<c>name[:area+area]</c>) into a directory of its own.</summary>
    public static async Task<TestCertificates> CreateAsync(params string[] hosts)
    {
        var directory = Path.Combine(TestEnvironment.RepositoryRoot, ".local", "test-certs", Guid.NewGuid().ToString("N")[..12]);
        await ScriptRunner.RunAsync("certs.sh", [directory, .. hosts]);
        return new TestCertificates(directory);
    }

    /// <summary>Makes <paramref name="options"/> a host with platform mTLS as <paramref name="name"/>; its test channel presents <c>tester</c> when required.</summary>
    public void Apply(TestHostOptions options, string name, bool requireClientCertificates, string? testClient = "tester")
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Scheme = "https";
        options.ClientHandler = Handler(requireClientCertificates ? testClient : null);
        options.Settings["Mtls:CertificatePath"] = Path.Combine(Directory, name + ".crt");
        options.Settings["Mtls:KeyPath"] = Path.Combine(Directory, name + ".key");
        options.Settings["Mtls:CaPath"] = Path.Combine(Directory, "ca.crt");
        options.Settings["Mtls:ClientCertificates"] = requireClientCertificates ? "Require" : "Allow";
    }

    /// <summary>A client that trusts this CA and presents <paramref name="client"/>'s certificate from <paramref name="from"/> (default: this set).</summary>
    public SocketsHttpHandler Handler(string? client, TestCertificates? from = null)
    {
        var ca = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(Directory, "ca.crt"));
        var options = new SslClientAuthenticationOptions
        {
            RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            {
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(ca);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return certificate is X509Certificate2 c && chain.Build(c);
            },
        };
        if (client is not null)
        {
            var dir = (from ?? this).Directory;
            options.ClientCertificates = [X509Certificate2.CreateFromPemFile(Path.Combine(dir, client + ".crt"), Path.Combine(dir, client + ".key"))];
        }

        return new SocketsHttpHandler { SslOptions = options };
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Leftovers under .local/ are harmless.
        }
    }
}
