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

    /// <summary>Fails when the host logged an error that no test took (<see cref="LogSink.TakeErrors"/>).</summary>
    public void AssertNoUnexpectedErrors()
    {
        // A call a test cancelled may still be running on the server; its log belongs to this test, not the next one.
        _host?.WaitForQuiet();
        var unexpected = _host?.Logs.UnexpectedErrors ?? [];
        _host?.Logs.TakeErrors(_ => true); // report each once
        Assert.True(unexpected.Count == 0, "Unexpected error logs:\n" + string.Join("\n", unexpected));
    }
}

/// <summary>
/// Base of the test classes that share a <see cref="HostFixture"/>: after every test, an error
/// the test did not expect fails that test (a fixture's own clean-up failure is easy to miss).
/// </summary>
public abstract class HostTests(HostFixture fixture) : IClassFixture<HostFixture>, IDisposable
{
    protected HostFixture Fixture { get; } = fixture;

    public void Dispose()
    {
        Fixture.AssertNoUnexpectedErrors();
        GC.SuppressFinalize(this);
    }
}
