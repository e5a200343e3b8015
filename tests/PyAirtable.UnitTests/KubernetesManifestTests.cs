using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using k8s;
using k8s.Models;
using ProtoBuf.Grpc.Configuration;

namespace PyAirtable.UnitTests;

/// <summary>
/// The Kubernetes manifests (deploy/kubernetes): every overlay renders with <c>kubectl kustomize</c>, loads strictly
/// against the Kubernetes schemas (KubernetesClient's models: an unknown or misspelt field fails), and agrees with the
/// host — its ports, probe paths, configuration keys, service names and shutdown timing.
/// </summary>
public sealed partial class KubernetesManifestTests
{
    private static readonly string Manifests = Path.Combine(RepositoryRoot.Path, "deploy", "kubernetes");

    private static string[] OverlayNames() =>
        Directory.GetDirectories(Path.Combine(Manifests, "overlays")).Select(d => Path.GetFileName(d)!).Order(StringComparer.Ordinal).ToArray();

    public static TheoryData<string> Overlays() => new(OverlayNames());

    [Fact]
    public void EveryTopologyHasAnOverlay() => Assert.Equal(["all-in-one", "blue-green", "split"], OverlayNames());

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Overlay_RendersAndLoadsStrictly(string overlay)
    {
        var objects = Render(overlay);

        Assert.NotEmpty(objects.OfType<V1Deployment>());
        Assert.All(objects, o => Assert.Equal("pyairtable", ((IMetadata<V1ObjectMeta>)o).Metadata.NamespaceProperty));
    }

