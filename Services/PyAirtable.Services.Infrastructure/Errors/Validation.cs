using System.Text.RegularExpressions;
using PyAirtable.Services.Infrastructure.Requests;

namespace PyAirtable.Services.Infrastructure.Errors;

/// <summary>Input rules shared by the identity RPCs.</summary>
public static partial class Validation
{
    public const int MaxEmailLength = 254;
    public const int MinPasswordLength = 10;
    public const int MaxPasswordLength = 128;
    public const int MaxNameLength = 100;

    // RFC 5322 "dot-atom" local part and an LDH domain with at least one dot: no spaces, quotes
    // around words, comments or IP literals.
    [GeneratedRegex(@"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$", RegexOptions.CultureInvariant)]
    private static partial Regex EmailPattern();

    public static string NormalizeEmail(string? email) => (email ?? "").Trim().ToLowerInvariant();

    public static RequestValidator Email(this RequestValidator validator, string field, string email)
    {
        if (email.Length == 0)
        {
            return validator.Add(field, "is required");
        }

        if (email.Length > MaxEmailLength)
        {
            return validator.Add(field, $"must be at most {MaxEmailLength} characters");
        }

        return EmailPattern().IsMatch(email) ? validator : validator.Add(field, "is not an e-mail address");
    }

    public static RequestValidator Password(this RequestValidator validator, string field, string? password)
    {
        var length = password?.Length ?? 0;
        return length is < MinPasswordLength or > MaxPasswordLength
            ? validator.Add(field, $"must be {MinPasswordLength} to {MaxPasswordLength} characters")
            : validator;
    }

    /// <summary>
    /// A name shown to people: 1 to <see cref="MaxNameLength"/> characters, no control characters and no
    /// invisible formatting characters (Unicode category Cf: bidi overrides and isolates that make a name
    /// display reversed (U+202E turns "gpj.exe" into "exe.jpg"), zero-width spaces that make two names look alike, BOMs…).
    /// Zero-width (non-)joiners stay allowed: Persian, Indic scripts and emoji sequences need them.
    /// </summary>
    public static RequestValidator Name(this RequestValidator validator, string field, string? name)
    {
        var trimmed = (name ?? "").Trim();
        if (trimmed.Length == 0)
        {
            return validator.Add(field, "is required");
        }

        if (trimmed.Length > MaxNameLength)
        {
            return validator.Add(field, $"must be at most {MaxNameLength} characters");
        }

        if (trimmed.Any(char.IsControl))
        {
            return validator.Add(field, "must not contain control characters");
        }

        return HasHiddenFormatting(trimmed)
            ? validator.Add(field, "must not contain invisible formatting characters (bidi overrides, zero-width spaces)")
            : validator;
    }

