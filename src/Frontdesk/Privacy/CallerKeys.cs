using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Frontdesk.Privacy;

/// <summary>Opens the ciphertexts of one caller: (table, row key, ciphertext) → plaintext. Throws
/// CryptographicException for a ciphertext that does not belong to its row.</summary>
public delegate string CallerDecryptor(string table, string rowKey, byte[] ciphertext);

/// <summary>What a caller's data key is named after: their E.164 number, or — for a call that
/// carried no usable number — the call itself.</summary>
public static class CallerSubject
{
    public static string Phone(string e164) => e164;

    public static string Call(string callId) => "call:" + callId;
}

public sealed partial class Vault
{
    readonly ConcurrentDictionary<Guid, byte[]> _lookupKeys = new();

    static byte[] LookupKeyAad(Guid clinicId) => Encoding.UTF8.GetBytes($"frontdesk:lookup-key:{clinicId:N}");

    static byte[] CallerKeyAad(Guid clinicId, byte[] hash) =>
        Encoding.UTF8.GetBytes($"frontdesk:caller-dek:{clinicId:N}:{Convert.ToHexStringLower(hash)}");

    static byte[] CallerRowAad(Guid clinicId, byte[] hash, string table, string rowKey) =>
        Encoding.UTF8.GetBytes($"frontdesk:{table}:{clinicId:N}:caller:{Convert.ToHexStringLower(hash)}:{rowKey}");

    sealed record LookupKeyRow(string KeyId, byte[] Wrapped);

    /// <summary>
    /// The keyed hash (HMAC-SHA256 under the clinic's lookup key) that names a caller: what tables
    /// store instead of a number, and the name of the caller's data key. Without the key-encryption
    /// key a database copy cannot test numbers against it.
    /// </summary>
    public async Task<byte[]> CallerHashAsync(DbSession s, Guid clinicId, string subject, CancellationToken ct) =>
        HMACSHA256.HashData(await LookupKeyAsync(s, clinicId, ct), Encoding.UTF8.GetBytes(subject));

    async Task<byte[]> LookupKeyAsync(DbSession s, Guid clinicId, CancellationToken ct)
    {
        if (_lookupKeys.TryGetValue(clinicId, out var cached)) return cached;
        var fresh = RandomNumberGenerator.GetBytes(32);
        // Inserted by this transaction → not cached: if it rolls back, another transaction makes the
        // clinic's key and every hash must come from that one. A row made by another transaction is
        // only visible here once committed, and a committed lookup key never changes.
        var inserted = await s.ExecuteAsync("""
            insert into clinic_keys (clinic_id, key_id, wrapped_key) values (@C, @K, @W)
            on conflict (clinic_id) do nothing
            """, new { C = clinicId, K = keks.CurrentKeyId, W = keks.Wrap(fresh, LookupKeyAad(clinicId)) }, ct);
        if (inserted == 1) return fresh;
        var row = await s.QuerySingleOrDefaultAsync<LookupKeyRow>(
            "select key_id, wrapped_key from clinic_keys where clinic_id = @C", new { C = clinicId }, ct)
            ?? throw new InvalidOperationException("The clinic's lookup key is not visible to these claims.");
        var key = keks.Unwrap(row.KeyId, row.Wrapped, LookupKeyAad(clinicId));
        _lookupKeys.TryAdd(clinicId, key);
        return key;
    }

    /// <summary>Seals <paramref name="value"/> (as JSON) for one row under the caller's data key, creating
    /// the key on first use. The statement that takes the key locks its row until this transaction ends,
    /// so an erasure of the same caller waits for it and then sees what it wrote.</summary>
    public async Task<byte[]> SealForCallerAsync<T>(DbSession s, Guid clinicId, byte[] callerHash, string table, string rowKey, T value,
        CancellationToken ct)
    {
        var fresh = RandomNumberGenerator.GetBytes(32);
        var row = await s.QuerySingleOrDefaultAsync<LookupKeyRow>("""
            insert into caller_keys (clinic_id, caller_hash, key_id, wrapped_key) values (@C, @H, @K, @W)
            on conflict (clinic_id, caller_hash) do update set key_id = caller_keys.key_id
            returning key_id, wrapped_key
            """, new { C = clinicId, H = callerHash, K = keks.CurrentKeyId, W = keks.Wrap(fresh, CallerKeyAad(clinicId, callerHash)) }, ct);
        var dek = keks.Unwrap(row!.KeyId, row.Wrapped, CallerKeyAad(clinicId, callerHash));
        return Aead.Seal(dek, JsonSerializer.SerializeToUtf8Bytes(value, JsonSerializerOptions.Web), CallerRowAad(clinicId, callerHash, table, rowKey));
    }

