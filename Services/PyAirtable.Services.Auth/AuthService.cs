using Grpc.Core;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Identity;
using Npgsql;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Users;
using PyAirtable.Services.Auth.Stores;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.Pagination;
using PyAirtable.Services.Infrastructure.SharedState;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Auth;

/// <summary>pyairtable.auth.v1.AuthService over the <c>auth</c> schema.</summary>
/// <remarks>
/// Each RPC validates the request, authorizes the caller, reads or writes through the stores of one
/// <see cref="AuthSession"/> (the SQL lives in <c>Stores/</c>) and maps the result. The RPCs are grouped by feature:
/// registration here, sessions (login, refresh, logout), token validation and signing keys, API keys and e-mail
/// verification beside it.
/// </remarks>
public sealed partial class AuthService : IAuthService
{
    internal const string RefreshTokenPrefix = "rt_";
    internal const string ApiKeyPrefix = "pat_";
    private const int VisiblePrefixLength = 12;

    private readonly NpgsqlDataSource _dataSource;
    private readonly TokenService _tokens;
    private readonly SigningKeyStore _keys;
    private readonly LoginThrottle _throttle;
    private readonly ServiceIdentity _serviceIdentity;
    private readonly IUserService _users;
    private readonly RevocationList _revocations;
    private readonly CursorCodec _cursors;
    private readonly IPasswordHasher<Account> _hasher;
    private readonly TimeProvider _time;
    private readonly Lazy<string> _dummyHash;
    private readonly EmailVerification _verification;

    internal AuthService(
        NpgsqlDataSource dataSource, TokenService tokens, SigningKeyStore keys, LoginThrottle throttle, ServiceIdentity serviceIdentity,
        IUserService users, RevocationList revocations, CursorCodec cursors, IPasswordHasher<Account> hasher, TimeProvider time,
        EmailVerification verification)
    {
        _verification = verification;
        _dataSource = dataSource;
        _tokens = tokens;
        _keys = keys;
        _throttle = throttle;
        _serviceIdentity = serviceIdentity;
        _users = users;
        _revocations = revocations;
        _cursors = cursors;
        _hasher = hasher;
        _time = time;
        // Unknown e-mail addresses are checked against this, so they cost as much time as wrong passwords.
        _dummyHash = new Lazy<string>(() => hasher.HashPassword(Account.Instance, Guid.NewGuid().ToString()));
    }

    /// <summary>The user type of ASP.NET Core Identity's password hasher (it does not use it).</summary>
    public sealed class Account
    {
        public static Account Instance { get; } = new();
    }

    [AllowAnonymous]
    public async ValueTask<RegisterResponse> RegisterAsync(RegisterRequest request, CallContext context = default)
    {
        var email = Validation.NormalizeEmail(request.Email);
        new RequestValidator()
            .Email("email", email)
            .Password("password", request.Password)
            .Name("display_name", request.DisplayName)
            .ThrowIfInvalid();
        var http = context.ServerCallContext?.GetHttpContext()
            ?? throw new InvalidOperationException("Register is served over gRPC only.");

        var ct = context.CancellationToken;
        var userId = Guid.CreateVersion7();
        var hash = _hasher.HashPassword(Account.Instance, request.Password);
        await using (var db = await AuthSession.OpenAsync(_dataSource, ct))
        {
            if (!await db.Accounts.InsertAsync(userId, email, hash, ct))
            {
                Fail.AlreadyExists("account", "An account with this e-mail address already exists.");
            }
        }

        try
        {
            // The profile belongs to the User service: create it through its contract, as the Auth service.
            using (CallerImpersonation.ActAs(http, ServiceIdentity.Principal, await _serviceIdentity.AuthorizationAsync(ct)))
            {
                await _users.CreateUserAsync(
                    new CreateUserRequest { UserId = userId.ToString(), Email = email, DisplayName = request.DisplayName.Trim() }, context);
            }
        }
        catch
        {
            // No account without a profile: undo, so the address can be registered again.
            await using var db = await AuthSession.OpenAsync(_dataSource, CancellationToken.None);
            await db.Accounts.DeleteAsync(userId, CancellationToken.None);
            throw;
        }

        return new RegisterResponse { UserId = userId.ToString(), Email = email };
    }

    private static PlatformException Unauthenticated(string message, string cause) =>
        new(ErrorCode.Unauthenticated, message, new Dictionary<string, string> { ["cause"] = cause });
}
