using System.Diagnostics;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace PyAirtable.IntegrationTests.Infrastructure;

/// <summary>
/// A real SMTP server on a free loopback port: Debian's python3-aiosmtpd storing every message in a
/// Maildir (scripts/ensure-deps.sh installs it). Missing, it fails the test loudly — nothing is skipped.
/// </summary>
public sealed partial class SmtpSink : IAsyncDisposable
{
    private const string Python = "/usr/bin/python3";
    private readonly Process _process;

    private SmtpSink(Process process, int port, string maildir)
    {
        _process = process;
        Port = port;
        Maildir = maildir;
    }

    public int Port { get; }

    public string Maildir { get; }

    public static async Task<SmtpSink> StartAsync()
    {
        var maildir = Path.Combine(Path.GetTempPath(), "pyairtable-smtp-" + Guid.NewGuid().ToString("N"));
        var port = TestEnvironment.FreeTcpPort();
        var start = new ProcessStartInfo(Python)
        {
            ArgumentList = { "-m", "aiosmtpd", "-n", "-l", $"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Mailbox", maildir },
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("could not start " + Python);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException($"{Python} is missing: run scripts/ensure-deps.sh (it installs python3-aiosmtpd).", ex);
        }

        var stderr = process.StandardError.ReadToEndAsync();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException(
                    $"The SMTP sink exited ({process.ExitCode}): is python3-aiosmtpd installed? (scripts/ensure-deps.sh installs it)\n{await stderr}");
            }

            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync("127.0.0.1", port);
                return new SmtpSink(process, port, maildir);
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }

        process.Kill(entireProcessTree: true);
        throw new TimeoutException("The SMTP sink (python3 -m aiosmtpd) did not listen within 15 s.");
    }

    /// <summary>Every message delivered to <paramref name="recipient"/>, oldest first (raw RFC 5322 text).</summary>
    public IReadOnlyList<string> MessagesTo(string recipient)
    {
        var dirs = new[] { "new", "cur" }.Select(d => Path.Combine(Maildir, d)).Where(Directory.Exists);
        return dirs.SelectMany(Directory.EnumerateFiles)
            .Select(f => (Time: File.GetLastWriteTimeUtc(f), Name: Path.GetFileName(f), Text: File.ReadAllText(f)))
            .Where(m => m.Text.Contains("X-RcptTo: " + recipient, StringComparison.OrdinalIgnoreCase))
            .OrderBy(m => m.Time).ThenBy(m => m.Name, StringComparer.Ordinal)
            .Select(m => m.Text)
            .ToList();
    }

    /// <summary>The code of the <paramref name="count"/>-th verification mail to <paramref name="recipient"/>, waiting for it to arrive.</summary>
    public async Task<string> WaitForCodeAsync(string recipient, int count = 1)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var messages = MessagesTo(recipient);
            if (messages.Count >= count)
            {
                return CodeIn(messages[count - 1]) ?? throw new InvalidOperationException("No code in the mail:\n" + messages[count - 1]);
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"No verification mail #{count} reached {recipient} in 10 s (got {messages.Count}).");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>The code of a verification mail ("…verification code: 12345678"; addresses may hold digits too).</summary>
    public static string? CodeIn(string text) => Code().Match(text) is { Success: true } m ? m.Groups[1].Value : null;

    public ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }

        _process.Dispose();
        try
        {
            Directory.Delete(Maildir, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }

        return ValueTask.CompletedTask;
    }

    [GeneratedRegex(@"verification code: ([0-9]{8})(?![0-9])")]
    private static partial Regex Code();
}