    /// <summary>The caller's decryptor, or null when their key was destroyed (erased) or never made.</summary>
    public async Task<CallerDecryptor?> OpenForCallerAsync(DbSession s, Guid clinicId, byte[] callerHash, CancellationToken ct)
    {
        var row = await s.QuerySingleOrDefaultAsync<LookupKeyRow>(
            "select key_id, wrapped_key from caller_keys where clinic_id = @C and caller_hash = @H", new { C = clinicId, H = callerHash }, ct);
        if (row is null) return null;
        var dek = keks.Unwrap(row.KeyId, row.Wrapped, CallerKeyAad(clinicId, callerHash));
        return (table, rowKey, ciphertext) => Encoding.UTF8.GetString(Aead.Open(dek, ciphertext, CallerRowAad(clinicId, callerHash, table, rowKey)));
    }

    /// <summary>Opens one sealed JSON value, or null when the key is gone or the ciphertext is not this row's.</summary>
    public async Task<T?> OpenForCallerAsync<T>(DbSession s, Guid clinicId, byte[]? callerHash, string table, string rowKey, byte[]? ciphertext,
        CancellationToken ct) where T : class
    {
        if (callerHash is null || ciphertext is null) return null;
        var open = await OpenForCallerAsync(s, clinicId, callerHash, ct);
        return open is null ? null : TryOpen<T>(open, table, rowKey, ciphertext);
    }

    /// <summary>Null for a ciphertext its caller's key cannot open: sealed under a key an erasure
    /// destroyed while the sealing transaction was in flight, and so as good as erased.</summary>
    public static T? TryOpen<T>(CallerDecryptor open, string table, string rowKey, byte[] ciphertext) where T : class
    {
        try
        {
            return JsonSerializer.Deserialize<T>(open(table, rowKey, ciphertext), JsonSerializerOptions.Web);
        }
        catch (CryptographicException)
        {
            return null;
        }
    }

    /// <summary>Crypto-shredding of callers: their data keys are deleted.</summary>
    public static Task<int> DestroyCallerKeysAsync(DbSession s, Guid clinicId, byte[][] hashes, CancellationToken ct) =>
        s.ExecuteAsync("delete from caller_keys where clinic_id = @C and caller_hash = any(@H)", new { C = clinicId, H = hashes }, ct);

    sealed record CallerKeyRow(Guid ClinicId, byte[] Hash, string KeyId, byte[] Wrapped);

    async Task<int> RewrapCallerKeysAsync(Db db, Guid? clinicId, CancellationToken ct)
    {
        var total = 0;
        while (true)
        {
            var done = await db.InTransactionAsync(RequestClaims.AsSystem(SystemPath.KeyRotation), async s =>
            {
                var rows = await s.QueryAsync<CallerKeyRow>("""
                    select clinic_id, caller_hash, key_id, wrapped_key from caller_keys
                    where key_id <> @Current and (@Clinic::uuid is null or clinic_id = @Clinic) limit 500 for update skip locked
                    """, new { Current = keks.CurrentKeyId, Clinic = clinicId }, ct);
                foreach (var r in rows)
                {
                    var dek = keks.Unwrap(r.KeyId, r.Wrapped, CallerKeyAad(r.ClinicId, r.Hash));
                    await s.ExecuteAsync("""
                        update caller_keys set key_id = @K, wrapped_key = @W, rewrapped_at = now()
                        where clinic_id = @C and caller_hash = @H
                        """, new { K = keks.CurrentKeyId, W = keks.Wrap(dek, CallerKeyAad(r.ClinicId, r.Hash)), C = r.ClinicId, H = r.Hash }, ct);
                }
                return rows.Count;
            }, ct);
            total += done;
            if (done == 0) return total;
        }
    }

    sealed record ClinicKeyRow(Guid ClinicId, string KeyId, byte[] Wrapped);

    async Task<int> RewrapLookupKeysAsync(Db db, Guid? clinicId, CancellationToken ct)
    {
        var total = 0;
        while (true)
        {
            var done = await db.InTransactionAsync(RequestClaims.AsSystem(SystemPath.KeyRotation), async s =>
            {
                var rows = await s.QueryAsync<ClinicKeyRow>("""
                    select clinic_id, key_id, wrapped_key from clinic_keys
                    where key_id <> @Current and (@Clinic::uuid is null or clinic_id = @Clinic) limit 500 for update skip locked
                    """, new { Current = keks.CurrentKeyId, Clinic = clinicId }, ct);
                foreach (var r in rows)
                {
                    var key = keks.Unwrap(r.KeyId, r.Wrapped, LookupKeyAad(r.ClinicId));
                    await s.ExecuteAsync("""
                        update clinic_keys set key_id = @K, wrapped_key = @W, rewrapped_at = now() where clinic_id = @C
                        """, new { K = keks.CurrentKeyId, W = keks.Wrap(key, LookupKeyAad(r.ClinicId)), C = r.ClinicId }, ct);
                }
                return rows.Count;
            }, ct);
            total += done;
            if (done == 0) return total;
        }
    }
}
