using System.Security.Cryptography;
using System.Text;

namespace Frontdesk.Privacy;

/// <summary>
/// Envelope encryption of a patient's sensitive data. Each patient has a random data key, stored
/// only wrapped by the key-encryption key. Each ciphertext's associated data names its clinic,
/// patient, table and row, so a ciphertext copied to any other row fails to decrypt.
/// Callers who are not (yet) patients — the number on a call, a lead, an SMS — get the same under a
/// per-caller data key, named by a keyed hash of their number (<see cref="CallerHashAsync"/>).
/// </summary>
public sealed partial class Vault(IKeyEncryptionKeys keks)
{
    static byte[] KeyAad(Guid clinicId, Guid patientId) => Encoding.UTF8.GetBytes($"frontdesk:dek:{clinicId:N}:{patientId:N}");

    static byte[] RowAad(Guid clinicId, Guid patientId, string table, Guid rowId) =>
        Encoding.UTF8.GetBytes($"frontdesk:{table}:{clinicId:N}:{patientId:N}:{rowId:N}");

    sealed record WrappedKey(string? KeyId, byte[]? Wrapped);

    /// <summary>The patient's data key, created on first use. Null when the patient was erased.</summary>
    async Task<byte[]?> DataKeyAsync(DbSession s, Guid clinicId, Guid patientId, bool create, CancellationToken ct)
    {
        var row = await s.QuerySingleOrDefaultAsync<WrappedKey>(
            "select key_id, wrapped_key from patient_keys where clinic_id = @C and patient_id = @P", new { C = clinicId, P = patientId }, ct);
        if (row is null && create)
        {
            var dek = RandomNumberGenerator.GetBytes(32);
            var wrapped = keks.Wrap(dek, KeyAad(clinicId, patientId));
            // A concurrent first write for the same patient may win; then use its key.
            var inserted = await s.ExecuteAsync("""
                insert into patient_keys (clinic_id, patient_id, key_id, wrapped_key) values (@C, @P, @K, @W)
                on conflict (clinic_id, patient_id) do nothing
                """, new { C = clinicId, P = patientId, K = keks.CurrentKeyId, W = wrapped }, ct);
            if (inserted == 1) return dek;
            return await DataKeyAsync(s, clinicId, patientId, create: false, ct);
        }
        return row is { KeyId: { } id, Wrapped: { } w } ? keks.Unwrap(id, w, KeyAad(clinicId, patientId)) : null;
    }

    public async Task<byte[]> EncryptAsync(DbSession s, Guid clinicId, Guid patientId, string table, Guid rowId, string plaintext, CancellationToken ct)
    {
        var dek = await DataKeyAsync(s, clinicId, patientId, create: true, ct)
                  ?? throw new InvalidOperationException("The patient's data key was destroyed (erased patient).");
        return Aead.Seal(dek, Encoding.UTF8.GetBytes(plaintext), RowAad(clinicId, patientId, table, rowId));
    }

    /// <summary>Decrypts rows of one patient. Throws CryptographicException for a ciphertext that does
    /// not belong to its row; returns null values when the patient's key is destroyed.</summary>
    public async Task<Func<string, Guid, byte[], string>?> DecryptorAsync(DbSession s, Guid clinicId, Guid patientId, CancellationToken ct)
    {
        var dek = await DataKeyAsync(s, clinicId, patientId, create: false, ct);
        if (dek is null) return null;
        return (table, rowId, ciphertext) => Encoding.UTF8.GetString(Aead.Open(dek, ciphertext, RowAad(clinicId, patientId, table, rowId)));
    }

    /// <summary>Crypto-shredding: the wrapped data key is destroyed.</summary>
    public static Task<int> DestroyKeyAsync(DbSession s, Guid clinicId, Guid patientId, CancellationToken ct) =>
        s.ExecuteAsync("""
            insert into patient_keys (clinic_id, patient_id, key_id, wrapped_key, destroyed_at)
            values (@C, @P, null, null, now())
            on conflict (clinic_id, patient_id) do update set key_id = null, wrapped_key = null, destroyed_at = now()
            """, new { C = clinicId, P = patientId }, ct);

    sealed record KeyRow(Guid ClinicId, Guid PatientId, string KeyId, byte[] Wrapped);

    /// <summary>Re-wraps every data key not under the current key-encryption key. Ciphertexts are not
    /// touched. Runs as a named system path (it must see every clinic's keys).</summary>
    public Task<int> RewrapAllAsync(Db db, CancellationToken ct) => RewrapAsync(db, null, ct);

    /// <summary>The same for one clinic's keys (patient, caller and lookup keys).</summary>
    public Task<int> RewrapClinicAsync(Db db, Guid clinicId, CancellationToken ct) => RewrapAsync(db, clinicId, ct);

    async Task<int> RewrapAsync(Db db, Guid? clinicId, CancellationToken ct) =>
        await RewrapPatientKeysAsync(db, clinicId, ct) + await RewrapCallerKeysAsync(db, clinicId, ct) + await RewrapLookupKeysAsync(db, clinicId, ct);

    async Task<int> RewrapPatientKeysAsync(Db db, Guid? clinicId, CancellationToken ct)
    {
        var total = 0;
        while (true)
        {
            var done = await db.InTransactionAsync(RequestClaims.AsSystem(SystemPath.KeyRotation), async s =>
            {
                var rows = await s.QueryAsync<KeyRow>("""
                    select clinic_id, patient_id, key_id, wrapped_key from patient_keys
                    where wrapped_key is not null and key_id <> @Current and (@Clinic::uuid is null or clinic_id = @Clinic)
                    limit 500 for update skip locked
                    """, new { Current = keks.CurrentKeyId, Clinic = clinicId }, ct);
                foreach (var r in rows)
                {
                    var dek = keks.Unwrap(r.KeyId, r.Wrapped, KeyAad(r.ClinicId, r.PatientId));
                    await s.ExecuteAsync("""
                        update patient_keys set key_id = @K, wrapped_key = @W, rewrapped_at = now()
                        where clinic_id = @C and patient_id = @P
                        """, new { K = keks.CurrentKeyId, W = keks.Wrap(dek, KeyAad(r.ClinicId, r.PatientId)), C = r.ClinicId, P = r.PatientId }, ct);
                }
                return rows.Count;
            }, ct);
            total += done;
            if (done == 0) return total;
        }
    }
}