    // By code point, not UTF-16 unit, so format characters beyond the BMP (the invisible "tag" characters
    // U+E0000–U+E007F that can smuggle hidden text) are seen too.
    private static bool HasHiddenFormatting(string text)
    {
        foreach (var rune in text.EnumerateRunes())
        {
            if (rune.Value is not (0x200C or 0x200D) && System.Text.Rune.GetUnicodeCategory(rune) == System.Globalization.UnicodeCategory.Format)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// An https URL that others' apps will fetch (an avatar): at most <paramref name="maxLength"/> characters,
    /// with a public host. Loopback, private (RFC 1918, unique-local), link-local (cloud metadata at
    /// 169.254.169.254), CGNAT, unspecified and multicast addresses, and names that only resolve inside a
    /// network (localhost, *.local, *.internal, single-label), are refused: a platform URL must not point
    /// a reader's or a server's fetch at its own network. A public name can still resolve to a private
    /// address later (DNS rebinding); whatever fetches such URLs server-side must check the address it connects to.
    /// </summary>
    public static RequestValidator PublicHttpsUrl(this RequestValidator validator, string field, string url, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(validator);
        if (url.Length > maxLength || !Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttps
            || uri.UserInfo.Length > 0)
        {
            return validator.Add(field, $"must be an https URL of at most {maxLength} characters, without credentials");
        }

        return IsPublicHost(uri) ? validator : validator.Add(field, "must point at a public host (not a private, loopback or link-local address)");
    }

    private static bool IsPublicHost(Uri uri)
    {
        var host = uri.IdnHost.TrimEnd('.');
        if (uri.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6)
        {
            return System.Net.IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address) && IsPublicAddress(address);
        }

        // A numeric or hex last label is an address in disguise (0x7f.1, 127.1 and 2130706433 all reach
        // 127.0.0.1 in some resolver); no real top-level domain looks like that.
        var last = host[(host.LastIndexOf('.') + 1)..];
        if (last.Length == 0 || last.All(char.IsAsciiDigit) || last.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        return host.Contains('.', StringComparison.Ordinal)
            && !host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
            && !host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)
            && !host.EndsWith(".local", StringComparison.OrdinalIgnoreCase)
            && !host.EndsWith(".internal", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// False for loopback, private, link-local (cloud metadata), CGNAT, unspecified, multicast, reserved and documentation
    /// addresses, in IPv4 and IPv6 (mapped, IPv4-compatible, NAT64 and 6to4 forms are judged by the IPv4 they carry).
    /// </summary>
    public static bool IsPublicAddress(System.Net.IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        address = address.Unmapped();
        var b = address.GetAddressBytes();
        if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
        {
            return !(b[0] is 0 or 10 or 127 || b[0] >= 224         // this network, private, loopback, multicast and reserved
                || (b[0] == 100 && b[1] >= 64 && b[1] < 128)        // carrier-grade NAT
                || (b[0] == 169 && b[1] == 254)                     // link-local (cloud metadata)
                || (b[0] == 172 && b[1] >= 16 && b[1] < 32)
                || (b[0] == 192 && b[1] == 168)
                || (b[0] == 192 && b[1] == 0 && b[2] == 0)          // IETF protocol assignments
                || (b[0] == 198 && b[1] is 18 or 19));              // benchmarking
        }

        // IPv6 forms that carry an IPv4 address reach that address: judge it.
        if (b.AsSpan(0, 12).IndexOfAnyExcept((byte)0) < 0                                                  // ::a.b.c.d (IPv4-compatible)
            || (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b.AsSpan(4, 8).IndexOfAnyExcept((byte)0) < 0)) // NAT64
        {
            return IsPublicAddress(new System.Net.IPAddress(b.AsSpan(12, 4)));
        }

        if (b[0] == 0x20 && b[1] == 0x02) // 6to4
        {
            return IsPublicAddress(new System.Net.IPAddress(b.AsSpan(2, 4)));
        }

        return !(address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast || address.IsIPv6UniqueLocal
            || (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x00)   // Teredo: a tunnel endpoint, not a host
            || (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)); // documentation
    }

    /// <summary>A UUID field, or INVALID_ARGUMENT at once.</summary>
    public static Guid Id(string field, string? value)
    {
        var validator = new RequestValidator();
        var id = validator.Id(field, value);
        validator.ThrowIfInvalid();
        return id;
    }

    /// <summary>A UUID field, its violation collected with the request's others (<see cref="Guid.Empty"/> when invalid).</summary>
    public static Guid Id(this RequestValidator validator, string field, string? value)
    {
        ArgumentNullException.ThrowIfNull(validator);
        if (!Guid.TryParseExact(value ?? "", "D", out var id))
        {
            validator.Add(field, "must be a UUID (8-4-4-4-12 hex digits)");
        }

        return id;
    }

    /// <summary>The id of a user to act on: a UUID other than the nil UUID (which no user has), or INVALID_ARGUMENT at once.</summary>
    public static Guid UserId(string field, string? value)
    {
        var id = Id(field, value);
        if (id == Guid.Empty)
        {
            throw new ValidationException(field, "must not be the nil UUID");
        }

        return id;
    }

    /// <summary>A list of UUIDs; violations name the element (<c>field[i]</c>).</summary>
    public static Guid[] Ids(this RequestValidator validator, string field, IReadOnlyList<string> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var ids = new Guid[values.Count];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = validator.Id($"{field}[{i}]", values[i]);
        }

        return ids;
    }
}
