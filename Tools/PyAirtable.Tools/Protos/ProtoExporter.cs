using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using Grpc.Core;
using ProtoBuf;
using ProtoBuf.Grpc.Configuration;
using PyAirtable.Contracts.Common;

namespace PyAirtable.Tools.Protos;

/// <summary>
/// Writes the .proto files of code-first contracts: one file per package
/// (<c>pyairtable/&lt;area&gt;/&lt;version&gt;/&lt;area&gt;.proto</c>), proto3, lower_snake_case fields, prefixed enum values,
/// <c>optional</c> for nullable scalars, well-known Timestamp/Duration, the XML docs as comments.
/// The package of a type comes from its namespace: <c>…Contracts.&lt;Area&gt;</c> → <c>pyairtable.&lt;area&gt;.v1</c>,
/// <c>…Contracts.&lt;Area&gt;.V2</c> → <c>pyairtable.&lt;area&gt;.v2</c>, <c>….V1Alpha1</c> → <c>….v1alpha1</c>.
/// Output is deterministic: the same contracts give byte-identical files on every machine.
/// </summary>
public sealed partial class ProtoExporter
{
    private const string Timestamp = "google.protobuf.Timestamp";
    private const string Duration = "google.protobuf.Duration";

    private readonly XmlDocs _docs;
    private readonly Dictionary<Type, string> _packages = [];
    private readonly SortedDictionary<string, PackageModel> _model = new(StringComparer.Ordinal);
    private readonly List<string> _errors = [];

    private ProtoExporter(XmlDocs docs) => _docs = docs;

    /// <summary>Exports every service and contract type of <paramref name="assembly"/>.</summary>
    public static IReadOnlyDictionary<string, string> Export(Assembly assembly) =>
        Export(assembly.GetExportedTypes(), XmlDocs.For(assembly));

    /// <summary>Exports the given service interfaces and contract types (and what they reference).</summary>
    public static IReadOnlyDictionary<string, string> Export(IEnumerable<Type> types, XmlDocs docs)
    {
        var exporter = new ProtoExporter(docs);
        foreach (var type in types.OrderBy(t => t.FullName, StringComparer.Ordinal))
        {
            if (type.IsInterface && type.GetCustomAttribute<ServiceAttribute>() is not null)
            {
                exporter.AddService(type);
            }
            else if (type.GetCustomAttribute<ProtoContractAttribute>() is not null)
            {
                exporter.AddType(type);
            }
        }

        if (exporter._errors.Count > 0)
        {
            // A type is looked up once per use, so one bad namespace would otherwise be reported many times.
            throw new ProtoExportException([.. exporter._errors.Distinct(StringComparer.Ordinal)]);
        }

        return exporter._model.Values.ToDictionary(p => p.Path, p => p.Render(), StringComparer.Ordinal);
    }

    private void AddService(Type contract)
    {
        var name = contract.GetCustomAttribute<ServiceAttribute>()!.Name ?? contract.Name;
        var package = PackageOf(contract);
        var dot = name.LastIndexOf('.');
        if (dot < 0 || name[..dot] != package)
        {
            _errors.Add($"{contract.FullName}: service name '{name}' must be '{package}.<Name>Service' (its package follows its namespace).");
            return;
        }

        var service = new ServiceModel(name[(dot + 1)..], _docs.Type(contract))
        {
            Deprecated = contract.GetCustomAttribute<ApiDeprecatedAttribute>() is not null,
        };
        foreach (var method in RecordingBinder.Bind(contract).OrderBy(m => m.Name, StringComparer.Ordinal))
        {
            AddType(method.RequestType);
            AddType(method.ResponseType);
            var request = Reference(package, method.RequestType);
            var response = Reference(package, method.ResponseType);
            var clientStreams = method.Type is MethodType.ClientStreaming or MethodType.DuplexStreaming;
            var serverStreams = method.Type is MethodType.ServerStreaming or MethodType.DuplexStreaming;
            service.Methods.Add(new MethodModel(method.Name, request, clientStreams, response, serverStreams,
                method.Source is null ? null : _docs.Member(method.Source))
            {
                Deprecated = method.Source?.GetCustomAttribute<ApiDeprecatedAttribute>() is not null,
            });
        }

        Package(package).Services.Add(service);
    }

