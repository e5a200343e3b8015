namespace PyAirtable.IntegrationTests.Infrastructure;

/// <summary>One database and one running host per test class.</summary>
public class HostFixture : IAsyncLifetime
{
    private TestDatabase? _database;
    private TestHost? _host;

    public TestDatabase Database => _database ?? throw new InvalidOperationException("not started");

    public TestHost Host => _host ?? throw new InvalidOperationException("not started");

    protected virtual void Configure(TestHostOptions options) { }

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync();
        _host = await TestHost.StartAsync(_database.ConnectionString, Configure);
    }

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }

        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }

    /// <summary>
    /// Fails when the host logged an error that no test took (<see cref="LogSink.TakeErrors"/>) in a request that started
    /// after <paramref name="firstRequest"/> (the test's own calls) or outside any request while the test ran. An error of
    /// an earlier test's request (a call it cancelled, still ending on the server) is not this test's: it is left for
    /// the host's own check when the class ends.
    /// </summary>
    public void AssertNoUnexpectedErrors(long firstRequest = 0)
    {
        // A call a test cancelled may still be running on the server; its log belongs to this test, not the next one.
        _host?.WaitForQuiet();
        var unexpected = (_host?.Logs.UnexpectedErrors ?? []).Where(e => e.Request == 0 || e.Request > firstRequest).ToList();
        _host?.Logs.TakeErrors(unexpected.Contains); // report each once
        Assert.True(unexpected.Count == 0, "Unexpected error logs:\n" + string.Join("\n", unexpected));
    }
}

/// <summary>
/// Base of the test classes that share a <see cref="HostFixture"/>: after every test, an error
/// the test did not expect fails that test (a fixture's own clean-up failure is easy to miss).
/// </summary>
public abstract class HostTests(HostFixture fixture) : IClassFixture<HostFixture>, IDisposable
{
    // xunit makes an instance per test: requests numbered above this one are this test's.
    private readonly long _firstRequest = InFlightRequests.Started;

    protected HostFixture Fixture { get; } = fixture;

    public void Dispose()
    {
        Fixture.AssertNoUnexpectedErrors(_firstRequest);
        GC.SuppressFinalize(this);
    }
}
