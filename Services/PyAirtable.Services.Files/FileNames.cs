using System.Globalization;
using System.Text;
using PyAirtable.Contracts.Files;
using PyAirtable.Services.Infrastructure.Errors;

namespace PyAirtable.Services.Files;

/// <summary>
/// File names and media types as callers send them, made safe for whoever saves or shows them later. Names never
/// reach a filesystem path here (blobs are addressed by hash), but clients save files under them.
/// </summary>
internal static class FileNames
{
    public const int MaxNameBytes = 255;
    public const string DefaultContentType = "application/octet-stream";

    /// <summary>
    /// A file header's own fields, checked and cleaned (the target resource is checked by the caller): INVALID_ARGUMENT
    /// with every violation under <c>header.*</c>. Shared by BatchUpload and CreateUpload, which take the same header.
    /// </summary>
    public static (string Name, string ContentType, string Sha256) CheckHeader(FileHeader header)
    {
        var validator = new RequestValidator();
        var name = Clean(validator, "header.name", header.Name);
        var contentType = ContentType(validator, "header.content_type", header.ContentType);
        var sha256 = Sha256(validator, "header.sha256", header.Sha256);
        if (header.SizeBytes is < 0)
        {
            validator.Add("header.size_bytes", "must not be negative");
        }

        validator.ThrowIfInvalid();
        return (name, contentType, sha256);
    }

    /// <summary>
    /// The name to store: the last segment of a path (either separator), trimmed. NUL, control and invisible
    /// formatting characters, <c>.</c>, <c>..</c>, empty names and names over 255 UTF-8 bytes are violations.
    /// </summary>
    public static string Clean(RequestValidator validator, string field, string? name)
    {
        var raw = name ?? "";
        if (raw.Contains('\0', StringComparison.Ordinal))
        {
            validator.Add(field, "must not contain NUL");
            return "";
        }

        if (raw.Any(char.IsControl))
        {
            validator.Add(field, "must not contain control characters");
            return "";
        }

        foreach (var rune in raw.EnumerateRunes())
        {
            if (rune.Value is not (0x200C or 0x200D) && Rune.GetUnicodeCategory(rune) == UnicodeCategory.Format)
            {
                validator.Add(field, "must not contain invisible formatting characters (bidi overrides, zero-width spaces)");
                return "";
            }
        }

        var cut = raw.Replace('\\', '/');
        var clean = cut[(cut.LastIndexOf('/') + 1)..].Trim();
        if (clean.Length == 0 || clean is "." or "..")
        {
            validator.Add(field, "must name a file (not empty, '.', '..' or a directory)");
            return "";
        }

        if (Encoding.UTF8.GetByteCount(clean) > MaxNameBytes)
        {
            validator.Add(field, $"must be at most {MaxNameBytes} bytes in UTF-8");
            return "";
        }

        return clean;
    }

    /// <summary>A media type <c>type/subtype</c> (parameters allowed), at most 255 characters; empty means octet-stream.</summary>
    public static string ContentType(RequestValidator validator, string field, string? contentType)
    {
        var value = (contentType ?? "").Trim();
        if (value.Length == 0)
        {
            return DefaultContentType;
        }

        var essence = value.Split(';', 2)[0].Trim();
        var slash = essence.IndexOf('/', StringComparison.Ordinal);
        if (value.Length > 255 || value.Any(c => char.IsControl(c) || c > 0x7e) || slash <= 0 || slash == essence.Length - 1
            || !essence.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '+' or '-' or '_'))
        {
            validator.Add(field, "must be a media type such as image/png (printable ASCII, at most 255 characters)");
            return "";
        }

        return value.ToLowerInvariant();
    }

    /// <summary>A SHA-256 in hex (either case), lower-cased; empty stays empty (not given).</summary>
    public static string Sha256(RequestValidator validator, string field, string? sha256)
    {
        var value = (sha256 ?? "").Trim();
        if (value.Length == 0)
        {
            return "";
        }

        if (value.Length != 64 || !value.All(char.IsAsciiHexDigit))
        {
            validator.Add(field, "must be 64 hex digits");
            return "";
        }

        return value.ToLowerInvariant();
    }
}