    private void AddType(Type type)
    {
        if (_packages.ContainsKey(type) || IsWellKnown(type))
        {
            return;
        }

        var package = PackageOf(type);
        _packages[type] = package;
        if (type.IsEnum)
        {
            AddEnum(type, package);
            return;
        }

        if (type.GetCustomAttribute<ProtoContractAttribute>() is null)
        {
            _errors.Add($"{type.FullName}: used in a contract but has no [ProtoContract].");
            return;
        }

        // What the exporter does not model is refused rather than exported differently from the wire.
        var contract = type.GetCustomAttribute<ProtoContractAttribute>()!;
        if (type.GetCustomAttributes<ProtoIncludeAttribute>().Any() || (type.BaseType is { } baseType && baseType != typeof(object)))
        {
            _errors.Add($"{type.FullName}: inheritance ([ProtoInclude] or a base contract) is not exported; compose messages instead.");
        }

        if (contract.ImplicitFields != ImplicitFields.None)
        {
            _errors.Add($"{type.FullName}: ImplicitFields is not supported; number every member with [ProtoMember(n)].");
        }

        if (EffectiveLevel(type) < CompatibilityLevel.Level300)
        {
            _errors.Add($"{type.FullName}: its module must declare [module: CompatibilityLevel(CompatibilityLevel.Level300)] (Timestamp, Duration, no bcl.proto).");
        }

        var message = new MessageModel(ProtoName(type), _docs.Type(type));
        var nullability = new NullabilityInfoContext();
        var members = type.GetMembers(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance)
            .Select(m => (Member: m, Attribute: m.GetCustomAttribute<ProtoMemberAttribute>()))
            .Where(m => m.Attribute is not null)
            .OrderBy(m => m.Attribute!.Tag);
        foreach (var (member, attribute) in members)
        {
            var clrType = member is PropertyInfo p ? p.PropertyType : ((FieldInfo)member).FieldType;
            var field = Field(package, type, member, attribute!, clrType, nullability);
            if (field is not null)
            {
                message.Fields.Add(field);
            }
        }

        // [ProtoReserved(10)] and [ProtoReserved("nickname")]: a deleted field's number and name stay taken.
        foreach (var reserved in type.GetCustomAttributes<ProtoReservedAttribute>()
                     .OrderBy(r => r.Name is null ? 0 : 1).ThenBy(r => r.From).ThenBy(r => r.Name, StringComparer.Ordinal))
        {
            message.Reserved.Add(reserved.Name is { Length: > 0 } reservedName ? $"\"{reservedName}\""
                : reserved.From == reserved.To ? reserved.From.ToString(CultureInfo.InvariantCulture)
                : string.Create(CultureInfo.InvariantCulture, $"{reserved.From} to {reserved.To}"));
        }

        var duplicate = message.Fields.GroupBy(f => f.Number).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            _errors.Add($"{type.FullName}: field number {duplicate.Key} is used twice.");
        }

