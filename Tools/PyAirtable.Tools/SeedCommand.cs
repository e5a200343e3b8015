using System.CommandLine;
using Bogus;
using Grpc.Core;
using ProtoBuf.Grpc.Client;
using PyAirtable.Contracts.Auth;

namespace PyAirtable.Tools;

/// <summary>
/// <c>pyairtable seed</c>: registers Bogus users through the Auth service of a running host. The
/// users are generated from a fixed seed, so running it again finds them registered and adds
/// nothing (idempotent); <c>--count</c> larger than before adds only the new ones.
/// </summary>
public static class SeedCommand
{
    public const string DevEmail = "dev@pyairtable.dev";

    public static Command Create()
    {
        var address = HostConnection.AddressOption();
        var count = new Option<int>("--count", "-n") { Description = "How many users (besides the dev user).", DefaultValueFactory = _ => 50 };
        var password = new Option<string>("--password") { Description = "The password of every seeded user.", DefaultValueFactory = _ => "pyairtable-dev-password" };
        var command = new Command("seed", "Fill a dev database with Bogus users through the Auth service (idempotent).") { address, count, password };
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(address)!, parse.GetValue(count), parse.GetValue(password)!, ct));
        return command;
    }

    private static async Task<int> RunAsync(string address, int count, string password, CancellationToken ct)
    {
        if (count < 0 || count > 100_000)
        {
            await Console.Error.WriteLineAsync("seed: --count must be 0 to 100000");
            return 2;
        }

        using var channel = HostConnection.Open(address);
        var auth = channel.CreateGrpcService<IAuthService>();
        var faker = new Faker("en") { Random = new Randomizer(20261127) };
        var people = new List<(string Email, string Name)> { (DevEmail, "Dev User") };
        for (var i = 1; i <= count; i++)
        {
            var first = faker.Name.FirstName();
            var last = faker.Name.LastName();
            var local = new string($"{first}.{last}".ToLowerInvariant().Where(c => char.IsAsciiLetterOrDigit(c) || c == '.').ToArray());
            people.Add(($"{local}.{i}@example.dev", $"{first} {last}"));
        }

        int created = 0, existing = 0;
        await Parallel.ForEachAsync(people, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = ct }, async (person, token) =>
        {
            try
            {
                await auth.RegisterAsync(new RegisterRequest { Email = person.Email, Password = password, DisplayName = person.Name }, new ProtoBuf.Grpc.CallContext(new CallOptions(cancellationToken: token)));
                Interlocked.Increment(ref created);
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.AlreadyExists)
            {
                Interlocked.Increment(ref existing);
            }
        });

        Console.WriteLine($"seed: {created} created, {existing} already present ({people.Count} users, password '{password}'); log in as {DevEmail}");
        return 0;
    }
}
