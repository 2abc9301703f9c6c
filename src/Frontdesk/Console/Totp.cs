using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

// Namespace StaffConsole, not Console: Frontdesk.Console would shadow System.Console in every Frontdesk.* file.
namespace Frontdesk.StaffConsole;

/// <summary>
/// Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP): HMAC-SHA1, 30 s steps, 6 digits —
/// what every authenticator app reads from an otpauth:// URI.
/// </summary>
public static class Totp
{
    public const int StepSeconds = 30;
    public const int Digits = 6;
    public const int SecretBytes = 20;

    public static byte[] NewSecret() => RandomNumberGenerator.GetBytes(SecretBytes);

    public static long StepAt(DateTimeOffset at) => at.ToUnixTimeSeconds() / StepSeconds;

    public static string Code(byte[] secret, long step)
    {
        Span<byte> counter = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(counter, step);
        Span<byte> mac = stackalloc byte[20];
        // RFC 6238's default, the one every authenticator app implements; HMAC-SHA1 is not weakened by SHA-1's collisions.
#pragma warning disable CA5350
        HMACSHA1.HashData(secret, counter, mac);
#pragma warning restore CA5350
        var offset = mac[^1] & 0x0f;
        var binary = (BinaryPrimitives.ReadInt32BigEndian(mac[offset..]) & 0x7fffffff) % 1_000_000;
        return binary.ToString("D6", System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The step whose code matches, within one step either side of <paramref name="at"/> (clock
    /// drift), and later than <paramref name="lastUsedStep"/> (no replay); null when none does.</summary>
    public static long? Match(byte[] secret, string? code, DateTimeOffset at, long? lastUsedStep)
    {
        code = code?.Replace(" ", "", StringComparison.Ordinal).Trim();
        if (code is not { Length: Digits } || !code.All(char.IsAsciiDigit)) return null;
        var now = StepAt(at);
        long? matched = null;
        // Every candidate is compared (constant work), the latest match wins.
        for (var step = now - 1; step <= now + 1; step++)
            if (CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Code(secret, step)), Encoding.ASCII.GetBytes(code))
                && (lastUsedStep is null || step > lastUsedStep))
                matched = step;
        return matched;
    }

    public static string Base32(byte[] data)
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var sb = new StringBuilder((data.Length * 8 + 4) / 5);
        int buffer = 0, bits = 0;
        foreach (var b in data)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                sb.Append(alphabet[(buffer >> (bits - 5)) & 31]);
                bits -= 5;
            }
        }
        if (bits > 0) sb.Append(alphabet[(buffer << (5 - bits)) & 31]);
        return sb.ToString();
    }

    /// <summary>The key as people type it: groups of four.</summary>
    public static string Grouped(string base32) =>
        string.Join(' ', Enumerable.Range(0, (base32.Length + 3) / 4).Select(i => base32.Substring(i * 4, Math.Min(4, base32.Length - i * 4))));

    public static string Uri(string issuer, string account, byte[] secret) =>
        $"otpauth://totp/{System.Uri.EscapeDataString(issuer)}:{System.Uri.EscapeDataString(account)}?secret={Base32(secret)}" +
        $"&issuer={System.Uri.EscapeDataString(issuer)}&algorithm=SHA1&digits={Digits}&period={StepSeconds}";
}
