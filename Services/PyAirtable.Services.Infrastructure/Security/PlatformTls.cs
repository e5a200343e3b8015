using System.Formats.Asn1;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Configuration;

namespace PyAirtable.Services.Infrastructure.Security;

/// <summary>mTLS between hosts (section <c>Mtls</c>); off unless all three paths are set (a single host needs none).</summary>
public sealed class PlatformTlsOptions
{
    public const string Section = "Mtls";

    /// <summary>This host's certificate (PEM), issued by the platform CA (<c>scripts/certs.sh</c>).</summary>
    public string CertificatePath { get; set; } = "";

    /// <summary>Its private key (PEM).</summary>
    public string KeyPath { get; set; } = "";

    /// <summary>The platform CA (PEM): the only issuer whose certificates this host accepts from other hosts.</summary>
    public string CaPath { get; set; } = "";

    /// <summary>
    /// <c>Require</c> (default): a connection without a platform certificate is refused in the TLS handshake (a
    /// backend). <c>Allow</c>: clients without one may connect (an edge serving the public), but a certificate that is
    /// presented must be the platform's.
    /// </summary>
    public string ClientCertificates { get; set; } = "Require";
}

/// <summary>
/// The platform's private CA and this host's certificate: Kestrel serves with it and accepts only client certificates
/// the CA issued; remote channels present it and accept only servers the CA issued. Identity is the certificate's,
/// not its name: instances are reached at addresses (pod IPs) no certificate could list, so the chain to the platform
/// CA is what is checked, and the certificate's <c>spiffe://pyairtable/…</c> URIs say who the peer is.
/// </summary>
public sealed class PlatformTls
{
    public const string HostUriPrefix = "spiffe://pyairtable/host/";
    public const string ServiceUriPrefix = "spiffe://pyairtable/service/";

    private readonly X509Certificate2 _ca;

    private PlatformTls(X509Certificate2 certificate, X509Certificate2 ca, bool requireClientCertificates)
    {
        Certificate = certificate;
        _ca = ca;
        RequireClientCertificates = requireClientCertificates;
    }

    /// <summary>This host's certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    public bool RequireClientCertificates { get; }

    /// <summary>This host's identity, read from its own certificate.</summary>
    public PeerIdentity Identity => PeerIdentity.Of(Certificate);

    /// <summary>The settings under <c>Mtls</c>, or null when mTLS is off; a half-configured or unreadable set is a start-up error.</summary>
    public static PlatformTls? FromConfiguration(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = configuration.GetSection(PlatformTlsOptions.Section).Get<PlatformTlsOptions>() ?? new PlatformTlsOptions();
        string[] paths = [options.CertificatePath, options.KeyPath, options.CaPath];
        if (paths.All(string.IsNullOrWhiteSpace))
        {
            return null;
        }

        if (paths.Any(string.IsNullOrWhiteSpace))
        {
            throw new InvalidOperationException("Mtls needs CertificatePath, KeyPath and CaPath together (scripts/certs.sh makes them).");
        }

        var require = options.ClientCertificates.ToUpperInvariant() switch
        {
            "REQUIRE" => true,
            "ALLOW" => false,
            _ => throw new InvalidOperationException($"Mtls:ClientCertificates is Require or Allow, not '{options.ClientCertificates}'."),
        };
        var certificate = X509Certificate2.CreateFromPemFile(options.CertificatePath, options.KeyPath);
        var ca = X509CertificateLoader.LoadCertificateFromFile(options.CaPath);
        var tls = new PlatformTls(certificate, ca, require);
        if (!tls.IsPlatformCertificate(certificate))
        {
            throw new InvalidOperationException($"{options.CertificatePath} is not issued by the CA in {options.CaPath}, or has expired.");
        }

        return tls;
    }

    /// <summary>True when <paramref name="certificate"/> chains to the platform CA (and to nothing else) and is valid now.</summary>
    public bool IsPlatformCertificate(X509Certificate? certificate)
    {
        if (certificate is null)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(_ca);
        // A private CA publishes no revocation lists: certificates are short-lived (397 days) and re-issued instead.
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        var leaf = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(leaf) && chain.ChainElements[^1].Certificate.RawDataMemory.Span.SequenceEqual(_ca.RawDataMemory.Span);
    }

    /// <summary>What a remote channel's handler presents and accepts.</summary>
    public SslClientAuthenticationOptions ClientOptions() => new()
    {
        ClientCertificates = [Certificate],
        // The name is not checked (see the class): the chain to the platform CA is.
        RemoteCertificateValidationCallback = (_, certificate, _, _) => IsPlatformCertificate(certificate),
    };
}

/// <summary>Who a peer is, from its platform certificate: its host name and the services it runs.</summary>
public sealed record PeerIdentity(string Host, IReadOnlySet<string> Services)
{
    public static PeerIdentity Of(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        var host = "";
        var services = new HashSet<string>(StringComparer.Ordinal);
        foreach (var uri in UrisOf(certificate))
        {
            if (uri.StartsWith(PlatformTls.HostUriPrefix, StringComparison.Ordinal))
            {
                host = uri[PlatformTls.HostUriPrefix.Length..];
            }
            else if (uri.StartsWith(PlatformTls.ServiceUriPrefix, StringComparison.Ordinal))
            {
                services.Add(uri[PlatformTls.ServiceUriPrefix.Length..]);
            }
        }

        return new PeerIdentity(host, services);
    }

    /// <summary>The uniformResourceIdentifier entries of the subject alternative names (.NET reads only DNS and IP ones).</summary>
    private static List<string> UrisOf(X509Certificate2 certificate)
    {
        var uris = new List<string>();
        if (certificate.Extensions["2.5.29.17"] is not { } extension)
        {
            return uris;
        }

        var uriTag = new Asn1Tag(TagClass.ContextSpecific, 6);
        var names = new AsnReader(extension.RawData, AsnEncodingRules.DER).ReadSequence();
        while (names.HasData)
        {
            var tag = names.PeekTag();
            if (tag.HasSameClassAndValue(uriTag))
            {
                uris.Add(names.ReadCharacterString(UniversalTagNumber.IA5String, tag));
            }
            else
            {
                names.ReadEncodedValue();
            }
        }

        return uris;
    }
}
