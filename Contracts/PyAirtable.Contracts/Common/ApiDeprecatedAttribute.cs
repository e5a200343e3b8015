namespace PyAirtable.Contracts.Common;

/// <summary>
/// Marks a contract service (or one of its methods) as superseded by a newer package version. The proto exporter writes
/// <c>option deprecated = true;</c> on the service or method, the OpenAPI document marks its operations
/// <c>deprecated: true</c>, and its JSON/HTTP routes answer with <c>Deprecation</c> and <c>Sunset</c> headers. The RPCs
/// keep working unchanged: this announces an end, it does not bring it.
/// </summary>
/// <remarks>
/// Not <see cref="System.ObsoleteAttribute"/>: that would make every implementation and in-process caller of the
/// contract a compiler warning (an error here), while the platform must keep serving the old version until its sunset.
/// </remarks>
[AttributeUsage(AttributeTargets.Interface | AttributeTargets.Method, AllowMultiple = false, Inherited = false)]
public sealed class ApiDeprecatedAttribute : Attribute
{
    /// <summary>A deprecation: <paramref name="successor"/> names what to call instead (a service or <c>Service/Method</c>).</summary>
    public ApiDeprecatedAttribute(string successor)
    {
        Successor = successor;
    }

    /// <summary>The full name of the service (or <c>package.Service/Method</c>) that replaces this one.</summary>
    public string Successor { get; }

    /// <summary>
    /// When the deprecation took effect (ISO 8601 date, e.g. <c>2026-11-29</c>): the date the JSON routes' <c>Deprecation</c>
    /// header carries (RFC 9745 defines no other form). A host refuses to start announcing a deprecation without it.
    /// </summary>
    public string? Since { get; init; }

    /// <summary>When the deprecated version may stop being served (ISO 8601 date, e.g. <c>2027-06-30</c>), or null if not decided.</summary>
    public string? Sunset { get; init; }
}
