using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace PyAirtable.Tools.Protos;

/// <summary>The XML documentation of an assembly, as plain text for proto comments.</summary>
public sealed partial class XmlDocs
{
    private readonly Dictionary<string, string> _summaries = new(StringComparer.Ordinal);

    public static XmlDocs For(Assembly assembly)
    {
        var docs = new XmlDocs();
        var path = Path.ChangeExtension(assembly.Location, ".xml");
        if (!File.Exists(path))
        {
            return docs;
        }

        foreach (var member in XDocument.Load(path).Descendants("member"))
        {
            var name = (string?)member.Attribute("name");
            var summary = member.Element("summary");
            if (name is not null && summary is not null)
            {
                docs._summaries[name] = Render(summary);
            }
        }

        return docs;
    }

    public string? Type(Type type) => Get("T:" + type.FullName?.Replace('+', '.'));

    public string? Member(MemberInfo member) => member switch
    {
        PropertyInfo p => Get($"P:{p.DeclaringType!.FullName?.Replace('+', '.')}.{p.Name}"),
        FieldInfo f => Get($"F:{f.DeclaringType!.FullName?.Replace('+', '.')}.{f.Name}"),
        MethodInfo m => _summaries.FirstOrDefault(kv => kv.Key.StartsWith($"M:{m.DeclaringType!.FullName?.Replace('+', '.')}.{m.Name}(", StringComparison.Ordinal)).Value,
        _ => null,
    };

    private string? Get(string key) => _summaries.TryGetValue(key, out var value) ? value : null;

    private static string Render(XElement element)
    {
        var text = new StringBuilder();
        foreach (var node in element.Nodes())
        {
            text.Append(node switch
            {
                XText t => t.Value,
                XElement { Name.LocalName: "see" or "seealso" } e => ShortName((string?)e.Attribute("cref") ?? (string?)e.Attribute("langword") ?? e.Value),
                XElement { Name.LocalName: "paramref" or "typeparamref" } e => (string?)e.Attribute("name") ?? "",
                XElement e => Render(e),
                _ => "",
            });
        }

        return Whitespace().Replace(text.ToString(), " ").Trim();
    }

    private static string ShortName(string cref)
    {
        var name = cref.Contains(':', StringComparison.Ordinal) ? cref[(cref.IndexOf(':', StringComparison.Ordinal) + 1)..] : cref;
        var paren = name.IndexOf('(', StringComparison.Ordinal);
        if (paren >= 0)
        {
            name = name[..paren];
        }

        return name[(name.LastIndexOf('.') + 1)..];
    }

    [GeneratedRegex("\\s+")]
    private static partial Regex Whitespace();
}
