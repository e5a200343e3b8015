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
/// Counts failed logins per account (by e-mail hash, so no address is stored in Redis) and per client
/// address in the shared state, so the limits hold across every host instance.
/// </summary>
internal sealed class LoginThrottle(ISharedState state, IOptions<LockoutOptions> options)
{
    private static string AccountKey(string email) => "login-failures:account:" + Convert.ToHexString(TokenService.Hash(email));

    private static string ClientKey(string clientIp) => "login-failures:client:" + clientIp;

    /// <summary>Refuses (RESOURCE_EXHAUSTED with a retry delay) or slows an attempt according to past failures.</summary>
    public async Task BeforeAttemptAsync(string email, string clientIp, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var account = await state.GetCounterAsync(AccountKey(email));
        var client = clientIp.Length > 0 ? await state.GetCounterAsync(ClientKey(clientIp)) : (0, TimeSpan.Zero);
        if (account.Count >= o.MaxFailuresPerAccount || client.Count >= o.MaxFailuresPerClient)
        {
            var retry = account.Count >= o.MaxFailuresPerAccount ? account.Remaining : client.Remaining;
            throw new PlatformException(ErrorCode.ResourceExhausted,
                "Too many failed logins; try again later.",
                new Dictionary<string, string> { ["limit"] = account.Count >= o.MaxFailuresPerAccount ? "account" : "client" })
            {
                RetryAfter = retry > TimeSpan.Zero ? retry : TimeSpan.FromSeconds(1),
            };
        }

        if (account.Count >= o.SlowAfter)
        {
            var factor = Math.Min(1L << (int)Math.Min(account.Count - o.SlowAfter, 10), 1024);
            var delay = TimeSpan.FromTicks(Math.Min(o.SlowDelay.Ticks * factor, TimeSpan.FromSeconds(4).Ticks));
            await Task.Delay(delay, cancellationToken);
        }
    }

    public async Task FailedAsync(string email, string clientIp)
    {
        var window = options.Value.Window;
        await state.IncrementAsync(AccountKey(email), window);
        if (clientIp.Length > 0)
        {
            await state.IncrementAsync(ClientKey(clientIp), window);
        }
    }

    public Task SucceededAsync(string email) => state.DeleteAsync(AccountKey(email));
}
