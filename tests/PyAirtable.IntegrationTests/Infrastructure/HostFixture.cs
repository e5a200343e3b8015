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
        var unexpected = _host?.Logs.UnexpectedErrors ?? [];
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }

        if (_database is not null)
        {
            await _database.DisposeAsync();
        }

        Assert.True(unexpected.Count == 0, "Unexpected error logs:\n" + string.Join("\n", unexpected));
    }
}