    [Fact]
    public void StrictLoading_RefusesAMisspeltField() =>
        Assert.ThrowsAny<Exception>(() => KubernetesYaml.LoadAllFromString(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  clusterIp: None\n", strict: true));

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Deployments_AgreeWithTheHost(string overlay)
    {
        var objects = Render(overlay);
        var settings = objects.OfType<V1ConfigMap>().Single(c => c.Metadata.Name == "pyairtable-settings").Data;
        var (grpcPort, probePort, httpPort) = HostPorts();
        var hostSource = File.ReadAllText(Path.Combine(RepositoryRoot.Path, "Host", "PyAirtable.Host", "PlatformHost.cs"));
        var known = DocumentedKeys();

        foreach (var deployment in objects.OfType<V1Deployment>())
        {
            var pod = deployment.Spec.Template.Spec;
            var host = Assert.Single(pod.Containers);
            var env = host.Env.ToDictionary(e => e.Name, e => e.Value);
            string Setting(string name) => env.TryGetValue(name, out var v) ? v : settings[name];

            // Ports: the container's, the settings' endpoint URLs and the host's defaults are the same numbers.
            Assert.Equal(grpcPort, host.Ports.Single(p => p.Name == "grpc").ContainerPort);
            Assert.Equal(probePort, host.Ports.Single(p => p.Name == "probes").ContainerPort);
            Assert.Equal(grpcPort, new Uri(Setting("Kestrel__Endpoints__Grpc__Url")).Port);
            Assert.Equal(probePort, new Uri(Setting("Kestrel__Endpoints__Probes__Url")).Port);
            Assert.Equal(httpPort, host.Ports.Single(p => p.Name == "http").ContainerPort);
            Assert.Equal(httpPort, new Uri(Setting("Kestrel__Endpoints__Http__Url")).Port);

            // Probes: the host's real endpoints, on the probe port.
            Assert.Equal("/readyz", host.ReadinessProbe.HttpGet.Path);
            Assert.Equal("/healthz", host.LivenessProbe.HttpGet.Path);
            Assert.Contains("MapHealthChecks(\"/readyz\"", hostSource, StringComparison.Ordinal);
            Assert.Contains("MapHealthChecks(\"/healthz\"", hostSource, StringComparison.Ordinal);
            Assert.All(new[] { host.ReadinessProbe, host.LivenessProbe, host.StartupProbe }, p => Assert.Equal("probes", p.HttpGet.Port.Value));

            // Shutdown: the pod may take preStop + the host's drain + its in-flight timeout before it is killed.
            var preStop = host.Lifecycle.PreStop.Sleep.Seconds;
            var drain = TimeSpan.Parse(Setting("Shutdown__DrainDelay"), System.Globalization.CultureInfo.InvariantCulture);
            var timeout = TimeSpan.Parse(Setting("Shutdown__Timeout"), System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(pod.TerminationGracePeriodSeconds >= preStop + drain.TotalSeconds + timeout.TotalSeconds,
                $"{deployment.Metadata.Name}: terminationGracePeriodSeconds {pod.TerminationGracePeriodSeconds} < {preStop} + {drain} + {timeout}");

            // Non-root, read-only, nothing to escalate; requests and limits set.
            Assert.True(pod.SecurityContext.RunAsNonRoot);
            Assert.True(host.SecurityContext.ReadOnlyRootFilesystem);
            Assert.False(host.SecurityContext.AllowPrivilegeEscalation);
            Assert.Equal(["ALL"], host.SecurityContext.Capabilities.Drop);
            Assert.NotEmpty(host.Resources.Requests);
            Assert.NotEmpty(host.Resources.Limits);

            // Every variable names a configuration key the host documents (README "Configuration").
            foreach (var name in env.Keys.Concat(settings.Keys).Where(n => !n.StartsWith("DOTNET_", StringComparison.Ordinal)))
            {
                Assert.True(IsKnown(known, name.Replace("__", ":", StringComparison.Ordinal)), $"{overlay}: {name} is not a setting of the host");
            }

            // A headless Service and a PodDisruptionBudget select exactly this Deployment's pods.
            var labels = deployment.Spec.Template.Metadata.Labels;
            bool Selects(IDictionary<string, string> selector) =>
                selector.All(kv => labels.TryGetValue(kv.Key, out var v) && v == kv.Value)
                && objects.OfType<V1Deployment>().Count(d => selector.All(kv => d.Spec.Template.Metadata.Labels.TryGetValue(kv.Key, out var v) && v == kv.Value)) == 1;
            Assert.Contains(objects.OfType<V1Service>(), s => s.Spec.ClusterIP == "None" && Selects(s.Spec.Selector));
            Assert.Contains(objects.OfType<V1PodDisruptionBudget>(), p => Selects(p.Spec.Selector.MatchLabels));
        }

        foreach (var secret in objects.OfType<V1Secret>())
        {
            Assert.All(secret.StringData.Keys, k => Assert.True(IsKnown(known, k.Replace("__", ":", StringComparison.Ordinal)), k));
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void TopologyBindings_NameRealServicesAndHeadlessServices(string overlay)
    {
        var objects = Render(overlay);
        var topology = objects.OfType<V1ConfigMap>().SingleOrDefault(c => c.Metadata.Name.StartsWith("pyairtable-topology", StringComparison.Ordinal));
        if (topology is null)
        {
            Assert.Equal("all-in-one", overlay); // one host serves everything: nothing to bind
            return;
        }

        var services = typeof(PyAirtable.Contracts.Users.IUserService).Assembly.GetTypes()
            .Select(t => t.GetCustomAttribute<ServiceAttribute>()?.Name).OfType<string>().ToHashSet(StringComparer.Ordinal);
        var headless = objects.OfType<V1Service>().Where(s => s.Spec.ClusterIP == "None").Select(s => s.Metadata.Name).ToHashSet();
        using var json = JsonDocument.Parse(topology.Data["topology.json"]);
        var targets = json.RootElement.GetProperty("Remote").EnumerateObject().Select(p => (p.Name, p.Value.GetString()!)).ToList();
        if (json.RootElement.TryGetProperty("Routing", out var routing))
        {
            targets.AddRange(routing.EnumerateObject().SelectMany(s => s.Value.GetProperty("Versions").EnumerateObject()
                .Select(v => (s.Name, v.Value.GetString()!))));
        }

        var served = services.Where(s => s != "pyairtable.health.v1.HealthService").ToList();
        Assert.All(served, s => Assert.Contains(s, targets.Select(t => t.Item1)));
        foreach (var (service, target) in targets)
        {
            Assert.Contains(service, services);
            var match = DnsTarget().Match(target);
            Assert.True(match.Success, target);
            Assert.Contains(match.Groups["name"].Value, headless);
            Assert.Equal(HostPorts().Grpc, int.Parse(match.Groups["port"].Value, System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    [GeneratedRegex("^dns:///(?<name>[a-z0-9-]+):(?<port>[0-9]+)$")]
    private static partial Regex DnsTarget();

    private static (int Grpc, int Probes, int Http) HostPorts()
    {
        using var appsettings = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepositoryRoot.Path, "Host", "PyAirtable.Host", "appsettings.json")));
        var endpoints = appsettings.RootElement.GetProperty("Kestrel").GetProperty("Endpoints");
        return (new Uri(endpoints.GetProperty("Grpc").GetProperty("Url").GetString()!).Port,
            new Uri(endpoints.GetProperty("Probes").GetProperty("Url").GetString()!).Port,
            new Uri(endpoints.GetProperty("Http").GetProperty("Url").GetString()!).Port);
    }

    /// <summary>The keys in README's configuration table (`A:B` / `:C` / `D` continue the previous key's section).</summary>
    private static List<string> DocumentedKeys()
    {
        var readme = File.ReadAllText(Path.Combine(RepositoryRoot.Path, "README.md"));
        var table = readme[readme.IndexOf("## Configuration", StringComparison.Ordinal)..];
        table = table[..table.IndexOf("\n## ", 4, StringComparison.Ordinal)];
        var keys = new List<string>();
        foreach (var row in table.Split('\n').Where(l => l.StartsWith("| `", StringComparison.Ordinal)))
        {
            var cell = row.Split('|')[1];
            var section = "";
            foreach (Match token in Regex.Matches(cell, "`([^`]+)`"))
            {
                var value = token.Groups[1].Value;
                var key = value.StartsWith(':') ? section + value : value.Contains(':', StringComparison.Ordinal) ? value : section + ":" + value;
                keys.Add(key);
                section = key[..Math.Max(0, key.LastIndexOf(':'))];
            }
        }

        return keys;
    }

    private static bool IsKnown(List<string> known, string key) =>
        known.Any(k => string.Equals(k, key, StringComparison.OrdinalIgnoreCase)
            || (k.Contains('<', StringComparison.Ordinal) && key.StartsWith(k[..k.IndexOf('<', StringComparison.Ordinal)], StringComparison.OrdinalIgnoreCase)));

    private static List<object> Render(string overlay)
    {
        var info = new ProcessStartInfo("kubectl") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("kustomize");
        info.ArgumentList.Add(Path.Combine(Manifests, "overlays", overlay));
        using var process = Process.Start(info) ?? throw new InvalidOperationException("kubectl did not start (scripts/ensure-deps.sh installs it)");
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        process.WaitForExit(TimeSpan.FromMinutes(1));
        Assert.True(process.ExitCode == 0, $"kubectl kustomize {overlay}: {errors.Result}");
        return KubernetesYaml.LoadAllFromString(output.Result, strict: true);
    }
}
