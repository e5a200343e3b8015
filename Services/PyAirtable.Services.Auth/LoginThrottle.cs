using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;
using PyAirtable.Contracts.Common;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Requests;
using PyAirtable.Services.Infrastructure.SharedState;

namespace PyAirtable.Services.Auth;

/// <summary>Brute-force limits of Login (section <c>Auth:Lockout</c>); the model is described on <see cref="LoginThrottle"/>.</summary>
public sealed class LockoutOptions
{
    /// <summary>Failed logins of one account from one client within <see cref="Window"/> before that pair is refused.</summary>
    public int MaxFailuresPerPair { get; set; } = 5;

    /// <summary>Failed logins from one client address (any accounts) within <see cref="Window"/> before it is refused.</summary>
    public int MaxFailuresPerClient { get; set; } = 50;

    /// <summary>
    /// Failed logins of one account from all clients within <see cref="Window"/> after which only clients
    /// that logged in to it before (within <see cref="KnownClientLifetime"/>) may still try.
    /// </summary>
    public int MaxFailuresPerAccount { get; set; } = 20;

    /// <summary>
    /// Failed logins from one IPv6 /48 (any accounts) within <see cref="Window"/> before it is refused: a site
    /// usually holds a whole /48, that is 65,536 /64 "clients", which would otherwise multiply the client limit.
    /// </summary>
    public int MaxFailuresPerNetwork { get; set; } = 200;

    /// <summary>Counters run for this long from the first attempt they count.</summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>How long a client that logged in successfully stays known to the account.</summary>
    public TimeSpan KnownClientLifetime { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Failures of a pair after which each further attempt of that pair is delayed.</summary>
    public int SlowAfter { get; set; } = 3;

    /// <summary>The first delay; it doubles with each further failure, up to 4 s.</summary>
    public TimeSpan SlowDelay { get; set; } = TimeSpan.FromMilliseconds(250);
}

/// <summary>
/// Brute-force protection of Login that an attacker cannot turn against the account's owner:
/// <list type="bullet">
/// <item><b>Account + client pair</b>: attempts, delayed from the
/// <see cref="LockoutOptions.SlowAfter"/>th failure and refused past <see cref="LockoutOptions.MaxFailuresPerPair"/>.
/// A success clears it. An attacker locks out only their own pair: the owner, from another client, is
/// not affected.</item>
/// <item><b>Client</b>: failures on any accounts; past <see cref="LockoutOptions.MaxFailuresPerClient"/> the
/// client is refused (spraying one password over many accounts). An IPv6 client's /48 has a limit of its own,
/// <see cref="LockoutOptions.MaxFailuresPerNetwork"/>, so one site cannot spray from 65,536 /64s. Logins that
/// work are not counted, so many people behind one NAT logging in at once are not refused.</item>
/// <item><b>Account</b> (distributed guessing from many clients): past <see cref="LockoutOptions.MaxFailuresPerAccount"/>
/// failures, only <i>known</i> clients — ones the account logged in from successfully (kept in
/// PostgreSQL) — may still try; a new client is refused until the window passes. The owner keeps access
/// from their usual clients whatever the attacker does.</item>
/// </list>
/// Every counter takes an attempt before the password is checked, atomically, so a burst of parallel guesses
/// cannot all read "under the limit"; a successful login gives its attempt back, so the client and account
/// counters hold failures (and attempts in flight), never logins that worked.
/// Counters live in the shared state (Redis) so the limits hold across hosts; when Redis is down each
/// host counts in memory (limits then hold per host). Accounts are keyed by an e-mail hash (SHA-256: not
/// in plain text, though a known address can be matched), clients by IPv4 address or IPv6 /64. Behind a
/// reverse proxy or a shared NAT every client is one address — configure forwarded headers for the proxy,
/// or the per-client and pair limits apply to everyone together.
/// </summary>
internal sealed class LoginThrottle(ISharedState state, NpgsqlDataSource db, IOptions<LockoutOptions> options, TimeProvider time)
{
    private readonly MemorySharedState _local = new(time);

    private static string AccountHash(string email) => Convert.ToHexString(TokenService.Hash(email));

    private static string PairKey(string email, string client) => $"login-failures:pair:{AccountHash(email)}:{client}";

    private static string AccountKey(string email) => "login-failures:account:" + AccountHash(email);

    private static string ClientKey(string client) => "login-failures:client:" + client;

    /// <summary>The /48 of an IPv6 client, or null (IPv4 addresses are not grouped: one office NAT is one address already).</summary>
    internal static string? NetworkBucket(string clientIp)
    {
        if (!System.Net.IPAddress.TryParse(clientIp, out var address) || address.IsIPv4MappedToIPv6
            || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            return null;
        }

        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 6, 10);
        return new System.Net.IPAddress(bytes) + "/48";
    }

    /// <summary>The counters of where an attempt comes from, with their limits and names: the client, and its IPv6 /48.</summary>
    private List<(string Key, int Limit, string Name)> SourcesOf(string clientIp)
    {
        var o = options.Value;
        var sources = new List<(string, int, string)> { (ClientKey(ClientBucket(clientIp)), o.MaxFailuresPerClient, "client") };
        if (NetworkBucket(clientIp) is { } network)
        {
            sources.Add(("login-failures:network:" + network, o.MaxFailuresPerNetwork, "network"));
        }

        return sources;
    }

