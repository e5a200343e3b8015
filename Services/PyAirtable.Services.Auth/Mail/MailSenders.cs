using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MimeKit;

namespace PyAirtable.Services.Auth.Mail;

/// <summary>One plain-text mail to one recipient.</summary>
public sealed record OutgoingMail(string To, string Subject, string Body);

/// <summary>Sends the platform's mail (verification codes). Throws <see cref="MailDeliveryException"/> when the relay refuses or is unreachable.</summary>
public interface IMailSender
{
    Task SendAsync(OutgoingMail mail, CancellationToken cancellationToken);
}

/// <summary>The relay could not take a mail (unreachable, refused, timed out).</summary>
public sealed class MailDeliveryException(string message, Exception inner) : Exception(message, inner);

/// <summary>How the relay is secured.</summary>
public enum MailTlsMode
{
    /// <summary>Plain SMTP (a relay on loopback or inside the cluster).</summary>
    None,
    /// <summary>SMTP upgraded with STARTTLS; the relay must offer it.</summary>
    StartTls,
}

/// <summary>Outbound mail (section <c>Mail</c>). Without <see cref="Host"/> mail is written to the log (development only).</summary>
public sealed class MailOptions
{
    public const string Section = "Mail";

    /// <summary>The SMTP relay's host name; empty = log-only sender.</summary>
    public string Host { get; set; } = "";

    public int Port { get; set; } = 25;

    /// <summary>The From address.</summary>
    public string From { get; set; } = "no-reply@pyairtable.dev";

    public MailTlsMode Tls { get; set; } = MailTlsMode.None;

    /// <summary>Optional credentials for the relay (sent only after STARTTLS unless Tls is None).</summary>
    public string? Username { get; set; }

    public string? Password { get; set; }

    /// <summary>Connect + send limit per mail.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>Sends through an SMTP relay with MailKit, one connection per mail (verification mail is rare).</summary>
internal sealed class SmtpMailSender(IOptions<MailOptions> options) : IMailSender
{
    public async Task SendAsync(OutgoingMail mail, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse(o.From));
        message.To.Add(MailboxAddress.Parse(mail.To));
        message.Subject = mail.Subject;
        message.Body = new TextPart("plain") { Text = mail.Body };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(o.Timeout);
        using var client = new SmtpClient { Timeout = (int)o.Timeout.TotalMilliseconds };
        try
        {
            await client.ConnectAsync(o.Host, o.Port, o.Tls == MailTlsMode.StartTls ? SecureSocketOptions.StartTls : SecureSocketOptions.None, timeout.Token);
            if (!string.IsNullOrEmpty(o.Username))
            {
                await client.AuthenticateAsync(o.Username, o.Password ?? "", timeout.Token);
            }

            await client.SendAsync(message, timeout.Token);
            await client.DisconnectAsync(quit: true, timeout.Token);
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or IOException or SmtpCommandException or SmtpProtocolException
                                   or AuthenticationException or SslHandshakeException
                                   || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            throw new MailDeliveryException($"The mail relay {o.Host}:{o.Port} did not take the mail.", ex);
        }
    }
}

/// <summary>
/// Development only (no <c>Mail:Host</c>): writes each mail, codes included, to the log instead of sending it.
/// A warning at start says so; with a relay configured this sender is never used and codes are never logged.
/// </summary>
internal sealed partial class LogMailSender(ILogger<LogMailSender> logger) : IMailSender
{
    public Task SendAsync(OutgoingMail mail, CancellationToken cancellationToken)
    {
        LogMail(logger, mail.To, mail.Subject, mail.Body);
        return Task.CompletedTask;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Mail (not sent: no Mail:Host) to {To}: {Subject}\n{Body}")]
    private static partial void LogMail(ILogger logger, string to, string subject, string body);
}

/// <summary>Says once at start, at Warning, that mail (verification codes) goes to the log.</summary>
internal sealed partial class LogMailSenderWarning(ILogger<LogMailSender> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        LogWarning(logger);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Warning, Message = "No Mail:Host configured: outgoing mail, e-mail verification codes included, is written to this log " +
        "instead of being sent. For development only; configure an SMTP relay (Mail:Host, Mail:Port, Mail:From, Mail:Tls) anywhere else.")]
    private static partial void LogWarning(ILogger logger);
}

public static class MailServiceCollectionExtensions
{
    /// <summary>The SMTP sender when <c>Mail:Host</c> is set, else the log-only development sender.</summary>
    public static IServiceCollection AddMail(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<MailOptions>().Bind(configuration.GetSection(MailOptions.Section));
        if (string.IsNullOrWhiteSpace(configuration[$"{MailOptions.Section}:Host"]))
        {
            services.TryAddSingleton<IMailSender, LogMailSender>();
            services.AddHostedService<LogMailSenderWarning>();
        }
        else
        {
            services.TryAddSingleton<IMailSender, SmtpMailSender>();
        }

        return services;
    }
}
