using Microsoft.Extensions.Options;
using PyAirtable.Contracts.Common;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.SharedState;

namespace PyAirtable.Services.Auth;

/// <summary>Brute-force limits of Login (section <c>Auth:Lockout</c>).</summary>
public sealed class LockoutOptions
{
    /// <summary>Failed logins of one account within <see cref="Window"/> before further attempts are refused.</summary>
    public int MaxFailuresPerAccount { get; set; } = 5;

    /// <summary>Failed logins from one client address within <see cref="Window"/> before it is refused.</summary>
    public int MaxFailuresPerClient { get; set; } = 50;

    /// <summary>The window starts at the first failure; the limit lifts when it ends.</summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Failures of an account after which each further attempt is delayed.</summary>
    public int SlowAfter { get; set; } = 3;

    /// <summary>The first delay; it doubles with each further failure, up to 4 s.</summary>
    public TimeSpan SlowDelay { get; set; } = TimeSpan.FromMilliseconds(250);
}

/// <summary>
/// Counts login attempts per account (by e-mail hash, so no address is stored in Redis) and failed
/// logins per client address (IPv6 by /64) in the shared state, so the limits hold across every host
/// instance. An account's attempt is counted before the password is checked — atomically, so a burst
/// of parallel guesses cannot all read "no failures yet" — and a success clears it. A client address
/// counts failures only, so many people behind one NAT logging in at once are not refused; a burst of
/// guesses spread over many accounts can overshoot that limit by the burst size, but each account
/// still gets at most its own limit.
/// </summary>
internal sealed class LoginThrottle(ISharedState state, IOptions<LockoutOptions> options)
{
    private static string AccountKey(string email) => "login-failures:account:" + Convert.ToHexString(TokenService.Hash(email));

    private static string ClientKey(string clientIp) => "login-failures:client:" + ClientBucket(clientIp);

    /// <summary>An IPv4 address, or the /64 network of an IPv6 one (one host usually owns a whole /64).</summary>
    internal static string ClientBucket(string clientIp)
    {
        if (!System.Net.IPAddress.TryParse(clientIp, out var address))
        {
            return clientIp;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4().ToString();
        }

        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }

        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new System.Net.IPAddress(bytes) + "/64";
    }

    /// <summary>
    /// Refuses the attempt (RESOURCE_EXHAUSTED with a retry delay) when the client or the account is over
    /// its limit, counting it for the account; delays it when the account already failed several times.
    /// </summary>
    public async Task BeforeAttemptAsync(string email, string clientIp, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var client = clientIp.Length > 0 ? await state.GetCounterAsync(ClientKey(clientIp)) : (0, TimeSpan.Zero);
        if (client.Count >= o.MaxFailuresPerClient)
        {
            throw Refused("client", client.Remaining);
        }

        var account = await state.IncrementAsync(AccountKey(email), o.Window);
        if (account.Count > o.MaxFailuresPerAccount)
        {
            throw Refused("account", account.Remaining);
        }

        var failedBefore = account.Count - 1;
        if (failedBefore >= o.SlowAfter)
        {
            var factor = 1L << (int)Math.Min(failedBefore - o.SlowAfter, 10);
            var delay = TimeSpan.FromTicks(Math.Min(o.SlowDelay.Ticks * factor, TimeSpan.FromSeconds(4).Ticks));
            await Task.Delay(delay, cancellationToken);
        }
    }

    /// <summary>The password was wrong (the account's attempt is already counted).</summary>
    public async Task FailedAsync(string clientIp)
    {
        if (clientIp.Length > 0)
        {
            await state.IncrementAsync(ClientKey(clientIp), options.Value.Window);
        }
    }

    /// <summary>The password was right: the account starts afresh.</summary>
    public Task SucceededAsync(string email) => state.DeleteAsync(AccountKey(email));

    private static PlatformException Refused(string limit, TimeSpan remaining) =>
        new(ErrorCode.ResourceExhausted, "Too many failed logins; try again later.", new Dictionary<string, string> { ["limit"] = limit })
        {
            RetryAfter = remaining > TimeSpan.Zero ? remaining : TimeSpan.FromSeconds(1),
        };
}