    /// <summary>An IPv4 address, or the /64 network of an IPv6 one (one host usually owns a whole /64); "local" for in-process calls.</summary>
    internal static string ClientBucket(string clientIp)
    {
        if (clientIp.Length == 0)
        {
            return "local";
        }

        if (!System.Net.IPAddress.TryParse(clientIp, out var address))
        {
            return clientIp;
        }

        address = address.Unmapped();
        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }

        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new System.Net.IPAddress(bytes) + "/64";
    }

    /// <summary>
    /// Refuses the attempt (RESOURCE_EXHAUSTED with a retry delay and the limit's name) when the client,
    /// the pair or — for an unknown client — the account is over its limit; counts it for the pair; delays
    /// it when the pair already failed several times.
    /// </summary>
    public async Task BeforeAttemptAsync(string email, string clientIp, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var client = ClientBucket(clientIp);
        // Every counter takes the attempt before the password is checked — atomically, so a burst of parallel
        // attempts cannot all read "under the limit" — and a success gives the client's and account's back
        // (SucceededAsync): they count failures and attempts in flight, never logins that worked.
        var sources = SourcesOf(clientIp);
        for (var i = 0; i < sources.Count; i++)
        {
            var (key, limit, name) = sources[i];
            var count = await CountersAsync(s => s.IncrementAsync(key, o.Window));
            if (count.Count > limit)
            {
                await GiveBackAsync(sources.Take(i + 1), email: null);
                throw Refused(name, count.Remaining, "Too many failed logins from this address; try again later.");
            }
        }

        var accountCount = await CountersAsync(s => s.IncrementAsync(AccountKey(email), o.Window));
        if (accountCount.Count > o.MaxFailuresPerAccount && !await IsKnownClientAsync(email, client, cancellationToken))
        {
            await GiveBackAsync(sources, email);
            throw Refused("account", accountCount.Remaining,
                "This account is refusing logins from new devices for now (too many failed attempts); log in from a device you used before, or try again later.");
        }

        var pair = await CountersAsync(s => s.IncrementAsync(PairKey(email, client), o.Window));
        if (pair.Count > o.MaxFailuresPerPair)
        {
            await GiveBackAsync(sources, email);
            throw Refused("account_client", pair.Remaining, "Too many failed logins; try again later.");
        }

        var failedBefore = pair.Count - 1;
        if (failedBefore >= o.SlowAfter)
        {
            var factor = 1L << (int)Math.Min(failedBefore - o.SlowAfter, 10);
            var delay = TimeSpan.FromTicks(Math.Min(o.SlowDelay.Ticks * factor, TimeSpan.FromSeconds(4).Ticks));
            await Task.Delay(delay, time, cancellationToken);
        }
    }

    /// <summary>The password was right: the attempt is taken back, the pair starts afresh and the client becomes known to the account.</summary>
    public async Task SucceededAsync(NpgsqlConnection connection, Guid userId, string email, string clientIp, CancellationToken cancellationToken)
    {
        var client = ClientBucket(clientIp);
        await GiveBackAsync(SourcesOf(clientIp), email);
        await CountersAsync(s => Done(s.DeleteAsync(PairKey(email, client))));
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO auth.known_clients (user_id, client) VALUES (@userId, @client)
            ON CONFLICT (user_id, client) DO UPDATE SET last_success_at = now()
            """, new { userId, client }, cancellationToken: cancellationToken));
    }

    private async Task<bool> IsKnownClientAsync(string email, string client, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            """
            SELECT EXISTS (SELECT FROM auth.known_clients k JOIN auth.credentials c ON c.user_id = k.user_id
                            WHERE c.email = @email AND k.client = @client AND k.last_success_at > now() - @lifetime)
            """, new { email, client, lifetime = options.Value.KnownClientLifetime }, cancellationToken: cancellationToken));
    }

    /// <summary>Takes an attempt back from the source counters (and the account's, when given).</summary>
    private async Task GiveBackAsync(IEnumerable<(string Key, int Limit, string Name)> sources, string? email)
    {
        foreach (var (key, _, _) in sources)
        {
            await CountersAsync(s => Done(s.DecrementAsync(key)));
        }

        if (email is not null)
        {
            await CountersAsync(s => Done(s.DecrementAsync(AccountKey(email))));
        }
    }

    private static async Task<bool> Done(Task operation)
    {
        await operation;
        return true;
    }

    /// <summary>Counters in Redis, or in this host's memory while Redis is unavailable.</summary>
    private async Task<T> CountersAsync<T>(Func<ISharedState, Task<T>> operation)
    {
        try
        {
            return await operation(state);
        }
        catch (SharedStateUnavailableException)
        {
            return await operation(_local);
        }
    }

    private static PlatformException Refused(string limit, TimeSpan remaining, string message) =>
        new(ErrorCode.ResourceExhausted, message, new Dictionary<string, string> { ["limit"] = limit })
        {
            RetryAfter = remaining > TimeSpan.Zero ? remaining : TimeSpan.FromSeconds(1),
        };
}
