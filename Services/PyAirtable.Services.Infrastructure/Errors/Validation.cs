using System.Text.RegularExpressions;

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

    /// <summary>A name shown to people: 1 to <see cref="MaxNameLength"/> characters, no control characters.</summary>
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

        return trimmed.Any(char.IsControl) ? validator.Add(field, "must not contain control characters") : validator;
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
