using System.Security.Cryptography;

namespace Frontdesk.Platform;

/// <summary>Secrets from configuration, or — for development only — generated once under the data
/// folder so a clean checkout runs with no setup.</summary>
public sealed class DevSecrets(FrontdeskOptions options, IHostEnvironment env)
{
    public bool Generated { get; private set; }

    public byte[] JwtSecret() =>
        options.JwtSecret is { Length: > 0 } s ? System.Text.Encoding.UTF8.GetBytes(s) : System.Text.Encoding.UTF8.GetBytes(FromFile("jwt-secret", 48));

    /// <summary>Reads or creates a base64 secret of <paramref name="bytes"/> random bytes.</summary>
    public string FromFile(string name, int bytes)
    {
        if (!env.IsDevelopment() && !string.IsNullOrWhiteSpace(options.DatabaseUrl))
            throw new InvalidOperationException(
                $"No {name} is configured. Set it in the environment (see README, Configuration); " +
                "generated secrets are for development on the local cluster only.");
        Directory.CreateDirectory(options.DataDir);
        var path = Path.Combine(options.DataDir, name);
        if (File.Exists(path)) return File.ReadAllText(path).Trim();
        var value = Convert.ToBase64String(RandomNumberGenerator.GetBytes(bytes));
        File.WriteAllText(path, value);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Generated = true;
        return value;
    }
}
