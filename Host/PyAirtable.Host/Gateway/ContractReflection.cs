extern alias pbnet;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Reflection;
using PyAirtable.Services.Infrastructure.Contracts;
using PbFileDescriptorSet = pbnet::Google.Protobuf.Reflection.FileDescriptorSet;

namespace PyAirtable.Host.Gateway;

/// <summary>
/// gRPC server reflection (grpc.reflection.v1 and v1alpha) for code-first services. The stock
/// reflection finds no descriptors for them, so descriptors are built from the exported protos
/// (embedded in this assembly from protos/, the same files non-.NET teams use): a grpcurl-style
/// client can list services, describe messages and call methods without stubs.
/// </summary>
internal static class ContractReflection
{
    private const string ResourcePrefix = "protos/";

    public static IServiceCollection AddContractReflection(this IServiceCollection services)
    {
        services.AddSingleton(_ => new ContractDescriptors(LoadExportedFiles()));
        services.AddSingleton(sp => Build(sp.GetServices<ContractBinding>(), sp.GetRequiredService<ContractDescriptors>()));
        services.AddSingleton(sp =>
        {
            var model = sp.GetRequiredService<ReflectionModel>();
            return new ReflectionServiceImpl(model.Services, model.Registry);
        });
        services.AddSingleton(sp =>
        {
            var model = sp.GetRequiredService<ReflectionModel>();
            return new ReflectionV1ServiceImpl(model.Services, model.Registry);
        });
        services.AddGrpcReflection(); // maps both; its own registrations are TryAdd, so ours win
        return services;
    }

    internal sealed record ReflectionModel(IReadOnlyList<string> Services, SymbolRegistry Registry);

    /// <summary>The exported protos as descriptors: what reflection serves and what the JSON/HTTP API transcodes by.</summary>
    internal sealed record ContractDescriptors(IReadOnlyList<FileDescriptor> Files);

    /// <summary>
    /// The services this host serves (contracts bound here, health, reflection) and a registry of
    /// every file they need. A contract bound to a remote host is not listed: calling it here would fail.
    /// </summary>
    private static ReflectionModel Build(IEnumerable<ContractBinding> bindings, ContractDescriptors descriptors)
    {
        var remote = bindings.Where(b => b.MapEndpoint is null).Select(b => b.ServiceName).ToHashSet(StringComparer.Ordinal);
        var contractFiles = descriptors.Files;
        var files = contractFiles
            .Append(Grpc.Health.V1.HealthReflection.Descriptor)
            .Append(Grpc.Reflection.V1.ReflectionReflection.Descriptor)
            .Append(Grpc.Reflection.V1Alpha.ReflectionReflection.Descriptor)
            .ToList();
        var names = files.SelectMany(f => f.Services).Select(s => s.FullName)
            .Where(n => !remote.Contains(n)).Distinct().Order(StringComparer.Ordinal).ToList();
        return new ReflectionModel(names, SymbolRegistry.FromFiles(files));
    }

    private static List<FileDescriptor> LoadExportedFiles()
    {
        var assembly = typeof(ContractReflection).Assembly;
        var resources = assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && n.EndsWith(".proto", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList();
        return LoadFiles(resources.Select(r => (r[ResourcePrefix.Length..],
            (Func<TextReader>)(() => new StreamReader(assembly.GetManifestResourceStream(r)!)))));
    }

    /// <summary>Descriptors of proto files (name relative to the protos folder, and a way to read it), with source comments.</summary>
    internal static List<FileDescriptor> LoadFiles(IEnumerable<(string Name, Func<TextReader> Open)> protos)
    {
        var set = new PbFileDescriptorSet();
        foreach (var (name, open) in protos)
        {
            using var reader = open();
            set.Add(name, includeInOutput: true, reader);
        }

        set.Process();
        var errors = set.GetErrors();
        if (errors.Length > 0)
        {
            throw new InvalidOperationException("The exported protos do not parse: " + string.Join("; ", errors.Select(e => e.ToString())));
        }

        // Google.Protobuf builds files from bytes, dependencies first; the well-known types come
        // from Google.Protobuf itself.
        var wellKnown = new Dictionary<string, FileDescriptor>(StringComparer.Ordinal)
        {
            ["google/protobuf/timestamp.proto"] = Google.Protobuf.WellKnownTypes.Timestamp.Descriptor.File,
            ["google/protobuf/duration.proto"] = Google.Protobuf.WellKnownTypes.Duration.Descriptor.File,
            ["google/protobuf/empty.proto"] = Google.Protobuf.WellKnownTypes.Empty.Descriptor.File,
            ["google/protobuf/wrappers.proto"] = Google.Protobuf.WellKnownTypes.Int32Value.Descriptor.File,
        };
        var ours = set.Files.Where(f => !f.Name.StartsWith("google/protobuf/", StringComparison.Ordinal)).ToDictionary(f => f.Name, StringComparer.Ordinal);
        var ordered = new List<ByteString>();
        var emitted = new HashSet<string>(StringComparer.Ordinal);
        void Emit(string name)
        {
            if (!emitted.Add(name))
            {
                return;
            }

            if (wellKnown.TryGetValue(name, out var known))
            {
                ordered.Add(known.SerializedData);
                return;
            }

            var file = ours[name];
            foreach (var dependency in file.Dependencies)
            {
                Emit(dependency);
            }

            using var buffer = new MemoryStream();
            ProtoBuf.Serializer.Serialize(buffer, file);
            ordered.Add(ByteString.CopyFrom(buffer.ToArray()));
        }

        foreach (var name in ours.Keys.Order(StringComparer.Ordinal))
        {
            Emit(name);
        }

        return FileDescriptor.BuildFromByteStrings(ordered)
            .Where(f => ours.ContainsKey(f.Name))
            .ToList();
    }
}
