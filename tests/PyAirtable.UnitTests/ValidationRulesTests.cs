using System.Net;
using PyAirtable.Contracts.Common;
using PyAirtable.Services.Infrastructure.Errors;

namespace PyAirtable.UnitTests;

/// <summary>
/// The shared input rules at their limits (the last accepted and the first refused length), the UUID rules, and the
/// validator's own checks: each refusal names the field, and the status detail says which fields are wrong.
/// </summary>
public sealed class ValidationRulesTests
{
    private static IReadOnlyList<FieldViolation> Violations(RequestValidator validator) =>
        Assert.Throws<ValidationException>(validator.ThrowIfInvalid).Violations;

    [Fact]
    public void Email_IsRequired_AndAtMost254Characters()
    {
        var longest = new string('a', Validation.MaxEmailLength - "@example.com".Length) + "@example.com";
        Assert.True(new RequestValidator().Email("email", longest).IsValid);
        Assert.Equal("email", Assert.Single(Violations(new RequestValidator().Email("email", "b" + longest))).Field);
        Assert.Equal(new FieldViolation("email", "is required"), Assert.Single(Violations(new RequestValidator().Email("email", ""))));
        Assert.Equal("", Validation.NormalizeEmail(null));
        Assert.Equal("ann@example.com", Validation.NormalizeEmail("  Ann@Example.COM "));
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData(9, false)]
    [InlineData(10, true)]
    [InlineData(128, true)]
    [InlineData(129, false)]
    public void Password_Is10To128Characters(int? length, bool accepted)
    {
        var validator = new RequestValidator().Password("password", length is { } n ? new string('p', n) : null);
        Assert.Equal(accepted, validator.IsValid);
        if (!accepted)
        {
            Assert.Equal("password", Assert.Single(Violations(validator)).Field);
        }
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData("   ", false)]
    [InlineData("a\u0001b", false)]      // one control character among ordinary ones
    [InlineData("a\u202Eb", false)]      // a bidi override
    [InlineData("\u0645\u200C\u06CC", true)] // a zero-width non-joiner (Persian)
    [InlineData("\U0001F468\u200D\U0001F469", true)] // a zero-width joiner (emoji sequence)
    public void Name_RefusesControlAndInvisibleFormatting_ButNotJoiners(string? name, bool accepted)
    {
        var validator = new RequestValidator().Name("display_name", name);
        Assert.Equal(accepted, validator.IsValid);
        if (!accepted)
        {
            Assert.Equal("display_name", Assert.Single(Violations(validator)).Field);
        }
    }

    [Fact]
    public void Name_IsAtMost100CharactersOnceTrimmed()
    {
        Assert.True(new RequestValidator().Name("name", " " + new string('n', Validation.MaxNameLength) + " ").IsValid);
        Assert.False(new RequestValidator().Name("name", new string('n', Validation.MaxNameLength + 1)).IsValid);
    }

    [Fact]
    public void Ids_AreUuidsInTheirCanonicalForm_AndAViolationNamesTheElement()
    {
        var id = Guid.NewGuid();
        Assert.Equal(id, Validation.Id("id", id.ToString()));
        Assert.Equal("id", Assert.Single(Assert.Throws<ValidationException>(() => Validation.Id("id", null)).Violations).Field);
        Assert.Throws<ValidationException>(() => Validation.Id("id", "{" + id + "}"));
        Assert.Throws<ValidationException>(() => Validation.Id("id", "not-a-uuid"));

        Assert.Equal(id, Validation.UserId("user_id", id.ToString()));
        Assert.Equal("user_id", Assert.Single(Assert.Throws<ValidationException>(() => Validation.UserId("user_id", Guid.Empty.ToString())).Violations).Field);

        var validator = new RequestValidator();
        var ids = validator.Ids("ids", [id.ToString(), "bad", id.ToString()]);
        Assert.Equal([id, Guid.Empty, id], ids);
        Assert.Equal("ids[1]", Assert.Single(Violations(validator)).Field);
        Assert.Throws<ArgumentNullException>(() => new RequestValidator().Ids("ids", null!));
    }

    [Fact]
    public void Validator_Limits_AcceptTheirBoundsAndRefuseJustPastThem()
    {
        Assert.True(new RequestValidator().Required("a", "x").MaxLength("b", "xxxx", 4).MaxLength("c", null, 4)
            .Range("d", 0, 0, 150).Range("e", 150, 0, 150).IsValid);
        var refused = Violations(new RequestValidator().Required("a", null).Required("b", "").Required("c", " \t")
            .MaxLength("d", "xxxxx", 4).Range("e", -1, 0, 150).Range("f", 151, 0, 150));
        Assert.Equal(["a", "b", "c", "d", "e", "f"], refused.Select(v => v.Field));
        Assert.All(refused, v => Assert.NotEmpty(v.Description));
    }

    [Fact]
    public void ValidationException_Detail_SaysWhichFieldsAreWrong()
    {
        Assert.NotEmpty(new ValidationException().Message);
        Assert.Empty(new ValidationException().Violations);
        var one = new ValidationException("page_size", "must be at most 100");
        Assert.Contains("page_size", one.Message, StringComparison.Ordinal);
        Assert.Contains("must be at most 100", one.Message, StringComparison.Ordinal);
        var two = new ValidationException([new FieldViolation("a_field", "x"), new FieldViolation("b_field", "y")]);
        Assert.Contains("2", two.Message, StringComparison.Ordinal);
        Assert.Contains("a_field, b_field", two.Message, StringComparison.Ordinal);

        Assert.Equal("request", Assert.Single(new ValidationException("the body is not JSON").Violations).Field);
        var wrapped = new ValidationException("bad input", new FormatException());
        Assert.Equal(ErrorCode.InvalidArgument, wrapped.Code);
        Assert.Empty(wrapped.Violations);
        Assert.IsType<FormatException>(wrapped.InnerException);
        Assert.Equal(ErrorCode.Internal, new PlatformException().Code);
        Assert.NotEmpty(new PlatformException().Message);
    }

    [Theory]
    [InlineData("164:ff9b::a00:1")] // only byte 1 matches the NAT64 prefix's: not NAT64, not judged by its last four bytes
    [InlineData("2a01:db8::1")]     // only bytes 1-3 match the documentation prefix's
    public void AddressesNextToSpecialPrefixes_ArePublic(string address) => Assert.True(Validation.IsPublicAddress(IPAddress.Parse(address)));

    [Fact]
    public void AddressRules_RefuseNull()
    {
        Assert.Throws<ArgumentNullException>(() => Validation.IsPublicAddress(null!));
        Assert.Throws<ArgumentNullException>(() => Validation.PublicHttpsUrl(null!, "url", "https://example.com/", 100));
        Assert.Throws<ArgumentNullException>(() => ((RequestValidator)null!).Id("id", Guid.NewGuid().ToString()));
    }
}