        Package(package).Messages.Add(message);
    }

    private FieldModel? Field(string package, Type owner, MemberInfo member, ProtoMemberAttribute attribute, Type clrType, NullabilityInfoContext nullability)
    {
        var name = attribute.Name ?? SnakeCase(member.Name);
        var docs = _docs.Member(member);
        if (member.GetCustomAttribute<ProtoMapAttribute>() is not null || attribute.DataFormat == DataFormat.Group
            || (attribute.DataFormat == DataFormat.FixedSize && (Nullable.GetUnderlyingType(clrType) ?? clrType) == typeof(Guid))
            || member.GetCustomAttribute<CompatibilityLevelAttribute>() is not null)
        {
            _errors.Add($"{owner.FullName}.{member.Name}: [ProtoMap], DataFormat.Group, fixed-size Guid and member-level CompatibilityLevel are not exported.");
            return null;
        }
        if (clrType != typeof(string) && clrType != typeof(byte[]) && DictionaryTypes(clrType) is var (key, value))
        {
            AddReferenced(key);
            AddReferenced(value);
            var keyType = Scalar(package, key, DataFormat.Default);
            var valueType = Scalar(package, value, DataFormat.Default);
            if (!(key == typeof(string) || (key.IsPrimitive && key != typeof(float) && key != typeof(double) && key != typeof(bool))) || valueType.Length == 0 || Nullable.GetUnderlyingType(value) is not null)
            {
                _errors.Add($"{owner.FullName}.{member.Name}: map<{key.Name}, {value.Name}> has no proto3 equivalent (keys: string or integers; values: not nullable).");
                return null;
            }

            return new FieldModel($"map<{keyType}, {valueType}>", name, attribute.Tag, docs);
        }

        if (clrType != typeof(string) && clrType != typeof(byte[]) && ItemType(clrType) is { } item)
        {
            AddReferenced(item);
            var itemType = Scalar(package, item, attribute.DataFormat);
            if (itemType.Length == 0 || Nullable.GetUnderlyingType(item) is not null || (ItemType(item) is not null && item != typeof(string) && item != typeof(byte[])))
            {
                _errors.Add($"{owner.FullName}.{member.Name}: a list of {item.Name} has no proto3 equivalent.");
                return null;
            }

            return new FieldModel("repeated " + itemType, name, attribute.Tag, docs);
        }

        var underlying = Nullable.GetUnderlyingType(clrType);
        var optional = false;
        if (underlying is not null)
        {
            clrType = underlying;
            optional = !IsMessage(clrType);
        }
        else if (clrType == typeof(string) || clrType == typeof(byte[]))
        {
            var info = member is PropertyInfo pi ? nullability.Create(pi) : nullability.Create((FieldInfo)member);
            optional = info.ReadState == NullabilityState.Nullable;
        }

        AddReferenced(clrType);
        var protoType = Scalar(package, clrType, attribute.DataFormat);
        if (protoType.Length == 0)
        {
            _errors.Add($"{owner.FullName}.{member.Name}: type {clrType.Name} has no proto mapping.");
            return null;
        }

        return new FieldModel((optional ? "optional " : "") + protoType, name, attribute.Tag, docs);
    }

    private void AddReferenced(Type type)
    {
        if (type.IsEnum || type.GetCustomAttribute<ProtoContractAttribute>() is not null)
        {
            AddType(type);
        }
    }

    private void AddEnum(Type type, string package)
    {
        var enumName = ProtoName(type);
        var model = new EnumModel(enumName, _docs.Type(type));
        var prefix = UpperSnake(enumName) + "_";
        foreach (var field in type.GetFields(BindingFlags.Public | BindingFlags.Static).OrderBy(f => Convert.ToInt64(f.GetRawConstantValue(), CultureInfo.InvariantCulture)))
        {
            var name = field.GetCustomAttribute<ProtoEnumAttribute>()?.Name ?? prefix + UpperSnake(field.Name);
            var number = Convert.ToInt64(field.GetRawConstantValue(), CultureInfo.InvariantCulture);
            model.Values.Add(new EnumValueModel(name, number, _docs.Member(field)));
        }

        if (model.Values.FirstOrDefault() is not { Number: 0 } zero || !zero.Name.EndsWith("_UNSPECIFIED", StringComparison.Ordinal))
        {
            _errors.Add($"{type.FullName}: the first value must be {prefix}UNSPECIFIED = 0.");
        }

        Package(package).Enums.Add(model);
    }

    private string Scalar(string package, Type type, DataFormat format)
    {
        if (type.IsEnum || IsMessage(type))
        {
            return Reference(package, type);
        }

        return Type.GetTypeCode(type) switch
        {
            TypeCode.Boolean => "bool",
            TypeCode.String => "string",
            TypeCode.Double => "double",
            TypeCode.Single => "float",
            TypeCode.Decimal => "string",
            TypeCode.Int32 or TypeCode.Int16 or TypeCode.SByte => format switch { DataFormat.ZigZag => "sint32", DataFormat.FixedSize => "sfixed32", _ => "int32" },
            TypeCode.Int64 => format switch { DataFormat.ZigZag => "sint64", DataFormat.FixedSize => "sfixed64", _ => "int64" },
            TypeCode.UInt32 or TypeCode.UInt16 or TypeCode.Byte => format == DataFormat.FixedSize ? "fixed32" : "uint32",
            TypeCode.UInt64 => format == DataFormat.FixedSize ? "fixed64" : "uint64",
            _ when type == typeof(byte[]) => "bytes",
            _ when type == typeof(Guid) => "string",
            _ => "",
        };
    }

    private string Reference(string fromPackage, Type type)
    {
        if (type == typeof(DateTime))
        {
            Package(fromPackage).Imports.Add("google/protobuf/timestamp.proto");
            return Timestamp;
        }

        if (type == typeof(TimeSpan))
        {
            Package(fromPackage).Imports.Add("google/protobuf/duration.proto");
            return Duration;
        }

        var package = PackageOf(type);
        var name = ProtoName(type);
        if (package == fromPackage)
        {
            return name;
        }

        Package(fromPackage).Imports.Add(PathOf(package));
        return package + "." + name;
    }

    private static CompatibilityLevel EffectiveLevel(Type type) =>
        type.GetCustomAttribute<CompatibilityLevelAttribute>()?.Level
        ?? type.Module.GetCustomAttribute<CompatibilityLevelAttribute>()?.Level
        ?? type.Assembly.GetCustomAttribute<CompatibilityLevelAttribute>()?.Level
        ?? CompatibilityLevel.NotSpecified;

    private static bool IsWellKnown(Type type) => type == typeof(DateTime) || type == typeof(TimeSpan);

    private static bool IsMessage(Type type) => IsWellKnown(type) || (type.IsClass && type != typeof(string) && type != typeof(byte[]));

    private static Type? ItemType(Type type)
    {
        if (type.IsArray)
        {
            return type.GetElementType();
        }

        var enumerable = type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IEnumerable<>)
            ? type
            : type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>));
        return enumerable?.GetGenericArguments()[0];
    }

    private static (Type Key, Type Value)? DictionaryTypes(Type type)
    {
        var dictionary = type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IDictionary<,>)
            ? type
            : type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IDictionary<,>));
        return dictionary is null ? null : (dictionary.GetGenericArguments()[0], dictionary.GetGenericArguments()[1]);
    }

    private string PackageOf(Type type)
    {
        const string Marker = ".Contracts.";
        var ns = type.Namespace ?? "";
        var index = ns.LastIndexOf(Marker, StringComparison.Ordinal);
        string[] segments = index < 0 ? [] : ns[(index + Marker.Length)..].Split('.');

        // v1 has no version segment: every contract before versions existed lives there, and its export must not move.
        if (segments.Length == 1 && !VersionSegment().IsMatch(segments[0]))
        {
            return "pyairtable." + segments[0].ToLowerInvariant() + ".v1";
        }

        if (segments.Length == 2 && !VersionSegment().IsMatch(segments[0]) && VersionSegment().IsMatch(segments[1]))
        {
            if (segments[1] == "V1")
            {
                // Two namespaces for one package would leave its csharp_namespace option ambiguous.
                _errors.Add($"{type.FullName}: v1 contracts live in '{ns[..(index + Marker.Length)]}{segments[0]}' itself, without '.V1'.");
                return "pyairtable.invalid.v1";
            }

            return "pyairtable." + segments[0].ToLowerInvariant() + "." + segments[1].ToLowerInvariant();
        }

        _errors.Add($"{type.FullName}: namespace '{ns}' names no package: contract types live in '….Contracts.<Area>' "
            + "(pyairtable.<area>.v1) or '….Contracts.<Area>.<Version>' with Version V2, V3, … or V1Alpha1, V1Beta1, … "
            + "(pyairtable.<area>.v2, pyairtable.<area>.v1alpha1).");
        return "pyairtable.invalid.v1";
    }

    /// <summary>
    /// The C# spelling of a package version (buf's convention, PascalCase so the C# and proto names map one to one):
    /// V2 is stable, V1Alpha1/V1Beta1 may still change (the gate exempts them).
    /// </summary>
    [GeneratedRegex("^V[1-9][0-9]*(?:(?:Alpha|Beta)[1-9][0-9]*)?$")]
    private static partial Regex VersionSegment();

    private static string PathOf(string package)
    {
        var parts = package.Split('.');
        return string.Join('/', parts) + "/" + parts[^2] + ".proto";
    }

    private static string ProtoName(Type type) =>
        type.GetCustomAttribute<ProtoContractAttribute>()?.Name is { Length: > 0 } name ? name : type.Name;

    private PackageModel Package(string package)
    {
        if (!_model.TryGetValue(package, out var model))
        {
            model = new PackageModel(package, PathOf(package));
            _model[package] = model;
        }

        return model;
    }

    /// <summary><c>RequestId</c> → <c>request_id</c>, <c>HTTPMethod</c> → <c>http_method</c>.</summary>
    public static string SnakeCase(string name)
    {
        var result = new StringBuilder(name.Length + 8);
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsUpper(c) && i > 0
                && (char.IsLower(name[i - 1]) || char.IsDigit(name[i - 1]) || (i + 1 < name.Length && char.IsLower(name[i + 1]) && char.IsUpper(name[i - 1]))))
            {
                result.Append('_');
            }

            result.Append(char.ToLowerInvariant(c));
        }

        return result.ToString();
    }

    public static string UpperSnake(string name) => SnakeCase(name).ToUpperInvariant();
}

/// <summary>The contracts cannot be exported as idiomatic protos; every problem is listed.</summary>
public sealed class ProtoExportException(IReadOnlyList<string> problems)
    : Exception("The contracts cannot be exported:\n  " + string.Join("\n  ", problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}
