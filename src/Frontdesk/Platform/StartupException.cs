namespace Frontdesk.Platform;

/// <summary>
/// A problem with how Frontdesk was started that the operator fixes — a missing secret, no PostgreSQL
/// binaries, a folder the private cluster cannot use. Program reports it as one line and exits 1,
/// never as a stack trace. An InvalidOperationException, so existing handlers keep working.
/// </summary>
public sealed class StartupException(string message) : InvalidOperationException(message)
{
    /// <summary>The operator-facing message of a start-up failure (found through wrappers such as
    /// the DI container's), or null when <paramref name="e"/> is a defect that deserves its trace.</summary>
    public static string? Describe(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is StartupException s) return s.Message;
            if (x is Microsoft.Extensions.Options.OptionsValidationException o) return string.Join(" ", o.Failures);
        }
        return null;
    }
}
