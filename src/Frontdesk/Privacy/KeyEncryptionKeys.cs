using System.Security.Cryptography;

namespace Frontdesk.Privacy;

/// <summary>
/// The key-encryption key: wraps and unwraps per-patient data keys. The one seam where a cloud KMS
/// replaces the local key (implement this with KMS Encrypt/Decrypt calls and register it instead).
/// </summary>
public interface IKeyEncryptionKeys
{
    /// <summary>The key new data keys are wrapped with; stored beside each wrapped key ("kms_ref").</summary>
    string CurrentKeyId { get; }
    byte[] Wrap(byte[] dataKey, ReadOnlySpan<byte> associatedData);
    byte[] Unwrap(string keyId, byte[] wrapped, ReadOnlySpan<byte> associatedData);
}

/// <summary>
/// Local AES-256-GCM key-encryption keys: FRONTDESK_MASTER_KEY (base64, 32 bytes) is current;
/// FRONTDESK_MASTER_KEYS_RETIRED (comma-separated base64) still unwrap until `-- rotate-keys`
/// re-wraps everything under the current one. Key ids are derived from the key, never the key.
/// </summary>
public sealed class LocalKeyEncryptionKeys : IKeyEncryptionKeys
{
    readonly Dictionary<string, byte[]> _keys = new(StringComparer.Ordinal);

    public LocalKeyEncryptionKeys(byte[] current, IEnumerable<byte[]> retired)
    {
        if (current.Length != 32) throw new InvalidOperationException("FRONTDESK_MASTER_KEY must be base64 of exactly 32 bytes.");
        CurrentKeyId = IdOf(current);
        _keys[CurrentKeyId] = current;
        foreach (var k in retired)
        {
            if (k.Length != 32) throw new InvalidOperationException("Every retired master key must be base64 of exactly 32 bytes.");
            _keys.TryAdd(IdOf(k), k);
        }
    }

    public string CurrentKeyId { get; }

    public static string IdOf(byte[] key) => "local:" + Convert.ToHexStringLower(SHA256.HashData(key))[..16];

    public byte[] Wrap(byte[] dataKey, ReadOnlySpan<byte> associatedData) => Aead.Seal(_keys[CurrentKeyId], dataKey, associatedData);

    public byte[] Unwrap(string keyId, byte[] wrapped, ReadOnlySpan<byte> associatedData) =>
        _keys.TryGetValue(keyId, out var key)
            ? Aead.Open(key, wrapped, associatedData)
            : throw new CryptographicException($"Key-encryption key {keyId} is not configured.");
}

/// <summary>AES-256-GCM with a random 96-bit nonce: output is nonce ‖ ciphertext ‖ tag.</summary>
public static class Aead
{
    const int NonceSize = 12, TagSize = 16;

    public static byte[] Seal(byte[] key, ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> associatedData)
    {
        var output = new byte[NonceSize + plaintext.Length + TagSize];
        var nonce = output.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var gcm = new AesGcm(key, TagSize);
        gcm.Encrypt(nonce, plaintext, output.AsSpan(NonceSize, plaintext.Length), output.AsSpan(NonceSize + plaintext.Length), associatedData);
        return output;
    }

    public static byte[] Open(byte[] key, byte[] sealedData, ReadOnlySpan<byte> associatedData)
    {
        if (sealedData.Length < NonceSize + TagSize) throw new CryptographicException("Ciphertext too short.");
        var plaintext = new byte[sealedData.Length - NonceSize - TagSize];
        using var gcm = new AesGcm(key, TagSize);
        gcm.Decrypt(sealedData.AsSpan(0, NonceSize), sealedData.AsSpan(NonceSize, plaintext.Length),
            sealedData.AsSpan(NonceSize + plaintext.Length), plaintext, associatedData);
        return plaintext;
    }
}
